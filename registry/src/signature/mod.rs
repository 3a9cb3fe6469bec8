//! Minisign signatures of artifact digests (the format is in the crate docs).
//!
//! `verify` (public keys, trusted keys, checking a signature) is always built, on
//! `minisign-verify` alone, for the loader; `sign` (secret keys, signing, `keygen`) needs the
//! cargo feature `sign` and the `minisign` crate, for the builder. Both read key ids and
//! algorithms through the small `base64` decoder, because `minisign-verify` exposes neither.

mod base64;
mod error;
mod name;
#[cfg(feature = "sign")]
mod sign;
mod verify;

pub use error::SignatureError;
pub use name::SignedName;
#[cfg(feature = "sign")]
pub use sign::{keygen, SecretKey};
pub use verify::{check_signed_for, PublicKey, TrustedKeys, Verified};

use crate::Sha256Digest;
use std::fmt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The base64 line of a minisign key file, public or secret: an `untrusted comment: …` line
/// then the base64 line, or the base64 line alone; `None` when the file holds no such line.
fn read_key_line(path: &Path) -> Result<Option<String>, SignatureError> {
    let text = std::fs::read_to_string(path).map_err(|source| SignatureError::ReadKey {
        path: path.to_path_buf(),
        source,
    })?;
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let line = match lines.next() {
        Some(comment) if comment.starts_with("untrusted comment:") => lines.next(),
        first => first,
    };
    Ok(line.map(str::to_string))
}

/// A minisign key id: 8 random bytes that name a key pair and that every signature carries.
///
/// Displayed as minisign prints it: 16 uppercase hex digits of the bytes read as a
/// little-endian number (`minisign public key 929B084887DC1A50`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 8]);

impl KeyId {
    /// The 8 bytes as they are stored in keys and signatures.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }

    fn from_slice(bytes: &[u8]) -> KeyId {
        let mut id = [0; 8];
        id.copy_from_slice(bytes);
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}", u64::from_le_bytes(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The trusted comment of a coreship signature of `digest` published as `name`:
/// `coreship digest=<digest> name=<repository> [tag=<tag> ]timestamp=<unix seconds>`. Also what
/// to pass to `minisign -t` when signing elsewhere (`coreship sign REF --print-comment`).
pub fn trusted_comment(digest: &Sha256Digest, name: &SignedName) -> Result<String, SignatureError> {
    let text = name.to_string();
    if name.repository().is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(SignatureError::InvalidName { name: text });
    }
    // A clock before 1970 is not worth failing a push over; 0 says it plainly.
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(format!(
        "coreship digest={digest} {} timestamp={timestamp}",
        name.comment_fields()
    ))
}

/// What a coreship signature signs: the digest string itself.
fn signed_payload(digest: &Sha256Digest) -> String {
    digest.to_string()
}

/// The values of the `KEY=` fields of a trusted comment (coreship's comments have `digest=`,
/// `name=`, `tag=` and `timestamp=`; minisign's own have none of them).
fn comment_fields<'a>(trusted_comment: &'a str, key: &'a str) -> impl Iterator<Item = &'a str> {
    trusted_comment
        .split_ascii_whitespace()
        .filter_map(move |field| field.strip_prefix(key)?.strip_prefix('='))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_print_as_minisign_prints_them() {
        // From fixtures/fx.pub: "untrusted comment: minisign public key 929B084887DC1A50".
        let id = KeyId([0x50, 0x1a, 0xdc, 0x87, 0x48, 0x08, 0x9b, 0x92]);
        assert_eq!(id.to_string(), "929B084887DC1A50");
        // minisign prints "%" PRIX64: no leading zeros (a key id starting with a zero nibble
        // printed 16 digits here once, and the CLI interop test failed one run in sixteen).
        let id = KeyId([0x9f, 0xda, 0x87, 0x1e, 0x78, 0x66, 0xcf, 0x01]);
        assert_eq!(id.to_string(), "1CF66781E87DA9F");
    }

    #[test]
    fn comment_fields_are_the_values_of_one_key() {
        let comment = "coreship digest=sha256:ab name=x/y tag=1 tag=latest timestamp=1";
        let fields = |key| comment_fields(comment, key).collect::<Vec<_>>();
        assert_eq!(fields("digest"), ["sha256:ab"]);
        assert_eq!(fields("name"), ["x/y"]);
        assert_eq!(fields("tag"), ["1", "latest"]);
        assert!(fields("nam").is_empty());
        assert_eq!(
            comment_fields("timestamp:1\tfile:digest\thashed", "digest").count(),
            0
        );
    }
}
