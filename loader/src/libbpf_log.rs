//! Captures libbpf's log so errors can quote what the kernel said.
//!
//! libbpf reports verifier rejections and attach failures through its print callback, not
//! through return values. We keep the recent lines in memory and pick out the verifier log
//! (between libbpf's BEGIN/END PROG LOAD LOG markers) when a load fails.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use libbpf_rs::PrintLevel;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static ECHO: AtomicBool = AtomicBool::new(false);

/// Lines kept: a verifier log can be long, its tail is what matters.
const KEEP: usize = 4096;

fn capture(level: PrintLevel, msg: String) {
    if ECHO.load(Ordering::Relaxed) && !matches!(level, PrintLevel::Debug) {
        // The one place the library writes to stderr: the user asked for libbpf's log.
        #[allow(clippy::print_stderr)]
        {
            eprint!("{msg}");
        }
    }
    let mut lines = LINES.lock().unwrap_or_else(|p| p.into_inner());
    for line in msg.lines() {
        if lines.len() >= KEEP {
            lines.drain(..KEEP / 2);
        }
        lines.push(line.to_string());
    }
}

/// Routes libbpf's messages into the capture buffer; `echo` also copies warnings to stderr.
pub fn install(echo: bool) {
    ECHO.store(echo, Ordering::Relaxed);
    libbpf_rs::set_print(Some((PrintLevel::Info, capture)));
}

/// Forgets captured lines (call before an operation whose log you want).
pub fn clear() {
    LINES.lock().unwrap_or_else(|p| p.into_inner()).clear();
}

/// All captured lines.
pub fn lines() -> Vec<String> {
    LINES.lock().unwrap_or_else(|p| p.into_inner()).clone()
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
    let code = line.rsplit("failed to load: -").next()?.trim();
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
    fn failed_program_is_found() {
        assert_eq!(failed_program(&log()).as_deref(), Some("bad"));
        assert_eq!(failed_program(&[]), None);
    }
}
