//! `run`: load a probe, stream its events, print its tables, stop cleanly.

use std::cell::RefCell;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::plan::{EventOverride, OutputPlan};
use crate::stacks::StackTables;
use crate::stream::{self, Streams};
use crate::{
    tables, BpfElf, Format, FormatCtx, Layout, LoadError, LoadOpts, ObjectBtf, Printer,
    ProbeSource, Session,
};

/// What to run and how to print it.
#[derive(Debug, Clone, Default)]
pub struct RunOpts {
    /// Loading and attaching.
    pub load: LoadOpts,
    /// Output format.
    pub format: Format,
    /// Stop after this long (`None`: until stopped).
    pub duration: Option<Duration>,
    /// Print histograms and counters this often (and always at exit).
    pub interval: Option<Duration>,
    /// Record types for maps not declared with coreship.h.
    pub events: Vec<EventOverride>,
    /// Write the stack profile as an SVG flame graph here (at each interval and at exit).
    pub flamegraph: Option<std::path::PathBuf>,
}

/// What a run saw.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Programs attached.
    pub attached: Vec<String>,
    /// Programs skipped under `--allow-partial`, with reasons.
    pub failures: Vec<crate::AttachFailure>,
    /// Records printed.
    pub events: u64,
    /// Records the kernel reported lost.
    pub lost: u64,
    /// Time from the start of `run` until every program was attached.
    pub time_to_attach: Duration,
}

/// How often the loop wakes to check for stop requests when idle.
const TICK: Duration = Duration::from_millis(100);

/// Loads `src`, attaches it, streams its events to `out` until `stop` is set or the duration
/// passes, then prints its tables and detaches everything. `ready` is called once programs are
/// attached and every event buffer is being read (the binary prints a status line there).
pub fn run(
    src: &ProbeSource,
    opts: &RunOpts,
    stop: &AtomicBool,
    out: &mut dyn Write,
    ready: &mut dyn FnMut(&Session, &OutputPlan),
) -> Result<RunReport, LoadError> {
    let started = Instant::now();
    // A bad object fails here, before anything is loaded.
    object_btf(src)?;
    let session = Session::start(src, &opts.load)?;
    stream(src, session, started, opts, stop, out, ready)
}

/// [`run`]'s streaming half over a session started (or re-attached to pins) by the caller:
/// streams until `stop` or the duration, prints the tables, then drops the session (which
/// detaches whatever it did not pin). `started` is when the caller began (for the report).
pub fn stream(
    src: &ProbeSource,
    session: Session,
    started: Instant,
    opts: &RunOpts,
    stop: &AtomicBool,
    out: &mut dyn Write,
    ready: &mut dyn FnMut(&Session, &OutputPlan),
) -> Result<RunReport, LoadError> {
    let ctx = FormatCtx {
        start_mono_ns: monotonic_ns(),
        devices: crate::devices::block_device_names(),
    };
    let btf = object_btf(src)?;
    let time_to_attach = started.elapsed();
    let event_maps = stream::event_maps(session.object());
    let plan = OutputPlan::new(&btf, &event_maps, &opts.events)?;
    let stacks = StackTables::new(&plan, opts.flamegraph.as_deref(), &src.name)?;

    let printer = RefCell::new(Printer::new(out, opts.format, ctx.clone()));
    for ev in &plan.events {
        printer.borrow_mut().header(&ev.layout);
    }

    let layouts: Vec<Option<&Layout>> = event_maps
        .iter()
        .map(|name| {
            plan.events
                .iter()
                .find(|e| e.map == *name)
                .map(|e| &e.layout)
        })
        .collect();
    let (printer_ref, layouts, names) = (&printer, &layouts, &event_maps);
    let streams = Streams::open(
        session.object(),
        &event_maps,
        move |i: usize, data: &[u8]| {
            let mut p = printer_ref.borrow_mut();
            match layouts[i] {
                Some(l) => p.record(l, data),
                None => p.raw(&names[i], data),
            }
        },
        move |n| printer_ref.borrow_mut().lost += n,
    )?;

    // Only now is every buffer open: a perf event array drops records for CPUs without a
    // reader, so "ready" must not be announced before this point.
    ready(&session, &plan);

    let deadline = opts.duration.map(|d| started + d);
    let mut next_tables = opts.interval.map(|i| Instant::now() + i);
    let has_tables = !plan.hists.is_empty() || !plan.counters.is_empty();
    let mut result = Ok(());
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
        let wait = deadline.map_or(TICK, |d| (d - now).min(TICK));
        let wait = next_tables.map_or(wait, |t| t.saturating_duration_since(now).min(wait));
        streams.poll(wait);
        stacks.watch(session.object());
        if let Some(t) = next_tables {
            if Instant::now() >= t && has_tables {
                result = print_tables(&session, &plan, &stacks, &printer, &ctx);
                next_tables = opts.interval.map(|i| Instant::now() + i);
            }
        }
        if let Err(e) = printer.borrow_mut().flush() {
            result = Err(e);
        }
        if result.is_err() {
            break;
        }
    }
    // Drain what is already in the buffers before printing the final tables.
    streams.consume();
    result?;
    if has_tables {
        print_tables(&session, &plan, &stacks, &printer, &ctx)?;
    }
    let mut p = printer.borrow_mut();
    p.flush()?;
    let report = RunReport {
        attached: session.attached().iter().map(|s| s.to_string()).collect(),
        failures: session.failures().to_vec(),
        events: p.events,
        lost: p.lost,
        time_to_attach,
    };
    drop(p);
    // Buffers close before the session detaches the programs and frees the maps.
    drop(streams);
    drop(session);
    Ok(report)
}

fn print_tables(
    session: &Session,
    plan: &OutputPlan,
    stacks: &StackTables,
    printer: &RefCell<Printer<'_>>,
    ctx: &FormatCtx,
) -> Result<(), LoadError> {
    let format = printer.borrow().format();
    let mut s = String::new();
    tables::render_hists(session.object(), &plan.hists, format, ctx, &mut s)?;
    tables::render_counters(
        session.object(),
        &plan.counters,
        stacks,
        format,
        ctx,
        &mut s,
    )?;
    let mut p = printer.borrow_mut();
    p.text(&s);
    p.flush()
}

/// Parses the BTF of `src` (pure: before anything is loaded, so a bad object fails first).
pub(crate) fn object_btf(src: &ProbeSource) -> Result<ObjectBtf, LoadError> {
    let elf = BpfElf::parse(&src.bytes).map_err(|problem| LoadError::Elf {
        path: src.path.clone(),
        problem,
    })?;
    ObjectBtf::from_bytes(elf.btf).map_err(|source| LoadError::Btf {
        path: src.path.clone(),
        source,
    })
}

/// CLOCK_MONOTONIC in ns: the clock `bpf_ktime_get_ns()` reads.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
