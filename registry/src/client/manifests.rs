//! Manifests and tags: verified GETs by tag or digest, PUTs with the registry's digest
//! checked, and the paginated tag list.

use super::error::ClientError;
use super::transport::{
    header_str, pull_scope, push_scope, read_body, read_errors, status_error, Call, Client,
};
use crate::oci::{
    Descriptor, Manifest, MAX_MANIFEST_BYTES, MEDIA_TYPE_DOCKER_LIST, MEDIA_TYPE_DOCKER_MANIFEST,
    MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST,
};
use crate::{Reference, Sha256Digest};

/// Every manifest media type coreship reads, for `Accept`.
const ACCEPTED: [&str; 4] = [
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST,
    MEDIA_TYPE_DOCKER_LIST,
    MEDIA_TYPE_DOCKER_MANIFEST,
];

/// A manifest as the registry served it, verified.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// Its descriptor (digest of the bytes, their size, the media type).
    pub descriptor: Descriptor,
    /// The exact bytes.
    pub bytes: Vec<u8>,
    /// The parsed document.
    pub manifest: Manifest,
}

/// What the registry said to a manifest PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutManifest {
    /// The digest of the uploaded bytes (checked against `Docker-Content-Digest` if sent).
    pub digest: Sha256Digest,
    /// Whether the answer carried `OCI-Subject`: the registry indexes referrers itself.
    pub subject_indexed: bool,
}

impl Client {
    /// GETs the manifest `r` names (its digest if pinned, else its tag) and verifies it: by
    /// digest, the bytes must hash to it; by tag, to `Docker-Content-Digest` when present.
    pub fn get_manifest(&self, r: &Reference) -> Result<FetchedManifest, ClientError> {
        self.get_manifest_at(r, &r.manifest_reference(), r.digest.as_ref(), None)
    }

    /// GETs a manifest by its descriptor (a child of an index, a referrer), verified; one
    /// that declares more than [`MAX_MANIFEST_BYTES`] is refused before the request.
    pub fn fetch_manifest(
        &self,
        r: &Reference,
        desc: &Descriptor,
    ) -> Result<FetchedManifest, ClientError> {
        crate::artifact::check_size(desc)?;
        let shown = r.with_digest(desc.digest);
        let got = self.get_manifest_at(
            &shown,
            &desc.digest.to_string(),
            Some(&desc.digest),
            Some(desc),
        )?;
        Ok(got)
    }

    pub(crate) fn get_manifest_at(
        &self,
        r: &Reference,
        reference: &str,
        digest: Option<&Sha256Digest>,
        desc: Option<&Descriptor>,
    ) -> Result<FetchedManifest, ClientError> {
        let url = self.url(r, &format!("manifests/{reference}"));
        let call = Call::new("GET", url.clone()).header("Accept", ACCEPTED.join(", "));
        self.count_manifest_get();
        let mut resp = self.send(r, &pull_scope(r), &call)?;
        match resp.status() {
            200 => {}
            404 => {
                return Err(ClientError::NotFound {
                    reference: r.to_string(),
                    url: self.url(r, "tags/list"),
                    errors: read_errors(&mut resp),
                })
            }
            _ => return Err(status_error("GET", &url, &mut resp)),
        }
        let announced = header_str(&resp, "docker-content-digest");
        let content_type = header_str(&resp, "content-type");
        let bytes = read_body("GET", &url, &mut resp, MAX_MANIFEST_BYTES as u64)?;
        let actual = Sha256Digest::of(&bytes);
        let expected = match (digest, announced.as_deref()) {
            (Some(d), _) => Some(*d),
            (None, Some(a)) => Some(a.trim().parse().map_err(|_| ClientError::MissingHeader {
                url: url.clone(),
                header: "Docker-Content-Digest",
            })?),
            (None, None) => None,
        };
        if let Some(expected) = expected {
            if expected != actual {
                return Err(ClientError::Digest {
                    url,
                    expected,
                    actual,
                });
            }
        }
        let media_hint = desc.map(|d| d.media_type.clone()).or(content_type);
        let manifest = Manifest::parse(&bytes, media_hint.as_deref())
            .map_err(|source| ClientError::Manifest { url, source })?;
        let mut descriptor = Descriptor::of(manifest.media_type(), &bytes);
        if let Some(d) = desc {
            descriptor.platform = d.platform.clone();
            descriptor.artifact_type = d.artifact_type.clone();
            descriptor.annotations = d.annotations.clone();
        }
        Ok(FetchedManifest {
            descriptor,
            bytes,
            manifest,
        })
    }

    /// PUTs a manifest under `reference` (a tag, or its digest).
    pub fn put_manifest(
        &self,
        r: &Reference,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<PutManifest, ClientError> {
        let url = self.url(r, &format!("manifests/{reference}"));
        let call = Call::new("PUT", url.clone())
            .header("Content-Type", media_type)
            .body(bytes);
        let mut resp = self.send(r, &push_scope(r), &call)?;
        if !matches!(resp.status(), 200 | 201 | 202 | 204) {
            return Err(status_error("PUT", &url, &mut resp));
        }
        let digest = Sha256Digest::of(bytes);
        if let Some(said) = header_str(&resp, "docker-content-digest") {
            match said.trim().parse::<Sha256Digest>() {
                Ok(d) if d == digest => {}
                Ok(d) => {
                    return Err(ClientError::Digest {
                        url,
                        expected: digest,
                        actual: d,
                    })
                }
                Err(_) => {
                    return Err(ClientError::MissingHeader {
                        url,
                        header: "Docker-Content-Digest",
                    })
                }
            }
        }
        Ok(PutManifest {
            digest,
            subject_indexed: resp.header("oci-subject").is_some(),
        })
    }

    /// Every tag of the repository, following `Link: <…>; rel="next"` pages (at most 1000).
    pub fn tags(&self, r: &Reference) -> Result<Vec<String>, ClientError> {
        #[derive(serde::Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut url = self.url(r, "tags/list?n=1000");
        let mut tags = Vec::new();
        for _ in 0..1000 {
            let mut resp = self.send(r, &pull_scope(r), &Call::new("GET", url.clone()))?;
            match resp.status() {
                200 => {}
                404 => {
                    return Err(ClientError::NotFound {
                        reference: r.name(),
                        url: url.clone(),
                        errors: read_errors(&mut resp),
                    })
                }
                _ => return Err(status_error("GET", &url, &mut resp)),
            }
            let next = header_str(&resp, "link").and_then(|l| next_link(&l));
            let body = read_body("GET", &url, &mut resp, 16 << 20)?;
            let page: TagList =
                serde_json::from_slice(&body).map_err(|source| ClientError::Malformed {
                    url: url.clone(),
                    source,
                })?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                Some(n) => url = Client::resolve_location(&url, &n),
                None => break,
            }
        }
        Ok(tags)
    }
}

/// The target of `rel="next"` in a `Link` header.
pub(crate) fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_found_in_link_headers() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(next_link(r#"<x>; rel="prev""#), None);
    }
}
