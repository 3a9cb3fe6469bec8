//! The `cargo:` lines a build script prints.

use crate::BuildReport;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Every file the objects of `report` were built from, once each, in build order, leaving out
/// what the build generated under `out_dir` (cargo would rerun the script on its own output).
pub(super) fn inputs(report: &BuildReport, out_dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = Vec::new();
    let all = report
        .probes
        .iter()
        .flat_map(|p| &p.objects)
        .flat_map(|o| &o.inputs);
    for f in all {
        if !f.starts_with(out_dir) && !files.contains(f) {
            files.push(f.clone());
        }
    }
    files
}

/// Writes `rerun-if-changed` for `files`, `rerun-if-env-changed` for `env` and each line of
/// `warnings` as a `warning`.
pub(super) fn write(
    out: &mut dyn Write,
    files: &[PathBuf],
    env: &[&str],
    warnings: &[&str],
) -> io::Result<()> {
    for f in files {
        writeln!(out, "cargo:rerun-if-changed={}", f.display())?;
    }
    for v in env {
        writeln!(out, "cargo:rerun-if-env-changed={v}")?;
    }
    for line in warnings.iter().flat_map(|w| w.lines()) {
        writeln!(out, "cargo:warning={line}")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_cargo_syntax() {
        let mut out = Vec::new();
        let files = [PathBuf::from("/c/Cargo.toml"), PathBuf::from("/c/p.bpf.c")];
        write(
            &mut out,
            &files,
            &["CLANG"],
            &["p.bpf.c:1:2: warning: x\n  ^"],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "cargo:rerun-if-changed=/c/Cargo.toml\ncargo:rerun-if-changed=/c/p.bpf.c\n\
             cargo:rerun-if-env-changed=CLANG\ncargo:warning=p.bpf.c:1:2: warning: x\n\
             cargo:warning=  ^\n"
        );
    }
}
