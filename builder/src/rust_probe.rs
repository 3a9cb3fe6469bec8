//! Probes written in Rust: a BPF crate (aya-ebpf style) declared with `rust = "dir"`.
//!
//! Building one needs three things clang probes do not: a nightly toolchain (for
//! `-Z build-std=core`, as `bpfel-unknown-none` ships no prebuilt `core`), that toolchain's
//! `rust-src` component (the `core` sources build-std compiles), and `bpf-linker` on `PATH`
//! (rustc's linker for BPF targets). [`detect`] checks all three before anything is built, so
//! a machine without them gets one line naming each missing piece and the command that
//! installs it.
//!
//! The build itself is `rustup run nightly cargo build --release --target bpfel-unknown-none
//! -Z build-std=core` in the crate, one cargo target dir per arch (aya-ebpf reads
//! `CARGO_CFG_BPF_TARGET_ARCH` to pick its `pt_regs` layout), with `-C debuginfo=2 -C
//! link-arg=--btf` so bpf-linker emits the BTF CO-RE needs. The object then goes through the
//! same [`crate::link`] step as clang's (DWARF dropped, BTF canonical).

use crate::compile::Compiled;
use crate::link;
use crate::paths::PathMapper;
use crate::{BuildError, Freshness, ProbeSpec};
use coreship_registry::{Arch, Sha256Digest};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Rust target BPF crates are built for.
const TARGET: &str = "bpfel-unknown-none";

/// The cargo arguments, recorded in the package description in place of clang flags.
pub(crate) const CARGO_ARGS: [&str; 6] = [
    "build",
    "--release",
    "--target",
    TARGET,
    "-Z",
    "build-std=core",
];

/// Something a Rust probe needs that this machine lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingRustTool {
    /// `rustup` is not on `PATH` (toolchains are selected through it).
    Rustup,
    /// No nightly toolchain.
    Nightly,
    /// The nightly toolchain has no `rust-src` component.
    RustSrc,
    /// `bpf-linker` is not on `PATH`.
    BpfLinker,
}

impl fmt::Display for MissingRustTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MissingRustTool::Rustup => "rustup (https://rustup.rs)",
            MissingRustTool::Nightly => {
                "a nightly toolchain (rustup toolchain install nightly --component rust-src)"
            }
            MissingRustTool::RustSrc => {
                "rust-src for nightly (rustup component add rust-src --toolchain nightly)"
            }
            MissingRustTool::BpfLinker => {
                "bpf-linker on PATH (cargo install bpf-linker; it needs LLVM 21, which it takes \
                 from rustc on x86_64 Linux)"
            }
        })
    }
}

/// What [`detect`] looked at, separated from the looking so the verdict is unit-tested.
#[derive(Debug, Clone, Default)]
struct Facts {
    rustup: bool,
    /// The nightly sysroot, when `rustup run nightly rustc --print sysroot` works.
    nightly_sysroot: Option<PathBuf>,
    /// `rustc --version` of nightly.
    nightly_version: Option<String>,
    bpf_linker: bool,
}

/// A toolchain able to build Rust probes.
#[derive(Debug, Clone)]
pub(crate) struct RustToolchain {
    /// `rustc --version` of the nightly used.
    pub version: String,
}

/// Checks for nightly with rust-src and bpf-linker.
pub(crate) fn detect() -> Result<RustToolchain, Vec<MissingRustTool>> {
    verdict(&gather())
}

fn gather() -> Facts {
    let rustup = |args: &[&str]| {
        Command::new("rustup")
            .args(args)
            // Look, never install.
            .env("RUSTUP_AUTO_INSTALL", "0")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let rustup_found = Command::new("rustup").arg("--version").output().is_ok();
    Facts {
        rustup: rustup_found,
        nightly_sysroot: rustup(&["run", "nightly", "rustc", "--print", "sysroot"])
            .map(PathBuf::from),
        nightly_version: rustup(&["run", "nightly", "rustc", "--version"]),
        bpf_linker: on_path("bpf-linker"),
    }
}

fn verdict(f: &Facts) -> Result<RustToolchain, Vec<MissingRustTool>> {
    let mut missing = Vec::new();
    match (&f.nightly_sysroot, f.rustup) {
        (_, false) => missing.push(MissingRustTool::Rustup),
        (None, true) => missing.push(MissingRustTool::Nightly),
        (Some(sysroot), true) if !has_rust_src(sysroot) => missing.push(MissingRustTool::RustSrc),
        _ => {}
    }
    if !f.bpf_linker {
        missing.push(MissingRustTool::BpfLinker);
    }
    match (&f.nightly_version, missing.is_empty()) {
        (Some(v), true) => Ok(RustToolchain { version: v.clone() }),
        (None, true) => Err(vec![MissingRustTool::Nightly]),
        _ => Err(missing),
    }
}

/// Where rustup's `rust-src` puts `core`'s sources.
fn has_rust_src(sysroot: &Path) -> bool {
    sysroot
        .join("lib/rustlib/src/rust/library/core/Cargo.toml")
        .is_file()
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| {
            fs::metadata(d.join(program)).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt as _;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
    })
}

/// Builds the crate of `probe` for `arch` and finishes its object like a C one.
pub(crate) fn build_object(
    probe: &ProbeSpec,
    arch: Arch,
    m: &PathMapper,
) -> Result<Compiled, BuildError> {
    let dir = m.out().join(&probe.name).join(arch.as_str());
    fs::create_dir_all(&dir).map_err(BuildError::io("create directory", &dir))?;
    let object = dir.join(format!("{}.bpf.o", probe.name));
    let target_dir = dir.join("cargo-target");
    let mut cmd = Command::new("rustup");
    cmd.args(["run", "nightly", "cargo"])
        .args(CARGO_ARGS)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(&probe.source)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("CARGO_CFG_BPF_TARGET_ARCH", arch.as_str())
        .env(
            "CARGO_TARGET_BPFEL_UNKNOWN_NONE_RUSTFLAGS",
            "-C debuginfo=2 -C link-arg=--btf",
        );
    // An outer cargo (build script, `cargo coreship`) exports its own rustc and flags; they
    // are stable's and the host's, not nightly's for BPF.
    for var in [
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTUP_TOOLCHAIN",
        "CARGO",
    ] {
        cmd.env_remove(var);
    }
    let command = format!(
        "rustup run nightly cargo {} (in {})",
        CARGO_ARGS.join(" "),
        probe.source.display()
    );
    let out = cmd.output().map_err(|source| BuildError::ClangSpawn {
        command: command.clone(),
        source,
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(BuildError::Compile {
            probe: probe.name.clone(),
            arch,
            command,
            dir: probe.source.clone(),
            stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
        });
    }
    let (built, fresh) = artifact(&stdout).ok_or_else(|| BuildError::NoRustArtifact {
        probe: probe.name.clone(),
        dir: probe.source.clone(),
    })?;
    let staged = dir.join(format!(".{}.bpf.o.tmp", probe.name));
    let scratch = dir.join(format!(".{}.link.o", probe.name));
    link::finalize(&built, &staged, &scratch).map_err(|source| BuildError::Link {
        probe: probe.name.clone(),
        arch,
        source,
    })?;
    let bytes = fs::read(&staged).map_err(BuildError::io("read", &staged))?;
    let unchanged = fs::read(&object).is_ok_and(|old| old == bytes);
    fs::rename(&staged, &object).map_err(BuildError::io("write", &object))?;
    Ok(Compiled {
        arch,
        object,
        status: if fresh && unchanged {
            Freshness::Fresh
        } else {
            Freshness::Compiled
        },
        // cargo tracks the crate's inputs; the object's digest stands for them.
        inputs: Sha256Digest::of(&bytes),
        files: vec![m.locate(&probe.source)],
        warnings: String::new(),
        min_btf: Vec::new(),
    })
}

/// The executable of the last `compiler-artifact` message in cargo's JSON output, and
/// whether cargo found it fresh.
fn artifact(json_lines: &str) -> Option<(PathBuf, bool)> {
    json_lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["reason"] == "compiler-artifact")
        .filter_map(|v| {
            let exe = v["executable"].as_str()?.to_string();
            Some((PathBuf::from(exe), v["fresh"].as_bool().unwrap_or(false)))
        })
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(rustup: bool, sysroot: Option<&Path>, linker: bool) -> Facts {
        Facts {
            rustup,
            nightly_sysroot: sysroot.map(Path::to_path_buf),
            nightly_version: sysroot.map(|_| "rustc 1.97.0-nightly".into()),
            bpf_linker: linker,
        }
    }

    #[test]
    fn each_missing_piece_is_named() {
        use MissingRustTool::*;
        let empty = std::env::temp_dir().join(format!("coreship-rs-unit-{}", std::process::id()));
        let full = empty.join("full");
        fs::create_dir_all(full.join("lib/rustlib/src/rust/library/core")).unwrap();
        fs::write(
            full.join("lib/rustlib/src/rust/library/core/Cargo.toml"),
            "",
        )
        .unwrap();

        assert_eq!(
            verdict(&facts(false, None, false)).unwrap_err(),
            [Rustup, BpfLinker]
        );
        assert_eq!(verdict(&facts(true, None, true)).unwrap_err(), [Nightly]);
        assert_eq!(
            verdict(&facts(true, Some(&empty), false)).unwrap_err(),
            [RustSrc, BpfLinker]
        );
        let ok = verdict(&facts(true, Some(&full), true)).unwrap();
        assert_eq!(ok.version, "rustc 1.97.0-nightly");
        fs::remove_dir_all(empty).unwrap();
    }

    #[test]
    fn the_last_executable_artifact_is_the_object() {
        let out = r#"{"reason":"compiler-artifact","executable":null,"fresh":true}
{"reason":"compiler-artifact","executable":"/t/bpfel-unknown-none/release/hello","fresh":false}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            artifact(out),
            Some((PathBuf::from("/t/bpfel-unknown-none/release/hello"), false))
        );
        assert_eq!(artifact("{\"reason\":\"build-finished\"}"), None);
    }
}
