//! `coreship-load run`: load, attach, stream, detach.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use coreship_loader::{AttachOpts, AttachSpec, EventOverride, Format, LoadOpts, RunOpts, SetArg};

use crate::source_args::SourceArgs;
use crate::{duration, pin, signals};

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
    /// Kernel BTF to relocate against (default: /sys/kernel/btf/vmlinux, else the minimal BTF
    /// the artifact ships for this kernel)
    #[arg(long, value_name = "FILE")]
    btf: Option<PathBuf>,
    /// Behave as on a kernel without /sys/kernel/btf/vmlinux: use the artifact's minimal BTF
    #[arg(long, conflicts_with = "btf")]
    ignore_kernel_btf: bool,
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
    /// Pin every link and map in bpffs under DIR (default /sys/fs/bpf/coreship/NAME) so the
    /// probe stays attached after this process; if DIR is already pinned, re-attach to it
    /// (nothing is loaded) and print its output. The pins stay at exit: `stop` removes them
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "")]
    pin: Option<String>,
    /// With --pin: pin and exit at once, leaving the probe running with no process
    #[arg(long, requires = "pin")]
    detach: bool,
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
    let fetched = args.source.fetch()?;
    let src = fetched.source;
    let started = Instant::now();
    let events_given: Vec<String> = args
        .event
        .iter()
        .map(|e| format!("{}={}", e.map, e.type_spec))
        .collect();
    let mut opts = RunOpts {
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
            ignore_kernel_btf: args.ignore_kernel_btf,
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
    let pin = match args.pin {
        None => None,
        Some(dir) => {
            let dir = if dir.is_empty() {
                coreship_loader::default_pin_dir(&name)
            } else {
                PathBuf::from(dir)
            };
            let pinned = pin::prepare(
                &src,
                &dir,
                fetched.digest.map(|d| d.to_string()),
                &args.source.probe,
                events_given,
                &mut opts,
                args.detach,
            )?;
            if args.detach {
                // The links are pinned and disconnected: dropping the session leaves them.
                drop(pinned.session);
                return Ok(());
            }
            Some(pinned)
        }
    };
    let pin_note = pin.as_ref().map(|p| (p.dir.clone(), p.reattached));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut ready = |session: &coreship_loader::Session, plan: &coreship_loader::OutputPlan| {
        if let Some(kernel) = session.min_btf() {
            eprintln!(
                "coreship-load: {name}: relocated against the minimal BTF shipped for {kernel}"
            );
        }
        for f in session.failures() {
            eprintln!("coreship-load: {name}: skipped {f}");
        }
        for map in &plan.undeclared {
            eprintln!(
                "coreship-load: {name}: map {map} has no declared record type, printing hex; \
                 declare it with CORESHIP_EVENTS or pass --event {map}='struct NAME'"
            );
        }
        let pinned = match &pin_note {
            Some((dir, true)) => format!(
                "; re-attached to its pins in {} (nothing loaded; they stay attached at exit)",
                dir.display()
            ),
            Some((dir, false)) => {
                format!("; pinned in {} (they stay attached at exit)", dir.display())
            }
            None => String::new(),
        };
        eprintln!(
            "coreship-load: {name}: attached {}{pinned}; {}",
            session.attached().join(", "),
            match opts.duration {
                Some(d) => format!("running for {d:?}"),
                None => "Ctrl-C to stop".into(),
            }
        );
    };
    let report = match pin {
        Some(p) => coreship_loader::stream(
            &src,
            p.session,
            started,
            &opts,
            &signals::STOP,
            &mut out,
            &mut ready,
        )?,
        None => coreship_loader::run(&src, &opts, &signals::STOP, &mut out, &mut ready)?,
    };
    match pin_note.map(|(dir, _)| (coreship_loader::pin_name(&dir), dir)) {
        Some((pin_name, dir)) => eprintln!(
            "coreship-load: {name}: stopped reading; {} events, {} lost; still pinned in {} \
             (`coreship-load stop {pin_name}` detaches it)",
            report.events,
            report.lost,
            dir.display()
        ),
        None => eprintln!(
            "coreship-load: {name}: detached; {} events, {} lost",
            report.events, report.lost
        ),
    }
    if let Some(svg) = &opts.flamegraph {
        eprintln!(
            "coreship-load: {name}: flame graph written to {}",
            svg.display()
        );
    }
    Ok(())
}
