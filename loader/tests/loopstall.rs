//! End-to-end: loopstall (bpf/loopstall.bpf.c) measures how long an asyncio event loop goes
//! without returning to epoll, on the running kernel.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{bpf_available, object, Loader};
use serde_json::Value;

/// Debian's interpreter when present: a pyenv shim on PATH would fork helpers of its own.
fn python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// One event loop running a ticker (normal awaits) and a coroutine that blocks the loop with
/// time.sleep() five times for 50 ms and twice for 200 ms, awaiting in between.
const LOOP: &str = r#"
import asyncio, json, os, time

async def ticker():
    for _ in range(30):
        await asyncio.sleep(0.005)

async def blocker():
    for d in (0.05, 0.2, 0.05, 0.05, 0.2, 0.05, 0.05):
        time.sleep(d)
        await asyncio.sleep(0.01)

async def main():
    await asyncio.gather(ticker(), blocker())

asyncio.run(main())
print(json.dumps({"pid": os.getpid()}))
"#;

/// The count of the log2 bucket holding `value` in a histogram printed as JSON.
fn bucket(hist: &Value, value: u64) -> u64 {
    hist["hist"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["min"].as_u64().unwrap() <= value && value <= b["max"].as_u64().unwrap())
        .map_or(0, |b| b["count"].as_u64().unwrap())
}

#[test]
fn blocking_calls_in_a_coroutine_show_as_event_loop_stalls() {
    if !bpf_available() {
        return;
    }
    let loader = Loader::start(&[object("loopstall").to_str().unwrap(), "--format", "json"]);
    let out = Command::new(python())
        .args(["-c", LOOP])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "python failed: {:?}", out.status);
    std::thread::sleep(Duration::from_millis(200));
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);

    // Each arch's object attaches to the epoll waits its syscall table has.
    let attached = done
        .stderr
        .lines()
        .find(|l| l.contains(": attached "))
        .unwrap();
    for prog in ["enter_epoll_pwait", "exit_epoll_pwait", "thread_exit"] {
        assert!(attached.contains(prog), "{attached}");
    }
    assert_eq!(
        attached.contains("enter_epoll_wait"),
        std::env::consts::ARCH == "x86_64",
        "{attached}"
    );

    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pid = report["pid"].as_u64().unwrap();
    let json = done.json();
    let hists: Vec<&Value> = json
        .iter()
        .filter(|e| e["map"] == "stall_us" && e["key"]["pid"] == pid)
        .collect();
    assert_eq!(hists.len(), 1, "one loop thread:\n{}", done.stdout);
    let hist = hists[0];
    assert_eq!(hist["key"]["comm"], "python3", "{hist}");
    // 50 ms = 50000 µs lies in [32K, 64K), 200 ms = 200000 µs in [128K, 256K): both far
    // enough from the bucket edges for the loop's own work and the sleeps' wake-up latency.
    assert!(bucket(hist, 50_000) >= 5, "50 ms stalls: {hist}");
    assert!(bucket(hist, 200_000) >= 2, "200 ms stalls: {hist}");

    // Stalls of at least min_stall_us (100 ms by default) are events too.
    let stalls: Vec<&Value> = json
        .iter()
        .filter(|e| e.get("stall_us").is_some() && e["pid"] == pid)
        .collect();
    assert!(
        stalls
            .iter()
            .all(|e| e["stall_us"].as_u64().unwrap() >= 100_000),
        "{stalls:?}"
    );
    let long = stalls
        .iter()
        .filter(|e| e["stall_us"].as_u64().unwrap() >= 200_000)
        .count();
    assert!(long >= 2, "stall events: {stalls:?}");
    for e in &stalls {
        assert_eq!(e["tid"], pid, "the loop runs in the main thread: {e}");
        assert_eq!(e["comm"], "python3", "{e}");
    }
}

#[test]
fn text_output_has_a_histogram_per_process_and_thread_name() {
    if !bpf_available() {
        return;
    }
    let loader = Loader::start(&[object("loopstall").to_str().unwrap()]);
    let child = Command::new(python())
        .args([
            "-c",
            "import asyncio, time\n\
             async def main():\n    time.sleep(0.05)\n    await asyncio.sleep(0.01)\n\
             asyncio.run(main())",
        ])
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(child.wait_with_output().unwrap().status.success());
    std::thread::sleep(Duration::from_millis(200));
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);
    let title = format!("@stall_us[{pid}, python3]:");
    let body: Vec<&str> = done
        .stdout
        .lines()
        .skip_while(|l| *l != title)
        .skip(1)
        .take_while(|l| l.starts_with('['))
        .collect();
    assert!(
        body.iter()
            .any(|l| l.starts_with("[32K, 64K)") && l.split_whitespace().nth(2) != Some("0")),
        "no 50 ms stall under {title}:\n{}",
        done.stdout
    );
}

#[test]
fn settings_choose_the_process_and_the_event_threshold() {
    if !bpf_available() {
        return;
    }
    // The script waits for a line before its loop starts, so its pid can be given to the
    // probe before anything is measured.
    let script = format!("import sys\nsys.stdin.readline()\n{LOOP}");
    let mut child = Command::new(python())
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = u64::from(child.id());
    let loader = Loader::start(&[
        object("loopstall").to_str().unwrap(),
        "--set",
        &format!("targ_pid={pid}"),
        "--set",
        "min_stall_us=40000",
        "--format",
        "json",
    ]);
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python failed: {:?}", out.status);
    std::thread::sleep(Duration::from_millis(200));
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);

    let json = done.json();
    let hists: Vec<&Value> = json.iter().filter(|e| e["map"] == "stall_us").collect();
    assert_eq!(hists.len(), 1, "only pid {pid}:\n{}", done.stdout);
    assert_eq!(hists[0]["key"]["pid"], pid, "{}", hists[0]);
    let stalls: Vec<u64> = json
        .iter()
        .filter(|e| e.get("stall_us").is_some())
        .inspect(|e| assert_eq!(e["pid"], pid, "{e}"))
        .map(|e| e["stall_us"].as_u64().unwrap())
        .collect();
    assert!(stalls.iter().all(|&us| us >= 40_000), "{stalls:?}");
    let near = |ms: u64| stalls.iter().filter(|&&us| us / 1000 >= ms).count();
    assert!(near(50) >= 7 && near(200) >= 2, "stall events: {stalls:?}");
}
