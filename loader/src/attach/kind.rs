//! What a program's ELF section says about how to attach it.
//!
//! libbpf's section names (`tp/sched/sched_process_exec`, `uprobe//bin/bash:readline`,
//! `kretprobe/do_nanosleep`, …) carry both the program type and, optionally, the target.

/// How a program attaches, parsed from its section name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachKind {
    /// `tp/CAT/NAME` or `tracepoint/CAT/NAME`.
    Tracepoint {
        /// `CAT/NAME`, if the section names it.
        target: Option<String>,
    },
    /// `raw_tp/NAME`, `raw_tracepoint/NAME`, `tp_btf/NAME`.
    RawTracepoint {
        /// Tracepoint name, if given.
        target: Option<String>,
        /// `tp_btf` (BTF-typed, needs trampolines like fentry).
        btf: bool,
    },
    /// `kprobe/FUNC[+OFF]`, `kretprobe/FUNC`, `ksyscall/NAME`, `kretsyscall/NAME`.
    Kprobe {
        /// Function, if given.
        target: Option<String>,
        /// Return probe.
        ret: bool,
        /// `ksyscall`: the target is a syscall name, resolved per arch by libbpf.
        syscall: bool,
    },
    /// `fentry/FUNC`, `fexit/FUNC`, `fmod_ret/FUNC`.
    Trampoline {
        /// Function, if given.
        target: Option<String>,
        /// Which one (`fentry`, `fexit`, `fmod_ret`).
        flavor: &'static str,
    },
    /// `uprobe[/PATH:FUNC[+OFF]]`, `uretprobe…` (also `.s` sleepable variants).
    Uprobe {
        /// `PATH:FUNC[+OFF]`, if given.
        target: Option<String>,
        /// Return probe.
        ret: bool,
    },
    /// `usdt[/PATH:PROVIDER:NAME]`.
    Usdt {
        /// `PATH:PROVIDER:NAME`, if given.
        target: Option<String>,
    },
    /// `perf_event`: sampling, attached per CPU to a perf event the loader opens.
    PerfEvent,
    /// Anything else (libbpf's generic auto-attach is tried).
    Other {
        /// The section.
        section: String,
    },
}

impl AttachKind {
    /// Parses a libbpf section name.
    pub fn from_section(section: &str) -> AttachKind {
        let (head, rest) = match section.split_once('/') {
            Some((h, r)) => (h, Some(r)),
            None => (section, None),
        };
        let target = rest.filter(|r| !r.is_empty()).map(str::to_string);
        match head {
            "tp" | "tracepoint" => AttachKind::Tracepoint { target },
            "raw_tp" | "raw_tracepoint" | "raw_tp.w" | "raw_tracepoint.w" => {
                AttachKind::RawTracepoint { target, btf: false }
            }
            "tp_btf" => AttachKind::RawTracepoint { target, btf: true },
            "kprobe" | "kretprobe" => AttachKind::Kprobe {
                target,
                ret: head == "kretprobe",
                syscall: false,
            },
            "ksyscall" | "kretsyscall" => AttachKind::Kprobe {
                target,
                ret: head == "kretsyscall",
                syscall: true,
            },
            "fentry" | "fentry.s" => AttachKind::Trampoline {
                target,
                flavor: "fentry",
            },
            "fexit" | "fexit.s" => AttachKind::Trampoline {
                target,
                flavor: "fexit",
            },
            "fmod_ret" | "fmod_ret.s" => AttachKind::Trampoline {
                target,
                flavor: "fmod_ret",
            },
            "uprobe" | "uprobe.s" | "uretprobe" | "uretprobe.s" => AttachKind::Uprobe {
                // libbpf writes `uprobe//abs/path:func`: the target starts after the first '/'.
                target,
                ret: head.starts_with("uretprobe"),
            },
            "usdt" => AttachKind::Usdt { target },
            "perf_event" => AttachKind::PerfEvent,
            _ => AttachKind::Other {
                section: section.to_string(),
            },
        }
    }

    /// A short kind name (`tracepoint`, `kretprobe`, …).
    pub fn name(&self) -> &'static str {
        match self {
            AttachKind::Tracepoint { .. } => "tracepoint",
            AttachKind::RawTracepoint { btf: false, .. } => "raw_tracepoint",
            AttachKind::RawTracepoint { btf: true, .. } => "tp_btf",
            AttachKind::Kprobe {
                ret: false,
                syscall: false,
                ..
            } => "kprobe",
            AttachKind::Kprobe {
                ret: true,
                syscall: false,
                ..
            } => "kretprobe",
            AttachKind::Kprobe {
                ret: false,
                syscall: true,
                ..
            } => "ksyscall",
            AttachKind::Kprobe {
                ret: true,
                syscall: true,
                ..
            } => "kretsyscall",
            AttachKind::Trampoline { flavor, .. } => flavor,
            AttachKind::Uprobe { ret: false, .. } => "uprobe",
            AttachKind::Uprobe { ret: true, .. } => "uretprobe",
            AttachKind::Usdt { .. } => "usdt",
            AttachKind::PerfEvent => "perf_event",
            AttachKind::Other { .. } => "other",
        }
    }

    /// The target the section names, if any.
    pub fn target(&self) -> Option<&str> {
        match self {
            AttachKind::Tracepoint { target }
            | AttachKind::RawTracepoint { target, .. }
            | AttachKind::Kprobe { target, .. }
            | AttachKind::Trampoline { target, .. }
            | AttachKind::Uprobe { target, .. }
            | AttachKind::Usdt { target } => target.as_deref(),
            AttachKind::PerfEvent | AttachKind::Other { .. } => None,
        }
    }

    /// `kprobe do_nanosleep`, `uprobe (target given with --attach)`.
    pub fn describe(&self) -> String {
        match (self, self.target()) {
            (_, Some(t)) => format!("{} {t}", self.name()),
            (AttachKind::PerfEvent, None) => "perf_event (sampling, --freq)".into(),
            (AttachKind::Other { section }, None) => format!("section {section}"),
            (_, None) => format!("{} (target given with --attach)", self.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_parse_to_kinds_and_targets() {
        let cases = [
            (
                "tp/sched/sched_process_exec",
                "tracepoint",
                Some("sched/sched_process_exec"),
            ),
            (
                "tracepoint/syscalls/sys_enter_openat",
                "tracepoint",
                Some("syscalls/sys_enter_openat"),
            ),
            ("kprobe/do_nanosleep", "kprobe", Some("do_nanosleep")),
            ("kretprobe/do_nanosleep", "kretprobe", Some("do_nanosleep")),
            ("ksyscall/nanosleep", "ksyscall", Some("nanosleep")),
            ("fentry/do_nanosleep", "fentry", Some("do_nanosleep")),
            ("fexit/do_nanosleep", "fexit", Some("do_nanosleep")),
            ("uprobe", "uprobe", None),
            (
                "uretprobe//usr/lib/libc.so.6:fopen",
                "uretprobe",
                Some("/usr/lib/libc.so.6:fopen"),
            ),
            ("usdt", "usdt", None),
            ("perf_event", "perf_event", None),
            (
                "raw_tp/sched_switch",
                "raw_tracepoint",
                Some("sched_switch"),
            ),
            ("tp_btf/sched_switch", "tp_btf", Some("sched_switch")),
            ("xdp", "other", None),
        ];
        for (section, kind, target) in cases {
            let k = AttachKind::from_section(section);
            assert_eq!(k.name(), kind, "{section}");
            assert_eq!(k.target(), target, "{section}");
        }
    }

    #[test]
    fn description_mentions_missing_targets() {
        assert_eq!(
            AttachKind::from_section("uprobe").describe(),
            "uprobe (target given with --attach)"
        );
    }
}
