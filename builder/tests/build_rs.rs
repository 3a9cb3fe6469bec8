//! `coreship_builder::Builder` from a real crate's build.rs: a crate outside this workspace
//! with a path build-dependency on this builder, built with `cargo build` (the
//! workspace's Cargo.lock is copied in, so nothing new is downloaded); its
//! main.rs `include_bytes!`s the object. Checks the object, the `cargo:rerun-if-changed`
//! lines cargo recorded, and that a broken probe fails the build with clang's file:line:col.

mod build_support;

use build_support::{put, require, temp_crate, Need};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CARGO_TOML: &str = r#"[package]
name = "myapp"
version = "0.1.0"
edition = "2021"
publish = false

[package.metadata.coreship.probes.myprobe]
source = "src/bpf/myprobe.bpf.c"

[build-dependencies]
coreship-builder = { path = "BUILDER" }

[workspace]
"#;

const BUILD_RS: &str = r#"fn main() -> Result<(), coreship_builder::BuildScriptError> {
    coreship_builder::Builder::from_env()?.probe("myprobe").build()?;
    Ok(())
}
"#;

const MAIN_RS: &str = r#"static OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/myprobe.bpf.o"));

fn main() {
    assert_eq!(&OBJECT[..4], b"\x7fELF", "not ELF");
    assert_eq!(u16::from_le_bytes([OBJECT[18], OBJECT[19]]), 247, "e_machine is not EM_BPF");
    println!("bpf object of {} bytes", OBJECT.len());
}
"#;

const HEADER: &str = "struct myprobe_key { char comm[16]; };\n";

const PROBE: &str = r#"#include "vmlinux.h"
#include <coreship.h>
#include "myprobe.h"

char LICENSE[] SEC("license") = "GPL";
CORESHIP_COUNTER(execs, struct myprobe_key, 1024);

SEC("tp/sched/sched_process_exec")
int handle_exec(void *ctx)
{
	struct myprobe_key key = {};
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	coreship_count(execs, &key);
	return 0;
}
"#;

/// Replaces line 11 so that line 12, column 2 is an undeclared identifier.
const BROKEN_LINE: &str = "\tstruct myprobe_key key = {};\n\tnot_declared = 1;\n";

/// The crate and its target dir.
fn make_crate() -> (PathBuf, PathBuf) {
    temp_crate(
        "build-rs",
        CARGO_TOML,
        &[
            ("build.rs", BUILD_RS),
            ("src/main.rs", MAIN_RS),
            ("src/bpf/myprobe.h", HEADER),
            ("src/bpf/myprobe.bpf.c", PROBE),
        ],
    )
}

fn cargo(dir: &Path, target: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(cargo)
        .args(args)
        .arg("--quiet")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("CLANG")
        .output()
        .unwrap()
}

/// The `output` file of the build script's most recent run.
fn script_output(target: &Path) -> String {
    let newest = std::fs::read_dir(target.join("debug/build"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path().join("output");
            let name = p.parent()?.file_name()?.to_str()?.to_string();
            let t = std::fs::metadata(&p).ok()?.modified().ok()?;
            name.starts_with("myapp-").then_some((t, p))
        })
        .max()
        .expect("a build-script output of myapp");
    std::fs::read_to_string(newest.1).unwrap()
}

#[test]
fn build_script_compiles_includes_and_reports_clang_errors() {
    let Some(()) = require(&[Need::Clang, Need::KernelBtf]) else {
        return;
    };
    let (dir, target) = make_crate();
    let out = cargo(&dir, &target, &["build"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo build failed:\n{stderr}");

    let run = Command::new(target.join("debug/myapp")).output().unwrap();
    assert!(run.status.success(), "{run:?}");
    assert!(String::from_utf8_lossy(&run.stdout).starts_with("bpf object of "));

    let output = script_output(&target);
    let canon = std::fs::canonicalize(&dir).unwrap();
    let rerun: Vec<&str> = output
        .lines()
        .filter_map(|l| l.strip_prefix("cargo:rerun-if-changed="))
        .collect();
    for file in ["Cargo.toml", "src/bpf/myprobe.bpf.c", "src/bpf/myprobe.h"] {
        let want = canon.join(file);
        assert!(
            rerun
                .iter()
                .any(|r| Path::new(r) == want || Path::new(r) == dir.join(file)),
            "{file} missing from:\n{output}"
        );
    }
    let out_dir = target.join("debug/build");
    assert!(
        !rerun.iter().any(|r| r.contains("/out/include/")),
        "generated headers listed:\n{output}"
    );
    assert!(
        output.contains("cargo:rerun-if-env-changed=CLANG"),
        "{output}"
    );
    let objects: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path().join("out/myprobe.bpf.o"))
        .filter(|p| p.is_file())
        .collect();
    assert!(!objects.is_empty(), "no OUT_DIR/myprobe.bpf.o");
    assert!(objects[0].with_file_name("myprobe/package.json").is_file());

    // A broken probe fails the build with clang's location of the error.
    put(
        &dir.join("src/bpf/myprobe.bpf.c"),
        &PROBE.replace("\tstruct myprobe_key key = {};\n", BROKEN_LINE),
    );
    let out = cargo(&dir, &target, &["build"]);
    put(&dir.join("src/bpf/myprobe.bpf.c"), PROBE);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a broken probe built");
    assert!(
        stderr.contains("myprobe.bpf.c:12:2: error"),
        "no clang location in cargo's output:\n{stderr}"
    );
}
