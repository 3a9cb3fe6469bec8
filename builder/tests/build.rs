//! End to end: the real `coreship build` binary on copies of the repository's probes.
//!
//! Needs a clang and kernel BTF (for the generated `vmlinux.h`), no privileges. Tests print why
//! they skip when one is missing, and fail instead when `CORESHIP_REQUIRE_BPF=1`.

mod build_support;

use build_support::{coreship_cmd, ok, require, root_with_probes, statuses, Need, TempDir};
use coreship_registry::{Arch, Package};
use object::{Object as _, ObjectSection as _};
use std::fs;
use std::path::Path;

const EXECSNOOP: &str = "bpf/execsnoop.bpf.c";

/// `coreship build ARGS` in `dir`.
fn coreship(dir: &Path, args: &[&str]) -> std::process::Output {
    build_cmd(dir, args).output().unwrap()
}

fn build_cmd(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    coreship_cmd(dir, &all)
}

fn object_path(root: &Path, arch: &str) -> std::path::PathBuf {
    root.join(format!("target/coreship/execsnoop/{arch}/execsnoop.bpf.o"))
}

#[test]
fn builds_execsnoop_for_both_arches_without_dwarf_and_packages_it() {
    if require(&[Need::Clang, Need::KernelBtf]).is_none() {
        return;
    }
    let root = root_with_probes("both-arches");
    let stderr = ok(&coreship(root.path(), &[EXECSNOOP, "--version", "1.2.3"]));
    assert_eq!(
        statuses(&stderr),
        [
            ("compiled".into(), "execsnoop x86_64".into()),
            ("compiled".into(), "execsnoop aarch64".into())
        ],
        "{stderr}"
    );
    for arch in ["x86_64", "aarch64"] {
        let bytes = fs::read(object_path(root.path(), arch)).unwrap();
        let elf = object::File::parse(&*bytes).unwrap();
        let names: Vec<&str> = elf.sections().filter_map(|s| s.name().ok()).collect();
        assert!(names.contains(&".BTF"), "{arch}: {names:?}");
        assert!(names.contains(&".BTF.ext"), "{arch}: {names:?}");
        assert!(
            !names.iter().any(|n| n.contains(".debug_")),
            "{arch}: DWARF left: {names:?}"
        );
        assert!(names.contains(&"tp/sched/sched_process_exec"), "{names:?}");
    }

    let pkg_dir = root.path().join("target/coreship/execsnoop");
    let pkg = Package::read_dir(&pkg_dir).unwrap();
    assert_eq!(
        (pkg.name.as_str(), pkg.version.as_str()),
        ("execsnoop", "1.2.3")
    );
    assert_eq!(pkg.license, "GPL");
    assert_eq!(pkg.source.file, EXECSNOOP);
    assert!(pkg.build.clang.contains("clang"), "{}", pkg.build.clang);
    assert!(
        pkg.build.kernel_release.is_some(),
        "generated vmlinux.h records the release"
    );
    assert!(pkg.build.cflags.contains(&"-O2".to_string()));
    for arch in Arch::ALL {
        // Digests in the description match the files.
        pkg.object_for(&pkg_dir, arch).unwrap();
    }
    assert!(
        pkg.programs.iter().any(|p| p.name == "handle_exec"),
        "{:?}",
        pkg.programs
    );
    assert!(
        pkg.maps.iter().any(|m| m.name == "events"),
        "{:?}",
        pkg.maps
    );
}

#[test]
fn second_build_is_fresh_and_header_content_changes_recompile() {
    if require(&[Need::Clang, Need::KernelBtf]).is_none() {
        return;
    }
    let root = root_with_probes("incremental");
    let build = || {
        statuses(&ok(&coreship(
            root.path(),
            &[EXECSNOOP, "--arch", "x86_64"],
        )))
    };
    let compiled = vec![("compiled".to_string(), "execsnoop x86_64".to_string())];
    let fresh = vec![("fresh".to_string(), "execsnoop x86_64".to_string())];
    assert_eq!(build(), compiled);
    let obj = object_path(root.path(), "x86_64");
    let mtime = || fs::metadata(&obj).unwrap().modified().unwrap();
    let first = mtime();

    assert_eq!(build(), fresh, "nothing changed");
    assert_eq!(mtime(), first, "a fresh object is not rewritten");

    // Same bytes, new mtime: still fresh (content, not time, decides).
    let header = root.path().join("bpf/execsnoop.h");
    let text = fs::read_to_string(&header).unwrap();
    fs::write(&header, &text).unwrap();
    assert_eq!(build(), fresh, "rewriting a header unchanged");

    fs::write(&header, format!("{text}/* changed */\n")).unwrap();
    assert_eq!(build(), compiled, "a header's content changed");
    assert_eq!(build(), fresh);

    // A changed include of an include (coreship.h is included by the source).
    let coreship_h = root.path().join("bpf/include/coreship.h");
    let text = fs::read_to_string(&coreship_h).unwrap();
    fs::write(&coreship_h, format!("{text}\n")).unwrap();
    assert_eq!(build(), compiled, "coreship.h changed");

    // A damaged object is rebuilt.
    fs::write(&obj, b"damaged").unwrap();
    assert_eq!(build(), compiled, "object damaged");
}

#[test]
fn objects_are_byte_identical_across_checkout_paths() {
    if require(&[Need::Clang, Need::KernelBtf]).is_none() {
        return;
    }
    // Different lengths and depths: clang's BTF writer orders forward declarations by heap
    // address, which shifts with path lengths (with clang 19 here, raw objects built in
    // roots named with 1, 8, 20 and 60 characters had 3 different BTF orders); the
    // builder must undo that.
    let a = root_with_probes("a");
    let b = root_with_probes("a-much-longer-checkout-directory-name/with/more/levels");
    for root in [&a, &b] {
        ok(&coreship(root.path(), &[EXECSNOOP]));
    }
    for arch in ["x86_64", "aarch64"] {
        let (oa, ob) = (object_path(a.path(), arch), object_path(b.path(), arch));
        assert!(
            fs::read(&oa).unwrap() == fs::read(&ob).unwrap(),
            "{arch}: {} and {} differ",
            oa.display(),
            ob.display()
        );
    }
    for len in [8, 20, 60] {
        let r = root_with_probes(&"d".repeat(len));
        ok(&coreship(r.path(), &[EXECSNOOP, "--arch", "x86_64"]));
        let (oa, or) = (
            object_path(a.path(), "x86_64"),
            object_path(r.path(), "x86_64"),
        );
        assert!(
            fs::read(oa).unwrap() == fs::read(or).unwrap(),
            "root of {len} chars"
        );
    }
    // The descriptions agree too: paths and input hashes are checkout-independent.
    let pkg =
        |r: &TempDir| fs::read(r.path().join("target/coreship/execsnoop/package.json")).unwrap();
    assert_eq!(
        String::from_utf8(pkg(&a)).unwrap(),
        String::from_utf8(pkg(&b)).unwrap()
    );

    // And an output directory outside the root changes nothing in the object.
    let out = TempDir::new("elsewhere/out");
    let out_arg = out.path().to_str().unwrap();
    ok(&coreship(
        a.path(),
        &[EXECSNOOP, "--out", out_arg, "--arch", "x86_64"],
    ));
    let elsewhere = out.path().join("execsnoop/x86_64/execsnoop.bpf.o");
    assert!(fs::read(elsewhere).unwrap() == fs::read(object_path(a.path(), "x86_64")).unwrap());
}

#[test]
fn syntax_errors_show_clangs_diagnostics_and_command() {
    if require(&[Need::Clang]).is_none() {
        return;
    }
    let root = TempDir::new("syntax-error");
    // An empty vmlinux.h beside the source: no kernel BTF needed.
    fs::write(root.path().join("vmlinux.h"), "").unwrap();
    fs::write(
        root.path().join("broken.bpf.c"),
        "#include \"vmlinux.h\"\n\nint f(void) { return 1 }\n",
    )
    .unwrap();
    let out = coreship(root.path(), &["broken.bpf.c", "--arch", "x86_64"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("broken.bpf.c:3:23: error"), "{stderr}");
    assert!(
        stderr.contains("could not compile probe `broken` for x86_64"),
        "{stderr}"
    );
    assert!(
        stderr.contains("-target bpf"),
        "command line shown: {stderr}"
    );
}

#[test]
fn missing_clang_is_a_one_line_error_with_advice() {
    let root = TempDir::new("no-clang");
    let empty_path = root.path().join("empty-bin");
    fs::create_dir_all(&empty_path).unwrap();
    fs::write(root.path().join("x.bpf.c"), "").unwrap();
    for clang_env in [Some("/nonexistent"), None] {
        let mut cmd = build_cmd(root.path(), &["x.bpf.c"]);
        cmd.env("PATH", &empty_path);
        match clang_env {
            Some(v) => cmd.env("CLANG", v),
            None => cmd.env_remove("CLANG"),
        };
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("apt-get install clang-19"), "{stderr}");
        assert!(stderr.contains("set CLANG"), "{stderr}");
        if clang_env.is_some() {
            assert!(stderr.contains("/nonexistent"), "{stderr}");
        }
    }
}

#[test]
fn workspace_probes_come_from_cargo_metadata() {
    if require(&[Need::Clang, Need::KernelBtf]).is_none() {
        return;
    }
    let root = root_with_probes("workspace");
    let manifest = root.path().join("Cargo.toml");
    fs::write(
        &manifest,
        "[workspace]\nmembers = []\n\n[workspace.package]\nversion = \"4.5.6\"\n\n\
         [workspace.metadata.coreship.probes.execsnoop]\nsource = \"bpf/execsnoop.bpf.c\"\n\
         description = \"execs\"\narches = [\"aarch64\"]\n",
    )
    .unwrap();
    let out = TempDir::new("workspace-out");
    let out_arg = out.path().to_str().unwrap();
    let stderr = ok(&coreship(root.path(), &["--out", out_arg]));
    assert_eq!(
        statuses(&stderr),
        [("compiled".into(), "execsnoop aarch64".into())],
        "{stderr}"
    );
    let pkg = Package::read_dir(&out.path().join("execsnoop")).unwrap();
    assert_eq!(
        pkg.version, "4.5.6",
        "defaults to [workspace.package] version"
    );
    assert_eq!(pkg.description.as_deref(), Some("execs"));
    assert_eq!(pkg.objects.len(), 1);

    // --arch filters declared arches: x86_64 is not declared, so nothing is built.
    let stderr = ok(&coreship(
        root.path(),
        &["--out", out_arg, "--arch", "x86_64"],
    ));
    assert!(stderr.contains("skipping execsnoop"), "{stderr}");

    // From another directory, through --manifest-path.
    let elsewhere = TempDir::new("elsewhere");
    let manifest_arg = manifest.to_str().unwrap();
    let stderr = ok(&coreship(
        elsewhere.path(),
        &["--manifest-path", manifest_arg, "--out", out_arg],
    ));
    assert_eq!(
        statuses(&stderr),
        [("fresh".into(), "execsnoop aarch64".into())]
    );

    // A typo'd key names itself and the manifest.
    let text = fs::read_to_string(&manifest).unwrap();
    fs::write(&manifest, text.replace("description", "descripton")).unwrap();
    let out = coreship(root.path(), &["--out", out_arg]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("unknown key `descripton`"), "{stderr}");
    assert!(stderr.contains(manifest_arg), "{stderr}");

    // --probe names a probe that does not exist.
    fs::write(&manifest, text).unwrap();
    let out = coreship(root.path(), &["--out", out_arg, "--probe", "nope"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no probe named `nope` (declared: execsnoop)"),
        "{stderr}"
    );
}
