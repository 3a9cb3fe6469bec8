//! `coreship-load ps`: the probes pinned in bpffs.

use coreship_loader::{utc, PinRecord};

use crate::cli::{self, Arg, Parser};

/// Arguments of `coreship-load ps`.
#[derive(Default)]
pub struct Args {
    json: bool,
}

pub const HELP: &str =
    "List the probes pinned in bpffs by `run --pin` (name, digest, programs, since)

Usage: coreship-load ps [OPTIONS]

Options:
      --format FORMAT  text (aligned columns) or json (one object per pinned probe)
                       [default: text]
  -h, --help           Print help
";

impl Args {
    /// Reads `ps`'s arguments.
    pub fn parse(p: &mut Parser) -> cli::Result<Self> {
        let mut a = Args::default();
        while let Some(arg) = Arg::next(p)? {
            match &arg {
                Arg::Flag(f) if f == "--format" => {
                    a.json = cli::choice(p, f, &[("text", false), ("json", true)])?
                }
                _ => return Err(arg.unexpected(HELP)),
            }
        }
        Ok(a)
    }
}

/// One line of `--format json`: the record and what `ps` derives from it.
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    #[serde(flatten)]
    record: &'a PinRecord,
    since_utc: String,
    missing_pins: Vec<String>,
}

/// Runs `coreship-load ps`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    let records = PinRecord::all();
    if args.json {
        for record in &records {
            let line = JsonLine {
                record,
                since_utc: utc(record.since),
                missing_pins: record.missing_pins(),
            };
            println!("{}", serde_json::to_string(&line)?);
        }
    } else {
        {
            let rows: Vec<[String; 6]> = records
                .iter()
                .map(|r| {
                    let missing = r.missing_pins();
                    [
                        r.name.clone(),
                        r.probe.clone(),
                        r.digest.clone().unwrap_or_else(|| "-".into()),
                        r.programs
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(","),
                        utc(r.since),
                        if missing.is_empty() {
                            r.dir.display().to_string()
                        } else {
                            format!("{} (missing: {})", r.dir.display(), missing.join(", "))
                        },
                    ]
                })
                .collect();
            let header = ["NAME", "PROBE", "DIGEST", "PROGRAMS", "SINCE", "PINNED IN"];
            let mut widths = header.map(str::len);
            for row in &rows {
                for (w, c) in widths.iter_mut().zip(row) {
                    *w = (*w).max(c.len());
                }
            }
            let line = |cells: [&str; 6]| {
                let mut l = String::new();
                for (i, c) in cells.iter().enumerate() {
                    l.push_str(&format!("{c:<w$}  ", w = widths[i]));
                }
                println!("{}", l.trim_end());
            };
            line(header);
            for row in &rows {
                line(row.each_ref().map(String::as_str));
            }
        }
    }
    Ok(())
}
