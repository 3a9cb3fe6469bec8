//! `coreship-load run`: load, attach, stream, detach.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use coreship_loader::{AttachOpts, EventOverride, Format, LoadOpts, RunOpts};

use crate::cli::{self, Arg, Parser, Stop};
use crate::source_args::{load_help, source_help, LoadArgs, SourceArgs};
use crate::{duration, pin, signals};

/// Arguments of `coreship-load run`.
#[derive(Default)]
pub struct Args {
    source: SourceArgs,
    load: LoadArgs,
    duration: Option<Duration>,
    interval: Option<Duration>,
    format: Format,
    flamegraph: Option<PathBuf>,
    ignore_kernel_btf: bool,
    pid: Option<i32>,
    freq: Option<u64>,
    allow_partial: bool,
    event: Vec<EventOverride>,
    /// `Some("")`: `--pin` without a directory.
    pin: Option<String>,
    detach: bool,
}

/// Sampling frequency for perf_event programs when `--freq` is not given.
const DEFAULT_FREQ: u64 = 49;

pub const HELP: &str = concat!(
    "Load a probe, attach every program and print its events until stopped

Usage: coreship-load run [OPTIONS] PROBE

",
    source_help!(),
    "      --duration DURATION  Stop after this long (e.g. 5s, 500ms, 2m); default: until Ctrl-C
      --interval DURATION  Print histograms and counters this often (always printed at exit)
      --format FORMAT      text, json, or folded (stack profiles as folded stacks, for flame
                           graph tools) [default: text]
      --flamegraph FILE    Also draw the stack profile (e.g. the profile probe's) as an SVG
                           flame graph in FILE, rewritten at each --interval and at exit
      --ignore-kernel-btf  Behave as on a kernel without /sys/kernel/btf/vmlinux: use the
                           artifact's minimal BTF
      --pid PID            Trace only this process (uprobes, USDT)
      --freq HZ            Sampling frequency for perf_event programs [default: 49]
      --allow-partial      Run the programs that load and attach even when others cannot
      --event MAP=TYPE     Decode MAP's records as TYPE (objects written without coreship.h),
                           e.g. events='struct event'
      --pin [DIR]          Pin every link and map in bpffs under DIR (default
                           /sys/fs/bpf/coreship/NAME) so the probe stays attached after this
                           process; if DIR is already pinned, re-attach to it (nothing is
                           loaded) and print its output. The pins stay at exit: `stop` removes
                           them
      --detach             With --pin: pin and exit at once, leaving the probe running with
                           no process
",
    load_help!(),
    "  -h, --help               Print help
"
);

impl Args {
    /// Reads `run`'s arguments.
    pub fn parse(p: &mut Parser) -> cli::Result<Self> {
        let mut a = Args::default();
        cli::each(p, HELP, |arg, p| {
            let Some(arg) = a.source.take(arg, p)? else {
                return Ok(None);
            };
            let Some(arg) = a.load.take(arg, p)? else {
                return Ok(None);
            };
            let Arg::Flag(f) = &arg else {
                return Ok(Some(arg));
            };
            match f.as_str() {
                "--duration" => a.duration = Some(cli::value(p, f, duration::parse)?),
                "--interval" => a.interval = Some(cli::value(p, f, duration::parse)?),
                "--format" => a.format = cli::choice(p, f, FORMATS)?,
                "--flamegraph" => a.flamegraph = Some(cli::path(p)?),
                "--ignore-kernel-btf" => a.ignore_kernel_btf = true,
                "--pid" => a.pid = Some(cli::value(p, f, str::parse::<i32>)?),
                "--freq" => a.freq = Some(cli::value(p, f, str::parse::<u64>)?),
                "--allow-partial" => a.allow_partial = true,
                "--event" => a.event.push(cli::value(p, f, str::parse::<EventOverride>)?),
                "--pin" => a.pin = Some(cli::optional_string(p, f)?),
                "--detach" => a.detach = true,
                _ => return Ok(Some(arg)),
            }
            Ok(None)
        })?;
        a.source = a.source.finish()?;
        if a.detach && a.pin.is_none() {
            return Err(Stop::Usage("--detach needs --pin".into()));
        }
        if a.ignore_kernel_btf && a.load.has_btf() {
            return Err(Stop::Usage(
                "--ignore-kernel-btf and --btf cannot be used together".into(),
            ));
        }
        Ok(a)
    }
}

const FORMATS: &[(&str, Format)] = &[
    ("text", Format::Text),
    ("json", Format::Json),
    ("folded", Format::Folded),
];

/// Runs `coreship-load run`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    signals::install();
    if args.flamegraph.is_some() && !coreship_loader::FLAMEGRAPH_SUPPORTED {
        // Refused before loading anything: this binary cannot draw what was asked.
        return Err(coreship_loader::StackError::FlamegraphDisabled.into());
    }
    let load = args.load.into_opts();
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
            attach_opts: AttachOpts {
                pid: args.pid.unwrap_or(-1),
                freq: args.freq.unwrap_or(DEFAULT_FREQ),
            },
            allow_partial: args.allow_partial,
            ignore_kernel_btf: args.ignore_kernel_btf,
            ..load
        },
        format: args.format,
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
