//! The loader under memory pressure: the real `coreship-load run` of a probe with a 64 MiB
//! ring buffer (`bpf/tests/bigring.bpf.c`) inside a memory cgroup. BPF map memory is charged
//! to the memory cgroup of the process creating the map (Linux ≥ 5.11). With room, it runs;
//! with room for the loader but not the map, it fails with one error line naming the map and
//! what to do; with almost nothing, the OOM killer ends it or it fails cleanly. Whatever
//! happened, none of its programs or maps stay in the kernel and tracefs holds no probe event
//! of it. The probe's program and map names are its own, so counting them is not disturbed by
//! other BPF users of the machine.

mod common;

use common::{bin, bpf_available, can_run, object, Finished};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROGRAM: &str = "bigring_exec";
const MAP: &str = "bigring";
const MIB: u64 = 1 << 20;

/// A memory cgroup for this test, removed on drop. With cgroup v2 it is made under the root of
/// the hierarchy (the only place sure to allow a memory controller for a child holding
/// processes); with cgroup v1, under the test's own memory cgroup.
struct MemCgroup {
    dir: PathBuf,
    v2: bool,
}

impl MemCgroup {
    /// `None` (the reason printed) when no memory controller can be used here; with
    /// CORESHIP_REQUIRE_BPF=1 the test fails instead.
    fn create(tag: &str) -> Option<MemCgroup> {
        let name = format!("coreship-test-{tag}-{}", std::process::id());
        let v2_root = Path::new("/sys/fs/cgroup");
        let v2 = std::fs::read_to_string(v2_root.join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"));
        let parent = if v2 {
            let control = v2_root.join("cgroup.subtree_control");
            let enabled = std::fs::read_to_string(&control)
                .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"));
            if !enabled && std::fs::write(&control, "+memory").is_err() {
                return skip("cannot enable the memory controller under /sys/fs/cgroup");
            }
            v2_root.to_path_buf()
        } else {
            let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
            let own = own
                .lines()
                .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()));
            let v1_root = Path::new("/sys/fs/cgroup/memory");
            match own {
                Some(own) if v1_root.join("memory.limit_in_bytes").exists() => {
                    v1_root.join(own.trim_start_matches('/'))
                }
                _ => return skip("no memory cgroup controller (v2 or v1) is mounted"),
            }
        };
        let dir = parent.join(name);
        if let Err(e) = std::fs::create_dir(&dir) {
            return skip(&format!("cannot create {}: {e}", dir.display()));
        }
        Some(MemCgroup { dir, v2 })
    }

    fn limit(&self, bytes: u64) {
        let file = if self.v2 {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        std::fs::write(self.dir.join(file), bytes.to_string()).unwrap();
        if self.v2 {
            // No swap to escape to (a missing file means no swap accounting: nothing to do).
            let _ = std::fs::write(self.dir.join("memory.swap.max"), "0");
        }
    }

    /// How many processes the OOM killer ended in this cgroup.
    fn oom_kills(&self) -> u64 {
        let file = if self.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        std::fs::read_to_string(self.dir.join(file))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Runs `coreship-load ARGS…` inside the cgroup to completion; its output and pid.
    fn run_loader(&self, args: &[&str]) -> (Finished, u32) {
        self.run_loader_watching(args, |_| {})
    }

    /// [`MemCgroup::run_loader`], calling `watch` with the pid while the loader runs.
    fn run_loader_watching(&self, args: &[&str], watch: impl FnOnce(u32)) -> (Finished, u32) {
        let procs = File::options()
            .write(true)
            .open(self.dir.join("cgroup.procs"))
            .unwrap();
        let fd = procs.as_raw_fd();
        let mut command = Command::new(bin("coreship-load"));
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: between fork and exec the closure only calls write(2), which is
        // async-signal-safe, on a descriptor the parent keeps open until the child is spawned
        // ("0" moves the writing process itself into the cgroup).
        unsafe {
            command.pre_exec(move || {
                if libc::write(fd, b"0".as_ptr().cast(), 1) == 1 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let child = command.spawn().unwrap();
        drop(procs);
        let pid = child.id();
        watch(pid);
        let out = child.wait_with_output().unwrap();
        let finished = Finished::from(out);
        (finished, pid)
    }
}

impl Drop for MemCgroup {
    fn drop(&mut self) {
        // The loader has exited; the kernel may take a moment to let the cgroup go.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn skip(reason: &str) -> Option<MemCgroup> {
    // Prints the reason (a reason is given: it returns false), or fails the test in CI.
    can_run("memory cgroup tests", "CORESHIP_REQUIRE_BPF", &[reason]);
    None
}

/// What kind of BPF object `ids` enumerates.
#[derive(Clone, Copy)]
enum Kind {
    Program,
    Map,
}

/// Names of every BPF program or map loaded in the kernel.
fn kernel_names(kind: Kind) -> Vec<String> {
    let mut names = Vec::new();
    let mut id = 0u32;
    loop {
        let mut next = 0u32;
        // SAFETY: `next` is a valid out-pointer.
        let ret = unsafe {
            match kind {
                Kind::Program => libbpf_sys::bpf_prog_get_next_id(id, &mut next),
                Kind::Map => libbpf_sys::bpf_map_get_next_id(id, &mut next),
            }
        };
        if ret != 0 {
            return names;
        }
        id = next;
        if let Some(name) = name_of(kind, id) {
            names.push(name);
        }
    }
}

/// The name of program or map `id` (`None` if it went away meanwhile).
fn name_of(kind: Kind, id: u32) -> Option<String> {
    // SAFETY: plain kernel calls on an id; the info structs are plain data the kernel fills
    // up to `len` bytes; the fd is closed after use.
    unsafe {
        let fd = match kind {
            Kind::Program => libbpf_sys::bpf_prog_get_fd_by_id(id),
            Kind::Map => libbpf_sys::bpf_map_get_fd_by_id(id),
        };
        if fd < 0 {
            return None;
        }
        let name = match kind {
            Kind::Program => {
                let mut info: libbpf_sys::bpf_prog_info = std::mem::zeroed();
                let mut len = std::mem::size_of_val(&info) as u32;
                (libbpf_sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len) == 0)
                    .then(|| c_name(&info.name))
            }
            Kind::Map => {
                let mut info: libbpf_sys::bpf_map_info = std::mem::zeroed();
                let mut len = std::mem::size_of_val(&info) as u32;
                (libbpf_sys::bpf_map_get_info_by_fd(fd, &mut info, &mut len) == 0)
                    .then(|| c_name(&info.name))
            }
        };
        libc::close(fd);
        name
    }
}

fn c_name(raw: &[std::os::raw::c_char]) -> String {
    raw.iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8 as char)
        .collect()
}

/// Waits (at most 5 s: the kernel frees a dead process's BPF objects asynchronously) until
/// no program or map of the probe is loaded, and checks that tracefs holds no probe event
/// libbpf would have named after `pid`.
fn assert_nothing_left(pid: u32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let programs = kernel_names(Kind::Program);
        let maps = kernel_names(Kind::Map);
        let left = programs.iter().any(|n| n == PROGRAM) || maps.iter().any(|n| n == MAP);
        if !left {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: program {PROGRAM} or map {MAP} still loaded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for file in ["uprobe_events", "kprobe_events"] {
        let events = std::fs::read_to_string(Path::new("/sys/kernel/tracing").join(file))
            .unwrap_or_default();
        assert!(
            !events.contains(&format!("libbpf_{pid}_")),
            "{what}: tracefs {file} keeps an event of the loader:\n{events}"
        );
    }
}

/// Exactly one `coreship-load: error:` line containing each of `needles`, nothing on stdout.
fn assert_one_error_line(out: &Finished, needles: &[&str]) {
    assert!(!out.status.success(), "succeeded:\n{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not one line:\n{}", out.stderr);
    assert!(
        lines[0].starts_with("coreship-load: error: "),
        "{}",
        lines[0]
    );
    for needle in needles {
        assert!(lines[0].contains(needle), "`{needle}` not in: {}", lines[0]);
    }
    assert!(out.stdout.is_empty(), "printed: {}", out.stdout);
}

#[test]
fn under_a_memory_limit_the_loader_runs_or_fails_cleanly_and_leaves_nothing() {
    if !bpf_available() {
        return;
    }
    let obj = object("bigring");
    let Some(cgroup) = MemCgroup::create("loader") else {
        return;
    };
    let run = ["run", obj.to_str().unwrap(), "--duration", "2s"];

    // Room for the loader and its 64 MiB ring buffer: it runs.
    cgroup.limit(512 * MIB);
    let (out, pid) = cgroup.run_loader_watching(&run, |_| {
        // Seen while it runs: the checks below would see a leftover.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(kernel_names(Kind::Program).iter().any(|n| n == PROGRAM)
            && kernel_names(Kind::Map).iter().any(|n| n == MAP))
        {
            assert!(
                Instant::now() < deadline,
                "{PROGRAM} and {MAP} never showed up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("attached {PROGRAM}")),
        "{}",
        out.stderr
    );
    assert_nothing_left(pid, "a run that fitted");

    // Room for the loader but not for the map: one line naming the map and what to do.
    cgroup.limit(32 * MIB);
    let (out, pid) = cgroup.run_loader(&run);
    assert_one_error_line(
        &out,
        &[
            "map bigring (a 64 MiB ring buffer): the kernel could not create it (ENOMEM",
            "raise its limit (memory.max",
        ],
    );
    assert_nothing_left(pid, "a map refused for memory");

    // Almost nothing: the OOM killer ends it wherever it is, or it fails cleanly.
    cgroup.limit(MIB);
    let kills = cgroup.oom_kills();
    let (out, pid) = cgroup.run_loader(&run);
    if out.status.signal() == Some(libc::SIGKILL) {
        assert!(
            cgroup.oom_kills() > kills,
            "killed, but not by the OOM killer"
        );
    } else {
        assert_one_error_line(&out, &[]);
    }
    assert_nothing_left(pid, "a loader out of memory");
}
