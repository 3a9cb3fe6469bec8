//! Where a probe comes from, resolved to verified bytes: an object file, a package directory,
//! an OCI image layout (directory or tar, as `coreship export` writes it), or a registry
//! reference (pulled through the local cache).
//!
//! Every path that has an artifact goes through `coreship_registry::artifact::open` (digests
//! of every manifest, config and object checked) and, with `--trust`, through the minisign
//! check of the artifact's signatures before anything reaches the kernel. Verification is the
//! same for a fresh pull, a cache hit, `--offline` and a local layout.

mod layout;
mod remote;

use std::path::{Path, PathBuf};

use coreship_registry::artifact::{ArtifactError, Opened};
use coreship_registry::layout::LayoutError;
use coreship_registry::{Arch, Reference, SignatureError, SignedName, TrustedKeys, Verified};

use crate::{LoadError, ProbeSource};

pub use layout::{is_layout_path, LayoutRef};

/// What `coreship-load run REF` was given: told apart by its form first (a registry
/// reference is one whatever exists on disk), then by what exists on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeRef {
    /// A `.bpf.o` file or a package directory.
    Path(PathBuf),
    /// An OCI image layout (directory or tar), optionally one named entry of it.
    Layout(LayoutRef),
    /// A registry reference.
    Registry(Reference),
    /// A name in the local cache that is not a registry reference (`execsnoop:0.1.0`, as an
    /// export without a registry prefix names it).
    Cached(String),
}

/// What classifying an argument needs to know about the local filesystem.
trait LocalPaths {
    /// Whether `path` exists.
    fn exists(&self, path: &Path) -> bool;
    /// Whether `path` is an image layout (directory or tar).
    fn is_layout(&self, path: &Path) -> bool;
}

/// The real filesystem.
struct Disk;

impl LocalPaths for Disk {
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn is_layout(&self, path: &Path) -> bool {
        is_layout_path(path)
    }
}

impl ProbeRef {
    /// Classifies `arg`. A registry reference by its form — a first component that looks like
    /// a registry host (see [`is_reference_form`]) — even when a local path is spelt the
    /// same, so a file or directory someone put in the working directory cannot stand in for
    /// a registry; else an existing path, `LAYOUT:NAME` where LAYOUT exists, a missing path,
    /// or a cache name.
    pub fn parse(arg: &str) -> Result<ProbeRef, FetchError> {
        classify(arg, &Disk)
    }

    /// For a registry reference `arg` that a local path would have meant before references
    /// were told apart by their form (`arg` itself, or its `LAYOUT` before `:`, exists): how
    /// to name that path instead (`./arg`).
    pub fn local_spelling(arg: &str) -> Option<String> {
        local_spelling(arg, &Disk)
    }
}

fn classify(arg: &str, local: &dyn LocalPaths) -> Result<ProbeRef, FetchError> {
    if is_reference_form(arg) {
        return Ok(ProbeRef::Registry(arg.parse()?));
    }
    let path = Path::new(arg);
    if local.exists(path) {
        return Ok(match local.is_layout(path) {
            true => ProbeRef::Layout(LayoutRef {
                path: path.to_path_buf(),
                name: None,
            }),
            false => ProbeRef::Path(path.to_path_buf()),
        });
    }
    if let Some((p, name)) = arg.split_once(':') {
        let p = Path::new(p);
        if local.exists(p) && local.is_layout(p) {
            return Ok(ProbeRef::Layout(LayoutRef {
                path: p.to_path_buf(),
                name: Some(name.to_string()),
            }));
        }
    }
    // Not a reference: a path-looking argument that does not exist is a missing file, anything
    // else a name in the cache.
    Ok(
        match arg.contains(".bpf.o") || arg.contains('/') || arg.starts_with('.') {
            true => ProbeRef::Path(path.to_path_buf()),
            false => ProbeRef::Cached(arg.to_string()),
        },
    )
}

fn local_spelling(arg: &str, local: &dyn LocalPaths) -> Option<String> {
    let layout = arg.split_once(':').map(|(p, _)| p);
    let shadowed = is_reference_form(arg)
        && (local.exists(Path::new(arg)) || layout.is_some_and(|p| local.exists(Path::new(p))));
    shadowed.then(|| format!("./{arg}"))
}

/// Whether `arg` has the form of a registry reference, whatever exists on disk: a `/` after a
/// first component that looks like a registry host — docker's rule (it has a `.` or a `:`,
/// or is `localhost`), for a component that can be a `HOST[:PORT]` at all (so `./x`, `../x`,
/// `.hidden/x` and `probes.tar:registry.lan:5000/x` stay paths).
pub fn is_reference_form(arg: &str) -> bool {
    arg.split_once('/')
        .is_some_and(|(first, rest)| !rest.is_empty() && looks_like_host(first))
}

/// `localhost`, or a `HOST[:PORT]`/`[IPV6][:PORT]` whose host has a `.` or which has a port.
fn looks_like_host(s: &str) -> bool {
    if s == "localhost" {
        return true;
    }
    let (host, port) = match s.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((addr, rest)) if !addr.is_empty() => {
                let hex = |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.';
                if !addr.chars().all(hex) {
                    return false;
                }
                match rest {
                    "" => return true,
                    r => match r.strip_prefix(':') {
                        Some(port) => ("v6", Some(port)),
                        None => return false,
                    },
                }
            }
            _ => return false,
        },
        None => match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        },
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = !host.is_empty()
        && !host.starts_with(['.', '-'])
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    port_ok && host_ok && (host.contains('.') || port.is_some())
}

/// How to fetch and what to require.
#[derive(Debug, Default)]
pub struct FetchOpts {
    /// The object arch to pick.
    pub arch: Option<Arch>,
    /// Keys an artifact must be signed by; `None` accepts unsigned artifacts.
    pub trust: Option<TrustedKeys>,
    /// The repository (and tag) the signature must name, instead of the name the artifact was
    /// asked for: for a mirror that serves it under another name (`--signed-as`).
    pub signed_as: Option<SignedName>,
    /// Use only the local cache, never the network.
    pub offline: bool,
    /// Registry client settings (HTTPS roots, insecure, …).
    pub client: coreship_registry::client::ClientOptions,
}

/// A probe resolved to bytes, with where it came from and who signed it.
#[derive(Debug)]
pub struct Fetched {
    /// The object and its description.
    pub source: ProbeSource,
    /// The artifact's top-level digest, when it came from an artifact.
    pub digest: Option<coreship_registry::Sha256Digest>,
    /// The signature that verified, when `--trust` was given.
    pub verified: Option<Verified>,
    /// Whether no network was used (cache hit, layout, file).
    pub local: bool,
}

/// Errors resolving a probe reference.
#[derive(thiserror::Error)]
pub enum FetchError {
    /// Neither an existing path nor a valid reference.
    #[error(transparent)]
    Reference(#[from] coreship_registry::ReferenceError),
    /// Reading a file or package failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The image layout could not be read.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The artifact is not a usable coreship probe.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The signature check failed.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The machine's architecture is not one coreship builds for.
    #[error(
        "this machine's architecture is not one coreship builds for (x86_64, aarch64); pass --arch"
    )]
    UnknownArch,
    /// `--trust` was given for something that cannot carry a signature.
    #[error("{0}: a local object or package directory carries no signature; run a pushed or exported artifact, or drop --trust")]
    Unsignable(PathBuf),
    /// The registry or cache failed.
    #[error(transparent)]
    Client(#[from] coreship_registry::client::ClientError),
}

fn arch(opts: &FetchOpts) -> Result<Arch, FetchError> {
    opts.arch.or_else(Arch::host).ok_or(FetchError::UnknownArch)
}

/// Checks `signatures` of `opened`, asked for as `asked`, against the trusted keys, if any.
fn verify(
    opts: &FetchOpts,
    opened: &Opened,
    asked: &SignedName,
    signatures: &[Vec<u8>],
) -> Result<Option<Verified>, SignatureError> {
    let Some(trust) = &opts.trust else {
        return Ok(None);
    };
    let expected = opts.signed_as.as_ref().unwrap_or(asked);
    let signatures = signatures.iter().map(Vec::as_slice);
    trust
        .verify_any(&opened.root.digest, expected, signatures)
        .map(Some)
}

fn source(origin: String, opened: Opened) -> ProbeSource {
    ProbeSource {
        name: opened.package.name.clone(),
        bytes: opened.object,
        path: PathBuf::from(origin),
        package: Some(opened.package),
        min_btf: opened.min_btf,
    }
}

/// Resolves `probe` to a verified object for this machine (or `opts.arch`).
pub fn fetch(probe: &ProbeRef, opts: &FetchOpts) -> Result<Fetched, FetchError> {
    let arch = arch(opts)?;
    match probe {
        ProbeRef::Path(path) => {
            if opts.trust.is_some() {
                return Err(FetchError::Unsignable(path.clone()));
            }
            Ok(Fetched {
                source: ProbeSource::read(path, arch)?,
                digest: None,
                verified: None,
                local: true,
            })
        }
        ProbeRef::Layout(lref) => {
            let (opened, signatures, entry) = layout::open(lref, arch)?;
            // The name asked for, or the layout's only entry's.
            let asked = SignedName::parse(lref.name.as_deref().unwrap_or(&entry));
            let verified = verify(opts, &opened, &asked, &signatures)?;
            Ok(artifact(lref.to_string(), opened, verified, true))
        }
        ProbeRef::Cached(name) => {
            let pulled = remote::cached(name, arch)?;
            let verified = verify(
                opts,
                &pulled.opened,
                &SignedName::parse(name),
                &pulled.signatures,
            )?;
            Ok(artifact(
                name.clone(),
                pulled.opened,
                verified,
                pulled.from_cache,
            ))
        }
        ProbeRef::Registry(reference) => {
            let pulled = remote::pull(reference, arch, opts)?;
            let asked = SignedName::from(reference);
            let mut verified = verify(opts, &pulled.opened, &asked, &pulled.signatures);
            // The cache keeps the signatures it saw. One made since (a rotated key, the same
            // reproducible build signed again elsewhere, a signature added to an artifact first
            // pulled unsigned) is only in the registry: ask it again before refusing. When
            // that lookup fails, the refusal stands as it was.
            if verified.is_err() && !opts.offline {
                if let Ok(fresh) = remote::signatures(reference, &pulled.opened.root, opts) {
                    verified = verify(opts, &pulled.opened, &asked, &fresh);
                }
            }
            let shown = reference.to_string();
            Ok(artifact(shown, pulled.opened, verified?, pulled.from_cache))
        }
    }
}

/// An opened artifact (shown as `shown`) and the signature that verified, if trust was asked.
fn artifact(shown: String, opened: Opened, verified: Option<Verified>, local: bool) -> Fetched {
    Fetched {
        digest: Some(opened.root.digest),
        source: source(shown, opened),
        verified,
        local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A working directory holding exactly `paths`, those in `layouts` being image layouts.
    struct Fake<'a> {
        paths: &'a [&'a str],
        layouts: &'a [&'a str],
    }

    impl LocalPaths for Fake<'_> {
        fn exists(&self, path: &Path) -> bool {
            self.paths.iter().any(|p| Path::new(p) == path)
        }
        fn is_layout(&self, path: &Path) -> bool {
            self.layouts.iter().any(|p| Path::new(p) == path)
        }
    }

    const EMPTY: Fake<'static> = Fake {
        paths: &[],
        layouts: &[],
    };

    fn registry(arg: &str, local: &Fake<'_>) -> Reference {
        match classify(arg, local) {
            Ok(ProbeRef::Registry(r)) => r,
            other => panic!("{arg}: {other:?}"),
        }
    }

    fn layout(arg: &str, local: &Fake<'_>) -> LayoutRef {
        match classify(arg, local) {
            Ok(ProbeRef::Layout(l)) => l,
            other => panic!("{arg}: {other:?}"),
        }
    }

    #[test]
    fn a_registry_host_first_is_a_reference_whatever_exists_on_disk() {
        // A layout named like the host, with an entry named like the rest.
        let planted = Fake {
            paths: &[
                "127.0.0.1",
                "localhost:5000",
                "ghcr.io",
                "registry.lan:5000/probes/x:1",
            ],
            layouts: &[
                "127.0.0.1",
                "localhost:5000",
                "ghcr.io",
                "registry.lan:5000/probes/x:1",
            ],
        };
        for arg in [
            "127.0.0.1:5051/probes/execsnoop:1",
            "localhost:5000/probes/x:1",
            "localhost/probes/x",
            "ghcr.io/acme/x:1",
            "registry.lan:5000/probes/x:1",
            "[::1]:5000/probes/x:1",
        ] {
            assert_eq!(registry(arg, &planted), arg.parse().unwrap(), "{arg}");
            assert_eq!(registry(arg, &EMPTY), arg.parse().unwrap(), "{arg}");
        }
        assert_eq!(
            local_spelling("127.0.0.1:5051/probes/execsnoop:1", &planted).as_deref(),
            Some("./127.0.0.1:5051/probes/execsnoop:1")
        );
        assert_eq!(
            local_spelling("registry.lan:5000/probes/x:1", &planted).as_deref(),
            Some("./registry.lan:5000/probes/x:1")
        );
        assert_eq!(local_spelling("127.0.0.1:5051/probes/x:1", &EMPTY), None);
        // An invalid reference of that form is an error, not a path.
        assert!(matches!(
            classify("localhost:5000/Probes/x", &planted),
            Err(FetchError::Reference(_))
        ));
    }

    #[test]
    fn the_local_spelling_of_a_shadowed_reference_is_the_local_path() {
        let planted = Fake {
            paths: &["./127.0.0.1"],
            layouts: &["./127.0.0.1"],
        };
        assert_eq!(
            layout("./127.0.0.1:5051/probes/execsnoop:1", &planted),
            LayoutRef {
                path: "./127.0.0.1".into(),
                name: Some("5051/probes/execsnoop:1".into()),
            }
        );
        let planted = Fake {
            paths: &["/srv/127.0.0.1"],
            layouts: &["/srv/127.0.0.1"],
        };
        assert_eq!(
            layout("/srv/127.0.0.1", &planted),
            LayoutRef {
                path: "/srv/127.0.0.1".into(),
                name: None,
            }
        );
    }

    #[test]
    fn everything_else_keeps_its_meaning() {
        let here = Fake {
            paths: &[
                "target/coreship/execsnoop",
                "probes.tar",
                "x.bpf.o",
                ".hidden/x.bpf.o",
            ],
            layouts: &["probes.tar"],
        };
        for arg in ["target/coreship/execsnoop", "x.bpf.o", ".hidden/x.bpf.o"] {
            assert_eq!(classify(arg, &here).unwrap(), ProbeRef::Path(arg.into()));
        }
        assert_eq!(layout("probes.tar", &here).name, None);
        assert_eq!(
            layout("probes.tar:execsnoop:0.1.0", &here).name.as_deref(),
            Some("execsnoop:0.1.0")
        );
        // A layout entry named by a full reference: the part before the first `/` is no host.
        assert_eq!(
            layout("probes.tar:registry.lan:5000/probes/x:1", &here)
                .name
                .as_deref(),
            Some("registry.lan:5000/probes/x:1")
        );
        assert_eq!(
            classify("execsnoop:0.1.0", &here).unwrap(),
            ProbeRef::Cached("execsnoop:0.1.0".into())
        );
        // Missing paths stay paths (an error naming the file, not a bad reference).
        for arg in ["missing/x.bpf.o", "./missing", "../up/x", "missing.bpf.o"] {
            assert_eq!(classify(arg, &EMPTY).unwrap(), ProbeRef::Path(arg.into()));
        }
    }

    #[test]
    fn hosts_are_told_by_docker_s_rule_on_a_host_shaped_component() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.0.0.1:5051",
            "ghcr.io",
            "registry-1.example.com:443",
            "[::1]",
            "[::1]:5000",
            "lan:5000",
        ] {
            assert!(looks_like_host(host), "{host}");
        }
        for not in [
            "",
            ".",
            "..",
            ".hidden",
            "target",
            "probes.tar:registry.lan:5000",
            "a:b",
            "host:",
            "-x.io",
            "[::1",
            "[]:5000",
            "[::1]x",
            "dir with space.d",
        ] {
            assert!(!looks_like_host(not), "{not}");
        }
        assert!(!is_reference_form("ghcr.io/"));
        assert!(!is_reference_form("ghcr.io"));
    }
}

coreship_registry::debug_as_display!(FetchError);
