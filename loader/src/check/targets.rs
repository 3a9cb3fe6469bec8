//! Whether a program's attach target exists on this kernel or machine: a tracepoint in
//! tracefs, a kernel function in /proc/kallsyms, a user binary and its symbol.

use std::collections::HashSet;
use std::path::Path;

use object::{Object, ObjectSymbol};

use super::Status;
use crate::attach::{kernel_has_kprobes, AttachKind, UserLocation};

const TRACEFS_EVENTS: [&str; 2] = [
    "/sys/kernel/tracing/events",
    "/sys/kernel/debug/tracing/events",
];

/// Looks targets up, reading /proc/kallsyms at most once (and only for kernel functions).
#[derive(Default)]
pub(crate) struct Targets {
    kallsyms: Option<HashSet<String>>,
}

impl Targets {
    /// Whether `target` of a program attached as `kind` exists.
    pub(crate) fn status(&mut self, kind: &AttachKind, target: Option<&str>) -> Status {
        let needs_target = !matches!(kind, AttachKind::PerfEvent | AttachKind::Other { .. });
        let target = match target {
            Some(t) => t,
            None if needs_target => {
                return Status::missing("no target: give one with --attach PROG=TARGET")
            }
            None => "",
        };
        match kind {
            AttachKind::Tracepoint { .. } => tracepoint(target),
            AttachKind::RawTracepoint { .. } => raw_tracepoint(target),
            AttachKind::Kprobe { syscall, .. } => {
                if !kernel_has_kprobes() {
                    // The same words as the attach-time refusal (attach/kprobe.rs).
                    return Status::advised(
                        "CONFIG_KPROBES is off in this kernel",
                        "use a tracepoint, or fentry where the kernel allows it",
                    );
                }
                let func = target.split('+').next().unwrap_or(target);
                self.kernel_function(func, *syscall)
            }
            AttachKind::Trampoline { .. } => self.kernel_function(target, false),
            AttachKind::Uprobe { .. } => user_function(target),
            AttachKind::Usdt { .. } => usdt(target),
            AttachKind::PerfEvent => {
                if Path::new("/sys/bus/event_source/devices/software").exists() {
                    Status::Ok
                } else {
                    Status::missing(
                        "this kernel has no software perf events (CONFIG_PERF_EVENTS off)",
                    )
                }
            }
            AttachKind::Other { section } => Status::Unknown(format!(
                "section {section}: libbpf attaches it, not checked"
            )),
        }
    }

    fn kernel_function(&mut self, func: &str, syscall: bool) -> Status {
        let syms = self.kallsyms.get_or_insert_with(read_kallsyms);
        if syms.is_empty() {
            return Status::Unknown("/proc/kallsyms is not readable".into());
        }
        let found = if syscall {
            // libbpf resolves `ksyscall/NAME` to the arch's syscall wrapper.
            ["__x64_sys_", "__arm64_sys_", "__se_sys_", "sys_"]
                .iter()
                .any(|p| syms.contains(&format!("{p}{func}")))
        } else {
            syms.contains(func)
        };
        if found {
            Status::Ok
        } else if syscall {
            Status::missing(format!("syscall `{func}` not found in /proc/kallsyms"))
        } else {
            Status::missing(format!(
                "kernel function `{func}` not found: renamed, inlined or not traceable on this kernel (see /proc/kallsyms)"
            ))
        }
    }
}

fn tracefs() -> Option<&'static Path> {
    TRACEFS_EVENTS.iter().map(Path::new).find(|p| p.exists())
}

const NO_TRACEFS: &str =
    "tracefs is not mounted: run `mount -t tracefs tracefs /sys/kernel/tracing`";

fn tracepoint(target: &str) -> Status {
    let Some((cat, name)) = target.split_once('/') else {
        return Status::missing(format!("tracepoint `{target}` is not CATEGORY/NAME"));
    };
    let Some(events) = tracefs() else {
        return Status::missing(NO_TRACEFS);
    };
    if events.join(cat).join(name).is_dir() {
        Status::Ok
    } else {
        Status::missing(format!(
            "tracepoint `{target}` does not exist on this kernel (see /sys/kernel/tracing/events)"
        ))
    }
}

/// A raw tracepoint is named without its category: any `events/*/NAME`.
fn raw_tracepoint(name: &str) -> Status {
    let Some(events) = tracefs() else {
        return Status::Unknown("tracefs is not mounted: cannot look the tracepoint up".into());
    };
    let found = std::fs::read_dir(events)
        .map(|d| d.flatten().any(|cat| cat.path().join(name).is_dir()))
        .unwrap_or(false);
    if found {
        Status::Ok
    } else {
        Status::missing(format!(
            "raw tracepoint `{name}` does not exist on this kernel"
        ))
    }
}

fn user_function(target: &str) -> Status {
    let Some(loc) = UserLocation::parse(target) else {
        return Status::missing(format!(
            "uprobe target `{target}` is not /PATH:FUNCTION[+OFFSET]"
        ));
    };
    let path = Path::new(&loc.path);
    if !path.exists() {
        return Status::missing(format!("binary `{}` does not exist", loc.path));
    }
    let Some(func) = &loc.func else {
        return Status::Ok;
    };
    match has_symbol(path, func) {
        Ok(true) => Status::Ok,
        Ok(false) => Status::missing(format!(
            "function `{func}` not found in {} (is it static, inlined or stripped?)",
            loc.path
        )),
        Err(e) => Status::Unknown(format!("cannot read the symbols of {}: {e}", loc.path)),
    }
}

/// Whether ELF file `path` defines `func` in `.symtab` or `.dynsym`.
fn has_symbol(path: &Path, func: &str) -> Result<bool, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let cache = object::ReadCache::new(file);
    let elf = object::File::parse(&cache).map_err(|e| e.to_string())?;
    let defined = |s: &object::Symbol<'_, '_, _>| {
        s.is_definition()
            && s.name()
                .is_ok_and(|n| n == func || n.split('@').next() == Some(func))
    };
    Ok(elf.symbols().any(|s| defined(&s)) || elf.dynamic_symbols().any(|s| defined(&s)))
}

fn usdt(target: &str) -> Status {
    let mut parts = target.rsplitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(_), Some(path)) if !path.is_empty() => {
            if Path::new(path).exists() {
                // Its notes are read by libbpf when it attaches.
                Status::Ok
            } else {
                Status::missing(format!("binary `{path}` does not exist"))
            }
        }
        _ => Status::missing(format!("usdt target `{target}` is not /PATH:PROVIDER:NAME")),
    }
}

/// Function names in /proc/kallsyms (module suffixes dropped); empty when unreadable.
fn read_kallsyms() -> HashSet<String> {
    let Ok(text) = std::fs::read_to_string("/proc/kallsyms") else {
        return HashSet::new();
    };
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_addr, kind, name) = (f.next()?, f.next()?, f.next()?);
            matches!(kind, "t" | "T").then(|| name.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_that_cannot_exist_are_missing_with_the_reason() {
        let mut t = Targets::default();
        let uprobe = AttachKind::from_section("uprobe");
        let s = t.status(&uprobe, None);
        assert!(s.reason().unwrap().contains("--attach"), "{s:?}");
        let s = t.status(&uprobe, Some("/nonexistent/bin:main"));
        assert!(s.reason().unwrap().contains("does not exist"), "{s:?}");
        let tp = AttachKind::from_section("tp/x");
        assert!(t.status(&tp, Some("nocategory")).reason().is_some());
        assert!(matches!(
            t.status(&AttachKind::from_section("xdp"), None),
            Status::Unknown(_)
        ));
    }
}
