//! `coreship inspect`: show programs, attach points, maps, output types and CO-RE relocations.

use std::io::Write as _;
use std::path::PathBuf;

/// Output formats of `coreship inspect`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Aligned tables.
    Text,
    /// One JSON document.
    Json,
}

/// Arguments of `coreship inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// The BPF object to inspect (e.g. `execsnoop.bpf.o`)
    object: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// Runs `coreship inspect`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    let report = coreship_builder::inspect_file(&args.object)?;
    let out = match args.format {
        Format::Text => report.to_text(),
        Format::Json => report.to_json(),
    };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(())
}
