//! [`ClientError`]: what failed, where (URL, status), what the registry said, and what to do.

use super::credentials::Withheld;
use crate::layout::LayoutError;
use crate::store::StoreError;
use crate::{artifact::ArtifactError, oci::ManifestError, Sha256Digest};
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;

/// One entry of a registry's `{"errors":[{"code","message"}]}` body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RegistryError {
    /// `MANIFEST_UNKNOWN`, `UNAUTHORIZED`, … (distribution spec error codes).
    #[serde(default)]
    pub code: String,
    /// The registry's message.
    #[serde(default)]
    pub message: String,
}

/// The error list of a registry response (possibly empty: not every error body is JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryErrors(pub Vec<RegistryError>);

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<RegistryError>,
}

impl RegistryErrors {
    /// Parses an error body; anything that is not the spec's JSON yields an empty list.
    pub fn parse(body: &[u8]) -> RegistryErrors {
        RegistryErrors(
            serde_json::from_slice::<ErrorBody>(body)
                .map(|b| b.errors)
                .unwrap_or_default(),
        )
    }

    /// Whether any entry has `code`.
    pub fn has(&self, code: &str) -> bool {
        self.0.iter().any(|e| e.code == code)
    }

    /// The first code, for short messages.
    pub fn first_code(&self) -> Option<&str> {
        self.0.first().map(|e| e.code.as_str())
    }
}

impl fmt::Display for RegistryErrors {
    /// `: CODE: message; CODE: message`, or nothing for an empty list.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            match (e.code.is_empty(), e.message.is_empty()) {
                (false, false) => write!(f, "{}: {}", e.code, e.message)?,
                (false, true) => f.write_str(&e.code)?,
                _ => f.write_str(&e.message)?,
            }
        }
        Ok(())
    }
}

/// Where the credentials a request used came from (never the secret itself), or why there
/// were none.
pub(crate) fn describe_origin(origin: &Option<String>, withheld: &Option<Box<Withheld>>) -> String {
    match (origin, withheld) {
        (Some(o), _) => format!("the credentials from {o} were refused: check them"),
        (None, Some(w)) => w.to_string(),
        (None, None) => "no credentials were found: set CORESHIP_REGISTRY_USER and \
                         CORESHIP_REGISTRY_PASSWORD, or CORESHIP_REGISTRY_TOKEN (with \
                         CORESHIP_REGISTRY_HOST naming a registry not on this machine), or log \
                         in with docker/podman"
            .to_string(),
    }
}

/// Errors of the registry client and the cache.
#[derive(thiserror::Error)]
pub enum ClientError {
    /// The request did not get an HTTP response (connection, TLS, timeout).
    #[error("{method} {url}")]
    Transport {
        /// Request method.
        method: &'static str,
        /// The URL.
        url: String,
        /// What went wrong on the connection.
        #[source]
        source: Box<super::http::HttpError>,
    },
    /// The registry answered with a status the operation does not expect.
    #[error("{method} {url}: HTTP {status}{errors}")]
    Status {
        /// Request method.
        method: &'static str,
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The registry's error list.
        errors: RegistryErrors,
    },
    /// A manifest or tag the registry does not have.
    #[error("{reference} not found{}: check the repository and tag (tags: GET {url})", code(.errors))]
    NotFound {
        /// What was asked for.
        reference: String,
        /// Where the tags of the repository can be listed.
        url: String,
        /// The registry's error list.
        errors: RegistryErrors,
    },
    /// Authentication failed (401 after trying the credentials, or 403).
    #[error("{url}: HTTP {status}{errors}; {}", describe_origin(.origin, .withheld))]
    Unauthorized {
        /// The URL.
        url: String,
        /// 401 or 403.
        status: u16,
        /// Which environment variable or file the credentials came from.
        origin: Option<String>,
        /// Credentials of the environment not sent because they are for other hosts.
        withheld: Option<Box<Withheld>>,
        /// The registry's error list.
        errors: RegistryErrors,
    },
    /// A host the registry redirected to answered 401 or 403. Credentials go only to the
    /// registry itself, so its challenge is not answered.
    #[error("{url} was redirected to {to}, which answered HTTP {status}: credentials are sent only to the registry, never to a host it redirects to")]
    RedirectedAuth {
        /// The URL asked for.
        url: String,
        /// The URL on the other host that answered.
        to: String,
        /// 401 or 403.
        status: u16,
    },
    /// A challenge named a token endpoint in plain HTTP where plain HTTP is not allowed.
    #[error("token endpoint {realm} (named by {url}) refused: plain HTTP only to loopback hosts or with --insecure; nothing was sent to it")]
    PlainRealm {
        /// The URL whose challenge named it.
        url: String,
        /// The realm.
        realm: String,
    },
    /// The token endpoint's answer had no token.
    #[error("token endpoint {url} returned no `token` or `access_token`")]
    Token {
        /// The realm URL.
        url: String,
    },
    /// A `WWW-Authenticate` challenge coreship cannot answer.
    #[error("{url}: unsupported authentication challenge `{challenge}`")]
    Challenge {
        /// The URL.
        url: String,
        /// The header value.
        challenge: String,
    },
    /// Received content does not hash to the digest it was asked for or announced with.
    #[error("{url}: content hashes to {actual}, expected {expected}; refused, nothing was stored")]
    Digest {
        /// The URL.
        url: String,
        /// The digest asked for (or `Docker-Content-Digest`).
        expected: Sha256Digest,
        /// What the bytes hash to.
        actual: Sha256Digest,
    },
    /// A blob was longer or shorter than its descriptor says.
    #[error("{url}: {actual} bytes, the descriptor says {expected}; refused, nothing was stored")]
    Size {
        /// The URL.
        url: String,
        /// Size in the descriptor.
        expected: u64,
        /// Bytes received (at least this many when too long).
        actual: u64,
    },
    /// A download broke off more often than the retry budget allows.
    #[error("{url}: download interrupted {attempts} times")]
    Interrupted {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last interruption.
        #[source]
        source: std::io::Error,
    },
    /// A response lacks a header the protocol requires (e.g. `Location` on an upload).
    #[error("{url}: response has no usable `{header}` header")]
    MissingHeader {
        /// The URL.
        url: String,
        /// The header name.
        header: &'static str,
    },
    /// A manifest from the registry is not one coreship can read.
    #[error("manifest from {url}")]
    Manifest {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: ManifestError,
    },
    /// A JSON answer (tag list) that does not parse.
    #[error("{url}: malformed JSON answer")]
    Malformed {
        /// The URL.
        url: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// HTTPS is needed but this build has no TLS.
    #[error("{registry} needs HTTPS but this build has no TLS (cargo feature `tls`); use a loopback registry or --insecure for plain HTTP")]
    NoTls {
        /// The registry host.
        registry: String,
    },
    /// A CA file could not be read or holds no certificate.
    #[error("CA file {path}: {what}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (an OS error or "no PEM certificate").
        what: String,
    },
    /// No system CA bundle and no `--ca-file`.
    #[error("no CA certificates found (looked at SSL_CERT_FILE and {looked}); pass --ca-file")]
    NoRoots {
        /// The paths tried.
        looked: String,
    },
    /// The artifact is not in the cache and the pull is offline.
    #[error("{reference} ({arch}) is not in the cache {cache}: run `coreship-load pull {reference}` first")]
    NotCached {
        /// The reference.
        reference: String,
        /// The architecture.
        arch: crate::Arch,
        /// The cache directory.
        cache: PathBuf,
    },
    /// Cached content no longer has its digest.
    #[error("{reference}: cached content is corrupt ({detail}); remove {cache} or run `coreship-load pull {reference}` again")]
    CacheCorrupt {
        /// The reference.
        reference: String,
        /// The cache directory.
        cache: PathBuf,
        /// The blob and what it hashes to.
        detail: String,
    },
    /// No cache directory can be derived from the environment.
    #[error("no cache directory: set CORESHIP_CACHE_DIR, XDG_CACHE_HOME or HOME")]
    NoCacheDir,
    /// A cache (image layout) operation failed.
    #[error("cache")]
    Cache(#[source] LayoutError),
    /// A blob store operation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The content is not a (valid) coreship artifact.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The push source could not produce the signature.
    #[error("signing {digest}")]
    Sign {
        /// The root digest being signed.
        digest: Sha256Digest,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn code(errors: &RegistryErrors) -> String {
    errors
        .first_code()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default()
}

impl From<LayoutError> for ClientError {
    fn from(e: LayoutError) -> Self {
        match e {
            LayoutError::Store(s) => ClientError::Store(s),
            other => ClientError::Cache(other),
        }
    }
}

impl ClientError {
    /// The HTTP status, when the error is a registry answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. }
            | ClientError::Unauthorized { status, .. }
            | ClientError::RedirectedAuth { status, .. } => Some(*status),
            ClientError::NotFound { .. } => Some(404),
            _ => None,
        }
    }

    /// Whether a manifest upload was refused for its content (MANIFEST_INVALID, UNSUPPORTED,
    /// 415): the sign that the registry rejects OCI 1.1 fields or unknown media types.
    pub fn is_manifest_rejected(&self) -> bool {
        match self {
            ClientError::Status { status, errors, .. } => {
                *status == 415
                    || (*status == 400
                        && (errors.has("MANIFEST_INVALID")
                            || errors.has("UNSUPPORTED")
                            || errors.0.is_empty()))
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_parsed_and_shown_as_code_and_message() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"9"}},{"code":"X","message":""}]}"#;
        let errors = RegistryErrors::parse(body);
        assert_eq!(
            errors.to_string(),
            ": MANIFEST_UNKNOWN: manifest unknown; X"
        );
        assert!(errors.has("MANIFEST_UNKNOWN"));
        assert_eq!(RegistryErrors::parse(b"404 page not found").0, vec![]);
        assert_eq!(RegistryErrors::parse(b"404 page not found").to_string(), "");
    }

    #[test]
    fn messages_say_what_to_do_and_never_hold_secrets() {
        let e = ClientError::NotFound {
            reference: "localhost:5000/probes/x:9".into(),
            url: "http://localhost:5000/v2/probes/x/tags/list".into(),
            errors: RegistryErrors(vec![RegistryError {
                code: "MANIFEST_UNKNOWN".into(),
                message: "manifest unknown".into(),
            }]),
        };
        assert_eq!(
            e.to_string(),
            "localhost:5000/probes/x:9 not found (MANIFEST_UNKNOWN): check the repository and \
             tag (tags: GET http://localhost:5000/v2/probes/x/tags/list)"
        );
        let e = ClientError::Unauthorized {
            url: "https://r.example/v2/".into(),
            status: 401,
            origin: Some("env CORESHIP_REGISTRY_TOKEN".into()),
            withheld: None,
            errors: RegistryErrors::default(),
        };
        assert_eq!(
            e.to_string(),
            "https://r.example/v2/: HTTP 401; the credentials from env CORESHIP_REGISTRY_TOKEN \
             were refused: check them"
        );
    }

    #[test]
    fn manifest_rejections_are_recognised_for_the_compat_retry() {
        let status = |status, code: &str| ClientError::Status {
            method: "PUT",
            url: "u".into(),
            status,
            errors: RegistryErrors(vec![RegistryError {
                code: code.into(),
                message: String::new(),
            }]),
        };
        assert!(status(400, "MANIFEST_INVALID").is_manifest_rejected());
        assert!(status(400, "UNSUPPORTED").is_manifest_rejected());
        assert!(status(415, "").is_manifest_rejected());
        assert!(!status(400, "BLOB_UNKNOWN").is_manifest_rejected());
        assert!(!status(500, "MANIFEST_INVALID").is_manifest_rejected());
    }
}

crate::debug_as_display!(ClientError);
