//! qemu guests for the other-kernel and other-arch tests. The initramfs and the qemu command
//! line come from `examples/embedded-vm/vm.sh`, the script the embedded-vm demo runs, so the test
//! proves what a user runs; this module builds the probes, checks the tools, boots a guest with a
//! deadline (qemu is killed on drop) and parses the markers `examples/embedded-vm/init.sh` prints.

use super::{bin, can_run, project_script, root};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const VM_SH: &str = "examples/embedded-vm/vm.sh";

/// The probes the guests run, in order; the workload does something each of them sees.
pub const PROBES: [&str; 5] = ["execsnoop", "opensnoop", "ustate", "ksleep", "tcpsend"];

/// Whether a guest of `arch` can be built and booted here. When it cannot, prints why and
/// returns false, unless CORESHIP_REQUIRE_VM=1 (set by CI), in which case the test fails.
pub fn vm_available(arch: &str) -> bool {
    let mut missing = Vec::new();
    let qemu = match arch {
        "x86_64" => "qemu-system-x86_64",
        _ => "qemu-system-aarch64",
    };
    for tool in [qemu, "cpio", "apt-get", "dpkg", "gzip"] {
        if super::which(tool).is_none() {
            missing.push(format!("no {tool}"));
        }
    }
    if super::which("clang-19").is_none() && super::which("clang").is_none() {
        missing.push("no clang (the probes are built on this host)".into());
    }
    match arch {
        "x86_64" => {
            if !installed("busybox-static") {
                missing.push("busybox-static is not installed".into());
            }
            if super::which("musl-gcc").is_none() {
                missing.push("no musl-gcc".into());
            }
        }
        _ => {
            let foreign = Command::new("dpkg")
                .arg("--print-foreign-architectures")
                .output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .any(|l| l == "arm64")
                })
                .unwrap_or(false);
            if !foreign {
                missing.push("apt has no arm64 packages".into());
            }
            if super::which("aarch64-linux-gnu-gcc").is_none() {
                missing.push("no aarch64-linux-gnu-gcc".into());
            }
            if !Path::new("/usr/lib/aarch64-linux-musl/musl-gcc.specs").exists() {
                missing.push("no arm64 musl (musl-dev:arm64)".into());
            }
        }
    }
    if !missing.is_empty() {
        missing.push("examples/setup-host.sh --tests installs them".into());
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("not root (the initramfs needs a /dev/console node)".to_string());
    }
    can_run(
        &format!("qemu guest tests ({arch})"),
        "CORESHIP_REQUIRE_VM",
        &missing,
    )
}

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// Runs `examples/embedded-vm/vm.sh ARGS…` and returns the path it printed last.
pub fn vm_sh(args: &[&str]) -> PathBuf {
    let out = project_script(VM_SH).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "vm.sh {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    PathBuf::from(stdout.lines().last().expect("vm.sh printed nothing"))
}

/// [`PROBES`] built once on this host (its 6.18 BTF) for x86_64 and aarch64: the output dir
/// holding `<name>/package.json` and `<name>/<arch>/<name>.bpf.o`.
pub fn probes() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm-probes");
        let sources = PROBES.map(|p| root().join(format!("bpf/{p}.bpf.c")));
        let output = Command::new(bin("coreship"))
            .args(["build", "--arch", "x86_64,aarch64", "--out"])
            .arg(&out)
            .args(&sources)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "coreship build failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        out
    })
}

/// A running guest: `vm.sh boot` execs qemu, so this child is qemu itself.
struct Guest(Child);

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a guest printed on its serial console, and how long qemu ran.
pub struct Console {
    pub text: String,
    pub elapsed: Duration,
}

/// Boots `initramfs` on `arch` with `params` on the kernel command line and waits (at most
/// `timeout`) for the guest to power off. One guest at a time: two TCG guests on this
/// machine's two cores would only slow each other down (and skew the measured time).
pub fn boot(arch: &str, initramfs: &Path, params: &[String], timeout: Duration) -> Console {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // The kernel is fetched before the clock starts: boot time is qemu's.
    vm_sh(&["kernel", arch]);
    let start = Instant::now();
    let child = project_script(VM_SH)
        .args(["boot", arch])
        .arg(initramfs)
        .args(params)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guest = Guest(child);
    let (tx, rx) = mpsc::channel();
    let mut stdout = guest.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stdout.read_to_end(&mut all);
        let _ = tx.send(all);
    });
    let status = loop {
        if let Some(status) = guest.0.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = guest.0.kill();
            let text = rx
                .recv_timeout(Duration::from_secs(5))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            panic!("the {arch} guest did not power off within {timeout:?}; console:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = start.elapsed();
    let text = String::from_utf8_lossy(&rx.recv_timeout(Duration::from_secs(5)).unwrap())
        .replace('\r', "");
    let mut stderr = String::new();
    let _ = guest.0.stderr.take().unwrap().read_to_string(&mut stderr);
    assert!(
        status.success(),
        "qemu for {arch} exited with {status}:\n{stderr}\nconsole:\n{text}"
    );
    Console { text, elapsed }
}

/// One probe's run in the guest, as `init.sh` printed it.
pub struct ProbeRun {
    pub name: String,
    pub rc: i32,
    /// The workload's JSON line (what it did, with its pid).
    pub workload: serde_json::Value,
    pub stdout: Vec<String>,
    pub stderr: String,
}

impl ProbeRun {
    /// The loader's stdout lines as JSON objects (`--format json`).
    pub fn json(&self) -> Vec<serde_json::Value> {
        self.stdout
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The programs the loader said it attached.
    pub fn attached(&self) -> Vec<String> {
        let line = self
            .stderr
            .lines()
            .find_map(|l| l.split_once(": attached ").map(|(_, rest)| rest))
            .unwrap_or_else(|| panic!("{}: no `attached` line:\n{}", self.name, self.stderr));
        let list = line.split_once(';').map_or(line, |(list, _)| list);
        let mut names: Vec<String> = list.split(", ").map(str::to_string).collect();
        names.sort();
        names
    }

    /// The workload's integer field `key`.
    pub fn work(&self, key: &str) -> u64 {
        self.workload["workload"][key]
            .as_u64()
            .unwrap_or_else(|| panic!("workload has no {key}: {}", self.workload))
    }
}

impl Console {
    /// The runs between `@@ coreship-vm: begin NAME` and `@@ coreship-vm: end NAME rc=N …`.
    /// Markers are found anywhere in a line: firmware escape sequences can precede the first.
    pub fn runs(&self) -> Vec<ProbeRun> {
        let mut runs = Vec::new();
        let mut current: Option<ProbeRun> = None;
        let mut section = "";
        for line in self.text.lines() {
            let marker = line.find("@@ ").map(|i| &line[i + 3..]);
            if let Some(name) = marker.and_then(|m| m.strip_prefix("coreship-vm: begin ")) {
                current = Some(ProbeRun {
                    name: name.trim().to_string(),
                    rc: -1,
                    workload: serde_json::Value::Null,
                    stdout: Vec::new(),
                    stderr: String::new(),
                });
                section = "";
                continue;
            }
            let Some(run) = current.as_mut() else {
                continue;
            };
            match marker {
                Some(m) if m.starts_with("coreship-vm: end ") => {
                    run.rc = m
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("rc="))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(-1);
                    runs.extend(current.take());
                }
                Some(m @ ("workload" | "stdout" | "stderr")) => section = m,
                Some(_) => {}
                None => match section {
                    "workload" if line.starts_with("{\"workload\"") => {
                        run.workload = serde_json::from_str(line).unwrap();
                    }
                    "stdout" => run.stdout.push(line.to_string()),
                    "stderr" => {
                        run.stderr.push_str(line);
                        run.stderr.push('\n');
                    }
                    _ => {}
                },
            }
        }
        runs
    }

    /// Guest uptime (s) at `@@ coreship-vm: up` and at `@@ coreship-vm: done`.
    pub fn uptimes(&self) -> (f64, f64) {
        let at = |tag: &str| {
            self.text
                .lines()
                .find_map(|l| l.split_once(&format!("@@ coreship-vm: {tag} ")))
                .and_then(|(_, rest)| rest.split('s').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(f64::NAN)
        };
        (at("up"), at("done"))
    }
}
