//! `coreship-load run`: load, attach, stream, detach.

use std::path::PathBuf;
use std::time::Duration;

use coreship_loader::{AttachOpts, AttachSpec, EventOverride, Format, LoadOpts, RunOpts, SetArg};

use crate::source_args::SourceArgs;
use crate::{duration, signals};

/// Arguments of `coreship-load run`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: SourceArgs,
    /// Stop after this long (e.g. 5s, 500ms, 2m); default: until Ctrl-C
    #[arg(long, value_parser = duration::parse)]
    duration: Option<Duration>,
    /// Print histograms and counters this often (always printed at exit)
    #[arg(long, value_parser = duration::parse)]
    interval: Option<Duration>,
    /// Output format (folded: stack profiles as folded stacks, for flame graph tools)
    #[arg(long, value_enum, default_value = "text")]
    format: FormatArg,
    /// Also draw the stack profile (e.g. the profile probe's) as an SVG flame graph in FILE,
    /// rewritten at each --interval and at exit
    #[arg(long, value_name = "FILE")]
    flamegraph: Option<PathBuf>,
    /// Kernel BTF to relocate against (default: /sys/kernel/btf/vmlinux)
    #[arg(long, value_name = "FILE")]
    btf: Option<PathBuf>,
    /// Attach target for a program: PROG=TARGET or PROG=KIND:TARGET, e.g. enter=uprobe:/bin/bash:readline
    #[arg(long, value_name = "PROG=TARGET", value_parser = parse_spec)]
    attach: Vec<AttachSpec>,
    /// Target for every uprobe/uretprobe program whose section names none: /PATH:FUNC[+OFF]
    /// (repeat to trace several functions)
    #[arg(long, value_name = "PATH:FUNC")]
    uprobe: Vec<String>,
    /// Trace only this process (uprobes, USDT)
    #[arg(long)]
    pid: Option<i32>,
    /// Sampling frequency in Hz for perf_event programs
    #[arg(long, default_value_t = 49)]
    freq: u64,
    /// Run the programs that load and attach even when others cannot
    #[arg(long)]
    allow_partial: bool,
    /// Decode MAP's records as TYPE (objects written without coreship.h), e.g. events='struct event'
    #[arg(long, value_name = "MAP=TYPE", value_parser = parse_event)]
    event: Vec<EventOverride>,
    /// Set the probe's `const volatile` global NAME before load (repeatable), e.g. per_disk=1;
    /// `coreship inspect` lists a probe's settings
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_set)]
    set: Vec<SetArg>,
    /// Copy libbpf's log to stderr
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Text,
    Json,
    Folded,
}

pub(crate) fn parse_spec(s: &str) -> Result<AttachSpec, String> {
    s.parse()
        .map_err(|e: coreship_loader::LoadError| e.to_string())
}

pub(crate) fn parse_set(s: &str) -> Result<SetArg, String> {
    s.parse()
        .map_err(|e: coreship_loader::SettingError| e.to_string())
}

fn parse_event(s: &str) -> Result<EventOverride, String> {
    s.parse()
        .map_err(|e: coreship_loader::LoadError| e.to_string())
}

/// Runs `coreship-load run`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    coreship_loader::libbpf_log::set_echo(args.verbose);
    signals::install();
    if args.flamegraph.is_some() && !coreship_loader::FLAMEGRAPH_SUPPORTED {
        // Refused before loading anything: this binary cannot draw what was asked.
        return Err(coreship_loader::StackError::FlamegraphDisabled.into());
    }
    // Digests and signatures are checked here, before anything reaches the kernel.
    let src = args.source.fetch()?.source;
    let opts = RunOpts {
        load: LoadOpts {
            btf: args.btf,
            attach: args.attach,
            uprobe: args.uprobe,
            attach_opts: AttachOpts {
                pid: args.pid.unwrap_or(-1),
                freq: args.freq,
            },
            allow_partial: args.allow_partial,
            set: args.set,
        },
        format: match args.format {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Folded => Format::Folded,
        },
        duration: args.duration,
        interval: args.interval,
        events: args.event,
        flamegraph: args.flamegraph,
    };
    let name = src.name.clone();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let report = coreship_loader::run(
        &src,
        &opts,
        &signals::STOP,
        &mut out,
        &mut |session, plan| {
            for f in session.failures() {
                eprintln!("coreship-load: {name}: skipped {f}");
            }
            for map in &plan.undeclared {
                eprintln!(
                    "coreship-load: {name}: map {map} has no declared record type, printing hex; \
                 declare it with CORESHIP_EVENTS or pass --event {map}='struct NAME'"
                );
            }
            eprintln!(
                "coreship-load: {name}: attached {}; {}",
                session.attached().join(", "),
                match opts.duration {
                    Some(d) => format!("running for {d:?}"),
                    None => "Ctrl-C to stop".into(),
                }
            );
        },
    )?;
    eprintln!(
        "coreship-load: {name}: detached; {} events, {} lost",
        report.events, report.lost
    );
    if let Some(svg) = &opts.flamegraph {
        eprintln!(
            "coreship-load: {name}: flame graph written to {}",
            svg.display()
        );
    }
    Ok(())
}
