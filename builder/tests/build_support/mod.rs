//! Shared by the `coreship build` / `coreship vmlinux` end-to-end tests: temporary roots,
//! running the real binary, and skipping (or failing, with `CORESHIP_REQUIRE_BPF=1`) when a
//! tool the test needs is missing.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where the running kernel exposes its BTF.
pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

/// The workspace this test belongs to.
pub fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// Whether a test must not skip.
fn required() -> bool {
    std::env::var_os("CORESHIP_REQUIRE_BPF").is_some_and(|v| v == "1")
}

/// `Some(())` when every requirement holds; otherwise prints why the test skips and returns
/// `None`, or panics when `CORESHIP_REQUIRE_BPF=1`.
pub fn require(needs: &[Need]) -> Option<()> {
    for need in needs {
        if let Some(why) = need.missing() {
            if required() {
                panic!("CORESHIP_REQUIRE_BPF=1 but {why}");
            }
            eprintln!("skipping: {why}");
            return None;
        }
    }
    Some(())
}

/// Something an end-to-end test needs from the machine.
pub enum Need {
    /// A clang coreship can find.
    Clang,
    /// Kernel BTF at [`KERNEL_BTF`].
    KernelBtf,
    /// `bpftool` on PATH.
    Bpftool,
}

impl Need {
    fn missing(&self) -> Option<String> {
        match self {
            Need::Clang => coreship_builder::Clang::find()
                .err()
                .map(|e| format!("no clang: {e}")),
            Need::KernelBtf => (!Path::new(KERNEL_BTF).exists())
                .then(|| format!("{KERNEL_BTF} is missing (kernel without BTF)")),
            Need::Bpftool => (!Command::new("bpftool")
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success()))
            .then(|| "bpftool is not installed".to_string()),
        }
    }
}

/// A directory of our own under cargo's per-target temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh empty directory; `name` may contain `/` to nest it deeper.
    pub fn new(name: &str) -> TempDir {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "coreship-build-test-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&base);
        let dir = base.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Remove the whole per-test base, including nesting made by `new`.
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let mut top = self.0.as_path();
        while let Some(parent) = top.parent() {
            if parent == base {
                break;
            }
            top = parent;
        }
        let _ = std::fs::remove_dir_all(top);
    }
}

/// A copy of the repository's `bpf/` directory in a new root named `name`.
pub fn root_with_probes(name: &str) -> TempDir {
    let t = TempDir::new(name);
    copy_dir(&workspace().join("bpf"), &t.path().join("bpf"));
    t
}

/// Copies `from` into `to` recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// `coreship ARGS` in `dir`, without cargo's target dir override leaking into it.
pub fn coreship(dir: &Path, args: &[&str]) -> Output {
    coreship_cmd(dir, args).output().unwrap()
}

/// The command for `coreship ARGS` in `dir`, to adjust before running.
pub fn coreship_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_coreship"));
    c.args(args).current_dir(dir).env_remove("CARGO_TARGET_DIR");
    c
}

/// Asserts success and returns stderr (where status lines go).
pub fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "coreship failed ({}):\n{stderr}",
        out.status
    );
    stderr
}

/// The status word (`compiled`/`fresh`) of each `<probe> <arch>` line in `stderr`.
pub fn statuses(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let status = w.next()?;
            let (probe, arch) = (w.next()?, w.next()?);
            matches!(status, "compiled" | "fresh")
                .then(|| (status.to_string(), format!("{probe} {arch}")))
        })
        .collect()
}

/// Writes `text` to `path` unless it already holds it (mtimes drive cargo's reruns).
pub fn put(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).unwrap();
    }
}

/// A crate outside this workspace at a fixed path under the test tmp dir (so its
/// dependencies build once per checkout), with `BUILDER` in `cargo_toml` replaced by this
/// builder's path, the workspace's Cargo.lock copied in (dependencies resolve to what this
/// workspace already uses) and `files` written relative to it. Returns (crate dir, target dir).
pub fn temp_crate(name: &str, cargo_toml: &str, files: &[(&str, &str)]) -> (PathBuf, PathBuf) {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.join(format!("{name}-crate"));
    let builder = workspace().join("builder");
    put(
        &dir.join("Cargo.toml"),
        &cargo_toml.replace("BUILDER", builder.to_str().unwrap()),
    );
    if !dir.join("Cargo.lock").exists() {
        std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    }
    for (file, text) in files {
        put(&dir.join(file), text);
    }
    (dir, tmp.join(format!("{name}-target")))
}
