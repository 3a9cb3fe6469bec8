//! Flame graphs: folded stacks drawn as an SVG by the `inferno` crate (feature
//! `flamegraph`; `flame_stub.rs` stands in without it).

use std::io::Write as _;
use std::path::Path;

use inferno::flamegraph::color::{MultiPalette, Palette};
use inferno::flamegraph::{from_lines, Options};

use super::StackError;

/// Whether this build can draw flame graphs.
pub(crate) const SUPPORTED: bool = true;

/// Draws `lines` (folded stacks and counts) into the SVG file `path`, replacing it
/// atomically: it is rewritten at every `--interval` and a viewer never sees half a file.
pub(crate) fn write_svg(
    path: &Path,
    title: &str,
    what: &str,
    lines: &[(String, u64)],
) -> Result<(), StackError> {
    let err = |source| StackError::WriteFlamegraph {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = Path::new(&tmp_name);
    let mut w = std::io::BufWriter::new(std::fs::File::create(tmp).map_err(err)?);
    if lines.is_empty() {
        write_empty(&mut w, title).map_err(err)?;
    } else {
        let folded: Vec<String> = lines.iter().map(|(s, n)| format!("{s} {n}")).collect();
        let total: u64 = lines.iter().map(|l| l.1).sum();
        let mut opts = Options::default();
        opts.title = title.to_string();
        opts.subtitle = Some(format!(
            "{what}: {total} samples; kernel frames orange, user frames red"
        ));
        opts.count_name = "samples".into();
        // `_[k]` frames orange, the rest red (C++ `::` names yellow), as perf's flame graphs;
        // inferno's Java palette would paint names with `/` or capitals (`kworker/0:1`) green.
        opts.colors = Palette::Multi(MultiPalette::Perl);
        // Colours by function name: the same function keeps its colour across runs.
        opts.hash = true;
        from_lines(&mut opts, folded.iter().map(String::as_str), &mut w).map_err(err)?;
    }
    w.flush().map_err(err)?;
    drop(w);
    std::fs::rename(tmp, path).map_err(err)
}

/// A small SVG saying there was nothing to draw (inferno would draw "ERROR: No valid input").
fn write_empty(w: &mut impl std::io::Write, title: &str) -> std::io::Result<()> {
    let title = title.replace('&', "&amp;").replace('<', "&lt;");
    write!(
        w,
        r##"<?xml version="1.0" standalone="no"?>
<svg version="1.1" width="1200" height="80" xmlns="http://www.w3.org/2000/svg">
<rect x="0" y="0" width="100%" height="100%" fill="#eeeeee"/>
<text x="600" y="30" text-anchor="middle" font-family="Verdana" font-size="17">{title}</text>
<text x="600" y="60" text-anchor="middle" font-family="Verdana" font-size="12">no samples were taken</text>
</svg>
"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_an_svg_naming_the_frames() {
        let dir = std::env::temp_dir().join(format!("coreship-flame-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.svg");
        let lines = vec![
            ("demo;main;coreship_hot_spin".to_string(), 90),
            ("demo;main;write;do_syscall_64_[k]".to_string(), 10),
        ];
        write_svg(&path, "CPU", "@samples", &lines).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<?xml"), "{}", &svg[..50]);
        // inferno draws `_[k]` frames without the suffix (in orange).
        assert!(svg.contains("coreship_hot_spin") && svg.contains(">do_syscall_64 ("));
        assert!(svg.contains("@samples: 100 samples"));
        write_svg(&path, "CPU", "@samples", &[]).unwrap();
        let empty = std::fs::read_to_string(&path).unwrap();
        assert!(empty.contains("no samples were taken"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
