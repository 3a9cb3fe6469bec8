//! End-to-end through registries: the real `coreship` pushes (signed), the real
//! `coreship-registry` and Debian's `docker-registry` store, the real `coreship-load` pulls
//! through its cache, verifies and runs on the kernel.

mod common;

use common::registries::{copy_artifact, Registry, TOKEN};
use common::{bpf_available, ok, probes, refused, root, run_bin, Finished, Loader, TempDir};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Keys {
    dir: TempDir,
}

impl Keys {
    fn new(tag: &str) -> Keys {
        let dir = TempDir::new(tag);
        let key = dir.0.join("release.key");
        ok(&run_bin(
            "coreship",
            &["keygen", "-o", key.to_str().unwrap()],
            &[],
        ));
        Keys { dir }
    }
    fn secret(&self) -> PathBuf {
        self.dir.0.join("release.key")
    }
    fn public(&self) -> PathBuf {
        self.dir.0.join("release.pub")
    }
    fn cache(&self) -> PathBuf {
        self.dir.0.join("cache")
    }
}

fn push(reference: &str, keys: &Keys, token: Option<&str>) -> Finished {
    push_probe("execsnoop", reference, keys, token)
}

/// Pushes the package of probe `name` to `reference`, signed with `keys`.
fn push_probe(name: &str, reference: &str, keys: &Keys, token: Option<&str>) -> Finished {
    let pkg = probes().join(name);
    let secret = keys.secret();
    let args = [
        "push",
        pkg.to_str().unwrap(),
        reference,
        "--sign",
        secret.to_str().unwrap(),
    ];
    let token_file;
    let env: Vec<(&str, &Path)> = match token {
        Some(t) => {
            token_file = PathBuf::from(t);
            vec![("CORESHIP_REGISTRY_TOKEN", token_file.as_path())]
        }
        None => vec![],
    };
    run_bin("coreship", &args, &env)
}

/// Runs execsnoop from `reference` while /bin/true runs, returns what it printed.
fn run_exec(reference: &str, keys: &Keys, extra: &[&str]) -> Finished {
    let cache = keys.cache();
    let public = keys.public();
    let mut args = vec![
        reference,
        "--trust",
        public.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let loader = Loader::start_env(&args, &[("CORESHIP_CACHE_DIR", cache.as_path())]);
    Command::new("/bin/true").status().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let done = loader.stop();
    ok(&done);
    assert!(
        done.json().iter().any(|e| e["filename"] == "/bin/true"),
        "no exec of /bin/true from {reference}:\n{}\n{}",
        done.stdout,
        done.stderr
    );
    done
}

fn load(keys: &Keys, args: &[&str]) -> Finished {
    let cache = keys.cache();
    run_bin(
        "coreship-load",
        args,
        &[("CORESHIP_CACHE_DIR", cache.as_path())],
    )
}

#[test]
fn pushed_to_coreship_registry_signed_runs_by_tag_by_digest_and_offline() {
    if !bpf_available() {
        return;
    }
    let registry = Registry::coreship("e2e-registry");
    let keys = Keys::new("e2e-registry-keys");
    let reference = format!("{}/probes/execsnoop:0.1.0", registry.host);

    // Without the token the push is refused in one line that says where credentials come from.
    refused(&push(&reference, &keys, None), "CORESHIP_REGISTRY_TOKEN");
    refused(
        &push(&reference, &keys, Some("wrong-token")),
        "UNAUTHORIZED",
    );

    let pushed = push(&reference, &keys, Some(TOKEN));
    ok(&pushed);
    let pinned = pushed.stdout.trim().to_string();
    assert!(
        pinned.starts_with(&format!("{reference}@sha256:")),
        "{pinned}"
    );

    let done = run_exec(&reference, &keys, &[]);
    assert!(done.stderr.contains("signed by key"), "{}", done.stderr);
    run_exec(&pinned, &keys, &[]);

    // The registry goes away: the cache still serves the same reference offline, also after
    // a cache gc (which must keep the per-arch entry's root index and its signature).
    drop(registry);
    run_exec(&reference, &keys, &["--offline"]);
    ok(&load(&keys, &["cache", "gc"]));
    run_exec(&reference, &keys, &["--offline"]);

    // Not signed by a trusted key: refused before loading.
    let other = Keys::new("e2e-registry-other");
    let cache = keys.cache();
    let refused_run = run_bin(
        "coreship-load",
        &[
            "run",
            &reference,
            "--offline",
            "--trust",
            other.public().to_str().unwrap(),
        ],
        &[("CORESHIP_CACHE_DIR", cache.as_path())],
    );
    refused(&refused_run, "which is not trusted");
    refused(
        &load(
            &keys,
            &[
                "run",
                &format!("{}:9.9.9", reference.rsplit_once(':').unwrap().0),
                "--offline",
            ],
        ),
        "not",
    );
}

#[test]
fn unknown_tags_and_unsigned_artifacts_are_refused_in_one_line() {
    if !bpf_available() {
        return;
    }
    let registry = Registry::coreship("e2e-registry-bad");
    let keys = Keys::new("e2e-registry-bad-keys");
    let missing = format!("{}/probes/nothing:1.0", registry.host);
    refused(&load(&keys, &["run", &missing]), "not found (NAME_UNKNOWN)");

    // Unsigned push (no --sign) then --trust: refused before anything loads.
    let pkg = probes().join("opensnoop");
    let reference = format!("{}/probes/opensnoop:0.1.0", registry.host);
    let token = PathBuf::from(TOKEN);
    ok(&run_bin(
        "coreship",
        &["push", pkg.to_str().unwrap(), &reference],
        &[("CORESHIP_REGISTRY_TOKEN", token.as_path())],
    ));
    // A known repository, an unknown tag.
    let missing_tag = format!("{}/probes/opensnoop:9.9", registry.host);
    refused(
        &load(&keys, &["run", &missing_tag]),
        "not found (MANIFEST_UNKNOWN)",
    );
    refused(
        &load(
            &keys,
            &[
                "run",
                &reference,
                "--trust",
                keys.public().to_str().unwrap(),
            ],
        ),
        "is not signed",
    );
}

#[test]
fn the_same_commands_work_against_debians_docker_registry() {
    if !bpf_available() {
        return;
    }
    let Some(registry) = Registry::docker("e2e-docker-registry") else {
        return;
    };
    let keys = Keys::new("e2e-docker-keys");
    let reference = format!("{}/probes/execsnoop:0.1.0", registry.host);
    ok(&push(&reference, &keys, None));
    let done = run_exec(&reference, &keys, &[]);
    assert!(done.stderr.contains("signed by key"), "{}", done.stderr);
    // `pull` then an offline run.
    ok(&load(
        &keys,
        &[
            "pull",
            &reference,
            "--trust",
            keys.public().to_str().unwrap(),
        ],
    ));
    drop(registry);
    run_exec(&reference, &keys, &["--offline"]);
}

#[test]
fn cargo_coreship_push_all_publishes_a_probe_crate() {
    if !bpf_available() {
        return;
    }
    let registry = Registry::coreship("e2e-push-all");
    let keys = Keys::new("e2e-push-all-keys");
    let target = TempDir::new("e2e-push-all-target");
    let prefix = format!("{}/examples", registry.host);
    let out = Command::new(common::bin("cargo-coreship"))
        .args(["coreship", "push", "--all", &prefix, "--sign"])
        .arg(keys.secret())
        .current_dir(root().join("examples/probe-crate"))
        .env("CARGO_TARGET_DIR", &target.0)
        .env("CORESHIP_REGISTRY_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let reference = format!("{prefix}/hello:0.1.0");
    assert!(
        stdout.starts_with(&format!("{reference}@sha256:")),
        "{stdout}"
    );
    let done = load(
        &keys,
        &[
            "run",
            &reference,
            "--trust",
            keys.public().to_str().unwrap(),
            "--duration",
            "500ms",
        ],
    );
    ok(&done);
    assert!(done.stderr.contains("attached"), "{}", done.stderr);
}

#[test]
fn a_signature_made_with_the_minisign_cli_is_attached_and_trusted() {
    if !bpf_available() {
        return;
    }
    if !std::path::Path::new("/usr/bin/minisign").exists() {
        assert!(
            std::env::var_os("CORESHIP_REQUIRE_PEERS").is_none_or(|v| v != "1"),
            "/usr/bin/minisign is missing and CORESHIP_REQUIRE_PEERS=1 (apt-get install minisign)"
        );
        eprintln!("skipping: /usr/bin/minisign is missing (apt-get install minisign)");
        return;
    }
    let registry = Registry::coreship("e2e-minisign");
    let keys = Keys::new("e2e-minisign-keys");
    let token = PathBuf::from(TOKEN);
    let env = [("CORESHIP_REGISTRY_TOKEN", token.as_path())];
    let reference = format!("{}/probes/execsnoop:0.1.0", registry.host);
    let pkg = probes().join("execsnoop");
    ok(&run_bin(
        "coreship",
        &["push", pkg.to_str().unwrap(), &reference],
        &env,
    ));

    // The release key lives with the minisign CLI, on "another machine".
    let dir = &keys.dir.0;
    let (mpub, msec) = (dir.join("m.pub"), dir.join("m.key"));
    let status = Command::new("minisign")
        .args(["-G", "-W", "-p"])
        .arg(&mpub)
        .arg("-s")
        .arg(&msec)
        .status()
        .unwrap();
    assert!(status.success());
    let digest = run_bin("coreship", &["sign", &reference, "--print-digest"], &[]);
    ok(&digest);
    assert!(digest.stdout.starts_with("sha256:"), "{}", digest.stdout);
    let comment = run_bin("coreship", &["sign", &reference, "--print-comment"], &[]);
    ok(&comment);
    let comment = comment.stdout.trim();
    assert!(
        comment.starts_with(&format!(
            "coreship digest={} name=probes/execsnoop tag=0.1.0 timestamp=",
            digest.stdout
        )),
        "{comment}"
    );
    let message = dir.join("digest.txt");
    std::fs::write(&message, &digest.stdout).unwrap();
    let minisign_sign = |comment: Option<&str>, out: &str| {
        let mut cmd = Command::new("minisign");
        cmd.args(["-S", "-s"]).arg(&msec).arg("-m").arg(&message);
        cmd.arg("-x").arg(dir.join(out));
        if let Some(c) = comment {
            cmd.args(["-t", c]);
        }
        assert!(cmd.status().unwrap().success());
        dir.join(out)
    };
    // minisign's own comment names nothing: refused before it reaches the registry.
    let bare = minisign_sign(None, "bare.minisig");
    let attached = run_bin(
        "coreship",
        &["sign", &reference, "--signature", bare.to_str().unwrap()],
        &env,
    );
    assert!(!attached.status.success(), "{}", attached.stderr);
    assert!(
        attached
            .stderr
            .contains("names no repository in its trusted comment"),
        "{}",
        attached.stderr
    );
    let sig = minisign_sign(Some(comment), "digest.txt.minisig");

    // Not yet attached: refused; attached: trusted.
    let cache = keys.cache();
    let cache_env = [("CORESHIP_CACHE_DIR", cache.as_path())];
    refused(
        &run_bin(
            "coreship-load",
            &["run", &reference, "--trust", mpub.to_str().unwrap()],
            &cache_env,
        ),
        "is not signed",
    );
    ok(&run_bin(
        "coreship",
        &["sign", &reference, "--signature", sig.to_str().unwrap()],
        &env,
    ));
    // The same cache: a root cached without signatures asks the registry for them again.
    let done = run_bin(
        "coreship-load",
        &[
            "run",
            &reference,
            "--trust",
            mpub.to_str().unwrap(),
            "--duration",
            "200ms",
        ],
        &cache_env,
    );
    ok(&done);
    assert!(done.stderr.contains("signed by key"), "{}", done.stderr);
}

/// Someone with push rights (or the registry itself) serves, under names the key holder never
/// signed, what a trusted key did sign: another probe, and an older version under a newer tag.
/// Both are refused before anything is loaded, naming what the signature is for; a mirror that
/// renamed an artifact is accepted with --signed-as.
#[test]
fn a_signed_artifact_served_under_another_name_or_tag_is_refused() {
    if !bpf_available() {
        return;
    }
    let registry = Registry::coreship("e2e-signed-names");
    let keys = Keys::new("e2e-signed-names-keys");
    let host = &registry.host;
    ok(&push(
        &format!("{host}/probes/execsnoop:0.1.0"),
        &keys,
        Some(TOKEN),
    ));
    ok(&push_probe(
        "opensnoop",
        &format!("{host}/probes/opensnoop:0.1.0"),
        &keys,
        Some(TOKEN),
    ));
    copy_artifact(
        &registry,
        "probes/opensnoop:0.1.0",
        "probes/execsnoop:0.2.0",
    );
    copy_artifact(
        &registry,
        "probes/execsnoop:0.1.0",
        "probes/execsnoop:0.3.0",
    );

    let public = keys.public();
    let trust = ["--trust", public.to_str().unwrap()];
    let run = |reference: &str, extra: &[&str]| {
        let mut args = vec!["run", reference];
        args.extend(trust);
        args.extend(extra);
        args.extend(["--duration", "200ms"]);
        load(&keys, &args)
    };
    let another_probe = run(&format!("{host}/probes/execsnoop:0.2.0"), &[]);
    refused(
        &another_probe,
        "is for probes/opensnoop:0.1.0, not probes/execsnoop:0.2.0",
    );
    let older_version = run(&format!("{host}/probes/execsnoop:0.3.0"), &[]);
    refused(
        &older_version,
        "is for probes/execsnoop:0.1.0, not probes/execsnoop:0.3.0",
    );
    // What the signatures do name still runs; a mirror's rename is accepted when stated.
    let genuine = run(&format!("{host}/probes/execsnoop:0.1.0"), &[]);
    ok(&genuine);
    assert!(genuine.stderr.contains("attached"), "{}", genuine.stderr);
    let renamed = run(
        &format!("{host}/probes/execsnoop:0.2.0"),
        &["--signed-as", "probes/opensnoop:0.1.0"],
    );
    ok(&renamed);
    assert!(
        renamed.stderr.contains("opensnoop: attached"),
        "{}",
        renamed.stderr
    );
}

/// Keys rotate: the same reproducible build, signed again by a new key, must be accepted by a
/// device that trusts only the new key even though its cache holds the old key's signature;
/// and an artifact cached unsigned learns of a signature added later.
#[test]
fn a_device_with_a_cached_signature_accepts_a_newer_one_by_a_rotated_key() {
    if !bpf_available() {
        return;
    }
    let registry = Registry::coreship("e2e-rotation");
    let old = Keys::new("e2e-rotation-old");
    let new = Keys::new("e2e-rotation-new");
    let reference = format!("{}/probes/execsnoop:0.1.0", registry.host);
    ok(&push(&reference, &old, Some(TOKEN)));
    // The device pulls with the old key trusted: its cache now holds that signature.
    let cache = old.cache();
    let env = [("CORESHIP_CACHE_DIR", cache.as_path())];
    let trusting = |keys: &Keys| {
        let public = keys.public();
        let args = [
            "pull",
            reference.as_str(),
            "--trust",
            public.to_str().unwrap(),
        ];
        run_bin("coreship-load", &args, &env)
    };
    ok(&trusting(&old));
    // Rotation: the same build signed by the new key (push of identical content + signature).
    ok(&push(&reference, &new, Some(TOKEN)));
    let rotated = trusting(&new);
    ok(&rotated);
    assert!(
        rotated
            .stderr
            .contains(&format!("({})", new.public().display())),
        "{}",
        rotated.stderr
    );

    // Cached unsigned, signed later: the signature is found.
    let unsigned = format!("{}/probes/opensnoop:0.1.0", registry.host);
    let pkg = probes().join("opensnoop");
    let token = PathBuf::from(TOKEN);
    let token_env = [("CORESHIP_REGISTRY_TOKEN", token.as_path())];
    ok(&run_bin(
        "coreship",
        &["push", pkg.to_str().unwrap(), &unsigned],
        &token_env,
    ));
    ok(&run_bin("coreship-load", &["pull", &unsigned], &env));
    let public = new.public();
    let args = [
        "pull",
        unsigned.as_str(),
        "--trust",
        public.to_str().unwrap(),
    ];
    refused(&run_bin("coreship-load", &args, &env), "is not signed");
    let secret = new.secret();
    ok(&run_bin(
        "coreship",
        &["sign", &unsigned, "--key", secret.to_str().unwrap()],
        &token_env,
    ));
    let signed_later = run_bin("coreship-load", &args, &env);
    ok(&signed_later);
    assert!(
        signed_later.stderr.contains("signed by key"),
        "{}",
        signed_later.stderr
    );
}

#[test]
fn a_local_directory_named_like_the_registry_host_does_not_shadow_it() {
    if !bpf_available() {
        return;
    }
    let registry = Registry::coreship("e2e-shadow");
    let keys = Keys::new("e2e-shadow-keys");
    let (host, port) = registry.host.split_once(':').unwrap();
    let reference = format!("{}/probes/execsnoop:1", registry.host);
    let pushed = push(&reference, &keys, Some(TOKEN));
    ok(&pushed);
    let pushed_digest = pushed.stdout.trim().rsplit_once('@').unwrap().1.to_string();

    // In the working directory, a layout named like the host, holding other content under the
    // name that `HOST:PORT/probes/execsnoop:1` read as `LAYOUT:NAME` asks for.
    let cwd = TempDir::new("e2e-shadow-cwd");
    let local = cwd.0.join(host);
    let open = probes().join("opensnoop");
    let exported = run_bin(
        "coreship",
        &[
            "export",
            open.to_str().unwrap(),
            "-o",
            local.to_str().unwrap(),
        ],
        &[],
    );
    ok(&exported);
    let local_digest = exported
        .stdout
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let name = format!("{port}/probes/execsnoop:1");
    common::rename_entries(&local, |_| name.clone());

    let cache = keys.cache();
    let pull = |what: &str| {
        let out = Command::new(common::bin("coreship-load"))
            .args(["pull", what])
            .env("CORESHIP_CACHE_DIR", &cache)
            .current_dir(&cwd.0)
            .output()
            .unwrap();
        Finished::from(out)
    };
    let done = pull(&reference);
    ok(&done);
    assert_eq!(
        done.stdout.trim(),
        format!("{reference} {pushed_digest}"),
        "not the registry's artifact (the local layout's is {local_digest}):\n{}",
        done.stderr
    );

    // With the registry gone the reference fails, saying how to mean the local path.
    drop(registry);
    let done = pull(&reference);
    refused(&done, "Connection refused");
    refused(
        &done,
        &format!("(a local path of that name exists: write ./{reference} to use it)"),
    );
    let local_ref = format!("./{reference}");
    let done = pull(&local_ref);
    ok(&done);
    assert_eq!(done.stdout.trim(), format!("{local_ref} {local_digest}"));
}
