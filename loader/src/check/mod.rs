//! The kernel pre-check: whether this kernel can run each program of a probe, before (or
//! instead of) running it.
//!
//! For every program, four questions, each answered without leaving anything in the kernel:
//! - **type**: does the kernel know its program type (`libbpf_probe_bpf_prog_type`; for
//!   fentry/fexit the same probe with its errno kept, which tells "refused" from "unknown")?
//! - **helpers**: may that type call each helper the program calls? The calls are found in
//!   the program's instructions after libbpf prepared the object (so subprograms count);
//!   each is asked of the kernel with `libbpf_probe_bpf_helper`.
//! - **attach target**: does the tracepoint exist in tracefs, the kernel function in
//!   /proc/kallsyms (and can the kernel make kprobes at all), the binary and its symbol?
//! - **CO-RE**: libbpf relocates the object against the kernel's BTF (`bpf_object__prepare`);
//!   a relocation it cannot resolve becomes a call of an invalid helper, counted here.
//!   Whether that matters (it is harmless in dead code) is the verifier's call.
//!
//! With `verify`, the object is then loaded — the verifier's verdict per program — and
//! dropped: programs the verifier rejects are switched off one by one until the rest loads.
//! `run` asks the first four questions before loading (the load that follows is the
//! verifier's turn); `coreship-load check` asks all five.

mod helpers;
mod kernel;
mod report;
mod targets;

use libbpf_rs::{AsRawLibbpf, OpenObject};

use crate::attach::alternatives::{split_name, Alternatives};
use crate::attach::{AttachKind, Refusal};
use crate::session::{self, OPTIONAL_SUFFIX};
use crate::{libbpf_log, AttachFailure, LoadError, LoadOpts, ProbeSource};

/// The answer to one question about one program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Available.
    Ok,
    /// Not available: why, and what to do when the program stands alone.
    Missing {
        /// What is missing.
        cause: String,
        /// What to do instead.
        advice: Option<&'static str>,
    },
    /// Could not be checked (not a failure): why.
    Unknown(String),
}

impl Status {
    pub(crate) fn missing(cause: impl Into<String>) -> Status {
        Status::Missing {
            cause: cause.into(),
            advice: None,
        }
    }

    pub(crate) fn advised(cause: impl Into<String>, advice: &'static str) -> Status {
        Status::Missing {
            cause: cause.into(),
            advice: Some(advice),
        }
    }

    /// Why it is missing or unknown; `None` when available.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Status::Ok => None,
            Status::Missing { cause, .. } => Some(cause),
            Status::Unknown(why) => Some(why),
        }
    }

    /// Whether this answer keeps the program from running.
    pub fn is_missing(&self) -> bool {
        matches!(self, Status::Missing { .. })
    }

    /// `ok`, `missing` or `unknown`.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Missing { .. } => "missing",
            Status::Unknown(_) => "unknown",
        }
    }
}

/// One helper a program calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperCheck {
    /// `bpf_ringbuf_reserve`.
    pub name: String,
    /// Its `enum bpf_func_id` value.
    pub id: u32,
    /// Whether the program's type may call it here.
    pub status: Status,
}

/// What the check found for one program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramCheck {
    /// Program name.
    pub program: String,
    /// Attach kind and target(s), e.g. `tracepoint sched/sched_process_exec`.
    pub target: String,
    /// Program type name (`tracepoint`, `kprobe`, `tracing`, …).
    pub prog_type: String,
    /// Whether the kernel knows the program type.
    pub type_status: Status,
    /// Every helper it calls.
    pub helpers: Vec<HelperCheck>,
    /// Whether the attach target exists.
    pub target_status: Status,
    /// Whether its CO-RE relocations resolved.
    pub core: Status,
    /// The verifier's verdict; `None` when not loaded (without `verify`, or after an earlier
    /// question failed).
    pub verifier: Option<Status>,
}

impl ProgramCheck {
    /// Every answer that keeps the program from running, joined into one refusal.
    pub(crate) fn refusal(&self) -> Option<Refusal> {
        let helpers: Vec<&Status> = self
            .helpers
            .iter()
            .map(|h| &h.status)
            .filter(|s| s.is_missing())
            .collect();
        let missing: Vec<&Status> = [&self.type_status]
            .into_iter()
            .chain(helpers)
            .chain([&self.target_status])
            .chain(self.verifier.as_ref())
            .filter(|s| s.is_missing())
            .collect();
        if missing.is_empty() {
            return None;
        }
        let cause = missing
            .iter()
            .filter_map(|s| s.reason())
            .collect::<Vec<_>>()
            .join("; ");
        let advice = missing.iter().find_map(|s| match s {
            Status::Missing { advice, .. } => *advice,
            _ => None,
        });
        Some(Refusal { cause, advice })
    }

    /// Whether the program can run here.
    pub fn ok(&self) -> bool {
        self.refusal().is_none()
    }
}

/// What the check found for a whole probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The probe's name.
    pub probe: String,
    /// One entry per program, in the object's order.
    pub programs: Vec<ProgramCheck>,
    /// Whether the verifier was asked.
    pub verified: bool,
}

impl CheckReport {
    /// Programs that cannot run, as [`AttachFailure`]s with the cause (and advice).
    pub fn failing(&self) -> Vec<AttachFailure> {
        self.programs
            .iter()
            .filter_map(|p| {
                Some(AttachFailure {
                    program: p.program.clone(),
                    target: p.target.clone(),
                    reason: p.refusal()?.full(),
                })
            })
            .collect()
    }

    /// What keeps `run` from starting without `--allow-partial`: each failing program that
    /// is neither `__optional` nor one of a group's alternatives, and each group none of whose
    /// alternatives can run (reported as the session reports it).
    pub fn blocking(&self) -> Vec<AttachFailure> {
        let mut alternatives = Alternatives::new(self.programs.iter().map(|p| p.program.as_str()));
        self.fail_alternatives(&mut alternatives);
        let mut out: Vec<AttachFailure> = self
            .programs
            .iter()
            .filter(|p| split_name(&p.program).is_none() && !p.program.ends_with(OPTIONAL_SUFFIX))
            .filter_map(|p| {
                Some(AttachFailure {
                    program: p.program.clone(),
                    target: p.target.clone(),
                    reason: p.refusal()?.full(),
                })
            })
            .collect();
        out.extend(alternatives.unavailable());
        out
    }

    /// Whether `run` would start (every required program and group can run).
    pub fn ok(&self) -> bool {
        self.blocking().is_empty() && self.programs.iter().any(ProgramCheck::ok)
    }

    /// Moves every group of `alternatives` past its failing alternatives, best first, as the
    /// session does when the kernel refuses one.
    pub(crate) fn fail_alternatives(&self, alternatives: &mut Alternatives) {
        loop {
            let mut moved = false;
            for p in &self.programs {
                if alternatives.wanted(&p.program) != Some(true) {
                    continue;
                }
                if let Some(r) = p.refusal() {
                    alternatives.fail(&p.program, r.cause);
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// Per group of alternatives: its base name and the alternative that would run, if any.
    pub fn groups(&self) -> Vec<(String, Option<String>)> {
        let mut groups: Vec<(String, Option<String>)> = Vec::new();
        for p in &self.programs {
            let Some((base, _)) = split_name(&p.program) else {
                continue;
            };
            if !groups.iter().any(|(b, _)| b == base) {
                groups.push((base.to_string(), None));
            }
        }
        let mut alternatives = Alternatives::new(self.programs.iter().map(|p| p.program.as_str()));
        self.fail_alternatives(&mut alternatives);
        for (base, chosen) in &mut groups {
            *chosen = self
                .programs
                .iter()
                .find(|p| {
                    split_name(&p.program).is_some_and(|(b, _)| b == base)
                        && alternatives.wanted(&p.program) == Some(true)
                })
                .map(|p| p.program.clone());
        }
        groups
    }
}

/// Checks every program of `src` against this kernel (see the module docs); with `verify`,
/// also loads the object (then drops it) for the verifier's verdict per program.
pub fn check(src: &ProbeSource, opts: &LoadOpts, verify: bool) -> Result<CheckReport, LoadError> {
    // Kernel BTF, `--btf`, or the artifact's minimal BTF for this kernel (kept until done).
    let chosen = crate::kernel_btf::choose(src, opts.btf.as_deref(), opts.ignore_kernel_btf)?;
    let btf = chosen.path.as_deref();
    let mut open = session::open(&src.name, &src.bytes, &src.path, btf)?;
    let mut report = check_open(src, opts, &mut open)?;
    drop(open);
    if verify {
        verify_all(src, opts, btf, &mut report.programs)?;
        report.verified = true;
    }
    Ok(report)
}

/// The first four questions for every program of `open` (opened from `src` with the BTF
/// chosen for it): writes `opts.set` into it and prepares it (CO-RE relocation, maps
/// created), so `run` loads this same object next instead of relocating another against the
/// kernel's BTF again.
pub(crate) fn check_open(
    src: &ProbeSource,
    opts: &LoadOpts,
    open: &mut OpenObject,
) -> Result<CheckReport, LoadError> {
    crate::settings::apply(open, &src.path, &opts.set)?;
    let maps = session::map_sizes(open);
    let ptr = open.as_libbpf_object().as_ptr();
    // SAFETY: `ptr` is the live object `open` owns; preparing it only changes its state.
    let (ret, lines) = libbpf_log::capture(|| unsafe { libbpf_sys::bpf_object__prepare(ptr) });
    if ret != 0 {
        return Err(session::load_failed(&src.path, &lines, &maps, || {
            crate::error::errno_text(-ret)
        }));
    }

    let mut probes = kernel::Probes::default();
    let mut targets = targets::Targets::default();
    let mut programs = Vec::new();
    for prog in open.progs() {
        let name = prog.name().to_string_lossy().into_owned();
        let t = prog.prog_type() as u32;
        let section_kind = AttachKind::from_section(&prog.section().to_string_lossy());
        let type_status = probes.prog_type(t);
        let insns = prog.insns();
        let helpers = helpers::helper_calls(insns)
            .into_iter()
            .map(|id| HelperCheck {
                name: helpers::helper_name(id),
                id,
                status: probes.helper(t, id),
            })
            .collect();
        let (target, target_status) = check_targets(&name, &section_kind, opts, &mut targets);
        let unresolved = helpers::unresolved_core(insns);
        let core = if unresolved == 0 {
            Status::Ok
        } else {
            let said = lines
                .iter()
                .find(|l| l.contains(&format!("prog '{name}': relo #")))
                .cloned()
                .unwrap_or_default();
            Status::Unknown(format!(
                "{unresolved} relocation(s) unresolved, fatal only if reached ({said})"
            ))
        };
        programs.push(ProgramCheck {
            program: name,
            target,
            prog_type: crate::prog_type_name(t),
            type_status,
            helpers,
            target_status,
            core,
            verifier: None,
        });
    }
    Ok(CheckReport {
        probe: src.name.clone(),
        programs,
        verified: false,
    })
}

/// The targets `program` would attach to (`--attach`, `--uprobe`, else its section's) and
/// whether each exists: the first missing one, else the first unknown one, else ok.
fn check_targets(
    program: &str,
    section_kind: &AttachKind,
    opts: &LoadOpts,
    targets: &mut targets::Targets,
) -> (String, Status) {
    let mut wanted: Vec<(AttachKind, Option<String>)> = opts
        .attach
        .iter()
        .filter(|s| s.program == program)
        .map(|s| {
            let kind = s
                .kind
                .as_deref()
                .map_or_else(|| section_kind.clone(), AttachKind::from_section);
            (kind, Some(s.target.clone()))
        })
        .collect();
    if wanted.is_empty() && matches!(section_kind, AttachKind::Uprobe { target: None, .. }) {
        wanted = opts
            .uprobe
            .iter()
            .map(|t| (section_kind.clone(), Some(t.clone())))
            .collect();
    }
    if wanted.is_empty() {
        wanted.push((
            section_kind.clone(),
            section_kind.target().map(str::to_string),
        ));
    }
    let described = wanted
        .iter()
        .map(|(k, t)| match t {
            Some(t) => format!("{} {t}", k.name()),
            None => k.describe(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let statuses: Vec<Status> = wanted
        .iter()
        .map(|(k, t)| targets.status(k, t.as_deref()))
        .collect();
    let status = statuses
        .iter()
        .find(|s| s.is_missing())
        .or_else(|| statuses.iter().find(|s| s.reason().is_some()))
        .cloned()
        .unwrap_or(Status::Ok);
    (described, status)
}

/// Loads the programs that passed the other questions, switching off each one the kernel
/// refuses and loading again until the rest loads; records each verdict. Nothing stays
/// loaded: every object is closed before returning.
fn verify_all(
    src: &ProbeSource,
    opts: &LoadOpts,
    btf: Option<&std::path::Path>,
    programs: &mut [ProgramCheck],
) -> Result<(), LoadError> {
    loop {
        let mut open = session::open(&src.name, &src.bytes, &src.path, btf)?;
        crate::settings::apply(&mut open, &src.path, &opts.set)?;
        let mut sections = Vec::new();
        for mut prog in open.progs_mut() {
            let name = prog.name().to_string_lossy().into_owned();
            let entry = programs.iter().find(|p| p.program == name);
            let load = entry.is_some_and(|p| p.ok() && p.verifier.is_none());
            if !load {
                prog.set_autoload(false);
            }
            sections.push((name, prog.section().to_string_lossy().into_owned()));
        }
        if !programs.iter().any(|p| p.ok() && p.verifier.is_none()) {
            return Ok(());
        }
        let maps = session::map_sizes(&open);
        let (result, lines) = libbpf_log::capture(|| open.load());
        let err = match result {
            Ok(object) => {
                drop(object);
                for p in programs.iter_mut() {
                    if p.ok() && p.verifier.is_none() {
                        p.verifier = Some(Status::Ok);
                    }
                }
                return Ok(());
            }
            Err(e) => e,
        };
        let Some(failed) = libbpf_log::failed_program(&lines) else {
            return Err(session::load_failed(&src.path, &lines, &maps, || {
                format!("{err:#}")
            }));
        };
        let kind = sections
            .iter()
            .find(|(n, _)| *n == failed)
            .map(|(_, s)| AttachKind::from_section(s))
            .unwrap_or(AttachKind::Other {
                section: String::new(),
            });
        let refused = session::load_refusal(&err, &lines, &failed, &kind);
        let Some(p) = programs.iter_mut().find(|p| p.program == failed) else {
            return Err(LoadError::Load {
                path: src.path.clone(),
                said: lines.last().cloned().unwrap_or_else(|| format!("{err:#}")),
            });
        };
        if p.verifier.is_some() {
            // Refused twice: not something switching programs off can get past.
            return Err(LoadError::Load {
                path: src.path.clone(),
                said: lines.last().cloned().unwrap_or_else(|| format!("{err:#}")),
            });
        }
        p.verifier = Some(Status::Missing {
            cause: refused.refusal.cause,
            advice: refused.refusal.advice,
        });
    }
}

pub use report::{render_json, render_text};
