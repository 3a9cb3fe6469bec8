//! Artifact references: `registry[:port]/repository[:tag][@sha256:…]`.
//!
//! The grammar is the distribution reference grammar, except that the registry host is
//! required: coreship has no default registry, so `probes/execsnoop` is never silently sent to
//! Docker Hub.

use crate::Sha256Digest;
use std::fmt;
use std::str::FromStr;

/// A parsed artifact reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host, with port if given (`localhost:5000`, `ghcr.io`).
    pub registry: String,
    /// Repository path (`probes/execsnoop`).
    pub repository: String,
    /// Tag, if given.
    pub tag: Option<String>,
    /// Digest, if given (it wins over the tag when both are).
    pub digest: Option<Sha256Digest>,
}

/// Why a string is not a reference.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    /// No registry host in front of the repository.
    #[error("`{0}` names no registry: write the host first, e.g. localhost:5000/{0}")]
    NoRegistry(String),
    /// The repository path has characters or a shape the spec does not allow.
    #[error("`{0}`: invalid repository name (lowercase letters, digits and . _ - separated by /)")]
    Repository(String),
    /// The tag is not `[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}`.
    #[error("`{0}`: invalid tag (letters, digits, _ . -, at most 128, not starting with . or -)")]
    Tag(String),
    /// The digest is not `sha256:<64 hex>`.
    #[error("`{0}`: invalid digest (expected @sha256:<64 lowercase hex digits>)")]
    Digest(String),
}

/// Whether `name` is a valid repository path (distribution spec `<name>` grammar).
pub fn valid_repository(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|component| {
            let b = component.as_bytes();
            let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
            if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
                return false;
            }
            // Separators: one '.', one '-' run of any length, or '_' / '__'.
            let mut i = 0;
            while i < b.len() {
                if alnum(b[i]) {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < b.len() && !alnum(b[i]) {
                    i += 1;
                }
                let sep = &component[start..i];
                let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
                if !ok {
                    return false;
                }
            }
            true
        })
}

/// Whether `tag` is a valid tag.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

impl Reference {
    /// The tag, or `latest` when the reference has neither tag nor digest.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or("latest")
    }

    /// What to ask the registry's manifest endpoint for: the digest if pinned, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository pinned to `digest` (tag kept for display).
    pub fn with_digest(&self, digest: Sha256Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// Whether the registry host is this machine (plain HTTP is allowed only there).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.registry)
    }
}

/// Whether `registry` (`host[:port]`, IPv6 in brackets) is this machine: `localhost` or a
/// loopback address.
pub(crate) fn is_loopback_host(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => registry.split(':').next().unwrap_or(""),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => (
                rest,
                Some(
                    d.parse::<Sha256Digest>()
                        .map_err(|_| ReferenceError::Digest(d.to_string()))?,
                ),
            ),
            None => (s, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((host, path))
                if host.contains('.') || host.contains(':') || host == "localhost" =>
            {
                (host, path)
            }
            _ => return Err(ReferenceError::NoRegistry(s.to_string())),
        };
        // A ':' after the last '/' separates the tag.
        let (repository, tag) = match path.rfind(':') {
            Some(i) if !path[i..].contains('/') => (&path[..i], Some(&path[i + 1..])),
            _ => (path, None),
        };
        if !valid_repository(repository) {
            return Err(ReferenceError::Repository(repository.to_string()));
        }
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(ReferenceError::Tag(t.to_string()));
            }
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn references_parse_with_tag_digest_and_port() {
        let r: Reference = "localhost:5000/probes/execsnoop:0.1.0".parse().unwrap();
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "probes/execsnoop");
        assert_eq!(r.tag.as_deref(), Some("0.1.0"));
        assert!(r.is_loopback());
        let r: Reference = format!("ghcr.io/acme/exec@{D}").parse().unwrap();
        assert_eq!(r.manifest_reference(), D);
        assert!(!r.is_loopback());
        assert_eq!(r.to_string(), format!("ghcr.io/acme/exec@{D}"));
        let r: Reference = "127.0.0.1:1/a".parse().unwrap();
        assert_eq!(r.manifest_reference(), "latest");
        assert!(r.is_loopback());
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        assert!(matches!(
            "probes/execsnoop".parse::<Reference>(),
            Err(ReferenceError::NoRegistry(_))
        ));
        assert!(matches!(
            "execsnoop".parse::<Reference>(),
            Err(ReferenceError::NoRegistry(_))
        ));
        assert!(matches!(
            "localhost/Probes".parse::<Reference>(),
            Err(ReferenceError::Repository(_))
        ));
        assert!(matches!(
            "localhost/a:-x".parse::<Reference>(),
            Err(ReferenceError::Tag(_))
        ));
        assert!(matches!(
            "localhost/a@sha256:12".parse::<Reference>(),
            Err(ReferenceError::Digest(_))
        ));
    }

    #[test]
    fn repository_grammar_follows_the_spec() {
        for ok in [
            "a",
            "a/b",
            "a-b",
            "a--b",
            "a_b",
            "a__b",
            "a.b",
            "probes/exec-snoop.v2",
        ] {
            assert!(valid_repository(ok), "{ok}");
        }
        for bad in ["", "A", "a/", "/a", "a..b", "a___b", "-a", "a-", "a/../b"] {
            assert!(!valid_repository(bad), "{bad}");
        }
    }
}
