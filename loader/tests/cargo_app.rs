//! End-to-end: `examples/cargo-app`, an application outside this workspace that embeds its
//! probe through build.rs (coreship-builder) and loads it with coreship-loader, built with
//! cargo and run against the running kernel.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{bpf_available, root};

#[test]
fn cargo_app_counts_the_execs_of_true() {
    if !bpf_available() {
        return;
    }
    // A fixed target dir: later runs only rebuild what changed. The app's Cargo.lock pins the
    // versions this workspace already uses, so nothing new is normally downloaded.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cargo-app");
    let manifest = root().join("examples/cargo-app/Cargo.toml");
    let build = Command::new(env!("CARGO"))
        .args(["build", "--locked", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "building examples/cargo-app failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );

    let mut app = Command::new(target.join("debug/execcount"))
        .args(["--duration", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = app.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.contains("attached") => break,
            Ok(line) => seen.push(line),
            Err(e) => panic!("execcount did not attach ({e}):\n{}", seen.join("\n")),
        }
    }
    for _ in 0..20 {
        assert!(Command::new("/bin/true").status().unwrap().success());
    }
    let out = app.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr: Vec<String> = rx.try_iter().collect();
    assert!(out.status.success(), "{}\n{stdout}", stderr.join("\n"));
    let count = stdout
        .lines()
        .find_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            ["true", n] => n.parse::<u64>().ok(),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no `true` row in the summary:\n{stdout}"));
    assert!(count >= 20, "true counted {count} times:\n{stdout}");
}
