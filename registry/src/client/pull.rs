//! `pull`: resolve a reference to a verified artifact for one architecture through the cache,
//! with its signatures, online or offline.

use super::cache::{cache_name, Cache, Offline};
use super::error::ClientError;
use super::progress::Progress;
use super::transport::Client;
use crate::artifact::{self, BlobSource, OpenError, Opened};
use crate::oci::{self, Descriptor};
use crate::store::StoreError;
use crate::{Arch, Reference, Sha256Digest};

/// A pulled artifact.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The artifact opened for the architecture, every digest checked.
    pub opened: Opened,
    /// The minisign signature files (`.minisig` text) found as referrers of the root; not
    /// verified here.
    pub signatures: Vec<Vec<u8>>,
    /// Whether nothing but the top-level manifest came from the network.
    pub from_cache: bool,
}

/// Reads from the cache, fetching what is missing or corrupt from the registry into it.
struct Online<'a> {
    client: &'a Client,
    cache: &'a Cache,
    reference: &'a Reference,
    progress: &'a dyn Progress,
    fetched: u32,
}

impl<'a> Online<'a> {
    fn new(
        client: &'a Client,
        cache: &'a Cache,
        reference: &'a Reference,
        progress: &'a dyn Progress,
    ) -> Online<'a> {
        Online {
            client,
            cache,
            reference,
            progress,
            fetched: 0,
        }
    }

    /// The cached bytes, or `None` when absent or corrupt (a corrupt blob is removed).
    fn cached(&self, digest: &Sha256Digest) -> Result<Option<Vec<u8>>, ClientError> {
        match self.cache.blobs().read(digest) {
            Ok(b) => Ok(Some(b)),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(StoreError::Corrupt { .. }) => {
                self.cache.blobs().remove(digest)?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl BlobSource for Online<'_> {
    type Error = ClientError;
    fn fetch(&mut self, desc: &Descriptor) -> Result<Vec<u8>, ClientError> {
        // Signature referrers are fetched here directly, not through `artifact::open`.
        artifact::check_size(desc)?;
        if let Some(bytes) = self.cached(&desc.digest)? {
            return Ok(bytes);
        }
        self.fetched += 1;
        if oci::is_manifest_media_type(&desc.media_type) {
            let got = self.client.fetch_manifest(self.reference, desc)?;
            self.cache
                .blobs()
                .put_verified(&desc.digest, &got.bytes[..])?;
            return Ok(got.bytes);
        }
        self.client
            .fetch_blob(self.reference, desc, self.cache.blobs(), self.progress)?;
        self.cache
            .blobs()
            .read(&desc.digest)
            .map_err(|e| self.cache.corrupt(&self.reference.to_string(), e))
    }
}

fn open_error(e: OpenError<ClientError>) -> ClientError {
    match e {
        OpenError::Source(e) => e,
        OpenError::Artifact(a) => a.into(),
    }
}

/// Pulls `reference` for `arch` into `cache` and opens it.
///
/// Online: one manifest GET for the reference; blobs come from the cache when it has them
/// (re-verified), else from the registry into the cache. Signatures (referrers of artifact
/// type [`artifact::SIGNATURE_ARTIFACT_TYPE`]) are fetched and cached; when the cache already holds
/// signatures for this root they are reused without asking the registry again, so a repeated
/// pull of an unchanged tag costs exactly one request. Offline: only the cache is read; a miss
/// says to run `coreship-load pull` first.
pub fn pull(
    client: &Client,
    cache: &Cache,
    reference: &Reference,
    arch: Arch,
    offline: bool,
    progress: &dyn Progress,
) -> Result<Pulled, ClientError> {
    if offline {
        return open_cached(cache, &cache_name(reference), arch);
    }
    let top = client.get_manifest(reference)?;
    let root = top.descriptor.clone();
    if !matches!(cache.blobs().read(&root.digest), Ok(b) if b == top.bytes) {
        cache.blobs().remove(&root.digest)?;
        cache.blobs().put_verified(&root.digest, &top.bytes[..])?;
    }
    let mut source = Online::new(client, cache, reference, progress);
    let opened = artifact::open(&mut source, &root, arch).map_err(open_error)?;
    cache.record(reference, &root, &opened.manifest, arch)?;
    let mut signatures = cache.signatures(&root.digest)?;
    if signatures.is_empty() {
        signatures = self::signatures(&mut source, &root)?;
    }
    Ok(Pulled {
        opened,
        signatures,
        from_cache: source.fetched == 0,
    })
}

/// The signature files of `root` (an artifact pulled from `reference`'s repository) that the
/// registry has now, whether or not the cache had them: new ones are cached. For a signature
/// made after the artifact was first pulled, which [`pull`] does not look for once the cache
/// holds a signature.
pub fn fetch_signatures(
    client: &Client,
    cache: &Cache,
    reference: &Reference,
    root: &Descriptor,
    progress: &dyn Progress,
) -> Result<Vec<Vec<u8>>, ClientError> {
    let mut source = Online::new(client, cache, reference, progress);
    signatures(&mut source, root)
}

/// Lists the signature referrers of `root`, caches them and returns their signature files.
fn signatures(src: &mut Online<'_>, root: &Descriptor) -> Result<Vec<Vec<u8>>, ClientError> {
    let referrers = src.client.referrers(src.reference, &root.digest, None)?;
    let mut out = Vec::new();
    // Entries without `artifactType` (written for registries that refuse it) are looked into.
    let candidates = referrers
        .into_iter()
        .filter(|d| d.artifact_type.is_none() || artifact::is_signature(d));
    for d in candidates {
        let bytes = src.fetch(&d)?;
        let Ok(m) = oci::Manifest::parse(&bytes, Some(&d.media_type)) else {
            continue;
        };
        // A fallback index is writable by anyone who can push: check what it claims.
        if m.subject().map(|s| s.digest) != Some(root.digest) {
            continue;
        }
        let Some(layer) = artifact::signature_layer(&m).cloned() else {
            continue;
        };
        // A signature is a `{}` config and one small layer: anything bigger is not one of
        // ours and is not downloaded.
        let blobs = m.references();
        if blobs.len() > 2 || blobs.iter().any(|b| b.size > artifact::MAX_SIGNATURE_BYTES) {
            continue;
        }
        for blob in blobs {
            src.fetch(blob)?;
        }
        src.cache.record_signature(&d)?;
        out.push(src.fetch(&layer)?);
    }
    Ok(out)
}

/// Opens the artifact cached under `name` (a [`cache_name`] or an imported name) for `arch`,
/// without the network.
pub fn open_cached(cache: &Cache, name: &str, arch: Arch) -> Result<Pulled, ClientError> {
    let root = cache
        .lookup(name, arch)?
        .ok_or_else(|| ClientError::NotCached {
            reference: name.to_string(),
            arch,
            cache: cache.dir().to_path_buf(),
        })?;
    let mut source = Offline {
        cache,
        name: name.to_string(),
        arch,
    };
    let opened = artifact::open(&mut source, &root, arch).map_err(open_error)?;
    let signatures = cache.signatures(&root.digest)?;
    Ok(Pulled {
        opened,
        signatures,
        from_cache: true,
    })
}
