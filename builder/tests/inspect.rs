//! End to end: compile `bpf/execsnoop.bpf.c` with clang-19 and run `coreship inspect` on it.
//!
//! Needs clang-19, bpftool and kernel BTF (`/sys/kernel/btf/vmlinux`) but no privileges. Tests
//! that need them print why they skip when something is missing, and fail instead when
//! `CORESHIP_REQUIRE_BPF=1` (CI sets it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Everything a compiled test object needs, or why it cannot be had.
fn missing_tool() -> Option<String> {
    let runs = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !runs("clang-19", "--version") {
        return Some("clang-19 is not installed".into());
    }
    if !runs("bpftool", "version") {
        return Some("bpftool is not installed".into());
    }
    if !Path::new(KERNEL_BTF).exists() {
        return Some(format!("{KERNEL_BTF} is missing (kernel without BTF)"));
    }
    None
}

/// The compiled execsnoop object, built once per test binary; `None` (after printing why)
/// when tools are missing and `CORESHIP_REQUIRE_BPF` is not set.
fn execsnoop() -> Option<&'static Path> {
    static OBJECT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = OBJECT.get_or_init(|| match missing_tool() {
        Some(why) => Err(why),
        None => Ok(compile_execsnoop()),
    });
    match built {
        Ok(path) => Some(path),
        Err(why) if std::env::var_os("CORESHIP_REQUIRE_BPF").is_some_and(|v| v == "1") => {
            panic!("CORESHIP_REQUIRE_BPF=1 but {why}")
        }
        Err(why) => {
            eprintln!("skipping: {why}");
            None
        }
    }
}

fn compile_execsnoop() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("inspect-execsnoop");
    let include = dir.join("include");
    std::fs::create_dir_all(include.join("bpf")).unwrap();
    for (name, text) in libbpf_sys::API_HEADERS {
        std::fs::write(include.join("bpf").join(name), text).unwrap();
    }
    let vmlinux =
        run_ok(Command::new("bpftool").args(["btf", "dump", "file", KERNEL_BTF, "format", "c"]));
    std::fs::write(include.join("vmlinux.h"), vmlinux.stdout).unwrap();
    let object = dir.join("execsnoop.bpf.o");
    run_ok(
        Command::new("clang-19")
            .args(["-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86", "-c"])
            .arg("-I")
            .arg(workspace.join("bpf/include"))
            .arg("-I")
            .arg(&include)
            .arg(workspace.join("bpf/execsnoop.bpf.c"))
            .arg("-o")
            .arg(&object),
    );
    object
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn inspect(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coreship"))
        .arg("inspect")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn text_shows_programs_maps_outputs_and_core_relocations() {
    let Some(obj) = execsnoop() else { return };
    let out = inspect(&[obj.as_os_str()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |needles: &[&str]| {
        assert!(
            text.lines().any(|l| needles.iter().all(|n| l.contains(n))),
            "no line with {needles:?} in:\n{text}"
        )
    };
    line(&[
        "handle_exec",
        "tp/sched/sched_process_exec",
        "tracepoint",
        "sched/sched_process_exec",
    ]);
    line(&["events", "ringbuf", "262144"]);
    line(&["events", "events", "struct exec_event"]);
    line(&[
        "field_byte_offset",
        "struct task_struct",
        "task_struct.real_parent",
    ]);
    assert!(text.contains("license  GPL"), "{text}");
}

#[test]
fn json_is_one_parsable_document() {
    let Some(obj) = execsnoop() else { return };
    let out = inspect(&[obj.as_os_str(), "--format".as_ref(), "json".as_ref()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["programs"][0]["name"], "handle_exec");
    assert_eq!(v["programs"][0]["section"], "tp/sched/sched_process_exec");
    let events = &v["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "events")
        .unwrap();
    assert_eq!(events["map_type"], "ringbuf");
    assert_eq!(events["output"]["type_name"], "struct exec_event");
    let paths: Vec<&str> = v["core_relocations"][0]["relocations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["path"].as_str())
        .collect();
    assert!(paths.iter().any(|p| p.contains("real_parent")), "{paths:?}");
}

/// Runs `inspect` on `path` and returns its single-line error.
fn one_line_error(path: &Path) -> String {
    let out = inspect(&[path.as_os_str()]);
    assert!(
        !out.status.success(),
        "inspect {} succeeded",
        path.display()
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "not one line:\n{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    err
}

#[test]
fn host_binaries_are_rejected_in_one_line() {
    let exe = Path::new(env!("CARGO_BIN_EXE_coreship"));
    let err = one_line_error(exe);
    assert!(
        err.contains("not a BPF object; build it with `coreship build`"),
        "{err}"
    );
}

#[test]
fn missing_and_non_elf_files_are_rejected_in_one_line() {
    let missing = Path::new("/nonexistent/probe.bpf.o");
    assert!(one_line_error(missing).contains("cannot read"));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    assert!(one_line_error(&manifest).contains("is not an ELF file"));
}

#[test]
fn truncated_objects_are_rejected_in_one_line() {
    let Some(obj) = execsnoop() else { return };
    let bytes = std::fs::read(obj).unwrap();
    let cut = obj.with_file_name("truncated.bpf.o");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = one_line_error(&cut);
    assert!(err.contains("truncated or corrupt ELF"), "{err}");
}
