//! Public keys, the set of trusted keys, and verifying a signature of a digest with them.

use super::{base64, comment_fields, signed_payload, KeyId, SignatureError, SignedName};
use crate::Sha256Digest;
use std::fs;
use std::path::{Path, PathBuf};

/// Length of a decoded public key: algorithm (2), key id (8), ed25519 key (32).
const PUBLIC_KEY_BYTES: usize = 42;

/// A minisign public key, as `coreship keygen` and `minisign -G` write it.
#[derive(Clone, Debug)]
pub struct PublicKey {
    key: minisign_verify::PublicKey,
    key_id: KeyId,
    base64: String,
}

impl PublicKey {
    /// Parses the base64 line of a public key (what `minisign -P` takes).
    pub fn from_base64(text: &str) -> Result<PublicKey, SignatureError> {
        let text = text.trim();
        PublicKey::parse_base64(text).ok_or_else(|| SignatureError::MalformedPublicKey {
            origin: format!("`{text}`"),
        })
    }

    /// Reads a `.pub` file: an `untrusted comment: …` line then the base64 line, or the base64
    /// line alone.
    pub fn from_file(path: &Path) -> Result<PublicKey, SignatureError> {
        super::read_key_line(path)?
            .as_deref()
            .and_then(PublicKey::parse_base64)
            .ok_or_else(|| SignatureError::MalformedPublicKey {
                origin: path.display().to_string(),
            })
    }

    fn parse_base64(text: &str) -> Option<PublicKey> {
        let bytes = base64::decode(text)?;
        if bytes.len() != PUBLIC_KEY_BYTES || &bytes[..2] != b"Ed" {
            return None;
        }
        Some(PublicKey {
            key: minisign_verify::PublicKey::from_base64(text).ok()?,
            key_id: KeyId::from_slice(&bytes[2..10]),
            base64: text.to_string(),
        })
    }

    /// The key id, which signatures by this key carry.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The base64 line, as `minisign -P` takes it.
    pub fn base64(&self) -> &str {
        &self.base64
    }
}

/// A signature that verified: who signed, and what its trusted comment says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The signing key's id.
    pub key_id: KeyId,
    /// The signed trusted comment, without `trusted comment: `.
    pub trusted_comment: String,
    /// The trusted key file that verified it.
    pub source: PathBuf,
}

/// The public keys signatures are checked against, each with the file it came from.
#[derive(Clone, Debug)]
pub struct TrustedKeys {
    keys: Vec<(PublicKey, PathBuf)>,
}

impl TrustedKeys {
    /// Loads every given `.pub` file, and every `*.pub` file of every given directory.
    ///
    /// A directory without `*.pub` files and an empty list are errors: asking for trust and
    /// trusting nobody is a mistake, not a policy.
    pub fn from_paths<P: AsRef<Path>>(
        paths: impl IntoIterator<Item = P>,
    ) -> Result<TrustedKeys, SignatureError> {
        let mut keys = Vec::new();
        for path in paths {
            let path = path.as_ref();
            if path.is_dir() {
                let files = pub_files(path)?;
                if files.is_empty() {
                    return Err(SignatureError::EmptyTrustDir {
                        path: path.to_path_buf(),
                    });
                }
                for file in files {
                    keys.push((PublicKey::from_file(&file)?, file));
                }
            } else {
                keys.push((PublicKey::from_file(path)?, path.to_path_buf()));
            }
        }
        if keys.is_empty() {
            return Err(SignatureError::NoTrustedKeys);
        }
        Ok(TrustedKeys { keys })
    }

    /// The trusted keys and the files they came from, in load order.
    pub fn iter(&self) -> impl Iterator<Item = (&PublicKey, &Path)> {
        self.keys.iter().map(|(key, path)| (key, path.as_path()))
    }

    /// Checks that `minisig` (the text of a `.minisig` file) is a signature of `signed` by a
    /// trusted key whose trusted comment, if it names a `digest=`, names `signed`, and names
    /// the repository and tag the artifact was asked for as (`expected`; see [`SignedName`]).
    ///
    /// Accepts minisign's prehashed (`ED`) and legacy (`Ed`) signatures.
    pub fn verify(
        &self,
        signed: &Sha256Digest,
        expected: &SignedName,
        minisig: &[u8],
    ) -> Result<Verified, SignatureError> {
        let (signature, key_id) = decode(signed, minisig)?;
        let mut candidates = self.keys.iter().filter(|(key, _)| key.key_id == key_id);
        let Some(first) = candidates.next() else {
            return Err(SignatureError::UntrustedKey {
                digest: *signed,
                key_id,
                trusted: self
                    .keys
                    .iter()
                    .map(|(key, path)| (key.key_id, path.clone()))
                    .collect(),
            });
        };
        let payload = signed_payload(signed);
        // Two trusted files may reuse a key id (never by chance: ids are random); try each.
        let (_, source) = std::iter::once(first)
            .chain(candidates)
            .find(|(key, _)| key.key.verify(payload.as_bytes(), &signature, true).is_ok())
            .ok_or_else(|| SignatureError::BadSignature {
                digest: *signed,
                key_id,
                key: first.1.clone(),
            })?;

        let trusted_comment = signature.trusted_comment().to_string();
        check_comment(&trusted_comment, signed, key_id, expected)?;
        Ok(Verified {
            key_id,
            trusted_comment,
            source: source.clone(),
        })
    }

    /// Checks the signatures an artifact has (it may have several) and returns the first that
    /// verifies with a trusted key.
    ///
    /// If none does, the error is the most telling one: a trusted key's signature that does
    /// not verify, else a signature by a key that is not trusted, else a malformed signature,
    /// else [`SignatureError::Unsigned`] when there is no signature at all.
    pub fn verify_any<'a>(
        &self,
        signed: &Sha256Digest,
        expected: &SignedName,
        minisigs: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Verified, SignatureError> {
        let mut best = SignatureError::Unsigned { digest: *signed };
        for minisig in minisigs {
            match self.verify(signed, expected, minisig) {
                Ok(verified) => return Ok(verified),
                Err(e) if e.rank() > best.rank() => best = e,
                Err(_) => {}
            }
        }
        Err(best)
    }
}

/// Checks, without a key, that the trusted comment of `minisig` (a `.minisig` file's text)
/// signs `signed` as `expected`, as [`TrustedKeys::verify`] will on the device: what
/// `coreship sign --signature` checks before attaching a signature made elsewhere.
pub fn check_signed_for(
    signed: &Sha256Digest,
    expected: &SignedName,
    minisig: &[u8],
) -> Result<(), SignatureError> {
    let (signature, key_id) = decode(signed, minisig)?;
    check_comment(signature.trusted_comment(), signed, key_id, expected)
}

/// Parses a `.minisig` file's text: the signature and its key id.
fn decode(
    signed: &Sha256Digest,
    minisig: &[u8],
) -> Result<(minisign_verify::Signature, KeyId), SignatureError> {
    let malformed = |reason| SignatureError::MalformedSignature {
        digest: *signed,
        reason,
    };
    let text = std::str::from_utf8(minisig).map_err(|_| malformed("not UTF-8 text"))?;
    let signature = minisign_verify::Signature::decode(text).map_err(|e| {
        malformed(match e {
            minisign_verify::Error::UnsupportedAlgorithm => "unknown signature algorithm",
            _ => "not the four lines of a .minisig file",
        })
    })?;
    // decode() checked that the second line is 74 bytes of base64: algorithm, key id, signature.
    let key_id = text
        .lines()
        .nth(1)
        .and_then(base64::decode)
        .map(|bytes| KeyId::from_slice(&bytes[2..10]))
        .ok_or_else(|| malformed("not the four lines of a .minisig file"))?;
    Ok((signature, key_id))
}

/// Checks that a (signed) trusted comment is for `signed` as `expected`.
///
/// The comment is signed, but by the key holder: a `digest=` naming another digest means the
/// signature was made for, or is being passed off as, another artifact. Then one `name=` must
/// cover the repository, and the tag must be among the `tag=`s (a comment naming two
/// repositories names none).
fn check_comment(
    trusted_comment: &str,
    signed: &Sha256Digest,
    key_id: KeyId,
    expected: &SignedName,
) -> Result<(), SignatureError> {
    let payload = signed_payload(signed);
    if let Some(claimed) = comment_fields(trusted_comment, "digest").find(|d| *d != payload) {
        return Err(SignatureError::DigestMismatch {
            digest: *signed,
            claimed: claimed.to_string(),
            key_id,
        });
    }
    let mut names = comment_fields(trusted_comment, "name");
    let (Some(name), None) = (names.next(), names.next()) else {
        return Err(SignatureError::Unbound {
            digest: *signed,
            key_id,
            expected: expected.clone(),
        });
    };
    let tags: Vec<&str> = comment_fields(trusted_comment, "tag").collect();
    if expected.is_covered_by(name, &tags) {
        return Ok(());
    }
    let repository = SignedName::new(name, None);
    Err(SignatureError::WrongName {
        digest: *signed,
        key_id,
        claimed: match tags.as_slice() {
            [] => format!("{repository} (no tag)"),
            tags => format!("{repository}:{}", tags.join(",")),
        },
        expected: expected.clone(),
    })
}

/// The `*.pub` files of `dir`, sorted so that the trust order does not depend on the file system.
fn pub_files(dir: &Path) -> Result<Vec<PathBuf>, SignatureError> {
    let read_err = |source| SignatureError::ReadTrustDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.extension().is_some_and(|ext| ext == "pub") && !path.is_dir() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FX_PUB: &str = include_str!("fixtures/fx.pub");
    const HASHED: &[u8] = include_bytes!("fixtures/hashed.minisig");
    const LEGACY: &[u8] = include_bytes!("fixtures/legacy.minisig");
    const FX_DIGEST: &str =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn fx_digest() -> Sha256Digest {
        FX_DIGEST.parse().unwrap()
    }

    /// The name LEGACY's trusted comment signs for.
    fn fx_name() -> SignedName {
        SignedName::parse("fixture")
    }

    /// A trust directory holding the fixture key as `fx.pub`.
    fn fx_trust() -> (tempfile::TempDir, TrustedKeys) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("fx.pub"), FX_PUB).unwrap();
        let trusted = TrustedKeys::from_paths([dir.path()]).unwrap();
        (dir, trusted)
    }

    #[test]
    fn public_keys_parse_with_or_without_the_comment_line() {
        let dir = tempfile::tempdir().unwrap();
        let with = dir.path().join("with.pub");
        let bare = dir.path().join("bare.pub");
        fs::write(&with, FX_PUB).unwrap();
        fs::write(&bare, FX_PUB.lines().nth(1).unwrap()).unwrap();
        for path in [&with, &bare] {
            let key = PublicKey::from_file(path).unwrap();
            assert_eq!(key.key_id().to_string(), "929B084887DC1A50");
            assert_eq!(key.base64(), FX_PUB.lines().nth(1).unwrap());
        }
        let key = PublicKey::from_base64(FX_PUB.lines().nth(1).unwrap()).unwrap();
        assert_eq!(key.key_id().to_string(), "929B084887DC1A50");
    }

    #[test]
    fn malformed_public_keys_are_rejected_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let b64 = FX_PUB.lines().nth(1).unwrap();
        for (i, bad) in [
            String::new(),
            "untrusted comment: minisign public key 929B084887DC1A50\n".to_string(),
            b64[..b64.len() - 4].to_string(),
            b64.replacen('R', "!", 1),
            // A secret key's base64 line.
            include_str!("fixtures/fx.key")
                .lines()
                .nth(1)
                .unwrap()
                .to_string(),
        ]
        .iter()
        .enumerate()
        {
            let path = dir.path().join(format!("bad{i}.pub"));
            fs::write(&path, bad).unwrap();
            let err = PublicKey::from_file(&path).unwrap_err();
            assert!(
                matches!(&err, SignatureError::MalformedPublicKey { origin } if *origin == path.display().to_string()),
                "{bad:?}: {err}"
            );
        }
        assert!(PublicKey::from_base64("RWQ=").is_err());
        assert!(matches!(
            PublicKey::from_file(&dir.path().join("missing.pub")),
            Err(SignatureError::ReadKey { .. })
        ));
    }

    #[test]
    fn a_minisign_cli_signature_with_its_default_comment_is_bound_to_nothing() {
        // The signature is good (a flipped byte would make it BadSignature), but the comment
        // minisign writes by default names no repository: it could stand for any probe.
        let (_dir, trusted) = fx_trust();
        let err = trusted
            .verify(&fx_digest(), &fx_name(), HASHED)
            .unwrap_err();
        assert!(
            matches!(&err, SignatureError::Unbound { key_id, .. } if key_id.to_string() == "929B084887DC1A50"),
            "{err}"
        );
        assert!(err.to_string().contains("--print-comment"), "{err}");
    }

    #[test]
    fn a_legacy_ed_signature_verifies() {
        let (dir, trusted) = fx_trust();
        let verified = trusted.verify(&fx_digest(), &fx_name(), LEGACY).unwrap();
        assert_eq!(verified.key_id.to_string(), "929B084887DC1A50");
        assert_eq!(verified.source, dir.path().join("fx.pub"));
        assert_eq!(
            verified.trusted_comment,
            format!("coreship digest={FX_DIGEST} name=fixture timestamp=1700000000")
        );
    }

    #[test]
    fn a_good_signature_for_another_name_is_refused_naming_both() {
        let (_dir, trusted) = fx_trust();
        for wanted in ["probes/other", "fixture:0.2.0"] {
            let err = trusted
                .verify(&fx_digest(), &SignedName::parse(wanted), LEGACY)
                .unwrap_err();
            let message = err.to_string();
            assert!(
                matches!(&err, SignatureError::WrongName { claimed, .. } if claimed == "fixture (no tag)"),
                "{message}"
            );
            assert!(message.contains(&format!("not {wanted}")), "{message}");
        }
    }

    #[test]
    fn a_signature_of_another_digest_does_not_verify() {
        let (_dir, trusted) = fx_trust();
        let other = Sha256Digest::of(b"other");
        for sig in [HASHED, LEGACY] {
            let err = trusted.verify(&other, &fx_name(), sig).unwrap_err();
            assert!(matches!(err, SignatureError::BadSignature { digest, .. } if digest == other));
        }
    }

    #[test]
    fn an_edited_trusted_comment_does_not_verify() {
        let (_dir, trusted) = fx_trust();
        let text = std::str::from_utf8(HASHED).unwrap();
        let edited = text.replace("file:digest", "file:digesT");
        assert_ne!(edited, text);
        let err = trusted
            .verify(&fx_digest(), &fx_name(), edited.as_bytes())
            .unwrap_err();
        assert!(matches!(err, SignatureError::BadSignature { .. }), "{err}");
    }

    #[test]
    fn a_flipped_signature_byte_does_not_verify() {
        let (_dir, trusted) = fx_trust();
        let text = std::str::from_utf8(HASHED).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Change one base64 digit inside the ed25519 signature (past algorithm and key id).
        let mut sig = lines[1].to_string().into_bytes();
        sig[40] = if sig[40] == b'A' { b'B' } else { b'A' };
        let tampered = format!(
            "{}\n{}\n{}\n{}\n",
            lines[0],
            String::from_utf8(sig).unwrap(),
            lines[2],
            lines[3]
        );
        let err = trusted
            .verify(&fx_digest(), &fx_name(), tampered.as_bytes())
            .unwrap_err();
        assert!(matches!(err, SignatureError::BadSignature { .. }), "{err}");
    }

    #[test]
    fn a_signature_by_an_untrusted_key_names_both_keys() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.pub");
        // Same key material, another key id: minisign matches signatures to keys by id.
        let b64 = FX_PUB.lines().nth(1).unwrap();
        let mut bytes = base64::decode(b64).unwrap();
        bytes[2] ^= 1;
        let other_id = KeyId::from_slice(&bytes[2..10]);
        fs::write(&other, encode(&bytes)).unwrap();
        let trusted = TrustedKeys::from_paths([&other]).unwrap();
        let err = trusted
            .verify(&fx_digest(), &fx_name(), HASHED)
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("929B084887DC1A50"), "{message}");
        assert!(message.contains(&other_id.to_string()), "{message}");
        assert!(message.contains(&other.display().to_string()), "{message}");
        assert!(matches!(err, SignatureError::UntrustedKey { .. }));
    }

    #[test]
    fn garbage_is_a_malformed_signature() {
        let (_dir, trusted) = fx_trust();
        for bad in [&b""[..], b"\xff\xfe", b"untrusted comment: x\nnot base64\n"] {
            let err = trusted.verify(&fx_digest(), &fx_name(), bad).unwrap_err();
            assert!(
                matches!(err, SignatureError::MalformedSignature { .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn verify_any_prefers_the_most_telling_error() {
        let (_dir, trusted) = fx_trust();
        let digest = fx_digest();
        let other = Sha256Digest::of(b"other");
        let name = fx_name();
        let err = trusted.verify_any(&digest, &name, []).unwrap_err();
        assert!(matches!(err, SignatureError::Unsigned { .. }));
        assert!(err.to_string().contains("is not signed"));
        // A signature of `digest` is a bad signature of `other`, which beats junk.
        let err = trusted
            .verify_any(&other, &name, [&b"junk"[..], HASHED])
            .unwrap_err();
        assert!(matches!(err, SignatureError::BadSignature { .. }), "{err}");
        // The first good one wins whatever precedes it (HASHED is good but bound to nothing).
        let verified = trusted
            .verify_any(&digest, &name, [&b"junk"[..], HASHED, LEGACY])
            .unwrap();
        assert!(verified.trusted_comment.starts_with("coreship digest="));
        // Bound to nothing beats junk.
        let err = trusted
            .verify_any(&digest, &name, [&b"junk"[..], HASHED])
            .unwrap_err();
        assert!(matches!(err, SignatureError::Unbound { .. }), "{err}");
    }

    #[test]
    fn trust_lists_files_and_directories_and_refuses_empty_ones() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        fs::create_dir(&keys).unwrap();
        let err = TrustedKeys::from_paths([&keys]).unwrap_err();
        assert!(matches!(err, SignatureError::EmptyTrustDir { .. }), "{err}");
        fs::write(keys.join("README"), "not a key").unwrap();
        assert!(TrustedKeys::from_paths([&keys]).is_err());
        fs::write(keys.join("a.pub"), FX_PUB).unwrap();
        fs::write(dir.path().join("b.pub"), FX_PUB).unwrap();
        let trusted = TrustedKeys::from_paths([keys.clone(), dir.path().join("b.pub")]).unwrap();
        let files: Vec<&Path> = trusted.iter().map(|(_, path)| path).collect();
        assert_eq!(files, [keys.join("a.pub"), dir.path().join("b.pub")]);
        let none: [&Path; 0] = [];
        assert!(matches!(
            TrustedKeys::from_paths(none),
            Err(SignatureError::NoTrustedKeys)
        ));
    }

    /// Standard base64 with padding, for building test keys.
    fn encode(bytes: &[u8]) -> String {
        const DIGITS: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(DIGITS[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
