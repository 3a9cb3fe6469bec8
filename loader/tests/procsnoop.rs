//! End-to-end: procsnoop (bpf/procsnoop.bpf.c) follows a process tree's life — forks,
//! execs, exits with status and lifetime — on the running kernel.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bpf_available, object, Finished, Loader};
use serde_json::Value;

/// Debian's interpreter when present: a pyenv shim on PATH would fork helpers of its own.
fn python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// A `fork` pool of 4 workers mapping getpid over 16 items, closed (not terminated) so the
/// workers exit normally; prints its pid, the workers' pids and the pids that served.
const POOL: &str = r#"
import json, multiprocessing as mp, os

def work(_):
    return os.getpid()

if __name__ == "__main__":
    mp.set_start_method("fork")
    pool = mp.Pool(4)
    served = sorted(set(pool.map(work, range(16))))
    workers = sorted(p.pid for p in mp.active_children())
    pool.close()
    pool.join()
    print(json.dumps({"parent": os.getpid(), "workers": workers, "served": served}))
"#;

fn start() -> Loader {
    Loader::start(&[object("procsnoop").to_str().unwrap(), "--format", "json"])
}

/// Stops the loader once the ring buffer has been read and returns its events.
fn stop(loader: Loader) -> (Vec<Value>, Finished) {
    std::thread::sleep(Duration::from_millis(300));
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);
    (done.json(), done)
}

fn of<'a>(events: &'a [Value], kind: &str, pid: u64) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["kind"] == kind && e["pid"] == pid)
        .collect()
}

#[test]
fn a_multiprocessing_pool_forks_its_workers_and_they_exit_cleanly() {
    if !bpf_available() {
        return;
    }
    let loader = start();
    let out = Command::new(python())
        .args(["-c", POOL])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "python failed: {:?}", out.status);
    let (events, done) = stop(loader);

    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let parent = report["parent"].as_u64().unwrap();
    let workers: BTreeSet<u64> = report["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert_eq!(workers.len(), 4, "{report}");
    for served in report["served"].as_array().unwrap() {
        assert!(workers.contains(&served.as_u64().unwrap()), "{report}");
    }

    let me = u64::from(std::process::id());
    let exec = of(&events, "EXEC", parent);
    assert_eq!(exec.len(), 1, "exec of the pool's parent:\n{}", done.stdout);
    assert_eq!(exec[0]["ppid"], me, "{}", exec[0]);

    for &w in &workers {
        let fork = of(&events, "FORK", w);
        assert_eq!(fork.len(), 1, "fork of worker {w}:\n{}", done.stdout);
        assert_eq!(fork[0]["ppid"], parent, "{}", fork[0]);
        let exit = of(&events, "EXIT", w);
        assert_eq!(exit.len(), 1, "exit of worker {w}:\n{}", done.stdout);
        let exit = exit[0];
        assert_eq!(exit["exit_code"], 0, "{exit}");
        assert_eq!(exit["exit_signal"], 0, "{exit}");
        assert_eq!(exit["ppid"], parent, "{exit}");
        assert!(exit["duration_ns"].as_u64().unwrap() > 0, "{exit}");
        assert!(
            fork[0]["ts"].as_f64().unwrap() <= exit["ts"].as_f64().unwrap(),
            "fork after exit: {} {exit}",
            fork[0]
        );
    }
    // The pool also starts three handler threads in the parent: not processes, no FORK.
    let children: Vec<_> = events
        .iter()
        .filter(|e| e["kind"] == "FORK" && e["ppid"] == parent)
        .collect();
    assert_eq!(children.len(), 4, "forks by the parent: {children:#?}");

    let exit = of(&events, "EXIT", parent);
    assert_eq!(exit.len(), 1, "exit of the parent:\n{}", done.stdout);
    assert_eq!(exit[0]["exit_code"], 0, "{}", exit[0]);
}

#[test]
fn exit_status_and_killing_signal_are_reported() {
    if !bpf_available() {
        return;
    }
    let loader = start();
    let mut sh = Command::new("/bin/sh")
        .args(["-c", "exit 7"])
        .spawn()
        .unwrap();
    let sh_pid = u64::from(sh.id());
    assert_eq!(sh.wait().unwrap().code(), Some(7));
    // Bounds of the sleeper's life as the kernel sees it: forked after `before`, killed at
    // least 100 ms after it was running, dead before `lived` elapsed.
    let before = Instant::now();
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let sleeper_pid = u64::from(sleeper.id());
    std::thread::sleep(Duration::from_millis(100));
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    let lived = before.elapsed();
    let (events, done) = stop(loader);

    let sh = of(&events, "EXIT", sh_pid);
    assert_eq!(sh.len(), 1, "{}", done.stdout);
    assert_eq!(sh[0]["exit_code"], 7, "{}", sh[0]);
    assert_eq!(sh[0]["exit_signal"], 0, "{}", sh[0]);
    assert_eq!(sh[0]["comm"], "sh", "{}", sh[0]);

    let killed = of(&events, "EXIT", sleeper_pid);
    assert_eq!(killed.len(), 1, "{}", done.stdout);
    let killed = killed[0];
    assert_eq!(killed["exit_signal"], libc::SIGKILL, "{killed}");
    assert_eq!(killed["exit_code"], 0, "{killed}");
    let ns = killed["duration_ns"].as_u64().unwrap();
    assert!(
        ns >= 100_000_000 && u128::from(ns) <= lived.as_nanos(),
        "lifetime {ns} ns, alive at least 100 ms and at most {lived:?}: {killed}"
    );
}

#[test]
fn a_process_forked_before_the_probe_gets_its_lifetime_from_task_start_time() {
    if !bpf_available() {
        return;
    }
    // Forked after `before` and running when `spawned`; killed after the probe attached.
    let before = Instant::now();
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = u64::from(sleeper.id());
    let spawned = Instant::now();
    let loader = start();
    let attached = spawned.elapsed();
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    let lived = before.elapsed();
    let (events, done) = stop(loader);

    assert!(of(&events, "FORK", pid).is_empty(), "{}", done.stdout);
    let exit = of(&events, "EXIT", pid);
    assert_eq!(exit.len(), 1, "{}", done.stdout);
    let ns = u128::from(exit[0]["duration_ns"].as_u64().unwrap());
    assert!(
        ns >= attached.as_nanos() && ns <= lived.as_nanos(),
        "lifetime {ns} ns, expected between {attached:?} and {lived:?}: {}",
        exit[0]
    );
}
