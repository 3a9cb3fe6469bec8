//! uprobes and uretprobes on user-space functions.

use std::path::Path;

use libbpf_rs::{Link, ProgramMut, UprobeOpts};

use super::spec::UserLocation;

/// Attaches `prog` to `target` (`/path:func[+off]`), for `pid` or every process (-1).
pub fn attach(prog: &ProgramMut<'_>, target: &str, ret: bool, pid: i32) -> Result<Link, String> {
    let loc = UserLocation::parse(target)
        .ok_or_else(|| format!("uprobe target `{target}` is not /PATH:FUNCTION[+OFFSET]"))?;
    if !Path::new(&loc.path).exists() {
        return Err(format!("binary `{}` does not exist", loc.path));
    }
    let opts = UprobeOpts {
        retprobe: ret,
        func_name: loc.func.clone(),
        ..Default::default()
    };
    prog.attach_uprobe_with_opts(pid, &loc.path, loc.offset, opts)
        .map_err(|e| match crate::error::errno_of(&e) {
            Some(libc::ENOENT) | Some(libc::ESRCH) if loc.func.is_some() => format!(
                "function `{}` not found in {} (is it static, inlined or stripped?)",
                loc.func.as_deref().unwrap_or_default(),
                loc.path
            ),
            other => super::errno_reason(other),
        })
}
