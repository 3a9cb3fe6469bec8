//! Attaching programs by what their section (or `--attach`) says, one module per kind.

mod kind;
mod kprobe;
mod perf_event;
mod spec;
mod tracepoint;
pub(crate) mod trampoline;
mod uprobe;
mod usdt;

pub use kind::AttachKind;
pub use kprobe::kernel_has_kprobes;
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
    let name = prog.name().to_string_lossy().into_owned();
    let section_kind = AttachKind::from_section(&prog.section().to_string_lossy());
    let kind = match spec.and_then(|s| s.kind.as_deref()) {
        // An explicit kind must agree with what the program was compiled as: the kernel
        // checks the program type, so a tracepoint program cannot become a uprobe.
        Some(k) => {
            let k = AttachKind::from_section(k);
            if !compatible(&section_kind, &k) {
                return Err(AttachFailure {
                    program: name,
                    target: section_kind.describe(),
                    reason: format!(
                        "--attach gives kind `{}` but the program was built as `{}`",
                        k.name(),
                        section_kind.name()
                    ),
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
    let fail = |reason: String| AttachFailure {
        program: name.clone(),
        target: described.clone(),
        reason,
    };
    let need_target = || fail(format!("no target: give one with --attach {name}=TARGET"));

    let one = |r: Result<Link, String>| r.map(|l| vec![l]).map_err(fail);
    match &kind {
        AttachKind::Tracepoint { .. } => one(tracepoint::attach(
            prog,
            target.as_deref().ok_or_else(need_target)?,
        )),
        AttachKind::RawTracepoint { btf: false, .. } => one(tracepoint::attach_raw(
            prog,
            target.as_deref().ok_or_else(need_target)?,
        )),
        AttachKind::RawTracepoint { btf: true, .. } | AttachKind::Trampoline { .. } => {
            one(trampoline::attach(prog))
        }
        AttachKind::Kprobe { ret, syscall, .. } => one(kprobe::attach(
            prog,
            target.as_deref().ok_or_else(need_target)?,
            *ret,
            *syscall,
        )),
        AttachKind::Uprobe { ret, .. } => one(uprobe::attach(
            prog,
            target.as_deref().ok_or_else(need_target)?,
            *ret,
            opts.pid,
        )),
        AttachKind::Usdt { .. } => one(usdt::attach(
            prog,
            target.as_deref().ok_or_else(need_target)?,
            opts.pid,
        )),
        AttachKind::PerfEvent => perf_event::attach(prog, opts.freq).map_err(fail),
        AttachKind::Other { .. } => one(prog
            .attach()
            .map_err(|e| errno_reason(crate::error::errno_of(&e)))),
    }
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
