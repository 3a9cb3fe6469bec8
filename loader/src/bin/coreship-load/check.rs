//! `coreship-load check`: can this kernel run a probe? Loads nothing permanently.

use std::io::Write as _;

use crate::cli::{self, Arg, Parser};
use crate::source_args::{load_help, source_help, LoadArgs, SourceArgs};

/// Arguments of `coreship-load check`.
#[derive(Default)]
pub struct Args {
    source: SourceArgs,
    load: LoadArgs,
    json: bool,
}

pub const HELP: &str = concat!(
    "Report whether this kernel has what each program needs (program type, helpers, attach
target, CO-RE relocations, the verifier's verdict); loads nothing permanently. Exit status 1
when the probe cannot run here

Usage: coreship-load check [OPTIONS] PROBE

",
    source_help!(),
    "      --format FORMAT      text or json [default: text]
",
    load_help!(),
    "  -h, --help               Print help
"
);

impl Args {
    /// Reads `check`'s arguments.
    pub fn parse(p: &mut Parser) -> cli::Result<Self> {
        let mut a = Args::default();
        cli::each(p, HELP, |arg, p| {
            let Some(arg) = a.source.take(arg, p)? else {
                return Ok(None);
            };
            match a.load.take(arg, p)? {
                Some(Arg::Flag(f)) if f == "--format" => {
                    a.json = cli::choice(p, &f, &[("text", false), ("json", true)])?;
                    Ok(None)
                }
                rest => Ok(rest),
            }
        })?;
        a.source = a.source.finish()?;
        Ok(a)
    }
}

/// Runs `coreship-load check`; `Ok(false)` when the probe cannot run here (exit status 1).
pub fn exec(args: Args) -> anyhow::Result<bool> {
    let opts = args.load.into_opts();
    let src = args.source.fetch()?.source;
    let report = coreship_loader::check(&src, &opts, true)?;
    let text = if args.json {
        coreship_loader::check_json(&report) + "\n"
    } else {
        coreship_loader::check_text(&report)
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    Ok(report.ok())
}
