//! Compile once, run on another kernel and another arch: probes built on this host (6.18 BTF)
//! are pushed to the real `coreship-registry` on 127.0.0.1; a qemu guest (TCG) booting Debian's
//! 6.1 cloud kernel with a busybox initramfs (examples/embedded-vm: busybox, the static musl
//! `coreship-load`, a static workload, virtio-net) pulls them over qemu's user network and runs
//! each while the workload runs. The events must be the workload's: exec with the right parent
//! (task_struct offsets differ on 6.1), the file it opened, its uprobe calls, do_nanosleep's
//! mode and return value from whichever of fentry/fexit and kprobe/kretprobe the guest allows
//! (this host allows neither, see kfunc.rs), and its TCP send sizes.
//!
//! Needs root, qemu, cpio, busybox-static, musl-tools (aarch64: gcc-aarch64-linux-gnu and
//! musl-dev:arm64); skips with the reason otherwise, fails instead when CORESHIP_REQUIRE_VM=1.
//! Downloads Debian's kernel (and arm64 busybox) once into target/tmp/embedded-vm.

mod common;

use common::registries::{Registry, TOKEN};
use common::vm::{self, vm_available, Console, ProbeRun, PROBES};
use common::{ok, run_bin};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// A signing key made by the real `coreship keygen`: (secret key path, public key base64 line).
/// One per guest arch: the two tests run at once and must not share (or delete) a key.
fn signing_key(arch: &str) -> (std::path::PathBuf, String) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("vm-keys-{arch}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("device.key");
    ok(&run_bin(
        "coreship",
        &["keygen", "-o", secret.to_str().unwrap()],
        &[],
    ));
    let public = std::fs::read_to_string(dir.join("device.pub")).unwrap();
    let line = public.lines().nth(1).unwrap().trim().to_string();
    (secret, line)
}

/// Pushes package directory `pkg` to `REGISTRY/probes/TAG`, signed with `key`.
fn push_signed(registry: &Registry, pkg: &Path, tag: &str, key: &Path) {
    let reference = format!("{}/probes/{tag}", registry.host);
    let args = [
        "push",
        pkg.to_str().unwrap(),
        &reference,
        "--sign",
        key.to_str().unwrap(),
    ];
    ok(&run_bin(
        "coreship",
        &args,
        &[("CORESHIP_REGISTRY_TOKEN", Path::new(TOKEN))],
    ));
}

/// Pushes [`PROBES`] (both arches in one artifact each, signed with `key`) and returns
/// `NAME:VERSION` refs.
fn push_probes(registry: &Registry, key: &Path) -> Vec<String> {
    let dir = vm::probes();
    PROBES
        .iter()
        .map(|name| {
            let pkg = dir.join(name);
            let json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(pkg.join("package.json")).unwrap()).unwrap();
            let tag = format!("{name}:{}", json["version"].as_str().unwrap());
            push_signed(registry, &pkg, &tag, key);
            tag
        })
        .collect()
}

/// The key a device without os-release gets for the x86_64 guest kernel, and its BTF (the
/// kernel's vmlinux, unpacked from its bzImage by vm.sh).
fn guest_kernel_btf() -> (String, std::path::PathBuf) {
    let vmlinux = vm::vm_sh(&["btf", "x86_64"]);
    let name = vmlinux.file_name().unwrap().to_string_lossy().into_owned();
    let release = name.strip_prefix("vmlinux-").unwrap().to_string();
    (format!("linux/none/x86_64/{release}"), vmlinux)
}

/// execsnoop built with minimal BTF for the guest kernel only, pushed as `execsnoop-minbtf`
/// (the guest runs it with --ignore-kernel-btf, as on a kernel built without BTF).
fn push_min_btf_probe(registry: &Registry, key: &str, vmlinux: &Path, signing: &Path) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm-min-btf");
    let _ = std::fs::remove_dir_all(&dir);
    let kernels = dir.join("kernels");
    let input = kernels.join(format!("{key}.btf"));
    std::fs::create_dir_all(input.parent().unwrap()).unwrap();
    std::fs::copy(vmlinux, &input).unwrap();
    let out = dir.join("out");
    let source = common::root().join("bpf/execsnoop.bpf.c");
    ok(&run_bin(
        "coreship",
        &[
            "build",
            source.to_str().unwrap(),
            "--arch",
            "x86_64",
            "--out",
            out.to_str().unwrap(),
            "--min-btf",
            kernels.to_str().unwrap(),
        ],
        &[],
    ));
    let tag = "execsnoop-minbtf:0.0.0".to_string();
    push_signed(registry, &out.join("execsnoop"), &tag, signing);
    tag
}

/// Builds the `arch` initramfs, pushes the probes, boots and returns the console.
fn run_guest(arch: &str, timeout: Duration, min_btf: Option<(&str, &Path)>) -> Console {
    let initramfs = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("vm-{arch}.cpio.gz"));
    vm::vm_sh(&["initramfs", arch, initramfs.to_str().unwrap()]);
    let registry = Registry::coreship(&format!("vm-registry-{arch}"));
    let (secret, public) = signing_key(arch);
    let mut refs = push_probes(&registry, &secret);
    if let Some((key, vmlinux)) = min_btf {
        refs.push(push_min_btf_probe(&registry, key, vmlinux, &secret));
    }
    let port = registry.host.rsplit_once(':').unwrap().1;
    let console = vm::boot(
        arch,
        &initramfs,
        &[
            // qemu's user network: the host's 127.0.0.1 is 10.0.2.2 in the guest.
            format!("coreship.registry=10.0.2.2:{port}/probes"),
            format!("coreship.probes={}", refs.join(",")),
            // An upper bound: init.sh stops each probe once the workload has run, so a guest
            // slowed by a busy host still sees every event.
            "coreship.duration=60s".into(),
            // Every probe must be signed by this key (the guest runs them with --trust).
            format!("coreship.trust={public}"),
        ],
        timeout,
    );
    let (up, done) = console.uptimes();
    let saved = initramfs.with_extension("console.txt");
    std::fs::write(&saved, &console.text).unwrap();
    eprintln!(
        "{arch} guest: qemu ran {:.1} s (guest uptime {up:.1} s at /init, {done:.1} s when done); console in {}",
        console.elapsed.as_secs_f64(),
        saved.display()
    );
    console
}

/// The run of `name`, which pulled from the registry, attached and exited 0.
fn run_of<'a>(runs: &'a [ProbeRun], name: &str, console: &Console) -> &'a ProbeRun {
    let run = runs
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no run of {name}; console:\n{}", console.text));
    assert_eq!(run.rc, 0, "{name} failed in the guest:\n{}", run.stderr);
    // Pulled with --trust: the signature was checked on the device before loading.
    assert!(
        run.stderr.contains("signed by key"),
        "{name}: no verified signature:\n{}",
        run.stderr
    );
    assert!(
        run.workload.is_object(),
        "{name}: no workload line:\n{}",
        console.text
    );
    run
}

fn check_execsnoop(run: &ProbeRun) {
    let (pid, child) = (run.work("pid"), run.work("exec_child"));
    let json = run.json();
    let exec = json
        .iter()
        .find(|e| e["pid"] == child)
        .unwrap_or_else(|| panic!("no exec of pid {child}:\n{}", run.stdout.join("\n")));
    assert_eq!(exec["filename"], "/bin/true", "{exec}");
    // task->real_parent->tgid, CO-RE relocated from the 6.18 layout to the guest's.
    assert_eq!(exec["ppid"], pid, "{exec}");
    assert_eq!(exec["comm"], "true", "{exec}");
}

fn check_opensnoop(run: &ProbeRun) {
    let pid = run.work("pid");
    let file = run.workload["workload"]["file"].as_str().unwrap();
    let json = run.json();
    let opens: Vec<_> = json
        .iter()
        .filter(|e| e["pid"] == pid && e["filename"] == file)
        .collect();
    assert_eq!(
        opens.len(),
        1,
        "opens of {file}:\n{}",
        run.stdout.join("\n")
    );
    assert_eq!(opens[0]["ret"], run.work("fd"), "{}", opens[0]);
    assert_eq!(opens[0]["comm"], "coreship-worklo", "{}", opens[0]);
}

fn check_ustate(run: &ProbeRun) {
    let pid = run.work("pid");
    let json = run.json();
    let calls = json
        .iter()
        .filter(|e| e["pid"] == pid && e.get("latency_ns").is_some())
        .count() as u64;
    assert_eq!(
        calls,
        run.work("calls"),
        "uprobe calls:\n{}",
        run.stdout.join("\n")
    );
}

/// Returns the attach type the guest chose (`fentry/fexit` or `kprobe/kretprobe`).
fn check_ksleep(run: &ProbeRun) -> &'static str {
    let chosen = kind_of(run, "nanosleep");
    let pid = run.work("pid");
    let json = run.json();
    let sleeps: Vec<_> = json
        .iter()
        .filter(|e| e["pid"] == pid && e.get("latency_ns").is_some())
        .collect();
    assert_eq!(
        sleeps.len(),
        4,
        "the workload's sleeps:\n{}",
        run.stdout.join("\n")
    );
    for e in &sleeps {
        assert_eq!(e["mode"], "HRTIMER_MODE_REL", "{e}");
    }
    // Three full 10 ms sleeps return 0; the fourth, cut short by SIGALRM, returns
    // -ERESTART_RESTARTBLOCK (the kernel's, not the -EINTR user space sees).
    let rets: Vec<i64> = sleeps.iter().map(|e| e["ret"].as_i64().unwrap()).collect();
    assert_eq!(rets, [0, 0, 0, -516], "{}", run.stdout.join("\n"));
    for e in &sleeps[..3] {
        let ns = e["latency_ns"].as_u64().unwrap();
        assert!((10_000_000..2_000_000_000).contains(&ns), "{e}");
    }
    chosen
}

fn check_tcpsend(run: &ProbeRun) -> &'static str {
    let chosen = kind_of(run, "tcp_sendmsg");
    let pid = run.work("pid");
    let want: BTreeSet<u64> = run.workload["workload"]["tcp_sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert_eq!(want.len(), 5, "{}", run.workload);
    let json = run.json();
    let sends: Vec<_> = json
        .iter()
        .filter(|e| e["pid"] == pid && e.get("size").is_some())
        .collect();
    let seen: BTreeSet<u64> = sends.iter().map(|e| e["size"].as_u64().unwrap()).collect();
    assert_eq!(seen, want, "{}", run.stdout.join("\n"));
    for e in &sends {
        assert_eq!(e["ret"], e["size"], "{e}");
    }
    chosen
}

/// Which alternative pair of `BASE_enter`/`BASE_exit` the loader attached.
fn kind_of(run: &ProbeRun, base: &str) -> &'static str {
    let attached = run.attached();
    let pair = |enter: &str, exit: &str| {
        vec![
            format!("{base}_enter__{enter}"),
            format!("{base}_exit__{exit}"),
        ]
    };
    if attached == pair("fentry", "fexit") {
        "fentry/fexit"
    } else if attached == pair("kprobe", "kretprobe") {
        "kprobe/kretprobe"
    } else {
        panic!("{}: attached {attached:?}", run.name)
    }
}

/// Every probe gives the workload's events; returns the attach types of ksleep and tcpsend.
fn check_all(console: &Console) -> (&'static str, &'static str) {
    let runs = console.runs();
    check_execsnoop(run_of(&runs, "execsnoop", console));
    check_opensnoop(run_of(&runs, "opensnoop", console));
    check_ustate(run_of(&runs, "ustate", console));
    let ksleep = check_ksleep(run_of(&runs, "ksleep", console));
    let tcpsend = check_tcpsend(run_of(&runs, "tcpsend", console));
    (ksleep, tcpsend)
}

#[test]
fn x86_64_guest_on_linux_6_1_pulls_the_host_built_probes_and_sees_the_workload() {
    if !vm_available("x86_64") {
        return;
    }
    let (key, vmlinux) = guest_kernel_btf();
    let console = run_guest("x86_64", Duration::from_secs(120), Some((&key, &vmlinux)));
    let (ksleep, tcpsend) = check_all(&console);
    // The same exec events through the shipped minimal BTF instead of the kernel's.
    let runs = console.runs();
    let min_btf = run_of(&runs, "execsnoop-minbtf", &console);
    assert!(
        min_btf.stderr.contains(&format!(
            "relocated against the minimal BTF shipped for {key}"
        )),
        "{}",
        min_btf.stderr
    );
    check_execsnoop(min_btf);
    eprintln!("x86_64 guest: ksleep attached {ksleep}, tcpsend {tcpsend}");
}

#[test]
fn aarch64_guest_on_linux_6_1_runs_the_same_artifacts_arm64_objects() {
    if !vm_available("aarch64") {
        return;
    }
    let console = run_guest("aarch64", Duration::from_secs(240), None);
    assert!(
        console.text.contains(" aarch64 6.1."),
        "not an arm64 6.1 guest:\n{}",
        console.text
    );
    // arm64 6.1 has no ftrace direct calls (arm64 gained them in 6.4), so kfunc probes fall
    // back to kprobes there: then the right `mode` and `size` also prove the loader picked the
    // artifact's arm64 object, whose PT_REGS arguments are arm64's registers.
    let (ksleep, tcpsend) = check_all(&console);
    eprintln!("aarch64 guest: ksleep attached {ksleep}, tcpsend {tcpsend}");
}
