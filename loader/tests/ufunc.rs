//! End-to-end: ufunc on libc's `fopen`, the seed's `perf probe -x libc fopen filename:string
//! mode:string` and `fopen%return`: arguments read as strings (chosen with `--set`), return
//! values and a latency histogram, from one process only (`--pid`).

mod common;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{bpf_available, object, Loader, TempDir};

/// Opens argv[1] (which exists) 5 times and argv[2] (which does not) 3 times, with mode "r",
/// once a line arrives on stdin, so the probe can be attached to it first. The mode lives on
/// the stack: a uprobe cannot fault in a page of .rodata the process has not touched yet.
const PROGRAM: &str = r#"
#include <stdio.h>

int main(int argc, char **argv)
{
	char line[8], mode[2] = "r";

	if (argc != 3 || !fgets(line, sizeof(line), stdin))
		return 2;
	for (int i = 0; i < 5; i++) {
		FILE *f = fopen(argv[1], mode);

		if (!f)
			return 3;
		fclose(f);
	}
	for (int i = 0; i < 3; i++)
		if (fopen(argv[2], mode))
			return 4;
	return 0;
}
"#;

/// This machine's libc, as the seed names it (`-x libc`).
fn libc_path() -> PathBuf {
    let arch = std::env::consts::ARCH;
    [
        format!("/lib/{arch}-linux-gnu/libc.so.6"),
        format!("/usr/lib/{arch}-linux-gnu/libc.so.6"),
        "/lib64/libc.so.6".into(),
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("no libc.so.6 in the usual places")
}

fn build_program(dir: &Path) -> PathBuf {
    let src = dir.join("fopen_calls.c");
    std::fs::write(&src, PROGRAM).unwrap();
    let exe = dir.join("fopen_calls");
    let status = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success(), "cc failed");
    exe
}

#[test]
fn ufunc_shows_fopen_strings_results_and_latency() {
    if !bpf_available() {
        return;
    }
    let dir = TempDir::new("ufunc");
    let exe = build_program(&dir.0);
    let existing = dir.0.join(format!("ufunc-exists-{}", std::process::id()));
    std::fs::write(&existing, "x").unwrap();
    let missing = dir.0.join("ufunc-missing");

    let mut child = Command::new(&exe)
        .arg(&existing)
        .arg(&missing)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let target = format!("{}:fopen", libc_path().display());
    let loader = Loader::start(&[
        object("ufunc").to_str().unwrap(),
        "--uprobe",
        &target,
        "--set",
        "str_arg_a=1",
        "--set",
        "str_arg_b=2",
        "--pid",
        &pid.to_string(),
        "--format",
        "json",
    ]);
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);

    let json = done.json();
    let calls: Vec<_> = json.iter().filter(|e| e.get("ret").is_some()).collect();
    assert_eq!(calls.len(), 8, "calls:\n{}", done.stdout);
    let pids: BTreeSet<_> = calls.iter().map(|e| e["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids, BTreeSet::from([u64::from(pid)]), "{}", done.stdout);
    let of = |path: &Path| -> Vec<_> {
        calls
            .iter()
            .filter(|e| e["str_a"] == path.to_str().unwrap())
            .collect()
    };
    let opened = of(&existing);
    assert_eq!(opened.len(), 5, "{}", done.stdout);
    for e in &opened {
        assert_eq!(e["str_b"], "r", "{e}");
        assert_ne!(e["ret"].as_i64(), Some(0), "a FILE * for {e}");
        assert_eq!(e["comm"], "fopen_calls", "{e}");
    }
    let failed = of(&missing);
    assert_eq!(failed.len(), 3, "{}", done.stdout);
    for e in &failed {
        assert_eq!(e["str_b"], "r", "{e}");
        assert_eq!(e["ret"].as_i64(), Some(0), "NULL for {e}");
    }
    let (hist, total) = done.hist_total("latency_ns");
    assert_eq!(total, 8, "{hist}");
}

#[test]
fn ufunc_without_string_settings_reads_no_strings() {
    if !bpf_available() {
        return;
    }
    let dir = TempDir::new("ufunc-nostr");
    let exe = build_program(&dir.0);
    let existing = dir.0.join("exists");
    std::fs::write(&existing, "x").unwrap();
    // The program's own main (argc is its first argument), so no other process is seen.
    let target = format!("{}:main", exe.display());
    let loader = Loader::start(&[
        object("ufunc").to_str().unwrap(),
        "--uprobe",
        &target,
        "--format",
        "json",
    ]);
    let mut child = Command::new(&exe)
        .arg(&existing)
        .arg(dir.0.join("missing"))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(child.wait().unwrap().success());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let done = loader.stop();
    let calls: Vec<_> = done
        .json()
        .into_iter()
        .filter(|e| e.get("ret").is_some())
        .collect();
    assert_eq!(calls.len(), 1, "{}", done.stdout);
    let main = &calls[0];
    assert_eq!(main["arg1"], 3, "argc: {main}");
    assert_eq!(main["ret"], 0, "{main}");
    assert_eq!(main["str_a"], "", "{main}");
    assert_eq!(main["str_b"], "", "{main}");
}
