//! libbpf's log, captured per call so errors can quote what libbpf and the kernel said.
//!
//! libbpf reports verifier rejections, attach failures and ELF problems through one
//! process-wide print callback, not through return values. [`capture`] routes that callback
//! into a thread-local buffer while a closure runs, so concurrent callers (the builder's
//! parallel jobs) each get their own lines and libraries never print. The parsers below pick
//! the verifier log (between libbpf's BEGIN/END PROG LOAD LOG markers), the failing program
//! and its errno out of captured lines. Both the loader and the builder use this module.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use libbpf_rs::PrintLevel;

thread_local! {
    static CAPTURED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}
static ECHO: AtomicBool = AtomicBool::new(false);

fn collect(level: PrintLevel, msg: String) {
    if ECHO.load(Ordering::Relaxed) && !matches!(level, PrintLevel::Debug) {
        // The user asked for libbpf's log (`-v`): the one place the library writes to stderr.
        #[allow(clippy::print_stderr)]
        {
            eprint!("{msg}");
        }
    }
    CAPTURED.with(|c| {
        if let Some(lines) = c.borrow_mut().as_mut() {
            lines.extend(
                msg.lines()
                    .map(|l| l.trim_end().trim_start_matches("libbpf: ").to_string())
                    // `.coreship` carries output declarations for us, not for libbpf.
                    .filter(|l| !l.trim().is_empty() && !is_coreship_section_note(l)),
            );
        }
    });
}

/// libbpf's note that it ignores `.coreship`: that section carries output declarations for
/// coreship, not for libbpf, so the note is noise in every error.
fn is_coreship_section_note(line: &str) -> bool {
    line.contains("unrecognized data section") && line.contains(".coreship")
}

/// Also copies libbpf's warnings and info messages to stderr (the loader's `--verbose`).
pub fn set_echo(echo: bool) {
    ECHO.store(echo, Ordering::Relaxed);
    install();
}

fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        libbpf_rs::set_print(Some((PrintLevel::Info, collect)));
    });
}

/// Runs `f`, returning what libbpf logged on this thread meanwhile (info and worse).
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    install();
    let outer = CAPTURED.with(|c| c.borrow_mut().replace(Vec::new()));
    let r = f();
    let log = CAPTURED
        .with(|c| std::mem::replace(&mut *c.borrow_mut(), outer))
        .unwrap_or_default();
    (r, log)
}

/// The last `n` lines of the verifier log libbpf printed for `prog`, if any.
pub fn verifier_tail(lines: &[String], prog: &str, n: usize) -> Vec<String> {
    let begin = lines
        .iter()
        .rposition(|l| l.contains("-- BEGIN PROG LOAD LOG --"));
    let Some(begin) = begin else {
        return Vec::new();
    };
    // libbpf names the program on the line before the log: "prog 'NAME': BPF program load failed".
    let named = lines[..begin]
        .iter()
        .rev()
        .take(3)
        .any(|l| l.contains(&format!("prog '{prog}'")));
    if !named && !prog.is_empty() {
        return Vec::new();
    }
    let end = lines[begin..]
        .iter()
        .position(|l| l.contains("-- END PROG LOAD LOG --"))
        .map_or(lines.len(), |e| begin + e);
    let log: Vec<&String> = lines[begin + 1..end]
        .iter()
        .filter(|l| !l.trim().is_empty())
        .collect();
    log[log.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

/// The program libbpf said failed to load, from lines like `prog 'NAME': failed to load: -13`.
pub fn failed_program(lines: &[String]) -> Option<String> {
    lines.iter().rev().find_map(|l| {
        let rest = l.split("prog '").nth(1)?;
        let (name, tail) = rest.split_once('\'')?;
        (tail.contains("failed to load") || tail.contains("BPF program load failed"))
            .then(|| name.to_string())
    })
}

/// The errno of the last `prog '…': failed to load: -EPERM` (or `-1`) line, if any.
pub fn failed_errno(lines: &[String]) -> Option<i32> {
    let line = lines
        .iter()
        .rev()
        .find(|l| l.contains("failed to load: -"))?;
    errno_code(line.rsplit("failed to load: -").next()?)
}

/// The map libbpf could not create, and the errno, from `map 'NAME': failed to create: -ENOMEM`
/// (libbpf before 1.6 prints `…: Cannot allocate memory(-12)`).
pub fn failed_map(lines: &[String]) -> Option<(String, Option<i32>)> {
    lines.iter().rev().find_map(|l| {
        let (name, tail) = l.split("map '").nth(1)?.split_once('\'')?;
        let said = tail.strip_prefix(": failed to create: ")?;
        let code = match said.strip_prefix('-') {
            Some(code) => errno_code(code),
            None => said
                .rsplit("(-")
                .next()
                .and_then(|n| n.trim_end_matches(')').parse().ok()),
        };
        Some((name.to_string(), code))
    })
}

/// `EPERM`, `13` (as libbpf prints errnos, without the minus sign) as a number.
fn errno_code(text: &str) -> Option<i32> {
    let code = text.trim();
    let code = code.split_whitespace().next().unwrap_or(code);
    if let Ok(n) = code.parse::<i32>() {
        return Some(n);
    }
    Some(match code {
        "EPERM" => libc::EPERM,
        "ENOENT" => libc::ENOENT,
        "ESRCH" => libc::ESRCH,
        "E2BIG" => libc::E2BIG,
        "EACCES" => libc::EACCES,
        "EINVAL" => libc::EINVAL,
        "ENOSPC" => libc::ENOSPC,
        "ENOMEM" => libc::ENOMEM,
        "EOPNOTSUPP" => libc::EOPNOTSUPP,
        "ENOTSUPP" => 524,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> Vec<String> {
        [
            "libbpf: prog 'bad': BPF program load failed: Permission denied",
            "libbpf: prog 'bad': -- BEGIN PROG LOAD LOG --",
            "0: R1=ctx() R10=fp0",
            "0: (79) r0 = *(u64 *)(r1 +0)",
            "invalid bpf_context access off=0 size=8",
            "processed 1 insns (limit 1000000)",
            "-- END PROG LOAD LOG --",
            "libbpf: prog 'bad': failed to load: -13",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn capture_is_per_call_and_nests() {
        let (_, log) = capture(|| collect(PrintLevel::Warn, "libbpf: a\nb\n".into()));
        assert_eq!(log, ["a", "b"]);
        collect(PrintLevel::Warn, "dropped".into());
        let (inner, outer) = capture(|| {
            collect(PrintLevel::Warn, "outer".into());
            capture(|| collect(PrintLevel::Warn, "inner".into())).1
        });
        assert_eq!(
            (inner, outer),
            (vec!["inner".to_string()], vec!["outer".to_string()])
        );
        let (_, log) = capture(|| {
            collect(
                PrintLevel::Info,
                "libbpf: elf: skipping unrecognized data section(8) .coreship".into(),
            )
        });
        assert!(log.is_empty(), "{log:?}");
    }

    #[test]
    fn verifier_tail_is_the_end_of_the_named_programs_log() {
        let tail = verifier_tail(&log(), "bad", 2);
        assert_eq!(
            tail,
            vec![
                "invalid bpf_context access off=0 size=8",
                "processed 1 insns (limit 1000000)"
            ]
        );
        assert!(verifier_tail(&log(), "other", 2).is_empty());
    }

    #[test]
    fn failed_errno_reads_names_and_numbers() {
        assert_eq!(failed_errno(&log()), Some(13));
        let named = vec!["libbpf: prog 'x': failed to load: -EPERM".to_string()];
        assert_eq!(failed_errno(&named), Some(libc::EPERM));
        assert_eq!(failed_errno(&[]), None);
    }

    #[test]
    fn failed_map_reads_both_libbpf_spellings() {
        let new = vec!["map 'big': failed to create: -ENOMEM".to_string()];
        assert_eq!(failed_map(&new), Some(("big".into(), Some(libc::ENOMEM))));
        let old = vec!["map 'big': failed to create: Operation not permitted(-1)".to_string()];
        assert_eq!(failed_map(&old), Some(("big".into(), Some(libc::EPERM))));
        let other = vec!["map 'big': created successfully, fd=4".to_string()];
        assert_eq!(failed_map(&other), None);
    }

    #[test]
    fn failed_program_is_found() {
        assert_eq!(failed_program(&log()).as_deref(), Some("bad"));
        assert_eq!(failed_program(&[]), None);
    }
}
