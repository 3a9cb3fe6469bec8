//! Referrers (OCI distribution 1.1): the referrers API, and on registries without it the
//! referrers tag schema: an image index of referrer descriptors under the tag
//! `sha256-<subject hex>` ([`artifact::referrers_tag`]), which whoever pushes a referrer there
//! keeps up to date.

use super::error::ClientError;
use super::progress::Progress;
use super::transport::{pull_scope, read_body, status_error, Call, Client};
use crate::artifact::{self, Blob};
use crate::oci::{self, Descriptor, ImageIndex, Manifest, MAX_MANIFEST_BYTES, MEDIA_TYPE_INDEX};
use crate::{Reference, Sha256Digest};

/// The descriptor a referrers index lists for the referrer `manifest` (artifact type and
/// annotations copied, as the spec asks).
pub fn referrer_descriptor(manifest: &Blob) -> Result<Descriptor, oci::ManifestError> {
    let parsed = Manifest::parse(&manifest.bytes, Some(&manifest.descriptor.media_type))?;
    let mut d = manifest.descriptor.clone();
    d.artifact_type = parsed.artifact_type().map(str::to_string);
    d.annotations = parsed.annotations().clone();
    Ok(d)
}

fn empty_index() -> ImageIndex {
    ImageIndex {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_INDEX.to_string()),
        artifact_type: None,
        manifests: Vec::new(),
        subject: None,
        annotations: Default::default(),
    }
}

impl Client {
    /// The referrers of `subject` in `r`'s repository, optionally only those of
    /// `artifact_type`: from the referrers API, or from the fallback tag when the API answers
    /// 404 (an absent fallback tag means no referrers).
    pub fn referrers(
        &self,
        r: &Reference,
        subject: &Sha256Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, ClientError> {
        let url = self.url(r, &format!("referrers/{subject}"));
        let call = Call::new("GET", url.clone()).header("Accept", MEDIA_TYPE_INDEX);
        let mut resp = self.send(r, &pull_scope(r), &call)?;
        let index = match resp.status() {
            200 => {
                let bytes = read_body("GET", &url, &mut resp, MAX_MANIFEST_BYTES as u64)?;
                match Manifest::parse(&bytes, Some(MEDIA_TYPE_INDEX)) {
                    Ok(Manifest::Index(i)) => i,
                    Ok(_) => empty_index(),
                    Err(source) => return Err(ClientError::Manifest { url, source }),
                }
            }
            404 => self.fallback_index(r, subject)?.unwrap_or_else(empty_index),
            _ => return Err(status_error("GET", &url, &mut resp)),
        };
        Ok(index
            .manifests
            .into_iter()
            .filter(|d| artifact_type.is_none() || d.artifact_type.as_deref() == artifact_type)
            .collect())
    }

    /// The referrers tag's index, if the tag exists.
    fn fallback_index(
        &self,
        r: &Reference,
        subject: &Sha256Digest,
    ) -> Result<Option<ImageIndex>, ClientError> {
        let tag = artifact::referrers_tag(subject);
        match self.get_manifest(&r.with_tag(&tag)) {
            Ok(got) => match got.manifest {
                Manifest::Index(i) => Ok(Some(i)),
                Manifest::Image(_) => Ok(None),
            },
            Err(ClientError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Pushes the referrer `manifest` (with its `blobs`) of `subject` by digest; when the
    /// registry does not index it itself (no `OCI-Subject` in the answer), adds it to the
    /// referrers tag's index too. Returns the referrer's descriptor.
    pub fn push_referrer(
        &self,
        r: &Reference,
        subject: &Sha256Digest,
        blobs: &[Blob],
        manifest: &Blob,
        progress: &dyn Progress,
    ) -> Result<Descriptor, ClientError> {
        for b in blobs {
            self.push_blob(r, &b.descriptor, &b.bytes, None, progress)?;
        }
        let put = self.put_manifest(
            r,
            &manifest.descriptor.digest.to_string(),
            &manifest.descriptor.media_type,
            &manifest.bytes,
        )?;
        let entry = referrer_descriptor(manifest).map_err(|source| ClientError::Manifest {
            url: self.url(r, &format!("manifests/{}", manifest.descriptor.digest)),
            source,
        })?;
        if !put.subject_indexed {
            // Read-modify-write of the tag: two pushers racing may lose an entry; the spec
            // offers no lock (ETags are optional), and a lost entry only hides a signature.
            let mut index = self.fallback_index(r, subject)?.unwrap_or_else(empty_index);
            if !index.manifests.iter().any(|d| d.digest == entry.digest) {
                index.manifests.push(entry.clone());
                let tag = artifact::referrers_tag(subject);
                let put = self.put_manifest(r, &tag, MEDIA_TYPE_INDEX, &oci::to_json(&index));
                match put {
                    // Registries that refuse OCI 1.1 fields refuse them in descriptors too:
                    // list the referrers without `artifactType` (readers then look inside).
                    Err(e) if e.is_manifest_rejected() => {
                        for d in &mut index.manifests {
                            d.artifact_type = None;
                        }
                        self.put_manifest(r, &tag, MEDIA_TYPE_INDEX, &oci::to_json(&index))?;
                    }
                    other => {
                        other?;
                    }
                }
            }
        }
        Ok(entry)
    }
}
