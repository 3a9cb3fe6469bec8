//! Kernels without BTF: `coreship build --min-btf DIR` ships, per kernel BTF in DIR, the
//! minimal BTF the object's CO-RE relocations need, and `coreship-load` relocates against it
//! when the kernel has no `/sys/kernel/btf/vmlinux` (`--ignore-kernel-btf` makes this kernel
//! behave so) and its os-release/`uname -r` match — through a package directory and an
//! exported artifact — or says which kernels the probe supports.

mod common;

use common::{bpf_available, ok, refused, root, run_bin, Loader, TempDir};
use coreship_registry::{Arch, KernelKey};
use std::path::Path;
use std::process::Command;

/// Builds execsnoop with minimal BTF for the kernels `releases` (this kernel's BTF filed under
/// each of those releases, for this machine's os-release and arch); returns the package dir.
fn build_with_min_btf(dir: &Path, releases: &[&str]) -> std::path::PathBuf {
    let me = KernelKey::running(Arch::host().unwrap());
    for release in releases {
        let d = dir
            .join("kernels")
            .join(&me.id)
            .join(&me.version_id)
            .join(&me.arch);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy("/sys/kernel/btf/vmlinux", d.join(format!("{release}.btf"))).unwrap();
    }
    let out = dir.join("out");
    let source = root().join("bpf/execsnoop.bpf.c");
    let built = run_bin(
        "coreship",
        &[
            "build",
            source.to_str().unwrap(),
            "--arch",
            std::env::consts::ARCH,
            "--out",
            out.to_str().unwrap(),
            "--min-btf",
            dir.join("kernels").to_str().unwrap(),
        ],
        &[],
    );
    ok(&built);
    out.join("execsnoop")
}

#[test]
fn minimal_btf_for_this_kernel_is_used_when_it_has_no_btf() {
    if !bpf_available() {
        return;
    }
    let t = TempDir::new("min-btf");
    let me = KernelKey::running(Arch::host().unwrap());
    let pkg = build_with_min_btf(&t.0, &[&me.release, "6.1.0-47-cloud-amd64"]);

    // The shipped minimal BTF is a tiny fraction of the kernel's.
    let shipped = std::fs::metadata(
        pkg.join(std::env::consts::ARCH)
            .join("btf")
            .join(format!("{me}.btf")),
    )
    .unwrap()
    .len();
    let full = std::fs::metadata("/sys/kernel/btf/vmlinux").unwrap().len();
    assert!(
        shipped * 100 < full,
        "minimal BTF {shipped} bytes of {full}"
    );

    // From the package directory, and from an exported artifact.
    let tar = t.0.join("p.tar");
    ok(&run_bin(
        "coreship",
        &["export", pkg.to_str().unwrap(), "-o", tar.to_str().unwrap()],
        &[],
    ));
    for target in [pkg.to_str().unwrap(), tar.to_str().unwrap()] {
        let loader = Loader::start(&[target, "--ignore-kernel-btf", "--format", "json"]);
        let mut child = Command::new("/bin/true").spawn().unwrap();
        let pid = child.id() as u64;
        child.wait().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let done = loader.stop();
        ok(&done);
        assert!(
            done.stderr.contains(&format!(
                "relocated against the minimal BTF shipped for {me}"
            )),
            "{}",
            done.stderr
        );
        // CO-RE through the minimal BTF still finds task_struct.real_parent: the right parent.
        let me_pid = std::process::id() as u64;
        let event = done
            .json()
            .into_iter()
            .find(|e| e["pid"] == pid)
            .unwrap_or_else(|| panic!("exec of pid {pid} not seen:\n{}", done.stdout));
        assert_eq!(event["ppid"], me_pid, "{event}");
    }
}

#[test]
fn a_kernel_the_probe_has_no_btf_for_is_named_with_the_ones_it_has() {
    if !bpf_available() {
        return;
    }
    let t = TempDir::new("min-btf-other");
    let pkg = build_with_min_btf(&t.0, &["6.1.0-47-cloud-amd64"]);
    let me = KernelKey::running(Arch::host().unwrap());
    let other = format!(
        "{}/{}/{}/6.1.0-47-cloud-amd64",
        me.id, me.version_id, me.arch
    );
    let done = run_bin(
        "coreship-load",
        &["run", pkg.to_str().unwrap(), "--ignore-kernel-btf"],
        &[],
    );
    refused(&done, &format!("this kernel ({me}) has no BTF"));
    refused(&done, &format!("only for {other}"));
}

#[test]
fn a_min_btf_dir_without_kernel_btf_files_is_refused_in_one_line() {
    if !bpf_available() {
        return;
    }
    let t = TempDir::new("min-btf-empty");
    let source = root().join("bpf/execsnoop.bpf.c");
    let done = run_bin(
        "coreship",
        &[
            "build",
            source.to_str().unwrap(),
            "--out",
            t.0.join("out").to_str().unwrap(),
            "--min-btf",
            t.0.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!done.status.success());
    assert!(
        done.stderr
            .contains("has no kernel BTF files laid out as ID/VERSION_ID/ARCH/RELEASE.btf"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_pinned_probe_is_re_attached_through_the_same_minimal_btf() {
    if !bpf_available() {
        return;
    }
    let t = TempDir::new("min-btf-pin");
    let me = KernelKey::running(Arch::host().unwrap());
    let pkg = build_with_min_btf(&t.0, &[&me.release]);
    let pkg = pkg.to_str().unwrap();
    let pins = format!("/sys/fs/bpf/coreship-minbtf-test-{}", std::process::id());
    let run_dir = t.0.join("run");
    let env: &[(&str, &Path)] = &[("CORESHIP_RUN_DIR", &run_dir)];
    let pinned = run_bin(
        "coreship-load",
        &[
            "run",
            pkg,
            "--ignore-kernel-btf",
            "--pin",
            &pins,
            "--detach",
        ],
        env,
    );
    ok(&pinned);
    let again = run_bin(
        "coreship-load",
        &[
            "run",
            pkg,
            "--ignore-kernel-btf",
            "--pin",
            &pins,
            "--duration",
            "200ms",
        ],
        env,
    );
    let stopped = run_bin("coreship-load", &["stop", &pins], env);
    ok(&again);
    ok(&stopped);
    assert!(
        again.stderr.contains("re-attached to its pins")
            && again.stderr.contains(&format!(
                "relocated against the minimal BTF shipped for {me}"
            )),
        "{}",
        again.stderr
    );
    assert!(!Path::new(&pins).exists(), "{pins} left behind");
}

#[test]
fn symlinks_planted_at_the_old_min_btf_temp_names_are_not_written_through() {
    if !bpf_available() {
        return;
    }
    let t = TempDir::new("min-btf-symlink");
    let me = KernelKey::running(Arch::host().unwrap());
    let pkg = build_with_min_btf(&t.0, &[&me.release]);
    // A file only root may write, as /etc/shadow would be.
    let victim = t.0.join("victim");
    std::fs::write(&victim, "root:secret\n").unwrap();
    // Every name the loader used to write the minimal BTF to, for the loader's own pid.
    let tmp = std::env::temp_dir();
    let planted = |pid: u32| -> Vec<std::path::PathBuf> {
        (0..4)
            .map(|n| tmp.join(format!("coreship-min-btf-{pid}-{n}.btf")))
            .collect()
    };
    let plant = format!(
        "for n in 0 1 2 3; do ln -s '{}' \"{}/coreship-min-btf-$$-$n.btf\" || exit 97; done",
        victim.display(),
        tmp.display()
    );
    let pkg = pkg.to_str().unwrap();
    let (done, pid) = common::run_loader_after(
        &plant,
        &["run", pkg, "--ignore-kernel-btf", "--duration", "500ms"],
        &[],
    );
    let links = planted(pid);
    let left: Vec<bool> = links.iter().map(|l| l.is_symlink()).collect();
    for l in &links {
        let _ = std::fs::remove_file(l);
    }
    let now = std::fs::read(&victim).unwrap();
    assert!(
        now == b"root:secret\n",
        "the minimal BTF was written through a planted symlink: the victim now holds {} bytes \
         starting {:02x?}",
        now.len(),
        &now[..now.len().min(4)]
    );
    ok(&done);
    assert!(
        done.stderr.contains(&format!(
            "relocated against the minimal BTF shipped for {me}"
        )),
        "{}",
        done.stderr
    );
    assert_eq!(left, [true; 4], "the planted symlinks were touched");
}
