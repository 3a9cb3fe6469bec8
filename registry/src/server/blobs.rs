//! Blob reads (with `Range`) and uploads: monolithic, chunked (`PATCH` with `Content-Range`),
//! streamed, and cross-repository mounts. Upload data lives in `uploads/<id>` and becomes a
//! blob only after `BlobStore::adopt_file` has checked its digest.

use super::error::{ApiError, ApiResult};
use super::{location, State};
use crate::Sha256Digest;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use sha2::Digest as _;
use std::path::Path;
use tokio::io::{AsyncSeekExt as _, AsyncWriteExt as _};

/// The value of query parameter `key`, percent-decoded.
pub(super) fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_digest(s: &str) -> Result<Sha256Digest, ApiError> {
    s.parse()
        .map_err(|_| ApiError::digest_invalid(format!("`{s}` is not a sha256:<64 hex> digest")))
}

fn digest_header(d: &Sha256Digest) -> (header::HeaderName, HeaderValue) {
    (
        header::HeaderName::from_static("docker-content-digest"),
        HeaderValue::from_str(&d.to_string()).expect("digest is ASCII"),
    )
}

/// `GET`/`HEAD /v2/<name>/blobs/<digest>`, with a single `Range: bytes=a-b` honoured.
pub async fn get(
    state: &State,
    _name: &str,
    digest: &str,
    headers: &HeaderMap,
    head: bool,
) -> ApiResult {
    let digest = parse_digest(digest)?;
    let path = state.storage.blobs().path(&digest);
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::blob_unknown(digest))
        }
        Err(e) => return Err(e.into()),
    };
    let size = file.metadata().await?.len();
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|r| parse_range(r, size));
    let (status, start, len) = match range {
        None => (StatusCode::OK, 0, size),
        Some(Some((a, b))) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        Some(None) => {
            return Err(ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BLOB_UNKNOWN",
                "range not satisfiable",
            )
            .with_header(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
            ))
        }
    };
    let mut resp = if head {
        Response::new(Body::empty())
    } else {
        file.seek(std::io::SeekFrom::Start(start)).await?;
        let reader = tokio::io::AsyncReadExt::take(file, len);
        Response::new(Body::from_stream(
            tokio_util::io::ReaderStream::with_capacity(reader, 256 << 10),
        ))
    };
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let (k, v) = digest_header(&digest);
    h.insert(k, v);
    if status == StatusCode::PARTIAL_CONTENT {
        let end = start + len - 1;
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")).expect("ascii"),
        );
    }
    Ok(resp)
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` against `size`: the inclusive range, or `None` when it
/// cannot be satisfied.
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.saturating_sub(n), size - 1)
        }
        (a, "") => (a.parse().ok()?, size - 1),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(size - 1)),
    };
    (start <= end && start < size).then_some((start, end))
}

fn new_upload_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut h = sha2::Sha256::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.update(now.as_nanos().to_le_bytes());
    h.update(SEQ.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    if let Ok(random) = std::fs::read("/proc/sys/kernel/random/uuid") {
        h.update(random);
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn upload_location(name: &str, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

/// The 202 reply for an open upload session of `len` bytes so far.
fn accepted(name: &str, id: &str, len: u64, status: StatusCode) -> Response {
    let mut resp = status.into_response();
    let h = resp.headers_mut();
    let (k, v) = location(&upload_location(name, id));
    h.insert(k, v);
    h.insert(
        "docker-upload-uuid",
        HeaderValue::from_str(id).expect("hex"),
    );
    let range = format!("0-{}", len.saturating_sub(1));
    h.insert(header::RANGE, HeaderValue::from_str(&range).expect("ascii"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    resp
}

fn created(name: &str, digest: &Sha256Digest) -> Response {
    let mut resp = StatusCode::CREATED.into_response();
    let h = resp.headers_mut();
    let (k, v) = location(&format!("/v2/{name}/blobs/{digest}"));
    h.insert(k, v);
    let (k, v) = digest_header(digest);
    h.insert(k, v);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    resp
}

/// Appends `body` to the upload file; returns its new length. On a failed write the session
/// is left as it was before the write began (truncated back).
async fn append(path: &Path, body: Body) -> Result<u64, ApiError> {
    let mut file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .await?;
    let before = file.metadata().await?.len();
    let result: Result<(), ApiError> = async {
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "BLOB_UPLOAD_INVALID",
                    format!("request body: {e}"),
                )
            })?;
            if let Ok(data) = frame.into_data() {
                file.write_all(&data).await?;
            }
        }
        file.flush().await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = file.set_len(before).await;
        return Err(e);
    }
    Ok(file.metadata().await?.len())
}

/// The repository an upload session belongs to must be the one in the URL.
fn session(state: &State, name: &str, id: &str) -> Result<std::path::PathBuf, ApiError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::upload_unknown());
    }
    let (data, owner) = state.storage.upload_paths(id);
    match std::fs::read_to_string(owner) {
        Ok(n) if n == name && data.is_file() => Ok(data),
        _ => Err(ApiError::upload_unknown()),
    }
}

fn open_session(state: &State, name: &str) -> Result<(String, std::path::PathBuf), ApiError> {
    let id = new_upload_id();
    let (data, owner) = state.storage.upload_paths(&id);
    std::fs::File::create(&data)?;
    std::fs::write(owner, name)?;
    Ok((id, data))
}

fn close_session(state: &State, id: &str) {
    let (data, owner) = state.storage.upload_paths(id);
    let _ = std::fs::remove_file(data);
    let _ = std::fs::remove_file(owner);
}

/// Hashes the session file and moves it into the blob store if it has `digest`.
async fn commit(
    state: &State,
    id: &str,
    data: std::path::PathBuf,
    digest: Sha256Digest,
) -> Result<(), ApiError> {
    let store = state.storage.blobs().clone();
    let result = if store.contains(&digest) {
        // Already stored: still check the upload was the right content.
        let actual = tokio::task::spawn_blocking(move || crate::store::hash_file(&data))
            .await
            .map_err(ApiError::internal)??;
        if actual.0 == digest {
            Ok(())
        } else {
            Err(crate::store::StoreError::DigestMismatch {
                expected: digest,
                actual: actual.0,
            }
            .into())
        }
    } else {
        tokio::task::spawn_blocking(move || store.adopt_file(&data, &digest))
            .await
            .map_err(ApiError::internal)?
            .map(|_| ())
            .map_err(ApiError::from)
    };
    close_session(state, id);
    result
}

/// `POST /v2/<name>/blobs/uploads/`: a mount, a monolithic upload (`?digest=`), or a new session.
pub async fn start(state: &State, name: &str, query: &str, body: Body) -> ApiResult {
    if let Some(mount) = query_param(query, "mount") {
        let digest = parse_digest(&mount)?;
        if state.storage.blobs().contains(&digest) {
            return Ok(created(name, &digest));
        }
    }
    let (id, data) = open_session(state, name)?;
    if let Some(d) = query_param(query, "digest") {
        let digest = match parse_digest(&d) {
            Ok(d) => d,
            Err(e) => {
                close_session(state, &id);
                return Err(e);
            }
        };
        if let Err(e) = append(&data, body).await {
            close_session(state, &id);
            return Err(e);
        }
        commit(state, &id, data, digest).await?;
        return Ok(created(name, &digest));
    }
    Ok(accepted(name, &id, 0, StatusCode::ACCEPTED))
}

/// `GET /v2/<name>/blobs/uploads/<id>`: how much the session holds.
pub fn status(state: &State, name: &str, id: &str) -> ApiResult {
    let data = session(state, name, id)?;
    let len = std::fs::metadata(&data)?.len();
    Ok(accepted(name, id, len, StatusCode::NO_CONTENT))
}

/// `PATCH /v2/<name>/blobs/uploads/<id>`: one chunk; with `Content-Range: a-b`, `a` must be
/// the session's current length.
pub async fn patch(
    state: &State,
    name: &str,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult {
    let data = session(state, name, id)?;
    let len = std::fs::metadata(&data)?.len();
    if let Some(range) = headers
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
    {
        let spec = range
            .trim()
            .trim_start_matches("bytes")
            .trim_start_matches(['=', ' ']);
        let start = spec
            .split('-')
            .next()
            .and_then(|s| s.trim().parse::<u64>().ok());
        if start != Some(len) {
            let mut e = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BLOB_UPLOAD_INVALID",
                format!("chunk starts at {range}, the upload holds {len} bytes"),
            );
            e = e.with_header(
                header::RANGE,
                HeaderValue::from_str(&format!("0-{}", len.saturating_sub(1))).expect("ascii"),
            );
            e = e.with_header(
                header::LOCATION,
                HeaderValue::from_str(&upload_location(name, id)).expect("ascii"),
            );
            return Err(e);
        }
    }
    let len = append(&data, body).await?;
    Ok(accepted(name, id, len, StatusCode::ACCEPTED))
}

/// `PUT /v2/<name>/blobs/uploads/<id>?digest=…`: the last chunk (optional) and the digest.
pub async fn finish(state: &State, name: &str, id: &str, query: &str, body: Body) -> ApiResult {
    let data = session(state, name, id)?;
    let Some(d) = query_param(query, "digest") else {
        return Err(ApiError::digest_invalid(
            "the digest query parameter is required to finish an upload",
        ));
    };
    let digest = parse_digest(&d)?;
    append(&data, body).await?;
    commit(state, id, data, digest).await?;
    Ok(created(name, &digest))
}

/// `DELETE /v2/<name>/blobs/uploads/<id>`.
pub fn cancel(state: &State, name: &str, id: &str) -> ApiResult {
    session(state, name, id)?;
    close_session(state, id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-1000", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("bytes=0-1,3-4", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[test]
    fn query_parameters_are_percent_decoded() {
        let q = "mount=sha256%3Aab&from=a%2Fb&digest=sha256:cd";
        assert_eq!(query_param(q, "mount").as_deref(), Some("sha256:ab"));
        assert_eq!(query_param(q, "from").as_deref(), Some("a/b"));
        assert_eq!(query_param(q, "digest").as_deref(), Some("sha256:cd"));
        assert_eq!(query_param(q, "n"), None);
    }
}
