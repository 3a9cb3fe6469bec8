//! `push`: upload a packed artifact (blobs, per-arch manifests, the tagged root index) and its
//! signature referrer, re-packing in compat form when the registry refuses OCI 1.1 content.

use super::error::ClientError;
use super::progress::Progress;
use super::transport::Client;
use crate::artifact::{self, ArtifactError, PackOptions, Packed};
use crate::oci::Descriptor;
use crate::Reference;
use std::path::Path;

/// A boxed error from a signer.
pub type SignError = Box<dyn std::error::Error + Send + Sync>;

/// What [`push`] uploads. The artifact is asked for twice at most: first as OCI 1.1 content,
/// then, if the registry rejects a manifest of it (MANIFEST_INVALID, UNSUPPORTED, 415), in
/// compat form ([`PackOptions::compat`]); the root digest then changes, so the signature is
/// made for whichever root was pushed.
pub trait PushSource {
    /// The artifact, packed with `compat` as given.
    fn pack(&mut self, compat: bool) -> Result<Packed, ArtifactError>;
    /// The minisign signature (`.minisig` text) of the pushed `root`, or `None` to push
    /// unsigned.
    fn sign(&mut self, root: &Descriptor) -> Result<Option<Vec<u8>>, SignError>;
}

/// A function that signs a root descriptor.
pub type Signer<'a> = Box<dyn FnMut(&Descriptor) -> Result<Vec<u8>, SignError> + 'a>;

/// The usual [`PushSource`]: a package directory as `coreship build` writes it, packed with
/// `options` (its `compat` is overridden per attempt), signed by `signer` if given.
pub struct PackageDir<'a> {
    /// The package directory.
    pub dir: &'a Path,
    /// Annotations for [`artifact::pack`].
    pub options: PackOptions,
    /// Signs the root; `None` pushes unsigned.
    pub signer: Option<Signer<'a>>,
}

impl PushSource for PackageDir<'_> {
    fn pack(&mut self, compat: bool) -> Result<Packed, ArtifactError> {
        let opts = PackOptions {
            compat,
            ..self.options.clone()
        };
        artifact::pack(self.dir, &opts)
    }

    fn sign(&mut self, root: &Descriptor) -> Result<Option<Vec<u8>>, SignError> {
        self.signer.as_mut().map(|s| s(root)).transpose()
    }
}

/// What [`push`] did.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The root index, now under the reference's tag.
    pub root: Descriptor,
    /// Whether the compat form was pushed because the registry refused OCI 1.1 content.
    pub compat: bool,
    /// The signature referrer, if one was pushed.
    pub signature: Option<Descriptor>,
}

/// Uploads blobs (skipping those present), per-arch manifests by digest and the root under
/// the reference's tag (or digest when it has none).
pub fn upload(
    client: &Client,
    reference: &Reference,
    packed: &Packed,
    progress: &dyn Progress,
) -> Result<(), ClientError> {
    for b in &packed.blobs {
        client.push_blob(reference, &b.descriptor, &b.bytes, None, progress)?;
    }
    for m in &packed.manifests {
        let digest = m.descriptor.digest.to_string();
        client.put_manifest(reference, &digest, &m.descriptor.media_type, &m.bytes)?;
    }
    let root = &packed.root;
    let at = match (&reference.tag, &reference.digest) {
        (None, Some(_)) => root.descriptor.digest.to_string(),
        _ => reference.tag_or_latest().to_string(),
    };
    client.put_manifest(reference, &at, &root.descriptor.media_type, &root.bytes)?;
    Ok(())
}

/// Pushes the artifact `source` packs to `reference`, then its signature referrer (also listed
/// under the referrers tag on registries without the referrers API).
pub fn push(
    client: &Client,
    reference: &Reference,
    source: &mut dyn PushSource,
    progress: &dyn Progress,
) -> Result<Pushed, ClientError> {
    let mut compat = false;
    let packed = loop {
        let packed = source.pack(compat)?;
        match upload(client, reference, &packed, progress) {
            Ok(()) => break packed,
            Err(e) if !compat && e.is_manifest_rejected() => compat = true,
            Err(e) => return Err(e),
        }
    };
    let root = packed.root.descriptor.clone();
    let minisig = source.sign(&root).map_err(|source| ClientError::Sign {
        digest: root.digest,
        source,
    })?;
    let signature = match minisig {
        Some(minisig) => {
            let (blobs, manifest) = artifact::signature(&root, &minisig, compat);
            Some(client.push_referrer(reference, &root.digest, &blobs, &manifest, progress)?)
        }
        None => None,
    };
    Ok(Pushed {
        root,
        compat,
        signature,
    })
}
