//! End-to-end: the profile probe samples a real C workload (built here with frame pointers)
//! on every CPU, and the loader symbolizes its kernel and user stacks on the target: folded
//! stacks, bpftrace-like text and an SVG flame graph.

mod common;

use common::{bpf_available, object, run_loader, Loader, TempDir};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workload's file name, and so its comm.
const DEMO: &str = "cs_profile_demo";

/// Spins ~1 s in `coreship_hot_spin`, called from `main`, then exits: its stacks must still
/// resolve after it is gone (the loader snapshots its mappings while it runs).
const DEMO_C: &str = r#"
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) unsigned long coreship_hot_spin(double secs)
{
	volatile unsigned long n = 0;
	double end = now() + secs;
	while (now() < end)
		for (int i = 0; i < 1000; i++)
			n++;
	return n;
}

int main(void)
{
	return coreship_hot_spin(1.0) == 0;
}
"#;

/// Compiles the workload into `dir` with `cc -O1 -g -fno-omit-frame-pointer` (user stacks
/// are walked by frame pointers).
fn build_demo(dir: &Path) -> PathBuf {
    let src = dir.join(format!("{DEMO}.c"));
    let bin = dir.join(DEMO);
    std::fs::write(&src, DEMO_C).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-O1", "-g", "-fno-omit-frame-pointer", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc} (set CC to a C compiler): {e}"));
    assert!(
        out.status.success(),
        "{cc} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// Starts profile with `extra` arguments at 499 Hz, runs the workload to its end, stops
/// the loader; returns what it printed and the workload's pid.
fn profile_demo(extra: &[&str]) -> (common::Finished, u32) {
    let dir = TempDir::new("profile");
    let demo = build_demo(&dir.0);
    let obj = object("profile");
    let mut args = vec![obj.to_str().unwrap(), "--freq", "499"];
    args.extend_from_slice(extra);
    let loader = Loader::start(&args);
    let child = Command::new(&demo).spawn().unwrap();
    let pid = child.id();
    assert!(child.wait_with_output().unwrap().status.success());
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);
    (done, pid)
}

#[test]
fn profile_folded_stacks_put_the_hot_function_above_main() {
    if !bpf_available() {
        return;
    }
    let (done, _) = profile_demo(&["--format", "folded"]);
    // `cs_profile_demo;…;main;coreship_hot_spin[;callees] COUNT`, outermost frame first.
    let hot: Vec<(&str, u64)> = done
        .stdout
        .lines()
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(stack, _)| stack.starts_with(&format!("{DEMO};")))
        .filter(|(stack, _)| stack.contains(";main;coreship_hot_spin"))
        .map(|(stack, n)| (stack, n.parse().unwrap()))
        .collect();
    assert!(
        !hot.is_empty(),
        "no folded stack of {DEMO} with main;coreship_hot_spin:\n{}\n{}",
        done.stdout,
        done.stderr
    );
    for (stack, _) in &hot {
        let frames: Vec<&str> = stack.split(';').collect();
        let main = frames.iter().position(|f| *f == "main").unwrap();
        let spin = frames
            .iter()
            .position(|f| *f == "coreship_hot_spin")
            .unwrap();
        assert!(main < spin, "main must be outer: {stack}");
    }
    // ~1 s at 499 Hz: hundreds of samples, even on a busy machine.
    let total: u64 = hot.iter().map(|h| h.1).sum();
    assert!(
        total >= 100,
        "only {total} samples in coreship_hot_spin:\n{hot:?}"
    );
}

#[test]
fn profile_text_lists_frames_innermost_first_under_pid_and_comm() {
    if !bpf_available() {
        return;
    }
    let (done, pid) = profile_demo(&[]);
    let header = format!("@samples[{pid}, {DEMO}]: ");
    let mut found = false;
    let mut lines = done.stdout.lines();
    while let Some(line) = lines.next() {
        if !line.starts_with(&header) {
            continue;
        }
        let frames: Vec<&str> = lines.by_ref().take_while(|l| !l.is_empty()).collect();
        let spin = frames
            .iter()
            .position(|f| f.trim().starts_with("coreship_hot_spin+"));
        let main = frames.iter().position(|f| f.trim().starts_with("main+"));
        if let (Some(spin), Some(main)) = (spin, main) {
            assert!(spin < main, "innermost first: {frames:?}");
            found = true;
        }
    }
    assert!(
        found,
        "no {header}… stack with coreship_hot_spin and main:\n{}",
        done.stdout
    );
}

#[test]
fn profile_flamegraph_is_well_formed_svg_naming_the_hot_function() {
    if !bpf_available() {
        return;
    }
    let out = TempDir::new("profile-svg");
    let svg_path = out.0.join("out.svg");
    let (done, _) = profile_demo(&["--flamegraph", svg_path.to_str().unwrap()]);
    assert!(
        done.stderr.contains("flame graph written to"),
        "{}",
        done.stderr
    );
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&svg);
    let mut elements = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(_)) => elements += 1,
            Ok(_) => {}
            Err(e) => panic!(
                "not well-formed XML at byte {}: {e}",
                reader.buffer_position()
            ),
        }
    }
    assert!(elements > 10, "{elements} elements");
    assert!(svg.contains("<svg"), "not an SVG");
    assert!(svg.contains("coreship_hot_spin"), "hot function missing");
    assert!(svg.contains(&format!(">{DEMO}<")), "comm frame missing");
}

#[test]
fn flamegraph_for_a_probe_without_stacks_is_refused_clearly() {
    if !bpf_available() {
        return;
    }
    let out = TempDir::new("profile-nostacks");
    let svg = out.0.join("x.svg");
    let done = run_loader(&[
        "run",
        object("execsnoop").to_str().unwrap(),
        "--duration",
        "1s",
        "--flamegraph",
        svg.to_str().unwrap(),
    ]);
    assert!(!done.status.success());
    assert!(
        done.stderr.contains("this probe has no stack profile"),
        "{}",
        done.stderr
    );
    assert!(!svg.exists());
}
