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

/// What `coreship-load run REF` was given, told apart by what exists on disk.
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

impl ProbeRef {
    /// Classifies `arg`: an existing path, `LAYOUT:NAME` where LAYOUT exists, else a reference.
    pub fn parse(arg: &str) -> Result<ProbeRef, FetchError> {
        let path = Path::new(arg);
        if path.exists() {
            return Ok(match is_layout_path(path) {
                true => ProbeRef::Layout(LayoutRef {
                    path: path.to_path_buf(),
                    name: None,
                }),
                false => ProbeRef::Path(path.to_path_buf()),
            });
        }
        if let Some((p, name)) = arg.split_once(':') {
            let p = Path::new(p);
            if p.exists() && is_layout_path(p) {
                return Ok(ProbeRef::Layout(LayoutRef {
                    path: p.to_path_buf(),
                    name: Some(name.to_string()),
                }));
            }
        }
        match arg.parse::<Reference>() {
            Ok(r) => Ok(ProbeRef::Registry(r)),
            // A path-looking argument that does not exist is a missing file, not a bad reference.
            Err(_) if arg.contains(".bpf.o") || arg.contains('/') || arg.starts_with('.') => {
                Ok(ProbeRef::Path(path.to_path_buf()))
            }
            Err(coreship_registry::ReferenceError::NoRegistry(_)) => {
                Ok(ProbeRef::Cached(arg.to_string()))
            }
            Err(e) => Err(FetchError::Reference(e)),
        }
    }
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
#[derive(Debug, thiserror::Error)]
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
