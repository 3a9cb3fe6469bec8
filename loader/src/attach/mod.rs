//! Attaching programs by what their section (or `--attach`) says, one module per kind.

pub mod alternatives;
mod kind;
mod kprobe;
mod perf_event;
mod refusal;
mod spec;
mod tracepoint;
pub(crate) mod trampoline;
mod uprobe;
mod usdt;

pub use kind::AttachKind;
pub use kprobe::kernel_has_kprobes;
pub(crate) use refusal::Refusal;
pub use spec::{AttachSpec, UserLocation};

use libbpf_rs::{Link, ProgramMut};

use crate::AttachFailure;

/// Attach-time settings that apply to every program.
#[derive(Debug, Clone)]
pub struct AttachOpts {
    /// Only trace this process (uprobes, USDT); -1 for all.
    pub pid: i32,
    /// Sampling frequency for perf_event programs, in Hz.
    pub freq: u64,
}

impl Default for AttachOpts {
    fn default() -> Self {
        AttachOpts { pid: -1, freq: 49 }
    }
}

/// Attaches one loaded program. `spec` overrides the section's target.
pub fn attach_program(
    prog: &ProgramMut<'_>,
    spec: Option<&AttachSpec>,
    opts: &AttachOpts,
) -> Result<Vec<Link>, AttachFailure> {
    try_attach(prog, spec, opts).map_err(|f| AttachFailure {
        program: prog.name().to_string_lossy().into_owned(),
        target: f.target,
        reason: f.refusal.full(),
    })
}

/// A failed attach: what was attempted (`kprobe do_nanosleep`) and why it failed.
pub(crate) struct Failed {
    pub target: String,
    pub refusal: Refusal,
}

/// [`attach_program`] with the refusal's cause and advice kept apart.
pub(crate) fn try_attach(
    prog: &ProgramMut<'_>,
    spec: Option<&AttachSpec>,
    opts: &AttachOpts,
) -> Result<Vec<Link>, Failed> {
    let section_kind = AttachKind::from_section(&prog.section().to_string_lossy());
    let kind = match spec.and_then(|s| s.kind.as_deref()) {
        // An explicit kind must agree with what the program was compiled as: the kernel
        // checks the program type, so a tracepoint program cannot become a uprobe.
        Some(k) => {
            let k = AttachKind::from_section(k);
            if !compatible(&section_kind, &k) {
                return Err(Failed {
                    target: section_kind.describe(),
                    refusal: format!(
                        "--attach gives kind `{}` but the program was built as `{}`",
                        k.name(),
                        section_kind.name()
                    )
                    .into(),
                });
            }
            k
        }
        None => section_kind,
    };
    let target = spec
        .map(|s| s.target.clone())
        .or_else(|| kind.target().map(str::to_string));
    let described = match &target {
        Some(t) => format!("{} {t}", kind.name()),
        None => kind.describe(),
    };
    attach_kind(prog, &kind, target.as_deref(), opts).map_err(|refusal| Failed {
        target: described,
        refusal,
    })
}

/// Attaches `prog` as `kind` to `target`, by the module of that kind.
fn attach_kind(
    prog: &ProgramMut<'_>,
    kind: &AttachKind,
    target: Option<&str>,
    opts: &AttachOpts,
) -> Result<Vec<Link>, Refusal> {
    let target = || {
        target.ok_or_else(|| {
            Refusal::from(format!(
                "no target: give one with --attach {}=TARGET",
                prog.name().to_string_lossy()
            ))
        })
    };
    let link = match kind {
        AttachKind::Tracepoint { .. } => tracepoint::attach(prog, target()?)?,
        AttachKind::RawTracepoint { btf: false, .. } => tracepoint::attach_raw(prog, target()?)?,
        AttachKind::RawTracepoint { btf: true, .. } | AttachKind::Trampoline { .. } => {
            trampoline::attach(prog)?
        }
        AttachKind::Kprobe { ret, syscall, .. } => kprobe::attach(prog, target()?, *ret, *syscall)?,
        AttachKind::Uprobe { ret, .. } => uprobe::attach(prog, target()?, *ret, opts.pid)?,
        AttachKind::Usdt { .. } => usdt::attach(prog, target()?, opts.pid)?,
        AttachKind::PerfEvent => return Ok(perf_event::attach(prog, opts.freq)?),
        AttachKind::Other { .. } => prog
            .attach()
            .map_err(|e| errno_reason(crate::error::errno_of(&e)))?,
    };
    Ok(vec![link])
}

fn compatible(built: &AttachKind, given: &AttachKind) -> bool {
    use AttachKind::*;
    matches!(
        (built, given),
        (Tracepoint { .. }, Tracepoint { .. })
            | (RawTracepoint { .. }, RawTracepoint { .. })
            | (Kprobe { .. }, Kprobe { .. })
            | (Uprobe { .. }, Uprobe { .. })
            | (Usdt { .. }, Usdt { .. })
            | (Trampoline { .. }, Trampoline { .. })
    )
}

/// A generic reason for an errno from an attach call.
pub(crate) fn errno_reason(errno: Option<i32>) -> String {
    match errno {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            "permission denied: run as root or with CAP_BPF and CAP_PERFMON".into()
        }
        Some(code) => format!("the kernel said {}", crate::error::errno_text(code)),
        None => "attach failed (see libbpf's log with --verbose)".into(),
    }
}
