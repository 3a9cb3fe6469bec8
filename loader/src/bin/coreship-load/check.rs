//! `coreship-load check`: can this kernel run a probe? Loads nothing permanently.

use std::io::Write as _;
use std::path::PathBuf;

use coreship_loader::{AttachSpec, LoadOpts, SetArg};

use crate::run::{parse_set, parse_spec};
use crate::source_args::SourceArgs;

/// Arguments of `coreship-load check`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: SourceArgs,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Kernel BTF to relocate against (default: /sys/kernel/btf/vmlinux)
    #[arg(long, value_name = "FILE")]
    btf: Option<PathBuf>,
    /// Attach target for a program, as `run` takes it (checked instead of the section's)
    #[arg(long, value_name = "PROG=TARGET", value_parser = parse_spec)]
    attach: Vec<AttachSpec>,
    /// Target for every uprobe program whose section names none, as `run` takes it
    #[arg(long, value_name = "PATH:FUNC")]
    uprobe: Vec<String>,
    /// A `const volatile` setting, as `run` takes it
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_set)]
    set: Vec<SetArg>,
    /// Copy libbpf's log to stderr
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Runs `coreship-load check`; `Ok(false)` when the probe cannot run here (exit status 1).
pub fn exec(args: Args) -> anyhow::Result<bool> {
    coreship_loader::libbpf_log::set_echo(args.verbose);
    let src = args.source.fetch()?.source;
    let opts = LoadOpts {
        btf: args.btf,
        attach: args.attach,
        uprobe: args.uprobe,
        set: args.set,
        ..Default::default()
    };
    let report = coreship_loader::check(&src, &opts, true)?;
    let text = match args.format {
        Format::Text => coreship_loader::check_text(&report),
        Format::Json => coreship_loader::check_json(&report) + "\n",
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    Ok(report.ok())
}
