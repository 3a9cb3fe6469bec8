//! `coreship-load ps`: the probes pinned in bpffs.

use coreship_loader::{utc, PinRecord};

/// Arguments of `coreship-load ps`.
#[derive(clap::Args)]
pub struct Args {
    /// Output format: aligned columns, or one JSON object per pinned probe
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Runs `coreship-load ps`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    let records = PinRecord::all();
    match args.format {
        Format::Json => {
            for r in &records {
                let mut v = serde_json::to_value(r)?;
                v["since_utc"] = utc(r.since).into();
                v["missing_pins"] = r.missing_pins().into();
                println!("{v}");
            }
        }
        Format::Text => {
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
