//! Alternative implementations of one probe point, chosen at load time.
//!
//! A probe that traces a kernel function can be written twice: as `fentry`/`fexit` (BPF
//! trampolines: cheap, typed arguments, but refused by some kernels) and as
//! `kprobe`/`kretprobe` (older, needs `CONFIG_KPROBES`). The convention is the program's name:
//! `BASE__KIND`, where KIND is one of
//!
//! - the trampoline family, preferred: `fentry`, `fexit`, `tp_btf`;
//! - the classic family: `kprobe`, `kretprobe`, `raw_tp`, `tp`.
//!
//! Programs with the same BASE form a group. The loader loads only the group's best
//! alternative (in the order above) and moves the group to the next one when the kernel
//! refuses to load it or it fails to attach; the group is unavailable only when every
//! alternative failed, and is then reported as one failure naming each alternative's reason.
//! Programs whose names do not end in `__KIND` are not grouped. The suffix, not the section,
//! decides the preference, so `coreship.h` probes name the suffix after the section kind.
//!
//! This module is pure bookkeeping: [`Alternatives`] says which programs to load and records
//! failures; the session does the loading and attaching.

use crate::AttachFailure;

/// Name suffixes (after `__`), best first: the trampoline family, then the classic one.
pub const KINDS: [&str; 7] = [
    "fentry",
    "fexit",
    "tp_btf",
    "kprobe",
    "kretprobe",
    "raw_tp",
    "tp",
];

/// Whether `kind` (one of [`KINDS`]) needs BPF trampolines.
pub fn is_trampoline_kind(kind: &str) -> bool {
    matches!(kind, "fentry" | "fexit" | "tp_btf")
}

/// Splits `nanosleep_enter__fentry` into `("nanosleep_enter", "fentry")`; `None` when the name
/// does not follow the `BASE__KIND` convention.
pub fn split_name(program: &str) -> Option<(&str, &'static str)> {
    let (base, kind) = program.rsplit_once("__")?;
    let kind = KINDS.iter().find(|k| **k == kind)?;
    (!base.is_empty()).then_some((base, *kind))
}

/// One alternative of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Alt {
    program: String,
    kind: &'static str,
}

/// The alternatives of one probe point, best first, and how far down the list loading got.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    base: String,
    alts: Vec<Alt>,
    /// Index of the alternative to load; `alts.len()` once every one failed.
    current: usize,
    /// Why each alternative tried so far failed: (kind, reason).
    tried: Vec<(&'static str, String)>,
}

/// What happened to a group when its current alternative failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    /// The group moves on to this program.
    Next(String),
    /// No alternative is left: the group is unavailable on this kernel.
    Exhausted,
}

/// Every group of alternatives in one object, with the state of the choice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alternatives {
    groups: Vec<Group>,
}

impl Alternatives {
    /// Groups the programs of an object by the `BASE__KIND` convention; groups keep the order
    /// in which their first program appears.
    pub fn new<'a>(programs: impl IntoIterator<Item = &'a str>) -> Alternatives {
        let mut groups: Vec<Group> = Vec::new();
        for program in programs {
            let Some((base, kind)) = split_name(program) else {
                continue;
            };
            let alt = Alt {
                program: program.to_string(),
                kind,
            };
            match groups.iter_mut().find(|g| g.base == base) {
                Some(g) => g.alts.push(alt),
                None => groups.push(Group {
                    base: base.to_string(),
                    alts: vec![alt],
                    current: 0,
                    tried: Vec::new(),
                }),
            }
        }
        for g in &mut groups {
            g.alts.sort_by_key(|a| rank(a.kind));
        }
        Alternatives { groups }
    }

    /// Whether `program` should be loaded now: `None` when it belongs to no group (the caller
    /// decides as for any program), `Some(true)` for its group's current alternative.
    pub fn wanted(&self, program: &str) -> Option<bool> {
        let (g, i) = self.find(program)?;
        Some(self.groups[g].current == i)
    }

    /// Records that `program`, its group's current alternative, failed to load or attach
    /// because of `reason`, and moves the group on. `None` when `program` is not the current
    /// alternative of a group (nothing is recorded).
    pub fn fail(&mut self, program: &str, reason: impl Into<String>) -> Option<Fallback> {
        let (g, i) = self.find(program)?;
        let group = &mut self.groups[g];
        if group.current != i {
            return None;
        }
        group.tried.push((group.alts[i].kind, reason.into()));
        group.current += 1;
        Some(match group.alts.get(group.current) {
            Some(next) => Fallback::Next(next.program.clone()),
            None => Fallback::Exhausted,
        })
    }

    /// Every group whose alternatives all failed, as one failure each:
    /// `program group BASE: not available on this kernel (fentry: …; kprobe: …)`.
    pub fn unavailable(&self) -> Vec<AttachFailure> {
        self.groups
            .iter()
            .filter(|g| g.current >= g.alts.len())
            .map(|g| AttachFailure {
                program: format!("group {}", g.base),
                target: String::new(),
                reason: format!(
                    "not available on this kernel ({})",
                    g.tried
                        .iter()
                        .map(|(kind, why)| format!("{kind}: {why}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            })
            .collect()
    }

    /// The group index and alternative index of `program`.
    fn find(&self, program: &str) -> Option<(usize, usize)> {
        self.groups.iter().enumerate().find_map(|(g, group)| {
            let i = group.alts.iter().position(|a| a.program == program)?;
            Some((g, i))
        })
    }
}

/// Position of `kind` in [`KINDS`] (lower is better).
fn rank(kind: &str) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap_or(KINDS.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_only_on_known_kinds() {
        assert_eq!(
            split_name("nanosleep_enter__fentry"),
            Some(("nanosleep_enter", "fentry"))
        );
        assert_eq!(split_name("a__b__kretprobe"), Some(("a__b", "kretprobe")));
        assert_eq!(split_name("x__tp"), Some(("x", "tp")));
        assert_eq!(split_name("x__tp_btf"), Some(("x", "tp_btf")));
        assert_eq!(split_name("handle_exec"), None);
        assert_eq!(split_name("x__uprobe"), None);
        assert_eq!(split_name("x__"), None);
        assert_eq!(split_name("__kprobe"), None);
        assert_eq!(split_name("x_kprobe"), None);
    }

    #[test]
    fn trampoline_kinds_come_first() {
        let (tramp, classic): (Vec<&str>, Vec<&str>) =
            KINDS.iter().copied().partition(|k| is_trampoline_kind(k));
        assert_eq!(tramp, ["fentry", "fexit", "tp_btf"]);
        assert_eq!(classic, ["kprobe", "kretprobe", "raw_tp", "tp"]);
        assert!(KINDS.starts_with(&["fentry", "fexit", "tp_btf"]));
    }

    #[test]
    fn the_best_alternative_of_each_group_is_wanted_whatever_the_section_order() {
        let alts = Alternatives::new([
            "enter__kprobe",
            "exit__kretprobe",
            "enter__fentry",
            "exit__fexit",
            "plain",
            "other__tp",
            "other__raw_tp",
        ]);
        assert_eq!(alts.wanted("enter__fentry"), Some(true));
        assert_eq!(alts.wanted("enter__kprobe"), Some(false));
        assert_eq!(alts.wanted("exit__fexit"), Some(true));
        assert_eq!(alts.wanted("exit__kretprobe"), Some(false));
        assert_eq!(alts.wanted("other__raw_tp"), Some(true));
        assert_eq!(alts.wanted("other__tp"), Some(false));
        assert_eq!(alts.wanted("plain"), None);
        assert!(alts.unavailable().is_empty());
    }

    #[test]
    fn a_failure_moves_the_group_to_its_next_alternative() {
        let mut alts = Alternatives::new(["enter__kprobe", "enter__fentry", "exit__fexit"]);
        assert_eq!(
            alts.fail("enter__fentry", "refused"),
            Some(Fallback::Next("enter__kprobe".into()))
        );
        assert_eq!(alts.wanted("enter__fentry"), Some(false));
        assert_eq!(alts.wanted("enter__kprobe"), Some(true));
        // Other groups are untouched.
        assert_eq!(alts.wanted("exit__fexit"), Some(true));
        // Only the current alternative can fail; ungrouped programs are not recorded.
        assert_eq!(alts.fail("enter__fentry", "again"), None);
        assert_eq!(alts.fail("plain", "x"), None);
        assert!(alts.unavailable().is_empty());
    }

    #[test]
    fn a_group_is_unavailable_only_when_every_alternative_failed() {
        let mut alts = Alternatives::new([
            "nanosleep_enter__fentry",
            "nanosleep_enter__kprobe",
            "nanosleep_exit__fexit",
            "nanosleep_exit__kretprobe",
        ]);
        alts.fail(
            "nanosleep_enter__fentry",
            "the kernel refused BPF trampolines (EPERM)",
        );
        alts.fail("nanosleep_exit__fexit", "refused");
        assert_eq!(
            alts.fail(
                "nanosleep_enter__kprobe",
                "CONFIG_KPROBES is off in this kernel"
            ),
            Some(Fallback::Exhausted)
        );
        assert_eq!(alts.wanted("nanosleep_enter__kprobe"), Some(false));
        let failures = alts.unavailable();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(
            failures[0].to_string(),
            "program group nanosleep_enter: not available on this kernel \
             (fentry: the kernel refused BPF trampolines (EPERM); \
             kprobe: CONFIG_KPROBES is off in this kernel)"
        );
        // The exit group still has its kretprobe to try.
        assert_eq!(alts.wanted("nanosleep_exit__kretprobe"), Some(true));
    }

    #[test]
    fn a_lone_alternative_forms_a_group_of_one() {
        let mut alts = Alternatives::new(["probe__kprobe"]);
        assert_eq!(alts.wanted("probe__kprobe"), Some(true));
        assert_eq!(alts.fail("probe__kprobe", "no"), Some(Fallback::Exhausted));
        assert_eq!(
            alts.unavailable()[0].to_string(),
            "program group probe: not available on this kernel (kprobe: no)"
        );
    }
}
