//! kprobes and kretprobes on kernel functions (and `ksyscall` on syscalls).

use std::path::Path;

use libbpf_rs::{Link, ProgramMut};

use super::Refusal;

/// Attaches `prog` to kernel function `target` (`func` or `func+off`).
pub(crate) fn attach(
    prog: &ProgramMut<'_>,
    target: &str,
    ret: bool,
    syscall: bool,
) -> Result<Link, Refusal> {
    let result = if syscall {
        prog.attach_ksyscall(ret, target)
    } else {
        prog.attach_kprobe(ret, target)
    };
    result.map_err(|e| explain(target, crate::error::errno_of(&e)))
}

/// Whether this kernel can create kprobes at all.
pub fn kernel_has_kprobes() -> bool {
    [
        "/sys/bus/event_source/devices/kprobe",
        "/sys/kernel/tracing/kprobe_events",
        "/sys/kernel/debug/tracing/kprobe_events",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
}

fn explain(target: &str, errno: Option<i32>) -> Refusal {
    match errno {
        _ if !kernel_has_kprobes() => Refusal::advised(
            "CONFIG_KPROBES is off in this kernel",
            "use a tracepoint, or fentry where the kernel allows it",
        ),
        Some(libc::ENOENT) | Some(libc::EINVAL) => Refusal::from(format!(
            "kernel function `{target}` not found: renamed, inlined or not traceable on this kernel (see /proc/kallsyms)"
        )),
        other => Refusal::from(super::errno_reason(other)),
    }
}
