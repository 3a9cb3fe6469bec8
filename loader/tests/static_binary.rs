//! The static loader that `loader/build-static.sh` makes (musl; libbpf, libelf and zlib built
//! for musl): no interpreter, no shared libraries, no glibc inside, and it runs a probe.
//!
//! Checks the smallest build (`--build-std --no-default-features`, nightly std rebuilt for size)
//! and the size budgets: ≤ 1 MiB stripped with local files and plain HTTP only,
//! ≤ 2.5 MiB with HTTPS (default features) on the stable toolchain.
//!
//! Uses the binary at CORESHIP_STATIC_LOADER when set; otherwise runs the script, which builds
//! it (about 90 s from nothing on 2 cores, a second when it is up to date) under this test's
//! target directory. CORESHIP_BUILD_STATIC=0 skips the builds and the tests.

mod common;

use common::{bin, bpf_available, project_script, root, TempDir};
use object::elf;
use object::read::elf::{Dyn, ElfFile64, ProgramHeader};
use object::read::ReadCache;
use object::Endianness;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Stripped size budgets.
const BUDGET_PLAIN: u64 = 1 << 20;
const BUDGET_HTTPS: u64 = 5 << 19;

/// The static loader to check, building it when needed; `None` (with the reason printed) when
/// the build is turned off.
fn static_loader() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CORESHIP_STATIC_LOADER") {
        let path = PathBuf::from(path);
        assert!(
            path.exists(),
            "CORESHIP_STATIC_LOADER={}: no such file",
            path.display()
        );
        return Some(path);
    }
    build(&["--build-std", "--no-default-features"])
}

/// Runs `loader/build-static.sh ARGS` into this test's target directory; `None` when
/// CORESHIP_BUILD_STATIC=0.
fn build(args: &[&str]) -> Option<PathBuf> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if std::env::var("CORESHIP_BUILD_STATIC").as_deref() == Ok("0") {
        eprintln!("skipping: CORESHIP_BUILD_STATIC=0 and no CORESHIP_STATIC_LOADER");
        return None;
    }
    let out = project_script("loader/build-static.sh")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "loader/build-static.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A path of this configuration's own (the script copies each build out of cargo's).
    let stdout = String::from_utf8(out.stdout).unwrap();
    Some(PathBuf::from(stdout.lines().last().unwrap()))
}

/// PT_INTERP present, and the DT_NEEDED entries' count.
fn interp_and_needed(path: &Path) -> (bool, usize) {
    // Through a read cache: a Vec<u8> of the file need not be aligned for the ELF headers.
    let cache = ReadCache::new(std::fs::File::open(path).unwrap());
    let data = &cache;
    let file = ElfFile64::<Endianness, _>::parse(data).unwrap();
    let endian = file.endian();
    let mut interp = false;
    let mut needed = 0;
    for ph in file.elf_program_headers() {
        match ph.p_type(endian) {
            elf::PT_INTERP => interp = true,
            elf::PT_DYNAMIC => {
                let dynamic = ph.dynamic(endian, data).unwrap().unwrap();
                needed += dynamic
                    .iter()
                    .filter(|d| d.d_tag(endian) == elf::DT_NEEDED)
                    .count();
            }
            _ => {}
        }
    }
    (interp, needed)
}

#[test]
fn the_static_loader_has_no_interpreter_no_needed_libraries_and_runs_a_probe() {
    let Some(loader) = static_loader() else {
        return;
    };
    let data = std::fs::read(&loader).unwrap();
    let (interp, needed) = interp_and_needed(&loader);
    assert!(!interp, "{}: has PT_INTERP", loader.display());
    assert_eq!(needed, 0, "{}: has DT_NEEDED entries", loader.display());
    // A glibc-linked static binary carries its tunables' name; the musl build must not.
    if std::env::var_os("CORESHIP_STATIC_LOADER").is_none() {
        let glibc = data.windows(14).any(|w| w == b"GLIBC_TUNABLES");
        assert!(!glibc, "{}: glibc linked in", loader.display());
    }
    eprintln!("{}: {} bytes, static", loader.display(), data.len());
    if std::env::var_os("CORESHIP_STATIC_LOADER").is_none() {
        assert!(
            data.len() as u64 <= BUDGET_PLAIN,
            "{}: {} bytes, over the 1 MiB budget of `--no-default-features`",
            loader.display(),
            data.len()
        );
    }

    if !bpf_available() {
        return;
    }
    let out = TempDir::new("static-loader");
    let built = Command::new(bin("coreship"))
        .args(["build", "--manifest-path"])
        .arg(root().join("Cargo.toml"))
        .args(["--arch", "x86_64", "--out"])
        .arg(&out.0)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "coreship build failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let run = Command::new(&loader)
        .arg("run")
        .arg(out.0.join("execsnoop"))
        .args(["--duration", "1s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "static loader failed:\n{stderr}");
    assert!(stderr.contains("attached"), "{stderr}");
}

#[test]
fn the_https_loader_built_on_stable_fits_its_budget() {
    if std::env::var_os("CORESHIP_STATIC_LOADER").is_some() {
        eprintln!("skipping: CORESHIP_STATIC_LOADER names one binary; the budget is for a build");
        return;
    }
    let Some(loader) = build(&[]) else {
        return;
    };
    let data = std::fs::read(&loader).unwrap();
    assert_eq!(
        interp_and_needed(&loader),
        (false, 0),
        "{}",
        loader.display()
    );
    eprintln!("{}: {} bytes, static", loader.display(), data.len());
    assert!(
        data.len() as u64 <= BUDGET_HTTPS,
        "{}: {} bytes, over the 2.5 MiB budget of the default (HTTPS) build",
        loader.display(),
        data.len()
    );
}
