//! The loader as a library: probes loaded from bytes in this process, their events and
//! counters read as data (no printer, no `coreship-load` binary).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{bpf_available, object};
use coreship_loader::{Plain, Probe, Record, Value};

/// `struct exec_event` of bpf/execsnoop.h, as an application would mirror it.
#[repr(C)]
#[derive(Clone, Copy)]
struct ExecEvent {
    ts: u64,
    pid: u32,
    ppid: u32,
    uid: u32,
    comm: [u8; 16],
    filename: [u8; 256],
}
// SAFETY: repr(C) with integer and byte-array fields only: every bit pattern is valid.
unsafe impl Plain for ExecEvent {}

#[test]
fn execsnoop_from_bytes_delivers_the_exec_of_a_child_as_a_value() {
    if !bpf_available() {
        return;
    }
    let bytes = std::fs::read(object("execsnoop")).unwrap();
    let mut probe = Probe::from_bytes(&bytes)
        .unwrap()
        .name("execsnoop")
        .load()
        .unwrap();
    assert_eq!(probe.attached(), ["handle_exec"]);

    let mut child = Command::new("/bin/true").spawn().unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success());

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = 0;
    let record: Record = loop {
        assert!(
            Instant::now() < deadline,
            "no exec event for pid {pid} in 10 s ({seen} other events)"
        );
        probe.poll(Duration::from_millis(100));
        let events = probe.events("events").unwrap();
        seen += events.len();
        if let Some(r) = events
            .into_iter()
            .find(|r| r.value().unwrap().field("pid") == Some(&Value::Uint(pid.into())))
        {
            break r;
        }
    };
    let value = record.value().unwrap();
    assert_eq!(value.field("comm"), Some(&Value::Str("true".into())));
    assert_eq!(
        value.field("ppid"),
        Some(&Value::Uint(std::process::id().into()))
    );
    assert_eq!(
        value.field("filename"),
        Some(&Value::Str("/bin/true".into()))
    );

    let raw: ExecEvent = record.decode_as().unwrap();
    assert_eq!((raw.pid, raw.ppid), (pid, std::process::id()));
    assert_eq!(&raw.comm[..5], b"true\0");
    assert!(record.decode_as::<u64>().is_err(), "size is checked");

    let err = probe.events("nope").unwrap_err().to_string();
    assert!(err.contains("events maps: events"), "{err}");
    let err = probe.counters("events").unwrap_err().to_string();
    assert!(err.contains("no counter map"), "{err}");
}

#[test]
fn per_cpu_counters_read_as_data() {
    if !bpf_available() {
        return;
    }
    let probe = Probe::from_path(object("percpu_exact"))
        .unwrap()
        .load()
        .unwrap();
    const THREADS: u64 = 4;
    const CALLS: u64 = 5_000;
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
    let counts = probe.counters("calls").unwrap();
    let me = Value::Uint(std::process::id().into());
    let mine: u64 = counts
        .iter()
        .filter(|(k, _)| *k == me)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(mine, THREADS * CALLS, "{counts:?}");
    assert!(
        counts.windows(2).all(|w| w[0].1 >= w[1].1),
        "largest first: {counts:?}"
    );
    assert!(probe.hist("calls").is_err(), "a counter is not a histogram");
}
