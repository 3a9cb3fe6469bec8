//! Per-arch register access: `bpf_tracing.h` reads uprobe/kprobe registers at offsets that
//! differ per arch, so each arch's object must read its own `pt_regs` layout even though both
//! were compiled against the same (x86_64) vmlinux.h.

mod build_support;

use build_support::{coreship, ok, require, workspace, Need, TempDir};
use std::process::Command;

/// The offset `ustate_enter` reads the instruction pointer from (`PT_REGS_IP(ctx)`).
fn ip_offset(object: &std::path::Path) -> String {
    let out = Command::new("llvm-objdump-19")
        .args(["-d", "--no-show-raw-insn"])
        .arg(object)
        .output()
        .expect("llvm-objdump-19 (package llvm-19)");
    let text = String::from_utf8_lossy(&out.stdout);
    let body: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("<ustate_enter>:"))
        .take_while(|l| !l.contains("exit"))
        .collect();
    // The only load through the saved context pointer (r6 = r1) is the register read.
    body.iter()
        .find_map(|l| l.split("*(u64 *)(r6 + ").nth(1))
        .map(|rest| rest.trim_end_matches(')').to_string())
        .unwrap_or_else(|| panic!("no ctx load in ustate_enter:\n{}", body.join("\n")))
}

#[test]
fn each_arch_reads_its_own_register_layout() {
    if require(&[Need::Clang, Need::KernelBtf]).is_none() {
        return;
    }
    let dir = TempDir::new("arch-regs");
    let src = workspace().join("bpf/ustate.bpf.c");
    let out = coreship(
        dir.path(),
        &[
            "build",
            "--out",
            dir.path().to_str().unwrap(),
            src.to_str().unwrap(),
        ],
    );
    ok(&out);
    let obj = |arch: &str| dir.path().join("ustate").join(arch).join("ustate.bpf.o");
    // x86_64: struct pt_regs { r15 … ip } puts ip at 16 * 8.
    assert_eq!(ip_offset(&obj("x86_64")), "0x80");
    // arm64: struct user_pt_regs { regs[31]; sp; pc; } puts pc at 32 * 8.
    assert_eq!(ip_offset(&obj("aarch64")), "0x100");
}
