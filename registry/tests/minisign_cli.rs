//! coreship signatures and keys against the real `minisign` CLI, both ways.
//!
//! Skipped, with the reason printed, when `minisign` is not on PATH; `CORESHIP_REQUIRE_PEERS=1`
//! turns the skip into a failure (for CI, where the peer must be installed).

use coreship_registry::{Sha256Digest, SignatureError, SignedName, TrustedKeys};
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Whether `minisign` can be run; panics instead of skipping when peers are required.
fn have_minisign() -> bool {
    let found = Command::new("minisign")
        .arg("-v")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        if std::env::var_os("CORESHIP_REQUIRE_PEERS").is_some_and(|v| v == "1") {
            panic!("minisign is not on PATH and CORESHIP_REQUIRE_PEERS=1: install it (apt-get install minisign)");
        }
        eprintln!("skipped: minisign is not on PATH (install it; CORESHIP_REQUIRE_PEERS=1 makes this fail)");
    }
    found
}

/// Runs `minisign ARGS` in `dir` with `stdin` as its input; returns its output.
fn minisign(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new("minisign")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("minisign runs");
    // A command that needs no input may exit before reading it: a broken pipe is no failure.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// Like [`minisign`], and panics with its output unless it succeeds.
fn minisign_ok(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let out = minisign(dir, args, stdin);
    assert!(
        out.status.success(),
        "minisign {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn digest() -> Sha256Digest {
    Sha256Digest::of(b"a manifest")
}

/// The name the tests sign for and ask for.
fn name() -> SignedName {
    SignedName::parse("probes/x:1")
}

/// Writes the digest string, what coreship signs, to `dir/digest`.
fn write_digest_file(dir: &Path, digest: &Sha256Digest) {
    fs::write(dir.join("digest"), digest.to_string()).unwrap();
}

#[test]
fn a_minisign_signature_verifies_in_coreship() {
    if !have_minisign() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    minisign_ok(d, &["-G", "-W", "-p", "cli.pub", "-s", "cli.key"], "");
    write_digest_file(d, &digest());
    // With the trusted comment `coreship sign --print-comment` gives.
    let comment = coreship_registry::trusted_comment(&digest(), &name()).unwrap();
    minisign_ok(
        d,
        &["-S", "-s", "cli.key", "-m", "digest", "-t", &comment],
        "",
    );
    let trusted = TrustedKeys::from_paths([d.join("cli.pub")]).unwrap();
    let minisig = fs::read(d.join("digest.minisig")).unwrap();
    let verified = trusted.verify(&digest(), &name(), &minisig).unwrap();
    assert_eq!(verified.trusted_comment, comment);
    assert_eq!(verified.source, d.join("cli.pub"));
    // Key ids print as minisign prints them.
    let public = fs::read_to_string(d.join("cli.pub")).unwrap();
    assert!(
        public.contains(&verified.key_id.to_string()),
        "{public} / {}",
        verified.key_id
    );
    // ...and not for another digest.
    let other = Sha256Digest::of(b"another manifest");
    assert!(matches!(
        trusted.verify(&other, &name(), &minisig),
        Err(SignatureError::BadSignature { .. })
    ));
    // minisign's default comment names no repository: refused, though it verifies.
    minisign_ok(
        d,
        &["-S", "-s", "cli.key", "-m", "digest", "-x", "bare.minisig"],
        "",
    );
    let err = trusted
        .verify(
            &digest(),
            &name(),
            &fs::read(d.join("bare.minisig")).unwrap(),
        )
        .unwrap_err();
    assert!(matches!(err, SignatureError::Unbound { .. }), "{err}");

    // A legacy (-l) signature with a coreship trusted comment, and one whose comment lies.
    let comment = format!(
        "coreship digest={} name=probes/x tag=1 timestamp=1",
        digest()
    );
    minisign_ok(
        d,
        &[
            "-S",
            "-l",
            "-s",
            "cli.key",
            "-m",
            "digest",
            "-x",
            "legacy.minisig",
            "-t",
            &comment,
        ],
        "",
    );
    let verified = trusted
        .verify(
            &digest(),
            &name(),
            &fs::read(d.join("legacy.minisig")).unwrap(),
        )
        .unwrap();
    assert_eq!(verified.trusted_comment, comment);
    let lie = format!("coreship digest={other} name=probes/x tag=1 timestamp=1");
    minisign_ok(
        d,
        &[
            "-S",
            "-s",
            "cli.key",
            "-m",
            "digest",
            "-x",
            "lie.minisig",
            "-t",
            &lie,
        ],
        "",
    );
    let err = trusted
        .verify(
            &digest(),
            &name(),
            &fs::read(d.join("lie.minisig")).unwrap(),
        )
        .unwrap_err();
    assert!(
        matches!(err, SignatureError::DigestMismatch { .. }),
        "{err}"
    );
}

#[cfg(feature = "sign")]
mod sign {
    use super::*;
    use coreship_registry::{keygen, SecretKey};

    /// coreship makes a key pair (with `password` or none) and signs; minisign verifies with
    /// the public key alone, and signs with coreship's secret key too.
    fn coreship_key_works_in_minisign(password: Option<&str>) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (public, key_id) = keygen(&d.join("release.key"), password).unwrap();
        let key = SecretKey::from_file(&d.join("release.key"), password).unwrap();
        write_digest_file(d, &digest());
        fs::write(d.join("sig"), key.sign(&digest(), &name()).unwrap()).unwrap();
        let out = minisign_ok(d, &["-Vm", "digest", "-p", "release.pub", "-x", "sig"], "");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let comment = format!(
            "coreship digest={} name=probes/x tag=1 timestamp=",
            digest()
        );
        assert!(stdout.contains(&comment), "{stdout}");
        // The public key's comment is minisign's own.
        let text = fs::read_to_string(&public).unwrap();
        assert!(
            text.starts_with(&format!(
                "untrusted comment: minisign public key {key_id}\n"
            )),
            "{text}"
        );

        // Another digest does not verify: the signature covers the digest string.
        fs::write(d.join("other"), Sha256Digest::of(b"x").to_string()).unwrap();
        let out = minisign(d, &["-Vm", "other", "-p", "release.pub", "-x", "sig"], "");
        assert!(!out.status.success());

        // minisign signs with the key coreship made (reading the password from stdin).
        let comment = coreship_registry::trusted_comment(&digest(), &name()).unwrap();
        let mut args = vec![
            "-S",
            "-s",
            "release.key",
            "-m",
            "digest",
            "-x",
            "cli.minisig",
            "-t",
            &comment,
        ];
        if password.is_none() {
            args.push("-W");
        }
        let stdin = password.map(|p| format!("{p}\n")).unwrap_or_default();
        minisign_ok(d, &args, &stdin);
        TrustedKeys::from_paths([public])
            .unwrap()
            .verify(
                &digest(),
                &name(),
                &fs::read(d.join("cli.minisig")).unwrap(),
            )
            .unwrap();
    }

    #[test]
    fn a_coreship_signature_verifies_in_minisign() {
        if have_minisign() {
            coreship_key_works_in_minisign(None);
        }
    }

    #[test]
    fn a_coreship_encrypted_key_works_in_minisign() {
        if have_minisign() {
            coreship_key_works_in_minisign(Some("correct horse"));
        }
    }

    #[test]
    fn a_minisign_encrypted_key_signs_in_coreship() {
        if !have_minisign() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        minisign_ok(
            d,
            &["-G", "-p", "cli.pub", "-s", "cli.key"],
            "battery staple\nbattery staple\n",
        );
        let err = SecretKey::from_file(&d.join("cli.key"), None).unwrap_err();
        assert!(
            matches!(err, SignatureError::PasswordNeeded { .. }),
            "{err}"
        );
        let key = SecretKey::from_file(&d.join("cli.key"), Some("battery staple")).unwrap();
        write_digest_file(d, &digest());
        fs::write(d.join("sig"), key.sign(&digest(), &name()).unwrap()).unwrap();
        minisign_ok(d, &["-Vm", "digest", "-p", "cli.pub", "-x", "sig"], "");
    }
}
