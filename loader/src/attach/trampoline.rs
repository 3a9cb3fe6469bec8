//! fentry/fexit: BPF trampolines on kernel functions (need BTF and trampoline support).

use libbpf_rs::{Link, ProgramMut};

/// Attaches an already loaded fentry/fexit program (its target was bound at load time).
pub fn attach(prog: &ProgramMut<'_>) -> Result<Link, String> {
    prog.attach_trace()
        .map_err(|e| explain(crate::error::errno_of(&e)))
}

/// Why the kernel refused to load or attach a trampoline program.
pub fn explain(errno: Option<i32>) -> String {
    match errno {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            "fentry/fexit are not available: the kernel refused BPF trampolines (EPERM); use the kprobe variant".into()
        }
        Some(libc::ENOENT) | Some(libc::ESRCH) => {
            "the traced kernel function is not in this kernel's BTF".into()
        }
        Some(524) | Some(libc::ENOTSUP) => {
            "fentry/fexit are not supported by this kernel or architecture (ENOTSUPP)".into()
        }
        other => super::errno_reason(other),
    }
}
