//! Manifests (by tag and digest), tags, the catalog and the referrers API.

use super::blobs::query_param;
use super::error::{ApiError, ApiResult};
use super::{location, State};
use crate::oci::{self, Descriptor, ImageIndex, Manifest, MAX_MANIFEST_BYTES};
use crate::{valid_tag, Sha256Digest};
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;

/// A manifest reference: a tag or a digest.
enum Ref {
    Tag(String),
    Digest(Sha256Digest),
}

fn parse_ref(r: &str) -> Result<Ref, ApiError> {
    if r.starts_with("sha256:") {
        return r.parse().map(Ref::Digest).map_err(|_| {
            ApiError::digest_invalid(format!("`{r}` is not a sha256:<64 hex> digest"))
        });
    }
    if r.contains(':') {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED",
            format!("digest algorithm of `{r}` is not supported (sha256 only)"),
        ));
    }
    if !valid_tag(r) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "TAG_INVALID",
            format!("invalid tag `{r}`"),
        ));
    }
    Ok(Ref::Tag(r.to_string()))
}

/// Resolves a reference to a digest and media type of a manifest in `name`.
fn resolve(state: &State, name: &str, reference: &str) -> Result<(Sha256Digest, String), ApiError> {
    let digest = match parse_ref(reference)? {
        Ref::Digest(d) => d,
        Ref::Tag(t) => state
            .storage
            .tag(name, &t)?
            .ok_or_else(|| unknown(state, name, reference))?,
    };
    let media_type = state
        .storage
        .manifest_media_type(name, &digest)?
        .ok_or_else(|| unknown(state, name, reference))?;
    Ok((digest, media_type))
}

fn unknown(state: &State, name: &str, reference: &str) -> ApiError {
    if state.storage.repo_exists(name) {
        ApiError::manifest_unknown(reference)
    } else {
        ApiError::name_unknown(name)
    }
}

fn manifest_headers(resp: &mut Response, digest: &Sha256Digest, media_type: &str, len: u64) {
    let h = resp.headers_mut();
    h.insert(
        "docker-content-digest",
        HeaderValue::from_str(&digest.to_string()).expect("ascii"),
    );
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(media_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
}

/// `GET`/`HEAD /v2/<name>/manifests/<reference>`.
pub fn get(state: &State, name: &str, reference: &str, head: bool) -> ApiResult {
    let (digest, media_type) = resolve(state, name, reference)?;
    let bytes = state.storage.blobs().read(&digest)?;
    let len = bytes.len() as u64;
    let mut resp = if head {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(bytes))
    };
    manifest_headers(&mut resp, &digest, &media_type, len);
    Ok(resp)
}

async fn read_limited(body: Body) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::manifest_invalid(format!("request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            out.extend_from_slice(&data);
            if out.len() > MAX_MANIFEST_BYTES {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "SIZE_INVALID",
                    "manifest is larger than the 4 MiB limit",
                ));
            }
        }
    }
    Ok(out)
}

/// `PUT /v2/<name>/manifests/<reference>`.
pub async fn put(
    state: &State,
    name: &str,
    reference: &str,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult {
    let reference = parse_ref(reference)?;
    let bytes = read_limited(body).await?;
    let digest = Sha256Digest::of(&bytes);
    if let Ref::Digest(d) = &reference {
        if *d != digest {
            return Err(ApiError::digest_invalid(format!(
                "manifest body hashes to {digest}, not to the digest {d} it was pushed under"
            )));
        }
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string());
    let manifest = Manifest::parse(&bytes, content_type.as_deref())
        .map_err(|e| ApiError::manifest_invalid(e.to_string()))?;
    let media_type = match (&manifest, content_type.as_deref()) {
        // The document's own mediaType wins; else the request's Content-Type if it names a
        // manifest; else the OCI type for its kind.
        (_, Some(c)) if oci::is_manifest_media_type(c) && !has_media_type(&manifest) => {
            c.to_string()
        }
        _ => manifest.media_type().to_string(),
    };
    for d in manifest.references() {
        let present = if matches!(manifest, Manifest::Index(_)) {
            state
                .storage
                .manifest_media_type(name, &d.digest)?
                .is_some()
        } else {
            state.storage.blobs().contains(&d.digest)
        };
        if !present {
            let (code, what) = match manifest {
                Manifest::Index(_) => ("MANIFEST_UNKNOWN", "manifest"),
                Manifest::Image(_) => ("MANIFEST_BLOB_UNKNOWN", "blob"),
            };
            return Err(ApiError::new(
                if code == "MANIFEST_UNKNOWN" {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::BAD_REQUEST
                },
                code,
                format!(
                    "{what} {} referenced by the manifest is not in {name}; push it first",
                    d.digest
                ),
            ));
        }
    }
    if let Ref::Tag(tag) = &reference {
        if state.immutable_tags {
            if let Some(existing) = state.storage.tag(name, tag)? {
                if existing != digest {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "DENIED",
                        format!("tag {tag} is immutable on this registry and already points at {existing}; push a new tag"),
                    ));
                }
            }
        }
    }
    // Content first, then the link, then the tag: a crash in between leaves at worst an
    // unreferenced blob for gc, never a tag without its manifest.
    state.storage.blobs().put_verified(&digest, &bytes[..])?;
    state.storage.link_manifest(name, &digest, &media_type)?;
    if let Some(subject) = manifest.subject() {
        let referrer = Descriptor {
            media_type: media_type.clone(),
            digest,
            size: bytes.len() as u64,
            platform: None,
            artifact_type: manifest.artifact_type().map(str::to_string),
            annotations: manifest.annotations().clone(),
        };
        state
            .storage
            .add_referrer(name, &subject.digest, &referrer)?;
    }
    if let Ref::Tag(tag) = &reference {
        state.storage.set_tag(name, tag, &digest)?;
    }
    let mut resp = StatusCode::CREATED.into_response();
    let h = resp.headers_mut();
    let (k, v) = location(&format!("/v2/{name}/manifests/{digest}"));
    h.insert(k, v);
    h.insert(
        "docker-content-digest",
        HeaderValue::from_str(&digest.to_string()).expect("ascii"),
    );
    if let Some(subject) = manifest.subject() {
        h.insert(
            "oci-subject",
            HeaderValue::from_str(&subject.digest.to_string()).expect("ascii"),
        );
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    Ok(resp)
}

fn has_media_type(m: &Manifest) -> bool {
    match m {
        Manifest::Image(i) => i.media_type.is_some(),
        Manifest::Index(i) => i.media_type.is_some(),
    }
}

/// `DELETE /v2/<name>/manifests/<reference>`: a digest removes the manifest (and its tags),
/// a tag removes the tag only.
pub fn delete(state: &State, name: &str, reference: &str) -> ApiResult {
    match parse_ref(reference)? {
        Ref::Tag(tag) => {
            if state.immutable_tags {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "DENIED",
                    format!("tag {tag} is immutable on this registry"),
                ));
            }
            if !state.storage.delete_tag(name, &tag)? {
                return Err(unknown(state, name, reference));
            }
        }
        Ref::Digest(d) => {
            if state.immutable_tags && state.storage.tags(name)?.iter().any(|(_, t)| *t == d) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "DENIED",
                    format!("{d} is tagged and tags are immutable on this registry"),
                ));
            }
            if !state.storage.unlink_manifest(name, &d)? {
                return Err(unknown(state, name, reference));
            }
        }
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `n`/`last` pagination over a sorted list; the `Link` header when more remain.
fn paginate(
    all: Vec<String>,
    query: &str,
    base: &str,
) -> Result<(Vec<String>, Option<String>), ApiError> {
    let last = query_param(query, "last");
    let mut items: Vec<String> = match &last {
        Some(l) => all
            .into_iter()
            .filter(|t| t.as_str() > l.as_str())
            .collect(),
        None => all,
    };
    let mut link = None;
    if let Some(n) = query_param(query, "n") {
        let n: usize = n.parse().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "PAGINATION_NUMBER_INVALID",
                format!("n={n} is not a number"),
            )
        })?;
        if items.len() > n {
            items.truncate(n);
            if let Some(l) = items.last() {
                link = Some(format!("<{base}?n={n}&last={l}>; rel=\"next\""));
            }
        }
    }
    Ok((items, link))
}

fn json_with_link(body: serde_json::Value, link: Option<String>) -> Response {
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    if let Some(l) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LINK, l);
    }
    resp
}

/// `GET /v2/<name>/tags/list`.
pub fn tags(state: &State, name: &str, query: &str) -> ApiResult {
    if !state.storage.repo_exists(name) {
        return Err(ApiError::name_unknown(name));
    }
    let all = state
        .storage
        .tags(name)?
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let (tags, link) = paginate(all, query, &format!("/v2/{name}/tags/list"))?;
    Ok(json_with_link(
        serde_json::json!({ "name": name, "tags": tags }),
        link,
    ))
}

/// `GET /v2/_catalog`.
pub fn catalog(state: &State, query: &str) -> ApiResult {
    let (repos, link) = paginate(state.storage.repositories()?, query, "/v2/_catalog")?;
    Ok(json_with_link(
        serde_json::json!({ "repositories": repos }),
        link,
    ))
}

/// `GET /v2/<name>/referrers/<digest>`: an image index of the manifests whose subject it is.
pub fn referrers(state: &State, name: &str, digest: &str, query: &str) -> ApiResult {
    let subject: Sha256Digest = digest.parse().map_err(|_| {
        ApiError::digest_invalid(format!("`{digest}` is not a sha256:<64 hex> digest"))
    })?;
    let mut manifests = state.storage.referrers(name, &subject)?;
    let filter = query_param(query, "artifactType");
    if let Some(t) = &filter {
        manifests.retain(|d| d.artifact_type.as_deref() == Some(t.as_str()));
    }
    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(oci::MEDIA_TYPE_INDEX.to_string()),
        artifact_type: None,
        manifests,
        subject: None,
        annotations: Default::default(),
    };
    let mut resp = (StatusCode::OK, oci::to_json(&index)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(oci::MEDIA_TYPE_INDEX),
    );
    if filter.is_some() {
        h.insert(
            "oci-filters-applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    Ok(resp)
}
