//! Daemonless runs: `run --pin DIR [--detach]`, `ps`, `stop`, with the loader killed by
//! SIGKILL in both modes. What must remain is exactly the pinned set: no program the pins do
//! not hold, no tracefs probe event, and after `stop` nothing at all.
//!
//! Programs are told apart by name and by who holds them (a pin, or a live process's fd), not
//! by counting every program in the kernel, so other BPF users on the machine do not matter.
//! One test function, run sequentially, because it pins under fixed names.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{bpf_available, object, ok, run_loader_env, Loader, TempDir};

/// IDs of loaded programs whose (15-character) name is one of `names`.
fn progs_named(names: &[&str]) -> BTreeSet<u32> {
    libbpf_rs::query::ProgInfoIter::default()
        .filter(|p| {
            let n = p.name.to_string_lossy();
            names
                .iter()
                .any(|want| want.starts_with(&*n) && !n.is_empty())
        })
        .map(|p| p.id)
        .collect()
}

/// Program IDs some live process holds, through a program or link fd.
fn held_by_processes() -> BTreeSet<u32> {
    let mut held = BTreeSet::new();
    for proc in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(fds) = std::fs::read_dir(proc.path().join("fdinfo")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(info) = std::fs::read_to_string(fd.path()) else {
                continue;
            };
            for line in info.lines() {
                if let Some(id) = line.strip_prefix("prog_id:") {
                    held.extend(id.trim().parse::<u32>());
                }
            }
        }
    }
    held
}

/// Programs named `names` that only bpffs keeps alive (not in `baseline`, no process holds
/// them): after a kill these must be exactly the pinned programs.
fn held_only_by_pins(baseline: &BTreeSet<u32>, names: &[&str]) -> BTreeSet<u32> {
    let held = held_by_processes();
    progs_named(names)
        .into_iter()
        .filter(|id| !baseline.contains(id) && !held.contains(id))
        .collect()
}

/// The programs the link pins under `dir/links` are attached with.
fn pinned_prog_ids(dir: &Path) -> BTreeSet<u32> {
    std::fs::read_dir(dir.join("links"))
        .unwrap()
        .flatten()
        .map(|e| {
            let link = libbpf_rs::Link::open(e.path()).unwrap();
            link.info().unwrap().prog_id
        })
        .collect()
}

fn tracefs_probe_events() -> String {
    ["uprobe_events", "kprobe_events"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(Path::new("/sys/kernel/tracing").join(f)).ok())
        .collect()
}

/// Waits (at most 5 s: teardown after a kill or unpin is asynchronous) for `cond`.
fn eventually(what: &str, mut cond: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match cond() {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => panic!("{what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A new exec the probe must report: its pid.
fn exec_true() -> u64 {
    let mut child = Command::new("/bin/true").spawn().unwrap();
    let pid = child.id() as u64;
    assert!(child.wait().unwrap().success());
    pid
}

fn kill9(loader: Loader) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(loader.pid(), libc::SIGKILL) };
    let done = loader.finish();
    assert!(!done.status.success(), "survived SIGKILL");
}

/// Re-attaches to the pins in `dir`, checks it loads nothing and sees a new exec, then SIGKILLs it.
fn reattach_sees_a_new_exec(exec: &str, dir: &str, env: &[(&str, &Path)]) {
    let loader = Loader::start_env(&[exec, "--pin", dir, "--format", "json"], env);
    // Re-attaching holds no program: every program fd it has would show in its fdinfo.
    let fdinfo = PathBuf::from(format!("/proc/{}/fdinfo", loader.pid()));
    for fd in std::fs::read_dir(&fdinfo).unwrap().flatten() {
        let info = std::fs::read_to_string(fd.path()).unwrap_or_default();
        assert!(
            !info.contains("prog_id:"),
            "the re-attaching loader holds a program: {info}"
        );
    }
    let pid = exec_true();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(loader.pid(), libc::SIGINT) };
    let done = loader.finish();
    ok(&done);
    assert!(
        done.stderr.contains("re-attached to its pins"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("still pinned in"), "{}", done.stderr);
    assert!(
        done.json()
            .iter()
            .any(|e| e["pid"] == pid && e["filename"] == "/bin/true"),
        "exec {pid} not seen through the pins:\n{}\n{}",
        done.stdout,
        done.stderr
    );
}

#[test]
fn pinned_probes_survive_sigkill_and_stop_removes_them() {
    if !bpf_available() {
        return;
    }
    let run_dir = TempDir::new("pin-run");
    let env: &[(&str, &Path)] = &[("CORESHIP_RUN_DIR", &run_dir.0)];
    let name = format!("coreship-pintest-{}", std::process::id());
    let dir = PathBuf::from("/sys/fs/bpf").join(&name);
    let dir_s = dir.to_str().unwrap().to_string();
    let exec = object("execsnoop");
    let exec = exec.to_str().unwrap();
    let names = ["handle_exec"];
    let baseline = progs_named(&names);
    let tracefs_before = tracefs_probe_events();

    // 1. --detach: loads, pins, exits. What remains is exactly the pinned program.
    let out = run_loader_env(&["run", exec, "--pin", &dir_s, "--detach"], env);
    ok(&out);
    assert!(dir.join("links/handle_exec").exists() && dir.join("maps/events").exists());
    let pinned = pinned_prog_ids(&dir);
    assert_eq!(pinned.len(), 1, "{pinned:?}");
    eventually("after --detach", || {
        let left = held_only_by_pins(&baseline, &names);
        (left == pinned)
            .then_some(())
            .ok_or(format!("held only by pins: {left:?}, pinned: {pinned:?}"))
    });
    let ps = run_loader_env(&["ps", "--format", "json"], env);
    ok(&ps);
    let listed = ps.json();
    assert_eq!(listed.len(), 1, "{}", ps.stdout);
    assert_eq!(listed[0]["name"], name.as_str());
    assert_eq!(listed[0]["programs"][0]["name"], "handle_exec");
    assert_eq!(listed[0]["missing_pins"], serde_json::json!([]));
    // Pinning twice is refused; the pins are untouched.
    let again = run_loader_env(&["run", exec, "--pin", &dir_s, "--detach"], env);
    common::refused(&again, "already pinned");

    // 2. `run --pin` on the pins re-attaches (nothing loaded), sees a new exec; SIGKILL it.
    reattach_sees_a_new_exec(exec, &dir_s, env);
    let loader = Loader::start_env(&[exec, "--pin", &dir_s], env);
    kill9(loader);
    eventually("after SIGKILL of a re-attached loader", || {
        let left = held_only_by_pins(&baseline, &names);
        (left == pinned && pinned_prog_ids(&dir) == pinned)
            .then_some(())
            .ok_or(format!("held only by pins: {left:?}, pinned: {pinned:?}"))
    });

    // 3. stop: the pins, the record and the program go.
    let out = run_loader_env(&["stop", &name], env);
    ok(&out);
    assert!(!dir.exists(), "{} left", dir.display());
    eventually("after stop", || {
        let left: Vec<u32> = progs_named(&names)
            .into_iter()
            .filter(|id| pinned.contains(id))
            .collect();
        left.is_empty()
            .then_some(())
            .ok_or(format!("pinned programs still loaded: {left:?}"))
    });
    let ps = run_loader_env(&["ps", "--format", "json"], env);
    assert!(ps.stdout.trim().is_empty(), "{}", ps.stdout);

    // 4. A plain `run --pin` loads, pins and streams; SIGKILL leaves exactly the pinned set,
    //    which still produces events through a re-attach.
    let loader = Loader::start_env(&[exec, "--pin", &dir_s], env);
    let pinned = pinned_prog_ids(&dir);
    assert_eq!(pinned.len(), 1, "{pinned:?}");
    kill9(loader);
    eventually("after SIGKILL of the pinning loader", || {
        let left = held_only_by_pins(&baseline, &names);
        (left == pinned)
            .then_some(())
            .ok_or(format!("held only by pins: {left:?}, pinned: {pinned:?}"))
    });
    reattach_sees_a_new_exec(exec, &dir_s, env);
    ok(&run_loader_env(&["stop", &dir_s], env));
    assert!(!dir.exists());

    // 5. Uprobes pin as BPF links over the uprobe PMU: no tracefs event, before or after.
    let libc_getpid = format!("/lib/{}-linux-gnu/libc.so.6:getpid", std::env::consts::ARCH);
    let ustate = object("ustate");
    let out = run_loader_env(
        &[
            "run",
            ustate.to_str().unwrap(),
            "--uprobe",
            &libc_getpid,
            "--pin",
            &dir_s,
            "--detach",
        ],
        env,
    );
    ok(&out);
    assert_eq!(pinned_prog_ids(&dir).len(), 2);
    assert_eq!(
        tracefs_probe_events(),
        tracefs_before,
        "tracefs probe events"
    );
    ok(&run_loader_env(&["stop", &name], env));

    let ustate_names = ["ustate_enter", "ustate_exit"];
    eventually("after everything", || {
        let left = held_only_by_pins(&baseline, &names);
        let ustate_left = held_only_by_pins(&BTreeSet::new(), &ustate_names);
        (left.is_empty() && ustate_left.is_empty())
            .then_some(())
            .ok_or(format!("left: {left:?} {ustate_left:?}"))
    });
    assert!(!dir.exists());
    assert_eq!(
        tracefs_probe_events(),
        tracefs_before,
        "tracefs probe events"
    );
}
