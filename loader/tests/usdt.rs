//! End-to-end: usdtargs (bpf/usdtargs.bpf.c) on a USDT probe (<sys/sdt.h>) of the demo
//! program in examples/usdt-demo, on the running kernel.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{bpf_available, object, Loader, TempDir};

/// Builds examples/usdt-demo/usdt_demo.c into `dir`.
fn build_demo(dir: &Path) -> PathBuf {
    let exe = dir.join("usdt_demo");
    let out = Command::new("cc")
        .args(["-O2", "-g", "-Wall", "-o"])
        .arg(&exe)
        .arg(common::root().join("examples/usdt-demo/usdt_demo.c"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cc failed (is <sys/sdt.h> installed? Debian: systemtap-sdt-dev):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

#[test]
fn every_tick_arrives_with_its_counter_and_string() {
    if !bpf_available() {
        return;
    }
    let dir = TempDir::new("usdt");
    let demo = build_demo(&dir.0);
    let target = format!("usdt_args=usdt:{}:coreship_demo:tick", demo.display());
    let loader = Loader::start(&[
        object("usdtargs").to_str().unwrap(),
        "--attach",
        &target,
        "--format",
        "json",
    ]);
    const TICKS: i64 = 7;
    let child = Command::new(&demo)
        .args([TICKS.to_string().as_str(), "1000"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = u64::from(child.id());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        TICKS as usize
    );
    std::thread::sleep(Duration::from_millis(200));
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);

    let events = done.json();
    assert!(
        events.iter().all(|e| e["pid"] == pid),
        "only the demo fires the probe:\n{}",
        done.stdout
    );
    let got: Vec<(i64, String)> = events
        .iter()
        .inspect(|e| {
            assert_eq!(e["argc"], 2, "{e}");
            assert_eq!(e["comm"], "usdt_demo", "{e}");
            assert_eq!(e["tid"], pid, "{e}");
        })
        .map(|e| {
            (
                e["arg0"].as_i64().unwrap(),
                e["arg1_str"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(i64, String)> = (1..=TICKS)
        .map(|i| (i, format!("tick {i} of {TICKS}")))
        .collect();
    assert_eq!(got, want, "{}", done.stderr);
}

#[test]
fn a_probe_the_binary_does_not_have_is_a_one_line_error_naming_it() {
    if !bpf_available() {
        return;
    }
    let dir = TempDir::new("usdt-missing");
    let demo = build_demo(&dir.0);
    let target = format!("usdt_args=usdt:{}:coreship_demo:nosuch", demo.display());
    let out = common::run_loader(&[
        "run",
        object("usdtargs").to_str().unwrap(),
        "--attach",
        &target,
        "--duration",
        "1s",
    ]);
    assert!(!out.status.success(), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("coreship-load: error:"),
        "{}",
        out.stderr
    );
    for part in ["usdt_args", "coreship_demo:nosuch"] {
        assert!(out.stderr.contains(part), "{}", out.stderr);
    }
}
