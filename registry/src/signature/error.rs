//! What can go wrong reading keys, verifying and signing.

use super::{KeyId, SignedName};
use crate::Sha256Digest;
use std::io;
use std::path::PathBuf;

/// A key that cannot be used, or a signature that does not prove what it should.
#[derive(thiserror::Error)]
pub enum SignatureError {
    /// A key file could not be read.
    #[error("cannot read key file {path}")]
    ReadKey {
        /// The key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A `--trust` directory could not be listed.
    #[error("cannot list trusted key directory {path}")]
    ReadTrustDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A `--trust` directory holds no `*.pub` file.
    #[error("trusted key directory {path} holds no *.pub file: put minisign public keys there, or pass --trust KEY.pub")]
    EmptyTrustDir {
        /// The directory.
        path: PathBuf,
    },
    /// Trust was asked for but no key was given.
    #[error("no trusted public key given: pass --trust KEY.pub or a directory of *.pub files")]
    NoTrustedKeys,
    /// Text that is not a minisign public key.
    #[error("{origin} is not a minisign public key: expected `untrusted comment: …` and a base64 line, as `coreship keygen` and `minisign -G` write")]
    MalformedPublicKey {
        /// The file, or the base64 text, it came from.
        origin: String,
    },
    /// A signature that cannot be parsed.
    #[error("signature of {digest} is not a minisign signature ({reason}): re-sign the artifact with `coreship push --sign KEY`")]
    MalformedSignature {
        /// The digest it claims to sign.
        digest: Sha256Digest,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The signature's key is not among the trusted keys.
    #[error("artifact {digest} is signed by key {key_id}, which is not trusted (trusted: {}): pass its public key with --trust, or re-sign with a trusted key", list(trusted))]
    UntrustedKey {
        /// The signed artifact.
        digest: Sha256Digest,
        /// The key id in the signature.
        key_id: KeyId,
        /// Every trusted key id and the file it came from.
        trusted: Vec<(KeyId, PathBuf)>,
    },
    /// A signature by a trusted key that does not verify: the signature, its trusted comment
    /// or the signed content was altered, or it signs another artifact.
    #[error("signature of {digest} by trusted key {key_id} ({key}) does not verify: it was altered or made for another artifact; re-sign it with `coreship push --sign KEY`")]
    BadSignature {
        /// The artifact it should sign.
        digest: Sha256Digest,
        /// The key id in the signature.
        key_id: KeyId,
        /// The trusted key file it was checked with.
        key: PathBuf,
    },
    /// A valid signature whose trusted comment names another digest than the one it signs.
    #[error("signature of {digest} by key {key_id} says in its trusted comment that it signs {claimed}: it was made for another artifact; re-sign {digest}")]
    DigestMismatch {
        /// The artifact it signs.
        digest: Sha256Digest,
        /// The `digest=` value of its trusted comment.
        claimed: String,
        /// The key id in the signature.
        key_id: KeyId,
    },
    /// A valid signature by a trusted key whose trusted comment names no repository (made with
    /// the minisign CLI's default comment): it could be passed off as any probe.
    #[error("signature of {digest} by key {key_id} names no repository in its trusted comment, so it could stand for any probe: re-sign it with `coreship sign REF --key KEY`, or with `minisign -t \"$(coreship sign REF --print-comment)\"` (wanted: {expected})")]
    Unbound {
        /// The artifact it signs.
        digest: Sha256Digest,
        /// The key id in the signature.
        key_id: KeyId,
        /// What the artifact was asked for as.
        expected: SignedName,
    },
    /// A valid signature by a trusted key for another repository or tag than the one the
    /// artifact was asked for: an older version or another probe served under this name.
    #[error("signature of {digest} by key {key_id} is for {claimed}, not {expected}: the registry serves under this name an artifact that was not signed for it (an older version, or another probe?); if a mirror renamed it, pass --signed-as NAME[:TAG]")]
    WrongName {
        /// The artifact it signs.
        digest: Sha256Digest,
        /// The key id in the signature.
        key_id: KeyId,
        /// The repository and tags the signature names.
        claimed: String,
        /// What the artifact was asked for as.
        expected: SignedName,
    },
    /// The artifact has no signature at all.
    #[error("artifact {digest} is not signed: push it with `coreship push --sign KEY`, or run without --trust")]
    Unsigned {
        /// The artifact.
        digest: Sha256Digest,
    },
    /// Text that is not a minisign secret key.
    #[cfg(feature = "sign")]
    #[error("{path} is not a minisign secret key ({reason}): make one with `coreship keygen` or `minisign -G`")]
    MalformedSecretKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An encrypted secret key and no password.
    #[cfg(feature = "sign")]
    #[error("secret key {path} is encrypted: give its password with --password-file FILE or CORESHIP_KEY_PASSWORD")]
    PasswordNeeded {
        /// The key file.
        path: PathBuf,
    },
    /// The password does not decrypt the secret key.
    #[cfg(feature = "sign")]
    #[error("wrong password for secret key {path}")]
    WrongPassword {
        /// The key file.
        path: PathBuf,
    },
    /// Decrypting, signing with or generating a key failed inside minisign.
    #[cfg(feature = "sign")]
    #[error("cannot {action} secret key {path}")]
    Minisign {
        /// What was being done: `decrypt`, `sign with`, `generate`.
        action: &'static str,
        /// The key file.
        path: PathBuf,
        /// minisign's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A repository name that cannot go into a trusted comment's `name=` field.
    #[error("repository name `{name}` has whitespace or control characters and cannot be signed: use an OCI repository name")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// `keygen` never replaces a key.
    #[cfg(feature = "sign")]
    #[error(
        "{path} already exists: remove it or choose another key path (keys are never overwritten)"
    )]
    KeyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// A secret key path whose `.pub` twin would be itself.
    #[cfg(feature = "sign")]
    #[error("secret key path {path} ends in .pub: name it like release.key, the public key goes beside it as release.pub")]
    SecretKeyPathIsPub {
        /// The path.
        path: PathBuf,
    },
    /// A key file could not be written.
    #[cfg(feature = "sign")]
    #[error("cannot write key file {path}")]
    WriteKey {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

fn list(trusted: &[(KeyId, PathBuf)]) -> String {
    let keys: Vec<String> = trusted
        .iter()
        .map(|(id, path)| format!("{id} from {}", path.display()))
        .collect();
    keys.join(", ")
}

impl SignatureError {
    /// How telling this error is when several candidate signatures all fail: a trusted key's
    /// signature that does not verify says most (tampering), then a key that is not trusted
    /// (names the key to add), then junk, then nothing at all.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            SignatureError::BadSignature { .. }
            | SignatureError::DigestMismatch { .. }
            | SignatureError::Unbound { .. }
            | SignatureError::WrongName { .. } => 3,
            SignatureError::UntrustedKey { .. } => 2,
            SignatureError::MalformedSignature { .. } => 1,
            _ => 0,
        }
    }
}

crate::debug_as_display!(SignatureError);
