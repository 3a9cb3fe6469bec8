//! `coreship-load check`: can this kernel run a probe? Loads nothing permanently.

use std::io::Write as _;
use std::path::PathBuf;

use coreship_loader::{AttachSpec, LoadOpts, SetArg};

use crate::cli::{self, Arg, Parser};
use crate::run::{parse_set, parse_spec};
use crate::source_args::{source_help, SourceArgs};

/// Arguments of `coreship-load check`.
#[derive(Default)]
pub struct Args {
    source: SourceArgs,
    json: bool,
    btf: Option<PathBuf>,
    attach: Vec<AttachSpec>,
    uprobe: Vec<String>,
    set: Vec<SetArg>,
    verbose: bool,
}

pub const HELP: &str = concat!(
    "Report whether this kernel has what each program needs (program type, helpers, attach
target, CO-RE relocations, the verifier's verdict); loads nothing permanently. Exit status 1
when the probe cannot run here

Usage: coreship-load check [OPTIONS] PROBE

",
    source_help!(),
    "      --format FORMAT      text or json [default: text]
      --btf FILE           Kernel BTF to relocate against (default: /sys/kernel/btf/vmlinux)
      --attach PROG=TARGET Attach target for a program, as `run` takes it (checked instead of
                           the section's)
      --uprobe PATH:FUNC   Target for every uprobe program whose section names none, as `run`
                           takes it
      --set NAME=VALUE     A `const volatile` setting, as `run` takes it
  -v, --verbose            Copy libbpf's log to stderr
  -h, --help               Print help
"
);

impl Args {
    /// Reads `check`'s arguments.
    pub fn parse(p: &mut Parser) -> cli::Result<Self> {
        let mut a = Args::default();
        while let Some(arg) = Arg::next(p)? {
            let Some(arg) = a.source.take(arg, p)? else {
                continue;
            };
            let Arg::Flag(f) = &arg else {
                return Err(arg.unexpected(HELP));
            };
            match f.as_str() {
                "--format" => a.json = cli::choice(p, f, &[("text", false), ("json", true)])?,
                "--btf" => a.btf = Some(cli::path(p)?),
                "--attach" => a.attach.push(cli::value(p, f, parse_spec)?),
                "--uprobe" => a.uprobe.push(cli::string(p, f)?),
                "--set" => a.set.push(cli::value(p, f, parse_set)?),
                "-v" | "--verbose" => a.verbose = true,
                _ => return Err(arg.unexpected(HELP)),
            }
        }
        a.source = a.source.finish()?;
        Ok(a)
    }
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
