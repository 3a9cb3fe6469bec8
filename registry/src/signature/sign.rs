//! Secret keys, signing a digest, and making a key pair (cargo feature `sign`).

use super::{
    base64, signed_payload, trusted_comment, KeyId, PublicKey, SignatureError, SignedName,
};
use crate::Sha256Digest;
use minisign::{ErrorKind, KeyPair, SecretKeyBox};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of a decoded secret key: algorithms (6), KDF salt and limits (48), key id (8),
/// ed25519 secret and public key (64), checksum (32).
const SECRET_KEY_BYTES: usize = 158;
/// Where the checksum starts in a decoded secret key.
const CHECKSUM_AT: usize = 126;

/// A minisign secret key, decrypted and ready to sign.
pub struct SecretKey {
    key: minisign::SecretKey,
    public: minisign::PublicKey,
    key_id: KeyId,
    path: PathBuf,
}

impl SecretKey {
    /// Reads a secret key file as `coreship keygen` or `minisign -G` writes it.
    ///
    /// An encrypted key (scrypt, the default of `minisign -G`) needs `password`; an unencrypted
    /// one (`minisign -G -W`, `coreship keygen` without a password) ignores it. Decrypting a key
    /// made by `minisign -G` takes about 1 GiB of memory and a few seconds, by design.
    pub fn from_file(path: &Path, password: Option<&str>) -> Result<SecretKey, SignatureError> {
        let malformed = |reason| SignatureError::MalformedSecretKey {
            path: path.to_path_buf(),
            reason,
        };
        let line = super::read_key_line(path)?.ok_or(malformed("no base64 line"))?;
        let bytes = base64::decode(&line).ok_or(malformed("not base64"))?;
        if bytes.len() != SECRET_KEY_BYTES {
            return Err(malformed("wrong length"));
        }
        if &bytes[..2] != b"Ed" {
            return Err(malformed("unknown signature algorithm"));
        }
        // The minisign crate takes the box form and would prompt on the terminal for a missing
        // password, so coreship reads the KDF itself and always passes what it has.
        let boxed: SecretKeyBox = format!("untrusted comment:\n{line}\n").into();
        let key = match &bytes[2..4] {
            [0, 0] => match boxed.into_unencrypted_secret_key() {
                Ok(key) => key,
                // minisign 0.11 writes unencrypted keys (`-G -W`) with a zero checksum, which
                // the minisign crate calls corrupted; the test signature below checks them.
                Err(_) if bytes[CHECKSUM_AT..].iter().all(|&b| b == 0) => {
                    minisign::SecretKey::from_bytes(&bytes)
                        .map_err(|_| malformed("wrong length"))?
                }
                Err(_) => return Err(malformed("checksum mismatch: the file is corrupted")),
            },
            b"Sc" => {
                let Some(password) = password else {
                    return Err(SignatureError::PasswordNeeded {
                        path: path.to_path_buf(),
                    });
                };
                match boxed.into_secret_key(Some(password.to_string())) {
                    Ok(key) => key,
                    Err(e) if matches!(e.kind(), ErrorKind::Verify) => {
                        return Err(SignatureError::WrongPassword {
                            path: path.to_path_buf(),
                        })
                    }
                    Err(e) => return Err(minisign_error("decrypt", path, e)),
                }
            }
            _ => return Err(malformed("unknown key encryption")),
        };
        let public = minisign::PublicKey::from_secret_key(&key)
            .map_err(|_| malformed("no public key inside"))?;
        let key = SecretKey {
            key_id: KeyId::from_slice(key.keynum()),
            key,
            public,
            path: path.to_path_buf(),
        };
        // Signing checks the signature with the public half: a key whose secret half was
        // damaged fails here rather than at push time.
        key.sign_payload(b"coreship key check", "coreship key check")
            .map_err(|_| {
                malformed("its secret and public halves do not match: the file is corrupted")
            })?;
        Ok(key)
    }

    /// The key id, which its signatures carry.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The public key, to verify this key's signatures.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_base64(&self.public.to_base64())
            .expect("minisign writes public keys coreship reads")
    }

    /// Signs `digest`, the top-level manifest digest of the artifact published as `name`, and
    /// returns the text of a `.minisig` file.
    ///
    /// The signed content is the digest string, the trusted comment [`trusted_comment`]'s.
    pub fn sign(&self, digest: &Sha256Digest, name: &SignedName) -> Result<String, SignatureError> {
        let comment = trusted_comment(digest, name)?;
        self.sign_payload(signed_payload(digest).as_bytes(), &comment)
    }

    fn sign_payload(
        &self,
        payload: &[u8],
        trusted_comment: &str,
    ) -> Result<String, SignatureError> {
        let untrusted = format!("signature from coreship secret key {}", self.key_id);
        minisign::sign(
            Some(&self.public),
            &self.key,
            payload,
            Some(trusted_comment),
            Some(&untrusted),
        )
        .map(|signature| signature.into_string())
        .map_err(|e| minisign_error("sign with", &self.path, e))
    }
}

/// Never prints key material (the minisign crate's `Debug` does).
impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("key_id", &self.key_id)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Makes a new key pair: the secret key at `secret_path` (mode 0600, encrypted with
/// `password` if there is one, else unencrypted as `minisign -G -W` makes it) and the public
/// key beside it with the extension `.pub` (`release.key` → `release.pub`).
///
/// Never overwrites a file: each is written to a temporary file in the same directory, synced,
/// and linked into place only if the name is still free. Returns the public key path and the
/// key id.
pub fn keygen(
    secret_path: &Path,
    password: Option<&str>,
) -> Result<(PathBuf, KeyId), SignatureError> {
    let public_path = secret_path.with_extension("pub");
    if public_path == secret_path {
        return Err(SignatureError::SecretKeyPathIsPub {
            path: secret_path.to_path_buf(),
        });
    }
    for path in [secret_path, &public_path] {
        if path.symlink_metadata().is_ok() {
            return Err(SignatureError::KeyExists {
                path: path.to_path_buf(),
            });
        }
    }
    let generated = match password {
        None => KeyPair::generate_unencrypted_keypair(),
        Some(password) => KeyPair::generate_encrypted_keypair(Some(password.to_string())),
    };
    let KeyPair { pk, sk } = generated.map_err(|e| minisign_error("generate", secret_path, e))?;
    let key_id = KeyId::from_slice(pk.keynum());
    let comment = match password {
        None => "minisign unencrypted secret key",
        Some(_) => "minisign encrypted secret key",
    };
    let secret_text = sk
        .to_box(Some(comment))
        .map_err(|e| minisign_error("generate", secret_path, e))?
        .into_string();
    // minisign's own wording (the crate writes "public key: ID").
    let public_text = format!(
        "untrusted comment: minisign public key {key_id}\n{}\n",
        pk.to_base64()
    );
    write_new(secret_path, secret_text.as_bytes(), 0o600)?;
    if let Err(e) = write_new(&public_path, public_text.as_bytes(), 0o644) {
        // A secret key without its public key is of no use and would block the retry.
        let _ = fs::remove_file(secret_path);
        return Err(e);
    }
    Ok((public_path, key_id))
}

/// Writes `bytes` to `path` atomically, failing if `path` exists.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SignatureError> {
    let write_err = |source| SignatureError::WriteKey {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    // A hard link is a rename that refuses to replace: no window where another keygen's file
    // could be overwritten between the existence check and here.
    let linked = written.and_then(|()| fs::hard_link(&tmp, path));
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(SignatureError::KeyExists {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(write_err(e)),
    }
    // Make the new directory entry durable too.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(write_err)
}

fn minisign_error(action: &'static str, path: &Path, e: minisign::PError) -> SignatureError {
    SignatureError::Minisign {
        action,
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TrustedKeys;

    /// The name the tests sign for and ask for.
    fn name() -> SignedName {
        SignedName::parse("probes/x")
    }

    fn digest() -> Sha256Digest {
        Sha256Digest::of(b"manifest")
    }

    /// A fresh unencrypted key pair in a temp dir: (dir, secret key, trust in its public key).
    fn fresh_key() -> (tempfile::TempDir, SecretKey, TrustedKeys) {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("release.key");
        let (public, key_id) = keygen(&secret, None).unwrap();
        assert_eq!(public, dir.path().join("release.pub"));
        let key = SecretKey::from_file(&secret, None).unwrap();
        assert_eq!(key.key_id(), key_id);
        let trusted = TrustedKeys::from_paths([&public]).unwrap();
        (dir, key, trusted)
    }

    #[test]
    fn sign_then_verify_round_trips_with_the_coreship_comment() {
        let (dir, key, trusted) = fresh_key();
        let name = SignedName::parse("example.com/probes/execsnoop:0.1.0");
        let minisig = key.sign(&digest(), &name).unwrap();
        let verified = trusted
            .verify(&digest(), &name, minisig.as_bytes())
            .unwrap();
        assert_eq!(verified.key_id, key.key_id());
        assert_eq!(verified.source, dir.path().join("release.pub"));
        let prefix = format!(
            "coreship digest={} name=probes/execsnoop tag=0.1.0 timestamp=",
            digest()
        );
        let timestamp = verified.trusted_comment.strip_prefix(&prefix).unwrap();
        assert!(timestamp.parse::<u64>().unwrap() > 1_700_000_000);
        // Prehashed ("ED"), as current minisign makes by default.
        let line = minisig.lines().nth(1).unwrap();
        assert_eq!(&base64::decode(line).unwrap()[..2], b"ED", "{minisig}");
        assert_eq!(key.public_key().key_id(), key.key_id());
    }

    #[test]
    fn a_signature_holds_for_its_repository_and_tag_only() {
        let (_dir, key, trusted) = fresh_key();
        let minisig = key
            .sign(
                &digest(),
                &SignedName::parse("localhost:5000/probes/execsnoop:0.1.0"),
            )
            .unwrap();
        let check = |wanted: &str| {
            trusted.verify(&digest(), &SignedName::parse(wanted), minisig.as_bytes())
        };
        // Any registry, by tag, by digest, or by the bare probe name the cache resolves.
        for ok in [
            "registry.lan:5000/probes/execsnoop:0.1.0",
            "probes/execsnoop:0.1.0",
            "ghcr.io/probes/execsnoop@sha256:00",
            "execsnoop:0.1.0",
        ] {
            assert!(check(ok).is_ok(), "{ok}: {:?}", check(ok).err());
        }
        // Another version under this repository, another probe, another path.
        for wrong in [
            "localhost:5000/probes/execsnoop:0.2.0",
            "localhost:5000/probes/execsnoop:latest",
            "localhost:5000/probes/opensnoop:0.1.0",
            "localhost:5000/acme/probes/execsnoop:0.1.0",
        ] {
            let err = check(wrong).unwrap_err();
            assert!(
                matches!(&err, SignatureError::WrongName { claimed, .. } if claimed == "probes/execsnoop:0.1.0"),
                "{wrong}: {err}"
            );
        }
    }

    #[test]
    fn the_trusted_comment_names_digest_repository_tag_and_time() {
        let comment = trusted_comment(&digest(), &SignedName::parse("ghcr.io/acme/x:1.2")).unwrap();
        let prefix = format!(
            "coreship digest={} name=acme/x tag=1.2 timestamp=",
            digest()
        );
        let timestamp = comment
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{comment}"));
        assert!(timestamp.parse::<u64>().unwrap() > 1_700_000_000);
        let comment = trusted_comment(&digest(), &SignedName::parse("x@sha256:00")).unwrap();
        assert!(comment.contains(" name=x timestamp="), "{comment}");
    }

    #[test]
    fn another_key_is_not_trusted() {
        let (_dir, key, _) = fresh_key();
        let (_other_dir, _, other_trust) = fresh_key();
        let minisig = key.sign(&digest(), &SignedName::parse("probes/x")).unwrap();
        let err = other_trust
            .verify(&digest(), &name(), minisig.as_bytes())
            .unwrap_err();
        assert!(
            matches!(err, SignatureError::UntrustedKey { key_id, .. } if key_id == key.key_id()),
            "{err}"
        );
    }

    #[test]
    fn a_signature_does_not_carry_over_to_another_digest() {
        let (_dir, key, trusted) = fresh_key();
        let minisig = key.sign(&digest(), &SignedName::parse("probes/x")).unwrap();
        let other = Sha256Digest::of(b"other manifest");
        let err = trusted
            .verify(&other, &name(), minisig.as_bytes())
            .unwrap_err();
        assert!(matches!(err, SignatureError::BadSignature { .. }), "{err}");
    }

    #[test]
    fn a_rewritten_trusted_comment_does_not_verify() {
        let (_dir, key, trusted) = fresh_key();
        let minisig = key.sign(&digest(), &SignedName::parse("probes/x")).unwrap();
        let edited = minisig.replace("name=probes/x", "name=probes/y");
        assert_ne!(edited, minisig);
        let err = trusted
            .verify(&digest(), &name(), edited.as_bytes())
            .unwrap_err();
        assert!(matches!(err, SignatureError::BadSignature { .. }), "{err}");
    }

    #[test]
    fn a_comment_naming_another_digest_is_refused() {
        let (_dir, key, trusted) = fresh_key();
        let other = Sha256Digest::of(b"other manifest");
        let minisig = key
            .sign_payload(
                signed_payload(&digest()).as_bytes(),
                &format!("coreship digest={other} name=probes/x timestamp=1"),
            )
            .unwrap();
        let err = trusted
            .verify(&digest(), &name(), minisig.as_bytes())
            .unwrap_err();
        assert!(
            matches!(&err, SignatureError::DigestMismatch { claimed, .. } if *claimed == other.to_string()),
            "{err}"
        );
    }

    #[test]
    fn encrypted_keys_need_the_right_password() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("release.key");
        let (public, key_id) = keygen(&secret, Some("correct horse")).unwrap();
        let err = SecretKey::from_file(&secret, None).unwrap_err();
        assert!(
            matches!(err, SignatureError::PasswordNeeded { .. }),
            "{err}"
        );
        let err = SecretKey::from_file(&secret, Some("wrong")).unwrap_err();
        assert!(matches!(err, SignatureError::WrongPassword { .. }), "{err}");
        let key = SecretKey::from_file(&secret, Some("correct horse")).unwrap();
        assert_eq!(key.key_id(), key_id);
        let minisig = key.sign(&digest(), &SignedName::parse("probes/x")).unwrap();
        let trusted = TrustedKeys::from_paths([public]).unwrap();
        trusted
            .verify(&digest(), &name(), minisig.as_bytes())
            .unwrap();
    }

    #[test]
    fn keygen_never_overwrites_and_keeps_the_secret_private() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("release.key");
        keygen(&secret, None).unwrap();
        let before = fs::read(&secret).unwrap();
        let err = keygen(&secret, None).unwrap_err();
        assert!(matches!(err, SignatureError::KeyExists { .. }), "{err}");
        assert_eq!(fs::read(&secret).unwrap(), before);
        // The public key alone is in the way too.
        let lone = dir.path().join("lone.key");
        fs::write(dir.path().join("lone.pub"), "x").unwrap();
        let err = keygen(&lone, None).unwrap_err();
        assert!(matches!(&err, SignatureError::KeyExists { path } if path.ends_with("lone.pub")));
        assert!(!lone.exists());
        let err = keygen(&dir.path().join("release.pub"), None).unwrap_err();
        assert!(
            matches!(err, SignatureError::SecretKeyPathIsPub { .. }),
            "{err}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&secret).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Only the two keys are left, no temporary file.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn a_minisign_w_key_with_its_zero_checksum_signs() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("fx.key");
        fs::write(&secret, include_str!("fixtures/fx.key")).unwrap();
        let key = SecretKey::from_file(&secret, None).unwrap();
        assert_eq!(key.key_id().to_string(), "929B084887DC1A50");
        let public = dir.path().join("fx.pub");
        fs::write(&public, include_str!("fixtures/fx.pub")).unwrap();
        let minisig = key.sign(&digest(), &SignedName::parse("probes/x")).unwrap();
        TrustedKeys::from_paths([public])
            .unwrap()
            .verify(&digest(), &name(), minisig.as_bytes())
            .unwrap();
    }

    #[test]
    fn a_damaged_secret_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = include_str!("fixtures/fx.key");
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        // Change a digit inside the ed25519 secret half (decoded bytes 62..94).
        let mut line = lines[1].clone().into_bytes();
        line[90] = if line[90] == b'A' { b'B' } else { b'A' };
        lines[1] = String::from_utf8(line).unwrap();
        let secret = dir.path().join("damaged.key");
        fs::write(&secret, lines.join("\n")).unwrap();
        let err = SecretKey::from_file(&secret, None).unwrap_err();
        assert!(
            matches!(err, SignatureError::MalformedSecretKey { .. }),
            "{err}"
        );
        fs::write(&secret, "untrusted comment: x\nRWQ=\n").unwrap();
        let err = SecretKey::from_file(&secret, None).unwrap_err();
        assert!(
            matches!(err, SignatureError::MalformedSecretKey { .. }),
            "{err}"
        );
    }

    #[test]
    fn names_that_would_break_the_comment_are_refused() {
        let (_dir, key, _) = fresh_key();
        for bad in ["", "a b", "a\nb", "a\tb"] {
            let err = key
                .sign(&digest(), &SignedName::new(bad, None))
                .unwrap_err();
            assert!(matches!(err, SignatureError::InvalidName { .. }), "{bad:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let (_dir, key, _) = fresh_key();
        let shown = format!("{key:?}");
        assert!(shown.starts_with("SecretKey { key_id: "), "{shown}");
        assert!(!shown.contains("key:"), "{shown}");
    }
}
