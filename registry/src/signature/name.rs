//! What a signature is for: the repository, and the tag, an artifact is published under.
//!
//! A digest alone does not say what an artifact is meant to be. Anyone who can push to a
//! registry (or the registry itself) could otherwise serve any artifact a trusted key ever
//! signed — an older, vulnerable version, or another probe — under any name, and its
//! signature would still verify. So coreship signs the name too: the trusted comment says
//! `name=REPOSITORY` and, for a push or export under a tag, `tag=TAG`, and the loader requires
//! both to match what it was asked for.
//!
//! Registry hosts are left out on both sides: the same artifact is pushed to a staging and a
//! production registry, mirrored to a site registry, or exported and imported, under the same
//! repository path.

use std::fmt;

/// The repository, and the tag when there is one, that a signature names in its trusted comment,
/// or that a loader requires of the signature of what it fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedName {
    repository: String,
    tag: Option<String>,
}

impl SignedName {
    /// `repository` with or without its registry host (`probes/execsnoop`,
    /// `localhost:5000/probes/execsnoop`; the host is dropped), and a tag.
    pub fn new(repository: &str, tag: Option<&str>) -> SignedName {
        SignedName {
            repository: strip_host(repository).to_string(),
            tag: tag.map(str::to_string),
        }
    }

    /// A name as references, image layouts and the cache write them:
    /// `[HOST/]REPOSITORY[:TAG][@sha256:…]`. A digest pin drops the tag: an artifact asked for
    /// by digest is what it is, under whatever tag it was signed.
    pub fn parse(name: &str) -> SignedName {
        let (name, pinned) = match name.split_once('@') {
            Some((name, _digest)) => (name, true),
            None => (name, false),
        };
        // A tag's `:` comes after the last `/` (a host's port comes before it).
        let slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[slash..].rfind(':') {
            Some(colon) => (&name[..slash + colon], Some(&name[slash + colon + 1..])),
            None => (name, None),
        };
        SignedName::new(repository, tag.filter(|_| !pinned))
    }

    /// The repository path, without a registry host.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if the name has one.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// Whether a signature naming `signed_repository` and `signed_tags` covers this name: the
    /// same repository (or, when this is a bare probe name such as `execsnoop`, as the cache
    /// and layouts resolve short names, the last component of it), and, when this name has a
    /// tag, one of the tags signed.
    pub(crate) fn is_covered_by(&self, signed_repository: &str, signed_tags: &[&str]) -> bool {
        let signed_repository = strip_host(signed_repository);
        let repository = signed_repository == self.repository
            || (!self.repository.contains('/')
                && signed_repository.rsplit('/').next() == Some(self.repository.as_str()));
        repository
            && self
                .tag
                .as_deref()
                .is_none_or(|tag| signed_tags.contains(&tag))
    }

    /// The trusted comment fields that name this: `name=REPOSITORY[ tag=TAG]`.
    pub(crate) fn comment_fields(&self) -> String {
        match &self.tag {
            Some(tag) => format!("name={} tag={tag}", self.repository),
            None => format!("name={}", self.repository),
        }
    }
}

impl fmt::Display for SignedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tag {
            Some(tag) => write!(f, "{}:{tag}", self.repository),
            None => write!(f, "{}", self.repository),
        }
    }
}

impl From<&crate::Reference> for SignedName {
    /// The repository of `r`, and its tag unless `r` is pinned by digest.
    fn from(r: &crate::Reference) -> SignedName {
        let tag = r.tag.as_deref().filter(|_| r.digest.is_none());
        SignedName::new(&r.repository, tag)
    }
}

/// `name` without a leading registry host: a first component that holds `.` or `:` or is
/// `localhost`, followed by more (the rule docker and the OCI tools use).
fn strip_host(name: &str) -> &str {
    match name.split_once('/') {
        Some((first, rest))
            if !rest.is_empty()
                && (first.contains('.') || first.contains(':') || first == "localhost") =>
        {
            rest
        }
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_with_and_without_hosts_tags_and_digests() {
        let cases = [
            ("probes/execsnoop", "probes/execsnoop", None),
            (
                "localhost:5000/probes/execsnoop:0.1.0",
                "probes/execsnoop",
                Some("0.1.0"),
            ),
            (
                "registry.lan/probes/execsnoop:latest",
                "probes/execsnoop",
                Some("latest"),
            ),
            ("execsnoop:0.1.0", "execsnoop", Some("0.1.0")),
            ("execsnoop", "execsnoop", None),
            (
                "127.0.0.1:5000/probes/execsnoop@sha256:00aa",
                "probes/execsnoop",
                None,
            ),
            ("ghcr.io/acme/probes/x:1@sha256:00aa", "acme/probes/x", None),
            // A first component without `.` or `:` is a path, not a host.
            ("acme/probes/x:2", "acme/probes/x", Some("2")),
        ];
        for (text, repository, tag) in cases {
            let n = SignedName::parse(text);
            assert_eq!((n.repository(), n.tag()), (repository, tag), "{text}");
        }
    }

    #[test]
    fn a_signature_covers_its_repository_and_tags_only() {
        let want = SignedName::parse("localhost:5000/probes/execsnoop:0.2.0");
        assert!(want.is_covered_by("probes/execsnoop", &["0.2.0"]));
        assert!(want.is_covered_by("registry.lan:5000/probes/execsnoop", &["latest", "0.2.0"]));
        // Another probe, another version, or no tag at all.
        assert!(!want.is_covered_by("probes/opensnoop", &["0.2.0"]));
        assert!(!want.is_covered_by("probes/execsnoop", &["0.1.0"]));
        assert!(!want.is_covered_by("probes/execsnoop", &[]));
        // A longer path that merely ends alike is another repository.
        assert!(!want.is_covered_by("evil/probes/execsnoop", &["0.2.0"]));
        assert!(!want.is_covered_by("xprobes/execsnoop", &["0.2.0"]));
        // A short name, as the cache and layouts resolve it, is the tail of the signed one.
        let short = SignedName::parse("execsnoop:0.2.0");
        assert!(short.is_covered_by("probes/execsnoop", &["0.2.0"]));
        assert!(!short.is_covered_by("probes/xexecsnoop", &["0.2.0"]));
        // A digest pin needs the repository only.
        let pinned = SignedName::parse("localhost:5000/probes/execsnoop@sha256:00");
        assert!(pinned.is_covered_by("probes/execsnoop", &[]));
        assert!(!pinned.is_covered_by("probes/opensnoop", &[]));
    }

    #[test]
    fn names_print_and_go_into_comments_without_hosts() {
        let n = SignedName::parse("localhost:5000/probes/execsnoop:0.1.0");
        assert_eq!(n.to_string(), "probes/execsnoop:0.1.0");
        assert_eq!(n.comment_fields(), "name=probes/execsnoop tag=0.1.0");
        let n = SignedName::new("probes/execsnoop", None);
        assert_eq!(n.comment_fields(), "name=probes/execsnoop");
    }
}
