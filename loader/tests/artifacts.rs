//! End-to-end: probes exported as OCI image layouts by the real `coreship`, signed with a key
//! it made, run by the real `coreship-load` from the tar, from the cache after `import`
//! (offline, by name and by reference), and refused when unsigned, signed by an untrusted
//! key, tampered with, or without an object for the arch asked — before anything is loaded.

mod common;

use common::{
    bpf_available, ok, probes, refused, rename_entries, run_bin, run_loader_env, tar_layout,
    Finished, Loader, TempDir,
};
use std::path::{Path, PathBuf};
use std::process::Command;

const REF: &str = "registry.example:5000/probes/execsnoop:0.1.0";

struct Exported {
    dir: TempDir,
    tar: PathBuf,
    public: PathBuf,
}

impl Exported {
    fn cache(&self) -> PathBuf {
        self.dir.0.join("cache")
    }
    fn env(&self) -> [(&'static str, PathBuf); 1] {
        [("CORESHIP_CACHE_DIR", self.cache())]
    }
    fn load(&self, args: &[&str]) -> Finished {
        let env = self.env();
        let env: Vec<(&str, &Path)> = env.iter().map(|(k, v)| (*k, v.as_path())).collect();
        run_loader_env(args, &env)
    }
}

/// Exports execsnoop (built for this machine) as a tar, signed unless `signed` is false.
fn export(tag: &str, signed: bool) -> Exported {
    let dir = TempDir::new(tag);
    let key = dir.0.join("release.key");
    ok(&run_bin(
        "coreship",
        &["keygen", "-o", key.to_str().unwrap()],
        &[],
    ));
    let tar = dir.0.join("probes.tar");
    let pkg = probes().join("execsnoop");
    let mut args = vec![
        "export",
        pkg.to_str().unwrap(),
        "-o",
        tar.to_str().unwrap(),
        "--prefix",
        "registry.example:5000/probes",
    ];
    if signed {
        args.extend(["--sign", key.to_str().unwrap()]);
    }
    let done = run_bin("coreship", &args, &[]);
    ok(&done);
    assert!(done.stdout.starts_with(REF), "{}", done.stdout);
    Exported {
        public: dir.0.join("release.pub"),
        dir,
        tar,
    }
}

#[test]
fn a_signed_export_runs_from_the_tar_and_from_the_cache_after_import() {
    if !bpf_available() {
        return;
    }
    let e = export("artifact-run", true);
    let trust = e.public.to_str().unwrap();

    // Straight from the tar, no cache involved.
    let target = format!("{}:execsnoop:0.1.0", e.tar.display());
    let loader = Loader::start(&[&target, "--trust", trust, "--format", "json"]);
    Command::new("/bin/true").status().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let done = loader.stop();
    ok(&done);
    assert!(done.stderr.contains("signed by key"), "{}", done.stderr);
    assert!(
        done.json().iter().any(|ev| ev["filename"] == "/bin/true"),
        "no exec of /bin/true seen:\n{}",
        done.stdout
    );

    // Imported, then run offline by full reference and by short name.
    let imported = e.load(&["import", e.tar.to_str().unwrap()]);
    ok(&imported);
    assert!(imported.stdout.starts_with(REF), "{}", imported.stdout);
    for name in [REF, "execsnoop:0.1.0"] {
        let run = e.load(&[
            "run",
            name,
            "--offline",
            "--trust",
            trust,
            "--duration",
            "200ms",
        ]);
        ok(&run);
        assert!(run.stderr.contains("detached"), "{}", run.stderr);
    }

    // The cache lists it; forgetting it and collecting leaves no blob behind.
    let ls = e.load(&["cache", "ls"]);
    ok(&ls);
    assert!(ls.stdout.starts_with(REF), "{}", ls.stdout);
    ok(&e.load(&["cache", "gc"]));
    assert!(e
        .cache()
        .join("blobs/sha256")
        .read_dir()
        .unwrap()
        .next()
        .is_some());
    ok(&e.load(&["cache", "rm", REF]));
    ok(&e.load(&["cache", "gc"]));
    let left: Vec<_> = e.cache().join("blobs/sha256").read_dir().unwrap().collect();
    assert!(left.is_empty(), "blobs left after rm + gc: {left:?}");
    refused(&e.load(&["run", REF, "--offline"]), "is not in the cache");
    refused(&e.load(&["cache", "rm", REF]), "is not in the cache");
}

#[test]
fn unsigned_untrusted_and_missing_artifacts_are_refused_before_loading() {
    if !bpf_available() {
        return;
    }
    let unsigned = export("artifact-unsigned", false);
    let trust = unsigned.public.to_str().unwrap();
    let tar = unsigned.tar.to_str().unwrap();
    let target = format!("{tar}:{REF}");
    refused(
        &unsigned.load(&["run", &target, "--trust", trust]),
        "is not signed",
    );
    // Without --trust the same artifact runs.
    ok(&unsigned.load(&["run", &target, "--duration", "100ms"]));
    // Built for this machine only: asked for the other arch (as a device of that arch would
    // ask), the artifact and the package are refused by name, with what they have.
    let (here, other) = match std::env::consts::ARCH {
        "x86_64" => ("x86_64", "aarch64"),
        _ => ("aarch64", "x86_64"),
    };
    refused(
        &unsigned.load(&["run", &target, "--arch", other]),
        &format!("has no object for {other} (it has: {here}); rebuild with `coreship build --arch {other}`"),
    );
    let pkg = probes().join("execsnoop");
    refused(
        &unsigned.load(&["run", pkg.to_str().unwrap(), "--arch", other]),
        &format!("package execsnoop has no object for {other}"),
    );

    let signed = export("artifact-untrusted", true);
    let target = format!("{}:{REF}", signed.tar.display());
    refused(
        &signed.load(&["run", &target, "--trust", trust]),
        "which is not trusted",
    );
    refused(
        &signed.load(&["run", REF, "--offline"]),
        "is not in the cache",
    );
    refused(
        &signed.load(&["run", &target, "--trust", "/nonexistent/key.pub"]),
        "/nonexistent/key.pub",
    );
    // A plain object cannot satisfy --trust.
    let obj = probes().join("execsnoop");
    refused(
        &signed.load(&[
            "run",
            obj.to_str().unwrap(),
            "--trust",
            signed.public.to_str().unwrap(),
        ]),
        "carries no signature",
    );
}

#[test]
fn tampering_with_an_export_or_the_cache_is_detected() {
    if !bpf_available() {
        return;
    }
    let e = export("artifact-tamper", true);
    let trust = e.public.to_str().unwrap();

    // Any flipped byte in the tar's object makes the import fail and stores no name.
    let mut bytes = std::fs::read(&e.tar).unwrap();
    let at = bytes
        .windows(4)
        .rposition(|w| w == b"\x7fELF")
        .expect("object in the tar");
    bytes[at + 100] ^= 0xff;
    let bad = e.dir.0.join("bad.tar");
    std::fs::write(&bad, &bytes).unwrap();
    refused(
        &e.load(&["import", bad.to_str().unwrap()]),
        "corrupted or truncated",
    );
    refused(&e.load(&["run", REF, "--offline"]), "is not in the cache");

    // A layer changed inside the cache after a good import is caught at run time.
    ok(&e.load(&["import", e.tar.to_str().unwrap()]));
    let blobs = e.cache().join("blobs/sha256");
    let object = std::fs::read_dir(&blobs)
        .unwrap()
        .flatten()
        .map(|d| d.path())
        .find(|p| std::fs::read(p).unwrap().starts_with(b"\x7fELF"))
        .unwrap();
    let mut obj = std::fs::read(&object).unwrap();
    obj[200] ^= 0xff;
    std::fs::write(&object, obj).unwrap();
    refused(
        &e.load(&["run", REF, "--offline", "--trust", trust]),
        "is corrupt",
    );
}

#[test]
fn a_symlink_or_directory_planted_at_the_old_layout_temp_name_gets_nothing() {
    if !bpf_available() {
        return;
    }
    let e = export("artifact-planted-temp", true);
    let tmp = std::env::temp_dir();
    let target = format!("{}:execsnoop:0.1.0", e.tar.display());
    let args = ["run", target.as_str(), "--duration", "200ms"];
    let old_names = |pid: u32| -> Vec<PathBuf> {
        (0..4)
            .map(|n| tmp.join(format!("coreship-layout-{pid}-{n}")))
            .collect()
    };

    // A symlink to a directory the attacker reads (or that matters to the system).
    let elsewhere = e.dir.0.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let plant = format!(
        "for n in 0 1 2 3; do ln -s '{}' \"{}/coreship-layout-$$-$n\" || exit 97; done",
        elsewhere.display(),
        tmp.display()
    );
    let (done, pid) = common::run_loader_after(&plant, &args, &[]);
    for p in old_names(pid) {
        let _ = std::fs::remove_file(p);
    }
    let written: Vec<_> = std::fs::read_dir(&elsewhere).unwrap().flatten().collect();
    assert!(
        written.is_empty(),
        "the tar was unpacked through a planted symlink: {:?}",
        written.iter().map(|d| d.file_name()).collect::<Vec<_>>()
    );
    ok(&done);

    // A directory the attacker made (writable by anyone) and keeps a file in.
    let plant = format!(
        "for n in 0 1 2 3; do d=\"{}/coreship-layout-$$-$n\"; mkdir -m 777 \"$d\" && : > \"$d/mine\" || exit 97; done",
        tmp.display()
    );
    let (done, pid) = common::run_loader_after(&plant, &args, &[]);
    let dirs = old_names(pid);
    let contents: Vec<Option<Vec<String>>> = dirs
        .iter()
        .map(|d| {
            std::fs::read_dir(d).ok().map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
        })
        .collect();
    for d in &dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    for (dir, c) in dirs.iter().zip(&contents) {
        assert_eq!(
            c.as_deref(),
            Some(&["mine".to_string()][..]),
            "the loader used the planted directory {}",
            dir.display()
        );
    }
    ok(&done);
}

/// Exports probe `name` (built for this machine, unsigned) as the layout directory `out`, named
/// under `registry.example:5000/probes`; returns its root digest.
fn export_layout(name: &str, out: &Path) -> String {
    let pkg = probes().join(name);
    let done = run_bin(
        "coreship",
        &[
            "export",
            pkg.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--prefix",
            "registry.example:5000/probes",
        ],
        &[],
    );
    ok(&done);
    done.stdout.split_whitespace().nth(1).unwrap().to_string()
}

/// `coreship-load ARGS…` with the cache in `cache`.
fn load_with_cache(cache: &Path, args: &[&str]) -> Finished {
    run_loader_env(args, &[("CORESHIP_CACHE_DIR", cache)])
}

#[test]
fn an_import_never_records_a_digest_pinned_name_for_other_content() {
    if !bpf_available() {
        return;
    }
    let t = TempDir::new("artifact-pinned-import");
    let exec = export_layout("execsnoop", &t.0.join("exec"));
    // opensnoop's content under the name that pins execsnoop's digest.
    let evil = t.0.join("evil");
    let open = export_layout("opensnoop", &evil);
    let pinned = format!("registry.example:5000/probes/execsnoop@{exec}");
    rename_entries(&evil, |_| pinned.clone());
    let evil_tar = t.0.join("evil.tar");
    tar_layout(&evil, &evil_tar);
    let cache = t.0.join("cache");

    for layout in [&evil_tar, &evil] {
        let done = load_with_cache(&cache, &["import", layout.to_str().unwrap()]);
        refused(&done, &pinned);
        refused(&done, &open);
    }
    refused(
        &load_with_cache(&cache, &["pull", &pinned, "--offline"]),
        "is not in the cache",
    );
    // Read in place, the layout's name does not stand for that digest either.
    let in_place = format!("{}:{pinned}", evil.display());
    refused(&load_with_cache(&cache, &["pull", &in_place]), &open);
}

#[test]
fn a_digest_pinned_reference_is_only_ever_the_artifact_with_that_digest() {
    if !bpf_available() {
        return;
    }
    let t = TempDir::new("artifact-pinned-cache");
    let (exec_dir, open_dir) = (t.0.join("exec"), t.0.join("open"));
    let exec = export_layout("execsnoop", &exec_dir);
    let open = export_layout("opensnoop", &open_dir);
    let cache = t.0.join("cache");
    for dir in [&exec_dir, &open_dir] {
        ok(&load_with_cache(&cache, &["import", dir.to_str().unwrap()]));
    }
    let pinned = format!("registry.example:5000/probes/execsnoop@{exec}");
    // A cache whose index names other content by that digest (written by hand, by an older
    // loader, or by anyone who can write the cache): the digest in the reference decides.
    rename_entries(&cache, |n| match n.contains("opensnoop") {
        true => pinned.clone(),
        false => n.to_string(),
    });
    let done = load_with_cache(&cache, &["pull", &pinned, "--offline"]);
    refused(&done, &pinned);
    refused(&done, &open);
}

#[test]
fn an_import_that_moves_a_name_to_other_content_says_so() {
    if !bpf_available() {
        return;
    }
    let t = TempDir::new("artifact-moved");
    let (exec_dir, update) = (t.0.join("exec"), t.0.join("update"));
    let exec = export_layout("execsnoop", &exec_dir);
    let open = export_layout("opensnoop", &update);
    rename_entries(&update, |_| REF.to_string());
    let cache = t.0.join("cache");
    let first = load_with_cache(&cache, &["import", exec_dir.to_str().unwrap()]);
    ok(&first);
    assert!(!first.stderr.contains(" -> "), "{}", first.stderr);

    // The USB update: the same name, new content. Allowed, and said.
    let moved = load_with_cache(&cache, &["import", update.to_str().unwrap()]);
    ok(&moved);
    let line = format!("{REF}: {exec} -> {open}");
    assert!(
        moved.stderr.contains(&line),
        "no `{line}` in:\n{}",
        moved.stderr
    );
    let pulled = load_with_cache(&cache, &["pull", REF, "--offline"]);
    ok(&pulled);
    assert!(pulled.stdout.contains(&open), "{}", pulled.stdout);

    // The same import again moves nothing.
    let again = load_with_cache(&cache, &["import", update.to_str().unwrap()]);
    ok(&again);
    assert!(!again.stderr.contains(" -> "), "{}", again.stderr);
}

#[test]
fn a_layout_directory_whose_blob_is_a_symlink_is_refused_without_reading_it() {
    if !bpf_available() {
        return;
    }
    let t = TempDir::new("artifact-symlinked-blob");
    let dir = t.0.join("layout");
    export_layout("execsnoop", &dir);
    let object = std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .flatten()
        .map(|d| d.path())
        .find(|p| std::fs::read(p).unwrap().starts_with(b"\x7fELF"))
        .unwrap();
    let outside = t.0.join("outside");
    std::fs::copy(&object, &outside).unwrap();
    let cache = t.0.join("cache");
    let env: &[(&str, &Path)] = &[("CORESHIP_CACHE_DIR", &cache)];
    let blob_name = object.file_name().unwrap().to_str().unwrap().to_string();

    // An endless device: refused at once, in a small fraction of the 512 MiB the import may
    // map, without reading it. Then a readable file outside the layout, even one with the
    // right content.
    for target in [Path::new("/dev/zero"), outside.as_path()] {
        std::fs::remove_file(&object).unwrap();
        std::os::unix::fs::symlink(target, &object).unwrap();
        let (done, peak) =
            common::run_loader_bounded(&["import", dir.to_str().unwrap()], env, 512 << 20);
        refused(&done, &blob_name);
        refused(&done, "symbolic link");
        assert!(
            peak < 64 << 20,
            "import of {} peaked at {peak} bytes",
            target.display()
        );
        refused(
            &load_with_cache(
                &cache,
                &[
                    "pull",
                    "registry.example:5000/probes/execsnoop:0.1.0",
                    "--offline",
                ],
            ),
            "is not in the cache",
        );
    }
}
