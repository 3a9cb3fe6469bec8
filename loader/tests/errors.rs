//! Bad input gives one clear error line and leaves nothing behind in the kernel, tracefs or
//! bpffs. One test function, run sequentially, because it counts the kernel's BPF programs.

mod common;

use common::{bpf_available, object, run_loader, Loader, TempDir};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// IDs of every BPF program loaded in the kernel.
fn prog_ids() -> Vec<u32> {
    let mut ids = Vec::new();
    let mut id = 0u32;
    loop {
        let mut next = 0u32;
        // SAFETY: `next` is a valid out-pointer.
        if unsafe { libbpf_sys::bpf_prog_get_next_id(id, &mut next) } != 0 {
            break;
        }
        ids.push(next);
        id = next;
    }
    ids
}

/// Waits (at most 5 s: link teardown is asynchronous after a kill) until the kernel holds
/// exactly the `baseline` programs again.
fn assert_programs_back_to(baseline: &[u32], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = prog_ids();
        let leaked: Vec<_> = now.iter().filter(|id| !baseline.contains(id)).collect();
        if leaked.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: BPF programs left loaded: {leaked:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn tracefs_probe_events() -> String {
    ["uprobe_events", "kprobe_events"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(Path::new("/sys/kernel/tracing").join(f)).ok())
        .collect()
}

fn bpffs_entries() -> Vec<String> {
    std::fs::read_dir("/sys/fs/bpf")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts the loader failed with exactly one `coreship-load: error:` line containing `needle`
/// (in that line or the indented lines after it: the pre-check lists one program per line).
fn assert_one_line_error(args: &[&str], needle: &str) -> String {
    let out = run_loader(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("coreship-load: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{args:?}: stderr:\n{}", out.stderr);
    let error: Vec<&str> = out
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("coreship-load: error:"))
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.starts_with("  "))
        .map(|(_, l)| l)
        .collect();
    let error = error.join("\n");
    assert!(
        error.contains(needle),
        "{args:?}: expected `{needle}` in:\n{}",
        out.stderr
    );
    error
}

#[test]
fn bad_input_fails_clearly_and_nothing_leaks() {
    if !bpf_available() {
        return;
    }
    let dir = TempDir::new("errors");
    let baseline = prog_ids();
    let tracefs_before = tracefs_probe_events();
    let bpffs_before = bpffs_entries();

    // A missing file.
    let missing = dir.0.join("missing.bpf.o");
    assert_one_line_error(&["run", missing.to_str().unwrap()], "missing.bpf.o");

    // A non-BPF ELF.
    assert_one_line_error(&["run", "/bin/true"], "not a BPF object");

    // Not an ELF at all.
    let text = dir.0.join("notes.bpf.o");
    std::fs::write(&text, "hello").unwrap();
    assert_one_line_error(&["run", text.to_str().unwrap()], "not an ELF file");

    // A corrupt object: a real one cut in half.
    let bytes = std::fs::read(object("execsnoop")).unwrap();
    let corrupt = dir.0.join("corrupt.bpf.o");
    std::fs::write(&corrupt, &bytes[..bytes.len() / 2]).unwrap();
    assert_one_line_error(&["run", corrupt.to_str().unwrap()], "corrupt.bpf.o");
    assert_programs_back_to(&baseline, "corrupt object");

    // A package whose object no longer matches its digest.
    let pkg = dir.0.join("pkg");
    copy_dir(&common::probes().join("execsnoop"), &pkg);
    let obj = pkg.join(std::env::consts::ARCH).join("execsnoop.bpf.o");
    let mut tampered = std::fs::read(&obj).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    std::fs::write(&obj, tampered).unwrap();
    assert_one_line_error(&["run", pkg.to_str().unwrap()], "digest mismatch");

    // A program the verifier rejects: the error names it and quotes the verifier.
    let reject = object("verifier_reject");
    let res = run_loader(&["run", reject.to_str().unwrap()]);
    assert!(!res.status.success());
    let first = res.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("coreship-load: error: program reject_me"),
        "{}",
        res.stderr
    );
    assert!(
        res.stderr.contains("invalid mem access"),
        "no verifier log tail:\n{}",
        res.stderr
    );
    assert_programs_back_to(&baseline, "verifier rejection");

    // An unknown --attach program and a uprobe on a missing function.
    assert_one_line_error(
        &[
            "run",
            object("ustate").to_str().unwrap(),
            "--attach",
            "nope=/bin/true:main",
        ],
        "no program named `nope`",
    );
    assert_one_line_error(
        &[
            "run",
            object("ustate").to_str().unwrap(),
            "--uprobe",
            "/bin/true:no_such_function_here",
        ],
        "no_such_function_here",
    );
    assert_programs_back_to(&baseline, "failed uprobe attach");

    // A clean run with uprobes and tracepoints, stopped by SIGINT, leaves nothing.
    let libc_getpid = format!("/lib/{}-linux-gnu/libc.so.6:getpid", std::env::consts::ARCH);
    let loader = Loader::start(&[object("ustate").to_str().unwrap(), "--uprobe", &libc_getpid]);
    Command::new("/bin/true").status().unwrap();
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);
    assert_programs_back_to(&baseline, "SIGINT");

    // SIGKILL: the kernel drops the links with the process's fds.
    let loader = Loader::start(&[object("execsnoop").to_str().unwrap()]);
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(loader.pid(), libc::SIGKILL) };
    let _ = loader.finish();
    assert_programs_back_to(&baseline, "SIGKILL");

    assert_eq!(
        tracefs_probe_events(),
        tracefs_before,
        "tracefs probe events leaked"
    );
    assert_eq!(bpffs_entries(), bpffs_before, "bpffs entries leaked");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}
