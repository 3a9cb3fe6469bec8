//! `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<reference>`.
//!
//! A manifest is stored as a blob plus a link holding its media type; a tag is a file holding
//! a digest. `PUT` checks everything before it writes anything: size, syntax, the media type
//! (the document's `mediaType` and the `Content-Type` must both be manifest or index types,
//! and the same one when both are given: `GET` serves it back, so a browser type would make
//! the registry's origin serve a pusher's HTML), the size a coreship config may declare, the
//! digest of a digest reference, and that every blob (image manifest) or child manifest
//! (index) it names is already in the repository. The order of writes (blob, link, referrer
//! record, tag) means a crash leaves at most an untagged manifest, never a tag without its
//! content.

use super::blobs::DIGEST_HEADER;
use super::error::{ApiError, Code};
use super::storage::{RepoName, Storage};
use super::AppState;
use crate::artifact::MEDIA_TYPE_CONFIG;
use crate::oci::{
    is_manifest_media_type, Descriptor, Manifest, MAX_MANIFEST_BYTES, MEDIA_TYPE_DOCKER_LIST,
    MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST,
};
use crate::{valid_tag, Sha256Digest};
use axum::extract::Request;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeSet;

/// `OCI-Subject`: the subject digest of a pushed referrer, telling clients that the registry
/// records referrers itself.
const SUBJECT_HEADER: &str = "oci-subject";

/// Largest coreship config (the package description) a pushed manifest may declare. A
/// description is a few KiB; this leaves room for minimal BTF listed for thousands of kernels.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The media types a manifest may be pushed and served with.
const MANIFEST_MEDIA_TYPES: [&str; 4] = [
    MEDIA_TYPE_MANIFEST,
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_DOCKER_MANIFEST,
    MEDIA_TYPE_DOCKER_LIST,
];

/// A manifest reference: a tag or a digest.
enum Ref {
    Tag(String),
    Digest(Sha256Digest),
}

fn parse_ref(reference: &str) -> Option<Ref> {
    if reference.contains(':') {
        reference.parse().ok().map(Ref::Digest)
    } else {
        valid_tag(reference).then(|| Ref::Tag(reference.to_string()))
    }
}

fn manifest_unknown(reference: &str) -> ApiError {
    ApiError::new(Code::ManifestUnknown, "manifest unknown to registry")
        .detail(serde_json::json!({ "reference": reference }))
}

fn resolve(state: &AppState, repo: &RepoName, reference: &str) -> Result<Sha256Digest, ApiError> {
    let unknown = || {
        if state.storage().repo_exists(repo) {
            manifest_unknown(reference)
        } else {
            ApiError::new(Code::NameUnknown, "repository name not known to registry")
                .detail(serde_json::json!({ "name": repo.as_str() }))
        }
    };
    match parse_ref(reference) {
        Some(Ref::Digest(d)) => Ok(d),
        Some(Ref::Tag(t)) => state.storage().tag(repo, &t)?.ok_or_else(unknown),
        None => Err(unknown()),
    }
}

/// `GET` (with body) or `HEAD`.
pub(crate) fn get(
    state: &AppState,
    name: &str,
    reference: &str,
    with_body: bool,
) -> Result<Response, ApiError> {
    let repo = RepoName::parse(name)?;
    let digest = resolve(state, &repo, reference)?;
    let stored = state
        .storage()
        .manifest_media_type(&repo, &digest)?
        .ok_or_else(|| manifest_unknown(reference))?;
    // Only a manifest type is ever served: anything else was stored before media types were
    // checked, and is served as bytes rather than as what its pusher said it is.
    let media_type = match is_manifest_media_type(&stored) {
        true => stored,
        false => "application/octet-stream".to_string(),
    };
    let blobs = state.storage().blobs();
    let headers = |len: u64| {
        [
            (header::CONTENT_TYPE, media_type.clone()),
            (header::CONTENT_LENGTH, len.to_string()),
            (HeaderName::from_static(DIGEST_HEADER), digest.to_string()),
        ]
    };
    if !with_body {
        let len = blobs
            .size(&digest)
            .ok_or_else(|| manifest_unknown(reference))?;
        return Ok((headers(len), axum::body::Body::empty()).into_response());
    }
    let path = blobs.path(&digest);
    let bytes = std::fs::read(&path).map_err(|_| manifest_unknown(reference))?;
    Ok((headers(bytes.len() as u64), bytes).into_response())
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::ManifestInvalid, message)
}

/// Checks that everything `manifest` names is in `repo` with the size its descriptor says.
fn check_references(
    state: &AppState,
    repo: &RepoName,
    manifest: &Manifest,
) -> Result<(), ApiError> {
    let storage = state.storage();
    for desc in manifest.references() {
        let present = match manifest {
            Manifest::Index(_) => storage
                .manifest_media_type(repo, &desc.digest)?
                .and_then(|_| storage.blobs().size(&desc.digest)),
            Manifest::Image(_) => storage.repo_blob_size(repo, &desc.digest),
        };
        let what = match manifest {
            Manifest::Index(_) => "manifest",
            Manifest::Image(_) => "blob",
        };
        match present {
            None => {
                return Err(ApiError::new(
                    Code::ManifestBlobUnknown,
                    format!(
                        "{what} {} is not in repository {}",
                        desc.digest,
                        repo.as_str()
                    ),
                )
                .detail(serde_json::json!({ "digest": desc.digest })))
            }
            Some(size) if size != desc.size => {
                return Err(invalid(format!(
                    "descriptor of {} says {} bytes, the stored {what} has {size}",
                    desc.digest, desc.size
                )))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// `PUT`: verifies and stores the manifest, then points the tag at it; 201.
pub(crate) async fn put(
    state: &AppState,
    name: &str,
    reference: &str,
    req: Request,
) -> Result<Response, ApiError> {
    let repo = RepoName::parse(name)?;
    let reference_parsed = parse_ref(reference).ok_or_else(|| {
        invalid("reference is neither a valid tag nor a sha256 digest")
            .detail(serde_json::json!({ "reference": reference }))
    })?;
    let content_type = match req.headers().get(header::CONTENT_TYPE) {
        None => None,
        Some(v) => {
            let essence = v.to_str().map(|v| v.split(';').next().unwrap_or("").trim());
            match essence {
                Ok("") => None,
                Ok(t) if is_manifest_media_type(t) => Some(t.to_string()),
                _ => {
                    return Err(invalid(format!(
                        "Content-Type is not a manifest media type: send one of {}",
                        MANIFEST_MEDIA_TYPES.join(", ")
                    )))
                }
            }
        }
    };
    let mut body = req.into_body();
    let bytes = super::body::read_to_vec(&mut body, MAX_MANIFEST_BYTES, state.read_timeout())
        .await
        .map_err(|e| e.refusal(Code::ManifestInvalid))?;
    let manifest =
        Manifest::parse(&bytes, content_type.as_deref()).map_err(|e| invalid(format!("{e}")))?;
    let declared = manifest.declared_media_type();
    if let (Some(declared), Some(sent)) = (declared, content_type.as_deref()) {
        if declared != sent {
            return Err(invalid(format!(
                "Content-Type {sent} differs from the document's mediaType {declared}: send the same type"
            )));
        }
    }
    // Never empty, always one of MANIFEST_MEDIA_TYPES: the document's, else the one sent,
    // else the OCI type of the document's shape.
    let media_type = declared
        .or(content_type.as_deref())
        .unwrap_or(manifest.media_type())
        .to_string();
    if let Manifest::Image(m) = &manifest {
        if m.config.media_type == MEDIA_TYPE_CONFIG && m.config.size > MAX_CONFIG_BYTES {
            return Err(invalid(format!(
                "the coreship config is {} bytes, over this registry's limit of {MAX_CONFIG_BYTES} \
                 bytes for a package description",
                m.config.size
            ))
            .detail(serde_json::json!({ "size": m.config.size, "limit": MAX_CONFIG_BYTES })));
        }
    }
    let digest = Sha256Digest::of(&bytes);
    if let Ref::Digest(d) = &reference_parsed {
        if *d != digest {
            return Err(ApiError::new(
                Code::DigestInvalid,
                format!("manifest hashes to {digest}, not to the digest in the URL"),
            )
            .detail(serde_json::json!({ "expected": d, "actual": digest })));
        }
    }
    check_references(state, &repo, &manifest)?;
    let st = state.clone();
    let tag = match reference_parsed {
        Ref::Tag(t) => Some(t),
        Ref::Digest(_) => None,
    };
    let subject = manifest.subject().map(|s| s.digest);
    let referrer = Descriptor {
        media_type: media_type.clone(),
        digest,
        size: bytes.len() as u64,
        platform: None,
        artifact_type: manifest.artifact_type().map(str::to_string),
        annotations: manifest.annotations().clone(),
    };
    let repo2 = repo.clone();
    tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        let storage = st.storage();
        storage.blobs().put_verified(&digest, &bytes[..])?;
        storage.link_manifest(&repo2, &digest, &media_type)?;
        if let Some(subject) = subject {
            storage.add_referrer(&repo2, &subject, &referrer)?;
        }
        if let Some(tag) = tag {
            set_tag(&st, &repo2, &tag, &digest)?;
        }
        Ok(())
    })
    .await
    .expect("manifest store task")?;
    let mut resp = (
        StatusCode::CREATED,
        [
            (
                header::LOCATION,
                format!("/v2/{}/manifests/{digest}", repo.as_str()),
            ),
            (header::CONTENT_LENGTH, "0".to_string()),
            (HeaderName::from_static(DIGEST_HEADER), digest.to_string()),
        ],
    )
        .into_response();
    if let Some(subject) = subject {
        resp.headers_mut()
            .insert(SUBJECT_HEADER, subject.to_string().parse().expect("ascii"));
    }
    Ok(resp)
}

/// Points `tag` at `digest`; with immutable tags, only if the tag is new or already there.
fn set_tag(
    state: &AppState,
    repo: &RepoName,
    tag: &str,
    digest: &Sha256Digest,
) -> Result<(), ApiError> {
    if !state.immutable_tags() {
        return state.storage().set_tag(repo, tag, digest);
    }
    let current = state.storage().create_tag(repo, tag, digest)?;
    if current != *digest {
        return Err(immutable(tag, &current));
    }
    Ok(())
}

fn immutable(tag: &str, current: &Sha256Digest) -> ApiError {
    ApiError::new(
        Code::Denied,
        format!("tag {tag} is immutable on this registry and points at {current}; push a new tag"),
    )
    .detail(serde_json::json!({ "tag": tag, "digest": current }))
}

/// A tag of `repo` that reaches `digest`, with the manifest it points at: the tag points at
/// it, or at an index that lists it (at any depth), or at a manifest that names it as a blob.
pub(crate) fn tag_reaching(
    storage: &Storage,
    repo: &RepoName,
    digest: &Sha256Digest,
) -> Result<Option<(String, Sha256Digest)>, ApiError> {
    let mut walked = BTreeSet::new();
    for tag in storage.tags(repo)? {
        let Some(root) = storage.tag(repo, &tag)? else {
            continue;
        };
        if root == *digest {
            return Ok(Some((tag, root)));
        }
        if walked.insert(root) && super::gc::reachable(storage, [root]).contains(digest) {
            return Ok(Some((tag, root)));
        }
    }
    Ok(None)
}

/// With `--immutable-tags`, refuses to delete `digest` from `repo` when a tag needs it (403):
/// the tag would no longer resolve to a whole artifact.
pub(crate) fn keep_what_tags_reach(
    state: &AppState,
    repo: &RepoName,
    digest: &Sha256Digest,
) -> Result<(), ApiError> {
    if !state.immutable_tags() {
        return Ok(());
    }
    match tag_reaching(state.storage(), repo, digest)? {
        None => Ok(()),
        Some((tag, root)) if root == *digest => Err(immutable(&tag, &root)),
        Some((tag, root)) => Err(ApiError::new(
            Code::Denied,
            format!(
                "tag {tag} is immutable on this registry and its manifest {root} needs {digest}; \
                 deleting it would break the tag"
            ),
        )
        .detail(serde_json::json!({ "tag": tag, "digest": digest }))),
    }
}

/// `DELETE`: a tag reference removes the tag; a digest removes the manifest, every tag
/// pointing at it and its referrer record; 202.
pub(crate) async fn delete(
    state: &AppState,
    name: &str,
    reference: &str,
) -> Result<Response, ApiError> {
    let repo = RepoName::parse(name)?;
    let storage = state.storage();
    match parse_ref(reference) {
        Some(Ref::Tag(tag)) => {
            let current = storage.tag(&repo, &tag)?;
            match current {
                None => return Err(manifest_unknown(reference)),
                Some(d) if state.immutable_tags() => return Err(immutable(&tag, &d)),
                Some(_) => {
                    storage.remove_tag(&repo, &tag)?;
                }
            }
        }
        Some(Ref::Digest(digest)) => {
            keep_what_tags_reach(state, &repo, &digest)?;
            let tags: Vec<String> = storage
                .tags(&repo)?
                .into_iter()
                .filter(|t| storage.tag(&repo, t).ok().flatten() == Some(digest))
                .collect();
            let subject = storage
                .blobs()
                .read(&digest)
                .ok()
                .and_then(|b| Manifest::parse(&b, None).ok())
                .and_then(|m| m.subject().map(|s| s.digest));
            if !storage.unlink_manifest(&repo, &digest)? {
                return Err(manifest_unknown(reference));
            }
            for t in tags {
                storage.remove_tag(&repo, &t)?;
            }
            if let Some(subject) = subject {
                storage.remove_referrer(&repo, &subject, &digest)?;
            }
        }
        None => return Err(manifest_unknown(reference)),
    }
    Ok(StatusCode::ACCEPTED.into_response())
}
