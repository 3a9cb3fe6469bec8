//! fentry/fexit: BPF trampolines on kernel functions (need BTF and trampoline support).

use libbpf_rs::{Link, ProgramMut};

use super::Refusal;

/// Attaches an already loaded fentry/fexit program (its target was bound at load time).
pub(crate) fn attach(prog: &ProgramMut<'_>) -> Result<Link, Refusal> {
    prog.attach_trace()
        .map_err(|e| refusal(crate::error::errno_of(&e)))
}

/// Why the kernel refused to load or attach a trampoline program.
pub(crate) fn refusal(errno: Option<i32>) -> Refusal {
    match errno {
        Some(libc::EPERM) | Some(libc::EACCES) => Refusal::advised(
            "the kernel refused BPF trampolines (EPERM)",
            "add a NAME__kprobe alternative (see coreship.h)",
        ),
        Some(libc::ENOENT) | Some(libc::ESRCH) => {
            Refusal::from("the traced kernel function is not in this kernel's BTF".to_string())
        }
        Some(524) | Some(libc::ENOTSUP) => Refusal::from(
            "fentry/fexit are not supported by this kernel or architecture (ENOTSUPP)".to_string(),
        ),
        other => Refusal::from(super::errno_reason(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_eperm_refusal_names_trampolines_and_advises_kprobes() {
        let r = refusal(Some(libc::EPERM));
        assert_eq!(r.cause, "the kernel refused BPF trampolines (EPERM)");
        assert!(r.full().contains("kprobe alternative"), "{}", r.full());
        assert!(refusal(Some(libc::ESRCH))
            .cause
            .contains("not in this kernel's BTF"));
    }
}
