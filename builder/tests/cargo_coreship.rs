//! `cargo coreship …` end to end: the `cargo-coreship` binary on PATH, run through cargo on
//! `examples/probe-crate`, with cargo's workspace flags, JSON messages and colors; and the
//! one-line error for Rust probes on a machine without their toolchain.

mod build_support;

use build_support::{require, workspace, Need, TempDir};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `cargo coreship ARGS` in `examples/probe-crate`, writing into `target`.
fn cargo_coreship(target: &Path, args: &[&str]) -> Output {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_cargo-coreship"))
        .parent()
        .unwrap();
    let mut path = vec![bin_dir.to_path_buf()];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    Command::new(cargo)
        .arg("coreship")
        .args(args)
        .current_dir(workspace().join("examples/probe-crate"))
        .env("PATH", std::env::join_paths(path).unwrap())
        .env("CARGO_TARGET_DIR", target)
        .env_remove("CARGO_TERM_COLOR")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The JSON messages on stdout.
fn messages(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn cargo_coreship_build_reports_artifacts_as_json() {
    let Some(()) = require(&[Need::Clang, Need::KernelBtf]) else {
        return;
    };
    let t = TempDir::new("probe-crate-target");
    let out = cargo_coreship(t.path(), &["build", "--message-format", "json"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let msgs = messages(&out);
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    for (m, arch) in msgs.iter().zip(["x86_64", "aarch64"]) {
        assert_eq!(m["reason"], "coreship-artifact");
        assert_eq!(
            (m["probe"].as_str(), m["arch"].as_str()),
            (Some("hello"), Some(arch))
        );
        assert_eq!(m["fresh"], false);
        let object = PathBuf::from(m["object"].as_str().unwrap());
        assert_eq!(
            object,
            t.path().join(format!("coreship/hello/{arch}/hello.bpf.o"))
        );
        assert_eq!(&std::fs::read(&object).unwrap()[..4], b"\x7fELF");
    }
    assert_eq!(
        msgs[2],
        serde_json::json!({"reason": "build-finished", "success": true})
    );
    assert!(stderr.contains("compiled hello x86_64"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "stderr is not a tty: {stderr:?}");

    // -p picks the package's probes; a second build is fresh; --color always styles.
    let out = cargo_coreship(
        t.path(),
        &[
            "build",
            "-p",
            "probe-crate",
            "--arch",
            "x86_64",
            "--message-format=json",
            "--color",
            "always",
        ],
    );
    let msgs = messages(&out);
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!(
        (msgs[0]["arch"].as_str(), &msgs[0]["fresh"]),
        (Some("x86_64"), &true.into())
    );
    assert!(text(&out.stderr).contains("\x1b[1;32m       fresh\x1b[0m hello x86_64"));
}

#[test]
fn cargo_coreship_errors_follow_cargo_conventions() {
    let t = TempDir::new("probe-crate-errors");
    let out = cargo_coreship(
        t.path(),
        &["build", "-p", "nope", "--message-format", "json"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim_end(),
        "coreship: error: no package named `nope` in the workspace (members: probe-crate)"
    );
    assert_eq!(
        messages(&out),
        [serde_json::json!({"reason": "build-finished", "success": false})]
    );
    let out = cargo_coreship(t.path(), &["build", "-p", "probe-crate", "--workspace"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = cargo_coreship(t.path(), &["--help"]);
    assert!(
        text(&out.stdout).contains("Usage: cargo coreship"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn cargo_coreship_vmlinux_writes_the_header() {
    let Some(()) = require(&[Need::KernelBtf]) else {
        return;
    };
    let t = TempDir::new("probe-crate-vmlinux");
    let header = t.path().join("vmlinux.h");
    let out = cargo_coreship(t.path(), &["vmlinux", "-o", header.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(header)
        .unwrap()
        .contains("struct task_struct {"));
}

/// A workspace whose one probe is a Rust crate; PATH holds only rustup, so bpf-linker is
/// missing whatever this machine has installed.
#[test]
fn rust_probe_without_its_toolchain_fails_in_one_line() {
    let t = TempDir::new("rust-probe");
    let root = t.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join("hello-ebpf")).unwrap();
    std::fs::write(root.join("src/lib.rs"), "").unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"r\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [package.metadata.coreship.probes.hello]\nrust = \"hello-ebpf\"\n\n[workspace]\n",
    )
    .unwrap();
    let only_rustup = root.join("bin");
    std::fs::create_dir_all(&only_rustup).unwrap();
    let rustup = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("rustup"))
        .find(|p| p.is_file());
    if let Some(rustup) = &rustup {
        std::os::unix::fs::symlink(rustup, only_rustup.join("rustup")).unwrap();
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let cargo_dir = Path::new(&cargo).parent().unwrap_or(Path::new("/usr/bin"));
    let path = std::env::join_paths([only_rustup.as_path(), cargo_dir]).unwrap();
    let out = build_support::coreship_cmd(root, &["build"])
        .env("PATH", path)
        .env("CARGO", &cargo)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("coreship: error: cannot build Rust probe `hello`: missing "),
        "{stderr}"
    );
    assert!(
        stderr.contains("bpf-linker on PATH (cargo install bpf-linker;"),
        "{stderr}"
    );
    if rustup.is_none() {
        assert!(stderr.contains("rustup (https://rustup.rs)"), "{stderr}");
    }
    eprintln!("this machine: {stderr}");
}
