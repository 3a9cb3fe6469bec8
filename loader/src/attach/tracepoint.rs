//! Tracepoints (`tp/CAT/NAME`) and raw tracepoints.

use std::path::Path;

use libbpf_rs::{Link, ProgramMut, TracepointCategory};

/// Attaches `prog` to tracepoint `cat/name`.
pub fn attach(prog: &ProgramMut<'_>, target: &str) -> Result<Link, String> {
    let (cat, name) = target
        .split_once('/')
        .ok_or_else(|| format!("tracepoint `{target}` is not CATEGORY/NAME"))?;
    prog.attach_tracepoint(TracepointCategory::Custom(cat.to_string()), name)
        .map_err(|e| explain(target, crate::error::errno_of(&e)))
}

/// Attaches `prog` to raw tracepoint `name`.
pub fn attach_raw(prog: &ProgramMut<'_>, name: &str) -> Result<Link, String> {
    prog.attach_raw_tracepoint(name)
        .map_err(|e| match crate::error::errno_of(&e) {
            Some(libc::ENOENT) => format!("raw tracepoint `{name}` does not exist on this kernel"),
            other => super::errno_reason(other),
        })
}

fn explain(target: &str, errno: Option<i32>) -> String {
    let tracefs = [
        "/sys/kernel/tracing/events",
        "/sys/kernel/debug/tracing/events",
    ];
    match errno {
        Some(libc::ENOENT) if !tracefs.iter().any(|p| Path::new(p).exists()) => {
            "tracefs is not mounted: run `mount -t tracefs tracefs /sys/kernel/tracing`".into()
        }
        Some(libc::ENOENT) => format!(
            "tracepoint `{target}` does not exist on this kernel (see /sys/kernel/tracing/events)"
        ),
        other => super::errno_reason(other),
    }
}
