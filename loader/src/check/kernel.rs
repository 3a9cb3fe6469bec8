//! libbpf's feature probes: whether this kernel knows a program type and lets that type call
//! a helper. Each probe loads a two-instruction program that is closed at once.

use std::collections::HashMap;

use libbpf_rs::ProgramType;

use super::Status;
use crate::attach::trampoline;
use crate::error::errno_text;

/// Probe results, each asked of the kernel once per check.
#[derive(Default)]
pub(crate) struct Probes {
    types: HashMap<u32, Status>,
    helpers: HashMap<(u32, u32), Status>,
}

impl Probes {
    /// Whether programs of type `t` load on this kernel (`libbpf_probe_bpf_prog_type`).
    pub(crate) fn prog_type(&mut self, t: u32) -> Status {
        self.types
            .entry(t)
            .or_insert_with(|| {
                if t == libbpf_sys::BPF_PROG_TYPE_TRACING {
                    return tracing();
                }
                match ProgramType::from(t).is_supported() {
                    Ok(true) => Status::Ok,
                    Ok(false) => Status::missing(format!(
                        "program type {} is not supported by this kernel",
                        crate::prog_type_name(t)
                    )),
                    Err(e) => Status::Unknown(format!("cannot probe the program type: {e}")),
                }
            })
            .clone()
    }

    /// Whether programs of type `t` may call helper `id` (`libbpf_probe_bpf_helper`).
    pub(crate) fn helper(&mut self, t: u32, id: u32) -> Status {
        self.helpers
            .entry((t, id))
            .or_insert_with(|| match ProgramType::from(t).is_helper_supported(id) {
                Ok(true) => Status::Ok,
                Ok(false) => Status::missing(format!(
                    "helper {} is not available to {} programs on this kernel",
                    super::helpers::helper_name(id),
                    crate::prog_type_name(t)
                )),
                // libbpf cannot probe helpers of tracing, LSM, ext and struct_ops programs.
                Err(_) => Status::Unknown(format!(
                    "libbpf cannot probe helpers of {} programs",
                    crate::prog_type_name(t)
                )),
            })
            .clone()
    }
}

/// libbpf's probe for `tracing` (fentry/fexit) with the errno kept: it loads an fentry program
/// for BTF id 1, which a kernel with trampolines refuses with EINVAL ("not a function"), and
/// one that refuses trampolines altogether with EPERM before looking at the id.
fn tracing() -> Status {
    let insns = [
        // r0 = 0; exit
        libbpf_sys::bpf_insn {
            code: 0xb7,
            ..Default::default()
        },
        libbpf_sys::bpf_insn {
            code: 0x95,
            ..Default::default()
        },
    ];
    let mut log = vec![0u8; 4096];
    let mut opts = libbpf_sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
        expected_attach_type: libbpf_sys::BPF_TRACE_FENTRY,
        attach_btf_id: 1,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr().cast(),
        ..Default::default()
    };
    // SAFETY: the instructions, the license string, the options and the log buffer (of the
    // size the options give) outlive the call.
    let fd = unsafe {
        libbpf_sys::bpf_prog_load(
            libbpf_sys::BPF_PROG_TYPE_TRACING,
            std::ptr::null(),
            c"GPL".as_ptr(),
            insns.as_ptr(),
            insns.len() as _,
            &mut opts,
        )
    };
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    if fd >= 0 {
        // SAFETY: `fd` is a program fd this function owns.
        unsafe { libc::close(fd) };
        return Status::Ok;
    }
    let said = String::from_utf8_lossy(&log);
    match errno {
        libc::EINVAL if said.contains("attach_btf_id 1 is not a function") => Status::Ok,
        libc::EPERM | libc::EACCES | libc::ENOTSUP | 524 => {
            let r = trampoline::refusal(Some(errno));
            Status::Missing {
                cause: r.cause,
                advice: r.advice,
            }
        }
        other => Status::missing(format!(
            "program type tracing (fentry/fexit) is not supported by this kernel ({})",
            errno_text(other)
        )),
    }
}
