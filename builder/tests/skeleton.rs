//! `Builder::skeleton(true)` (feature `skeleton`): a real crate's build.rs generates a typed
//! libbpf-rs skeleton of the object coreship built, and the crate compiles against it and
//! opens it. Built with `cargo build` in a fixed directory (the workspace's Cargo.lock copied
//! in, so dependencies resolve to what this workspace already uses).

mod build_support;

use build_support::{require, temp_crate, Need};
use std::process::Command;

const CARGO_TOML: &str = r#"[package]
name = "skelapp"
version = "0.1.0"
edition = "2021"
publish = false

[package.metadata.coreship.probes.counter]
source = "src/bpf/counter.bpf.c"

[dependencies]
libbpf-rs = "0.27"

[build-dependencies]
coreship-builder = { path = "BUILDER", features = ["skeleton"] }

[workspace]
"#;

const BUILD_RS: &str = r#"fn main() -> Result<(), coreship_builder::BuildScriptError> {
    coreship_builder::Builder::from_env()?.probe("counter").skeleton(true).build()?;
    Ok(())
}
"#;

const MAIN_RS: &str = r#"include!(concat!(env!("OUT_DIR"), "/counter.skel.rs"));

use libbpf_rs::skel::SkelBuilder as _;

fn main() {
    let mut storage = std::mem::MaybeUninit::uninit();
    let open = CounterSkelBuilder::default().open(&mut storage).expect("open the skeleton");
    println!("map {}", open.maps.calls.name().to_string_lossy());
    println!("prog {}", open.progs.count_getpid.name().to_string_lossy());
}
"#;

const PROBE: &str = r#"#include "vmlinux.h"
#include <coreship.h>

char LICENSE[] SEC("license") = "GPL";
CORESHIP_COUNTER(calls, __u32, 1024);

SEC("tp/syscalls/sys_enter_getpid")
int count_getpid(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	coreship_count(calls, &pid);
	return 0;
}
"#;

#[test]
fn build_script_generates_a_typed_skeleton_that_compiles_and_opens() {
    if require(&[Need::Clang, Need::KernelBtf]).is_none() {
        return;
    }
    let (dir, target) = temp_crate(
        "skeleton",
        CARGO_TOML,
        &[
            ("build.rs", BUILD_RS),
            ("src/main.rs", MAIN_RS),
            ("src/bpf/counter.bpf.c", PROBE),
        ],
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["run", "--quiet"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("CLANG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("map calls"), "{stdout}");
    assert!(stdout.contains("prog count_getpid"), "{stdout}");
}
