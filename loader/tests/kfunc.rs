//! Kernel-function probes (ksleep, tcpsend) and the choice between their alternatives
//! (`BASE__KIND`: fentry/fexit preferred, kprobe/kretprobe as fallback) at load time.
//!
//! On a kernel that offers neither trampolines nor kprobes (this project's 6.18 host) the
//! probes must fail with one line naming each group and each alternative's reason; on a
//! kernel that offers either (the qemu guests of the embedded issue) they must show real
//! calls. The fallback itself is tested everywhere with `bpf/tests/alternatives.bpf.c`,
//! whose last alternatives are tracepoints.

mod common;

use common::{bpf_available, object, run_loader, Loader};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::time::Duration;

/// Whether this kernel can create kprobes (as `loader/tests/run.rs` checks).
fn kernel_has_kprobes() -> bool {
    std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists()
}

/// Whether this kernel loads and attaches an fentry program on `do_nanosleep`: `Err(errno)`
/// of the step it refused otherwise. A real trampoline, made with libbpf's low-level API so
/// the check does not depend on the loader under test.
fn kernel_allows_fentry() -> Result<(), i32> {
    let errno = || std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    // SAFETY: libbpf returns an owned BTF object or NULL (with errno set).
    let btf = unsafe { libbpf_sys::btf__load_vmlinux_btf() };
    if btf.is_null() {
        return Err(errno());
    }
    // SAFETY: `btf` is valid and the name is a NUL-terminated string.
    let id = unsafe {
        libbpf_sys::btf__find_by_name_kind(btf, c"do_nanosleep".as_ptr(), libbpf_sys::BTF_KIND_FUNC)
    };
    // SAFETY: `btf` came from btf__load_vmlinux_btf and is not used afterwards.
    unsafe { libbpf_sys::btf__free(btf) };
    if id < 0 {
        return Err(-id);
    }
    // r0 = 0; exit
    // SAFETY: bpf_insn is plain data; all-zero is a valid value.
    let mut insns: [libbpf_sys::bpf_insn; 2] = unsafe { std::mem::zeroed() };
    insns[0].code = (libbpf_sys::BPF_ALU64 | libbpf_sys::BPF_MOV | libbpf_sys::BPF_K) as u8;
    insns[1].code = (libbpf_sys::BPF_JMP | libbpf_sys::BPF_EXIT) as u8;
    // SAFETY: plain data; zero is the documented default of every option.
    let mut opts: libbpf_sys::bpf_prog_load_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _;
    opts.expected_attach_type = libbpf_sys::BPF_TRACE_FENTRY;
    opts.attach_btf_id = id as u32;
    // SAFETY: every pointer is valid for the call; the program is two instructions long.
    let prog = unsafe {
        libbpf_sys::bpf_prog_load(
            libbpf_sys::BPF_PROG_TYPE_TRACING,
            std::ptr::null(),
            c"GPL".as_ptr(),
            insns.as_ptr(),
            insns.len() as _,
            &mut opts,
        )
    };
    if prog < 0 {
        return Err(errno());
    }
    // SAFETY: `prog` is a program fd we own; NULL options are allowed.
    let link = unsafe {
        libbpf_sys::bpf_link_create(prog, 0, libbpf_sys::BPF_TRACE_FENTRY, std::ptr::null())
    };
    let result = if link < 0 { Err(errno()) } else { Ok(()) };
    // SAFETY: both fds are ours and closed once.
    unsafe {
        if link >= 0 {
            libc::close(link);
        }
        libc::close(prog);
    }
    result
}

/// nanosleep(2) itself (not clock_nanosleep, which std and coreutils use).
fn nanosleep(ns: i64) -> i64 {
    let ts = libc::timespec {
        tv_sec: ns / 1_000_000_000,
        tv_nsec: ns % 1_000_000_000,
    };
    // SAFETY: `ts` is valid for the call; a NULL remainder is allowed.
    unsafe {
        libc::syscall(
            libc::SYS_nanosleep,
            &ts,
            std::ptr::null_mut::<libc::timespec>(),
        )
    }
}

fn gettid() -> u64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) as u64 }
}

/// The probe fails with one error line naming both groups and each alternative's reason;
/// `--allow-partial` changes nothing when no other program can attach.
fn assert_groups_unavailable(probe: &str, groups: [(&str, &str, &str); 2], fentry_errno: i32) {
    eprintln!(
        "this kernel has no kprobes and refuses fentry ({}): checking the report",
        std::io::Error::from_raw_os_error(fentry_errno)
    );
    let obj = object(probe);
    let out = run_loader(&["run", obj.to_str().unwrap(), "--duration", "1s"]);
    assert!(!out.status.success(), "{}", out.stderr);
    // The pre-check's refusal: a header, then one line per group.
    assert_eq!(out.stderr.lines().count(), 3, "{}", out.stderr);
    let line = out.stderr.trim_end();
    assert!(line.starts_with("coreship-load: error:"), "{line}");
    for (group, tramp, classic) in groups {
        // Reports are joined with "; program group ": one segment per group.
        let report = line
            .split("program group ")
            .find(|r| r.starts_with(&format!("{group}: ")))
            .unwrap_or_else(|| panic!("no report for group {group}: {line}"));
        let prefix = format!("{group}: not available on this kernel ({tramp}: ");
        assert!(report.starts_with(&prefix), "{report}");
        assert!(
            report.contains(&format!(
                "; {classic}: CONFIG_KPROBES is off in this kernel)"
            )),
            "{report}"
        );
        if fentry_errno == libc::EPERM {
            assert!(
                report.contains(&format!(
                    "({tramp}: the kernel refused BPF trampolines (EPERM); "
                )),
                "{report}"
            );
        }
    }

    let out = run_loader(&[
        "run",
        obj.to_str().unwrap(),
        "--allow-partial",
        "--duration",
        "1s",
    ]);
    assert!(!out.status.success(), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("coreship-load: error: no program attached: program group"),
        "{}",
        out.stderr
    );
    for (group, _, _) in groups {
        assert!(out.stderr.contains(group), "{}", out.stderr);
    }
}

/// The alternative the loader must pick for an entry/exit pair on this kernel.
fn expected_alternatives(base: &str, fentry: bool) -> [String; 2] {
    let (enter, exit) = if fentry {
        ("fentry", "fexit")
    } else {
        ("kprobe", "kretprobe")
    };
    [
        format!("{base}_enter__{enter}"),
        format!("{base}_exit__{exit}"),
    ]
}

/// The programs the loader said it attached.
fn attached(stderr: &str) -> BTreeSet<String> {
    let line = stderr
        .lines()
        .find_map(|l| l.split_once(": attached ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no `attached` line:\n{stderr}"));
    let list = line.split_once(';').map_or(line, |(list, _)| list);
    list.split(", ").map(str::to_string).collect()
}

#[test]
fn ksleep_shows_mode_return_value_and_latency_or_says_why_it_cannot() {
    if !bpf_available() {
        return;
    }
    let fentry = kernel_allows_fentry();
    if let (false, Err(errno)) = (kernel_has_kprobes(), fentry) {
        assert_groups_unavailable(
            "ksleep",
            [
                ("nanosleep_enter", "fentry", "kprobe"),
                ("nanosleep_exit", "fexit", "kretprobe"),
            ],
            errno,
        );
        return;
    }

    // A kernel with trampolines or kprobes (the qemu guests): real calls.
    let loader = Loader::start(&[object("ksleep").to_str().unwrap(), "--format", "json"]);
    let tid = gettid();
    for _ in 0..3 {
        assert_eq!(nanosleep(10_000_000), 0);
    }
    std::thread::sleep(Duration::from_millis(200));
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(
        attached(&done.stderr),
        BTreeSet::from(expected_alternatives("nanosleep", fentry.is_ok())),
        "{}",
        done.stderr
    );
    let json = done.json();
    let mine: Vec<_> = json
        .iter()
        .filter(|e| e["tid"] == tid && e.get("latency_ns").is_some())
        .collect();
    assert_eq!(mine.len(), 3, "my sleeps:\n{}", done.stdout);
    let me = std::process::id() as u64;
    for e in &mine {
        assert_eq!(e["mode"], "HRTIMER_MODE_REL", "{e}");
        assert_eq!(e["ret"], 0, "{e}");
        assert_eq!(e["pid"], me, "{e}");
        assert!(e["comm"].is_string(), "{e}");
        let ns = e["latency_ns"].as_u64().unwrap();
        assert!((10_000_000..2_000_000_000).contains(&ns), "{e}");
    }
    let hist = json
        .iter()
        .find(|e| e["map"] == "latency_ns")
        .unwrap_or_else(|| panic!("no latency histogram:\n{}", done.stdout));
    assert!(hist.to_string().contains("HRTIMER_MODE_REL"), "{hist}");
}

#[test]
fn tcpsend_shows_sizes_or_says_why_it_cannot() {
    if !bpf_available() {
        return;
    }
    let fentry = kernel_allows_fentry();
    if let (false, Err(errno)) = (kernel_has_kprobes(), fentry) {
        assert_groups_unavailable(
            "tcpsend",
            [
                ("tcp_sendmsg_enter", "fentry", "kprobe"),
                ("tcp_sendmsg_exit", "fexit", "kretprobe"),
            ],
            errno,
        );
        return;
    }

    // A loopback connection; a guest without `lo` up cannot make one.
    let listener = match std::net::TcpListener::bind("127.0.0.1:0") {
        Ok(l) => l,
        Err(e) => {
            eprintln!("skipping the tcpsend events: no loopback TCP here ({e})");
            return;
        }
    };
    let addr = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        all.len()
    });
    let loader = Loader::start(&[object("tcpsend").to_str().unwrap(), "--format", "json"]);
    let tid = gettid();
    let sizes: Vec<usize> = (0x30..=0x70).step_by(0x10).collect();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    for &n in &sizes {
        stream.write_all(&vec![b'x'; n]).unwrap();
    }
    drop(stream);
    assert_eq!(reader.join().unwrap(), sizes.iter().sum::<usize>());
    std::thread::sleep(Duration::from_millis(200));
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(
        attached(&done.stderr),
        BTreeSet::from(expected_alternatives("tcp_sendmsg", fentry.is_ok())),
        "{}",
        done.stderr
    );
    let json = done.json();
    let mine: Vec<_> = json
        .iter()
        .filter(|e| e["tid"] == tid && e.get("size").is_some())
        .collect();
    let seen: BTreeSet<u64> = mine.iter().map(|e| e["size"].as_u64().unwrap()).collect();
    let want: BTreeSet<u64> = sizes.iter().map(|&n| n as u64).collect();
    assert_eq!(seen, want, "my sends:\n{}", done.stdout);
    for e in &mine {
        assert_eq!(e["ret"], e["size"], "{e}");
    }
    let (hist, total) = done.hist_total("size_bytes");
    assert!(total >= sizes.len() as u64, "{hist}");
}

#[test]
fn a_group_falls_back_when_its_preferred_alternative_fails_to_load_or_attach() {
    if !bpf_available() {
        return;
    }
    let fentry = kernel_allows_fentry().is_ok();
    let kprobes = kernel_has_kprobes();
    let obj = object("alternatives");
    let loader = Loader::start(&[obj.to_str().unwrap(), "--format", "json"]);
    for _ in 0..3 {
        assert_eq!(nanosleep(1_000_000), 0);
    }
    std::thread::sleep(Duration::from_millis(200));
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);
    // Falling back is not a failure: nothing is reported as skipped.
    assert!(!done.stderr.contains("skipped"), "{}", done.stderr);

    // sleep_enter: fentry where trampolines load, else the tracepoint (a load-time
    // fallback); sleep_exit: kretprobe where kprobes exist, else the tracepoint (an
    // attach-time fallback, which needs the object loaded again).
    let (enter, enter_key) = if fentry {
        ("sleep_enter__fentry", 1)
    } else {
        ("sleep_enter__tp", 2)
    };
    let (exit, exit_key) = if kprobes {
        ("sleep_exit__kretprobe", 3)
    } else {
        ("sleep_exit__tp", 4)
    };
    assert_eq!(
        attached(&done.stderr),
        BTreeSet::from([enter.to_string(), exit.to_string()]),
        "{}",
        done.stderr
    );
    let json = done.json();
    let hits = json
        .iter()
        .find(|c| c["map"] == "hits")
        .unwrap_or_else(|| panic!("no hits counter:\n{}", done.stdout));
    let count = |key: u64| -> u64 {
        hits["counts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["key"] == key)
            .map(|c| c["count"].as_u64().unwrap())
            .sum()
    };
    assert!(count(enter_key) >= 3, "{hits}");
    assert!(count(exit_key) >= 3, "{hits}");
    let keys: BTreeSet<u64> = hits["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_u64().unwrap())
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([enter_key, exit_key]),
        "only the chosen alternatives ran: {hits}"
    );
}
