//! Shared helpers for the loader's end-to-end tests: they run the real `coreship` and
//! `coreship-load` binaries against the running kernel.
#![allow(dead_code)]

pub mod registries;
pub mod vm;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A binary of this workspace, built by `cargo test --workspace` beside `coreship-load`.
pub fn bin(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_coreship-load"))
        .parent()
        .unwrap();
    let path = dir.join(name);
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--bin", name])
            .current_dir(root())
            .status()
            .unwrap();
        assert!(status.success(), "building {name} failed");
    }
    path
}

/// The target dir of this test build (`target/debug/coreship-load` → `target`).
pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_coreship-load"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf()
}

/// A command running the project's script `path` (relative to the workspace root) the way
/// tests must: building into this test build's target dir, and with installing turned off
/// (CORESHIP_NO_INSTALL=1), so a script that misses a toolchain, a package or a download fails
/// naming `examples/setup-host.sh --tests` instead of installing it while other tests run.
pub fn project_script(path: &str) -> Command {
    let mut cmd = Command::new(root().join(path));
    cmd.env("CARGO_TARGET_DIR", target_dir())
        .env("CORESHIP_NO_INSTALL", "1")
        .stdin(Stdio::null());
    cmd
}

/// Whether BPF tests can run here. When they cannot, prints why and returns false, unless
/// CORESHIP_REQUIRE_BPF=1 (set by CI), in which case the test fails.
pub fn bpf_available() -> bool {
    let mut missing = Vec::new();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("not root (CAP_BPF/CAP_PERFMON needed)");
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        missing.push("no kernel BTF at /sys/kernel/btf/vmlinux");
    }
    if !Path::new("/sys/kernel/tracing/events").exists() {
        missing.push("tracefs not mounted at /sys/kernel/tracing");
    }
    if which("clang-19").is_none()
        && which("clang").is_none()
        && std::env::var_os("CLANG").is_none()
    {
        missing.push("no clang");
    }
    can_run("BPF tests", "CORESHIP_REQUIRE_BPF", &missing)
}

/// Whether `what` can run with nothing `missing`. Otherwise prints why and returns false,
/// unless the variable `require` is 1 (CI sets it), in which case the test fails.
pub fn can_run(what: &str, require: &str, missing: &[impl AsRef<str>]) -> bool {
    if missing.is_empty() {
        return true;
    }
    let why: Vec<&str> = missing.iter().map(AsRef::as_ref).collect();
    let why = why.join(", ");
    if std::env::var(require).as_deref() == Ok("1") {
        panic!("{what} are required ({require}=1) but cannot run: {why}");
    }
    eprintln!("skipping {what}: {why}");
    false
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|p| p.exists())
    })
}

/// Every probe declared in the workspace's Cargo.toml plus the test probes in
/// `bpf/tests/`, built once for this machine's arch; returns the output dir holding
/// `<name>/package.json` and `<name>/<arch>/<name>.bpf.o`.
pub fn probes() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-probes");
        let r = root();
        let build = |args: &mut Command| {
            let output = args
                .arg("--arch")
                .arg(std::env::consts::ARCH)
                .arg("--out")
                .arg(&out)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "coreship build failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        build(
            Command::new(bin("coreship"))
                .arg("build")
                .arg("--manifest-path")
                .arg(r.join("Cargo.toml")),
        );
        let mut tests: Vec<PathBuf> = std::fs::read_dir(r.join("bpf/tests"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".bpf.c"))
            .collect();
        tests.sort();
        build(Command::new(bin("coreship")).arg("build").args(&tests));
        out
    })
}

/// The object of probe `name` for this machine's arch.
pub fn object(name: &str) -> PathBuf {
    probes()
        .join(name)
        .join(std::env::consts::ARCH)
        .join(format!("{name}.bpf.o"))
}

/// A running `coreship-load`, with stdout and stderr collected in the background.
pub struct Loader {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
}

/// What a finished loader printed.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Finished {
    fn from(out: std::process::Output) -> Finished {
        Finished {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Finished {
    /// The last JSON histogram printed for `map` (the one at exit) and its total count.
    pub fn hist_total(&self, map: &str) -> (serde_json::Value, u64) {
        let hist = self
            .json()
            .into_iter()
            .rev()
            .find(|e| e["map"] == map && e.get("hist").is_some())
            .unwrap_or_else(|| panic!("no histogram {map} in:\n{}", self.stdout));
        let total = hist["hist"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["count"].as_u64().unwrap())
            .sum();
        (hist, total)
    }

    /// stdout lines parsed as JSON objects.
    pub fn json(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

fn pump(r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Loader {
    /// Starts `coreship-load run ARGS…` and waits (at most 30 s) until it reports its programs
    /// attached. Panics with its stderr if it exits first.
    pub fn start(args: &[&str]) -> Loader {
        Loader::start_env(args, &[])
    }

    /// [`Loader::start`] with extra environment variables.
    pub fn start_env(args: &[&str], env: &[(&str, &Path)]) -> Loader {
        let mut child = Command::new(bin("coreship-load"))
            .arg("run")
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = pump(child.stdout.take().unwrap());
        let stderr = pump(child.stderr.take().unwrap());
        let mut loader = Loader {
            child,
            stdout,
            stderr,
            stderr_seen: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match loader.stderr.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let attached = line.contains(": attached ");
                    loader.stderr_seen.push(line);
                    if attached {
                        return loader;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = loader.child.wait().unwrap();
                    panic!(
                        "coreship-load exited ({status}) before attaching:\n{}",
                        loader.stderr_seen.join("\n")
                    );
                }
            }
            assert!(
                Instant::now() < deadline,
                "coreship-load did not attach in 30 s"
            );
        }
    }

    /// The loader's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends SIGINT and collects everything it printed (waiting at most 30 s).
    pub fn stop(self) -> Finished {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        self.finish()
    }

    /// Waits (at most 30 s) for it to exit by itself and collects its output.
    pub fn finish(mut self) -> Finished {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("coreship-load did not exit within 30 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let collect = |rx: &mpsc::Receiver<String>| {
            let mut v = Vec::new();
            while let Ok(l) = rx.recv_timeout(Duration::from_secs(5)) {
                v.push(l);
            }
            v
        };
        let stdout = collect(&self.stdout).join("\n");
        let mut stderr = std::mem::take(&mut self.stderr_seen);
        stderr.extend(collect(&self.stderr));
        Finished {
            status,
            stdout,
            stderr: stderr.join("\n"),
        }
    }
}

/// Runs `coreship-load ARGS…` to completion.
pub fn run_loader(args: &[&str]) -> Finished {
    run_loader_env(args, &[])
}

/// [`run_loader`] with extra environment variables.
pub fn run_loader_env(args: &[&str], env: &[(&str, &Path)]) -> Finished {
    run_bin("coreship-load", args, env)
}

/// Runs workspace binary `name ARGS…` to completion with extra environment variables.
pub fn run_bin(name: &str, args: &[&str], env: &[(&str, &Path)]) -> Finished {
    let out = Command::new(bin(name))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .current_dir(root())
        .output()
        .unwrap();
    Finished::from(out)
}

/// A fresh temp directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("coreship-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Panics with everything printed unless `f` exited 0.
pub fn ok(f: &Finished) {
    assert!(f.status.success(), "failed:\n{}\n{}", f.stdout, f.stderr);
}

/// Checks `f` failed with exactly one `coreship-load: error:` line naming `needle` and printed
/// nothing on stdout.
pub fn refused(f: &Finished, needle: &str) {
    assert!(!f.status.success(), "succeeded:\n{}", f.stderr);
    let lines: Vec<&str> = f.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not one line:\n{}", f.stderr);
    assert!(lines[0].contains(": error: "), "{}", lines[0]);
    assert!(lines[0].contains(needle), "`{needle}` not in: {}", lines[0]);
    assert!(f.stdout.is_empty(), "printed: {}", f.stdout);
}

/// Runs `coreship-load ARGS…` through `sh -c`, after `plant` (a shell snippet) ran in the
/// same process: `exec` keeps the pid, so `$$` in `plant` is the loader's own pid, as it is to
/// a local attacker who starts the loader and plants files at the names it will use. Returns
/// what it printed and its pid.
pub fn run_loader_after(plant: &str, args: &[&str], env: &[(&str, &Path)]) -> (Finished, u32) {
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("{plant}\nexec \"$0\" \"$@\""))
        .arg(bin("coreship-load"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let finished = Finished::from(out);
    (finished, pid)
}

/// Runs `coreship-load ARGS…` with its address space limited to `limit` bytes (so a runaway
/// allocation fails in the child instead of pressing on the machine); returns what it
/// printed and its peak resident set size in bytes (from wait4's rusage of that one child).
// The child is reaped by wait4, which std's `Child` does not know about.
#[allow(clippy::zombie_processes)]
pub fn run_loader_bounded(args: &[&str], env: &[(&str, &Path)], limit: u64) -> (Finished, u64) {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let mut command = Command::new(bin("coreship-load"));
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec the closure only calls setrlimit(2), which is
    // async-signal-safe, on a struct on its own stack.
    unsafe {
        command.pre_exec(move || {
            let rlim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &rlim) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let mut child = command.spawn().unwrap();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let read_all = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            r.read_to_end(&mut s).unwrap();
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let (out, err) = (read_all(Box::new(out)), read_all(Box::new(err)));
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it and `status` for this child only.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-pointers; the child is ours and not waited for by anyone else.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    let finished = Finished {
        status: ExitStatus::from_raw(status),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    // ru_maxrss is in KiB on Linux.
    (finished, usage.ru_maxrss as u64 * 1024)
}

/// Renames the entries of the image layout directory `dir` (its `index.json`): `rename` gets
/// each entry's name and returns the new one.
pub fn rename_entries(dir: &Path, rename: impl Fn(&str) -> String) {
    let path = dir.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for entry in index["manifests"].as_array_mut().unwrap() {
        let key = "org.opencontainers.image.ref.name";
        if let Some(name) = entry["annotations"][key].as_str() {
            entry["annotations"][key] = rename(name).into();
        }
    }
    std::fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
}

/// Writes the image layout directory `dir` as the tar `out` (with the system's tar).
pub fn tar_layout(dir: &Path, out: &Path) {
    let status = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(out)
        .args(["oci-layout", "index.json", "blobs"])
        .status()
        .unwrap();
    assert!(status.success(), "tar -cf {} failed", out.display());
}
