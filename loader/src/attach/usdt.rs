//! USDT: statically defined user tracepoints (`sys/sdt.h` notes).

use libbpf_rs::{Link, ProgramMut};

/// Attaches `prog` to `target` (`/path:provider:name`), for `pid` or every process (-1).
pub fn attach(prog: &ProgramMut<'_>, target: &str, pid: i32) -> Result<Link, String> {
    let mut parts = target.rsplitn(3, ':');
    let (name, provider, path) = match (parts.next(), parts.next(), parts.next()) {
        (Some(n), Some(p), Some(path)) if !path.is_empty() => (n, p, path),
        _ => return Err(format!("usdt target `{target}` is not /PATH:PROVIDER:NAME")),
    };
    prog.attach_usdt(pid, path, provider, name)
        .map_err(|e| match crate::error::errno_of(&e) {
            Some(libc::ENOENT) | Some(libc::ESRCH) => {
                format!("no USDT note {provider}:{name} in {path}")
            }
            other => super::errno_reason(other),
        })
}
