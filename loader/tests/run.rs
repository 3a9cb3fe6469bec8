//! End-to-end: the real probes, built by the real builder, loaded by the real loader on the
//! running kernel, observing real workloads.

mod common;

use common::{bpf_available, object, Loader, TempDir};
use std::collections::BTreeSet;
use std::process::Command;

#[test]
fn execsnoop_sees_every_spawned_true_with_its_pid_and_parent() {
    if !bpf_available() {
        return;
    }
    let obj = object("execsnoop");
    let loader = Loader::start(&[obj.to_str().unwrap(), "--format", "json"]);
    let mut pids = BTreeSet::new();
    for _ in 0..50 {
        let mut child = Command::new("/bin/true").spawn().unwrap();
        pids.insert(child.id() as u64);
        assert!(child.wait().unwrap().success());
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);

    // Only the execs this test caused: other processes on the machine run /bin/true too.
    let me = std::process::id() as u64;
    let seen: BTreeSet<u64> = done
        .json()
        .iter()
        .filter(|e| e["pid"].as_u64().is_some_and(|pid| pids.contains(&pid)))
        .inspect(|e| {
            assert_eq!(e["filename"], "/bin/true", "{e}");
            assert_eq!(e["ppid"], me, "parent of {e}");
            assert_eq!(e["comm"], "true", "{e}");
        })
        .map(|e| e["pid"].as_u64().unwrap())
        .collect();
    let missing: Vec<_> = pids.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "execs not seen: {missing:?}\n{}",
        done.stderr
    );
}

#[test]
fn execsnoop_json_lines_have_exactly_the_declared_fields() {
    if !bpf_available() {
        return;
    }
    let loader = Loader::start(&[object("execsnoop").to_str().unwrap(), "--format", "json"]);
    Command::new("/bin/true").status().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let done = loader.stop();
    let events = done.json();
    assert!(!events.is_empty(), "no events:\n{}", done.stderr);
    for e in events {
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = vec!["ts", "pid", "ppid", "uid", "comm", "filename"];
        want.sort();
        let mut got = keys.clone();
        got.sort();
        assert_eq!(got, want, "{e}");
        assert!(e["ts"].is_number(), "{e}");
        assert!(e["pid"].is_u64() && e["uid"].is_u64(), "{e}");
        assert!(e["comm"].is_string() && e["filename"].is_string(), "{e}");
    }
}

#[test]
fn execsnoop_text_output_has_a_header_and_rows() {
    if !bpf_available() {
        return;
    }
    let loader = Loader::start(&[object("execsnoop").to_str().unwrap()]);
    let child = Command::new("/bin/true").spawn().unwrap();
    let pid = child.id();
    child.wait_with_output().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let done = loader.stop();
    let mut lines = done.stdout.lines();
    let header = lines.next().unwrap_or_default();
    for col in ["PID", "PPID", "COMM", "FILENAME"] {
        assert!(header.to_uppercase().contains(col), "header: {header}");
    }
    assert!(
        done.stdout
            .lines()
            .any(|l| l.contains("/bin/true") && l.split_whitespace().any(|w| w == pid.to_string())),
        "no row for pid {pid}:\n{}",
        done.stdout
    );
}

#[test]
fn opensnoop_reports_the_file_and_the_return_value() {
    if !bpf_available() {
        return;
    }
    let dir = TempDir::new("opensnoop");
    let created = dir
        .0
        .join(format!("coreship-opensnoop-{}", std::process::id()));
    let absent = dir.0.join("does-not-exist");
    let loader = Loader::start(&[object("opensnoop").to_str().unwrap(), "--format", "json"]);
    let file = std::fs::File::create(&created).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file) as i64;
    assert!(std::fs::File::open(&absent).is_err());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let done = loader.stop();
    drop(file);

    let events = done.json();
    let me = std::process::id() as u64;
    let find = |path: &std::path::Path| {
        events
            .iter()
            .find(|e| e["filename"] == path.to_str().unwrap() && e["pid"] == me)
            .unwrap_or_else(|| {
                panic!(
                    "no open of {} by pid {me}:\n{}",
                    path.display(),
                    done.stdout
                )
            })
            .clone()
    };
    let ok = find(&created);
    assert_eq!(ok["ret"].as_i64(), Some(fd), "{ok}");
    let flags = ok["flags"].as_i64().unwrap();
    assert_ne!(flags & libc::O_CREAT as i64, 0, "O_CREAT missing in {ok}");
    let failed = find(&absent);
    assert_eq!(
        failed["ret"].as_i64(),
        Some(-(libc::ENOENT as i64)),
        "{failed}"
    );
}

/// Builds the seed's demo program (examples/ustate-demo) into `dir`.
fn build_demo(dir: &std::path::Path) -> std::path::PathBuf {
    let exe = dir.join("ustate_demo");
    let status = Command::new("cc")
        .args(["-O2", "-g", "-o"])
        .arg(&exe)
        .arg(common::root().join("examples/ustate-demo/ustate_demo.c"))
        .status()
        .unwrap();
    assert!(status.success(), "cc failed");
    exe
}

#[test]
fn ustate_counts_exactly_the_calls_the_demo_made() {
    if !bpf_available() {
        return;
    }
    let dir = TempDir::new("ustate");
    let demo = build_demo(&dir.0);
    let target = format!("{}:print_curr_state_one", demo.display());
    let loader = Loader::start(&[
        object("ustate").to_str().unwrap(),
        "--uprobe",
        &target,
        "--format",
        "json",
    ]);
    let child = Command::new(&demo)
        .args(["25", "2000"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as u64;
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 50);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);
    let json = done.json();
    let calls: Vec<_> = json
        .iter()
        .filter(|e| e.get("latency_ns").is_some())
        .collect();
    assert_eq!(calls.len(), 25, "calls:\n{}", done.stdout);
    let pids: BTreeSet<_> = calls.iter().map(|e| e["pid"].as_u64().unwrap()).collect();
    assert_eq!(
        pids,
        BTreeSet::from([pid]),
        "calls from the demo process only"
    );
    for c in &calls {
        // print_curr_state_one only calls printf: far less than the 2 ms sleep between calls.
        assert!(c["latency_ns"].as_u64().unwrap() < 2_000_000_000, "{c}");
    }
    let (hist, total) = done.hist_total("latency_ns");
    assert_eq!(total, 25, "{hist}");
}

#[test]
fn ustate_text_output_ends_with_a_log2_histogram() {
    if !bpf_available() {
        return;
    }
    let dir = TempDir::new("ustate-text");
    let demo = build_demo(&dir.0);
    let target = format!("{}:print_curr_state_two", demo.display());
    let loader = Loader::start(&[object("ustate").to_str().unwrap(), "--uprobe", &target]);
    Command::new(&demo).args(["5", "1000"]).output().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let done = loader.stop();
    assert!(done.stdout.contains("@latency_ns"), "{}", done.stdout);
    assert!(
        done.stdout.contains('|') && done.stdout.contains('@'),
        "{}",
        done.stdout
    );
}

#[test]
fn duration_stops_the_loader_by_itself() {
    if !bpf_available() {
        return;
    }
    let loader = Loader::start(&[object("execsnoop").to_str().unwrap(), "--duration", "1s"]);
    let done = loader.finish();
    assert!(done.status.success(), "{}", done.stderr);
    assert!(done.stderr.contains("detached"), "{}", done.stderr);
}

#[test]
fn a_package_directory_runs_its_host_arch_object() {
    if !bpf_available() {
        return;
    }
    let pkg = common::probes().join("execsnoop");
    let loader = Loader::start(&[pkg.to_str().unwrap(), "--format", "json"]);
    let child = Command::new("/bin/true").spawn().unwrap();
    let pid = child.id() as u64;
    child.wait_with_output().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let done = loader.stop();
    assert!(
        done.json().iter().any(|e| e["pid"] == pid),
        "{}",
        done.stdout
    );
}

#[test]
fn unavailable_kernel_features_are_reported_by_program_with_the_reason() {
    if !bpf_available() {
        return;
    }
    let obj = object("unavailable");
    let kprobes = std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists();
    let out = common::run_loader(&["run", obj.to_str().unwrap(), "--duration", "1s"]);
    if kprobes {
        // A kernel with kprobes (e.g. a qemu guest): everything may attach.
        eprintln!("this kernel has kprobes; checked in the qemu guest tests instead");
        return;
    }
    assert!(!out.status.success(), "{}", out.stderr);
    // The pre-check's refusal: a header, then one line per program naming what is missing.
    let mut lines = out.stderr.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with("coreship-load: error:"),
        "{}",
        out.stderr
    );
    assert!(header.contains("--allow-partial"), "{header}");
    let kprobe = lines
        .find(|l| l.starts_with("  program on_kprobe (kprobe do_nanosleep): "))
        .unwrap_or_else(|| panic!("no line for on_kprobe:\n{}", out.stderr));
    assert!(kprobe.contains("CONFIG_KPROBES is off"), "{kprobe}");

    // --allow-partial runs the tracepoint and says what it skipped.
    let loader = Loader::start(&[obj.to_str().unwrap(), "--allow-partial", "--format", "json"]);
    let ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000,
    };
    for _ in 0..3 {
        // SAFETY: `ts` is valid; a NULL remainder is allowed.
        unsafe {
            libc::syscall(
                libc::SYS_nanosleep,
                &ts,
                std::ptr::null_mut::<libc::timespec>(),
            )
        };
    }
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stderr.contains("skipped program on_kprobe"),
        "{}",
        done.stderr
    );
    let counters = done.json();
    let hits = counters
        .iter()
        .find(|c| c["map"] == "hits")
        .expect("hits counter");
    let tracepoint_hits: u64 = hits["counts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["key"] == 3)
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert!(tracepoint_hits >= 3, "{hits}");
}

#[test]
fn perf_event_sampling_runs_on_the_cpus() {
    if !bpf_available() {
        return;
    }
    let loader = Loader::start(&[
        object("perf_count").to_str().unwrap(),
        "--freq",
        "199",
        "--format",
        "json",
    ]);
    // Keep one CPU busy so cpu-clock samples fire there.
    let until = std::time::Instant::now() + std::time::Duration::from_millis(500);
    let mut x = 0u64;
    while std::time::Instant::now() < until {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    std::hint::black_box(x);
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);
    let counters = done.json();
    let samples = counters
        .iter()
        .find(|c| c["map"] == "samples")
        .expect("samples");
    let total: u64 = samples["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    // 199 Hz for at least 0.5 s on the busy CPU: dozens of samples.
    assert!(total >= 20, "{samples}");
}

#[test]
fn libbpf_tools_style_objects_decode_with_an_event_type_from_the_command_line() {
    if !bpf_available() {
        return;
    }
    let obj = object("plain_events");
    let me = std::process::id() as u64;
    let getppid = || {
        for _ in 0..3 {
            // SAFETY: getppid has no preconditions.
            unsafe { libc::getppid() };
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };

    let loader = Loader::start(&[
        obj.to_str().unwrap(),
        "--event",
        "events=struct event",
        "--format",
        "json",
    ]);
    getppid();
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);
    let mine: Vec<_> = done.json().into_iter().filter(|e| e["pid"] == me).collect();
    assert!(mine.len() >= 3, "perf buffer events:\n{}", done.stdout);
    assert!(
        mine.iter()
            .all(|e| e["comm"].is_string() && e["uid"].is_u64()),
        "{mine:?}"
    );

    // Without --event the records still print (as hex), with a hint naming the option.
    let loader = Loader::start(&[obj.to_str().unwrap(), "--format", "json"]);
    getppid();
    let done = loader.stop();
    assert!(done.stderr.contains("--event events="), "{}", done.stderr);
    assert!(
        done.json()
            .iter()
            .any(|e| e["map"] == "events" && e["hex"].is_string()),
        "{}\n{}",
        done.stdout,
        done.stderr
    );

    // A type the object does not have is a one-line error naming it.
    let out = common::run_loader(&[
        "run",
        obj.to_str().unwrap(),
        "--event",
        "events=struct evnt",
    ]);
    assert!(!out.status.success());
    assert!(out.stderr.contains("struct evnt"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[test]
fn an_explicit_btf_file_is_used_for_relocation() {
    if !bpf_available() {
        return;
    }
    let dir = TempDir::new("btf");
    let btf = dir.0.join("vmlinux.btf");
    std::fs::copy("/sys/kernel/btf/vmlinux", &btf).unwrap();
    let loader = Loader::start(&[
        object("execsnoop").to_str().unwrap(),
        "--btf",
        btf.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let child = Command::new("/bin/true").spawn().unwrap();
    let pid = child.id() as u64;
    child.wait_with_output().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let done = loader.stop();
    let me = std::process::id() as u64;
    assert!(
        done.json()
            .iter()
            .any(|e| e["pid"] == pid && e["ppid"] == me),
        "{}",
        done.stdout
    );
}

#[test]
fn interval_prints_tables_repeatedly_and_sigterm_stops_cleanly() {
    if !bpf_available() {
        return;
    }
    let dir = TempDir::new("interval");
    let demo = build_demo(&dir.0);
    let target = format!("{}:print_curr_state_one", demo.display());
    let loader = Loader::start(&[
        object("ustate").to_str().unwrap(),
        "--uprobe",
        &target,
        "--interval",
        "300ms",
        "--format",
        "json",
    ]);
    Command::new(&demo).args(["5", "1000"]).output().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(loader.pid(), libc::SIGTERM) };
    let done = loader.finish();
    assert!(done.status.success(), "{}", done.stderr);
    assert!(done.stderr.contains("detached"), "{}", done.stderr);
    let hists = done
        .json()
        .into_iter()
        .filter(|e| e["map"] == "latency_ns")
        .count();
    // At least two interval prints in one second, plus the one at exit.
    assert!(hists >= 3, "{hists} histogram prints:\n{}", done.stdout);
}

#[test]
fn per_cpu_counters_are_summed_exactly_under_concurrent_updates() {
    if !bpf_available() {
        return;
    }
    let loader = Loader::start(&[object("percpu_exact").to_str().unwrap(), "--format", "json"]);
    const THREADS: u64 = 4;
    const CALLS: u64 = 25_000;
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..CALLS {
                    // SAFETY: getppid has no preconditions.
                    unsafe { libc::syscall(libc::SYS_getppid) };
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);
    let me = std::process::id() as u64;
    let json = done.json();
    let calls = json
        .iter()
        .find(|c| c["map"] == "calls")
        .expect("calls counter");
    let mine: u64 = calls["counts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["key"] == me)
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(mine, THREADS * CALLS, "{calls}");
}

#[test]
fn optional_programs_the_kernel_lacks_are_skipped_without_allow_partial() {
    if !bpf_available() {
        return;
    }
    let loader = Loader::start(&[object("optional").to_str().unwrap(), "--format", "json"]);
    // SAFETY: getppid has no preconditions.
    unsafe { libc::getppid() };
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stderr.contains("skipped program on_missing__optional"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("attached on_getppid"),
        "{}",
        done.stderr
    );
}
