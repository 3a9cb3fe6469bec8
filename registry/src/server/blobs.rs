//! `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>`: streamed from disk, with single `Range`s.

use super::error::{ApiError, Code};
use super::storage::RepoName;
use super::AppState;
use crate::Sha256Digest;
use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

/// Read size when streaming a blob.
const CHUNK: usize = 256 << 10;

/// The header carrying a content digest.
pub(crate) const DIGEST_HEADER: &str = "docker-content-digest";

/// Parses a digest path parameter (`DIGEST_INVALID` otherwise).
pub(crate) fn parse_digest(s: &str) -> Result<Sha256Digest, ApiError> {
    s.parse().map_err(|_| {
        ApiError::new(
            Code::DigestInvalid,
            "invalid digest (sha256:<64 hex> expected)",
        )
        .detail(serde_json::json!({ "digest": s }))
    })
}

fn blob_unknown(d: &Sha256Digest) -> ApiError {
    ApiError::new(Code::BlobUnknown, "blob unknown to registry")
        .detail(serde_json::json!({ "digest": d }))
}

/// A satisfiable byte range `start..=end` of a blob of `len` bytes, from a `Range` header.
/// `Ok(None)`: no usable header (serve everything); `Err(())`: unsatisfiable.
pub(crate) fn parse_range(value: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // multipart ranges: serve the whole blob, as RFC 9110 allows
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let suffix: u64 = b.parse().map_err(|_| ())?;
        if suffix == 0 || len == 0 {
            return Err(());
        }
        (len.saturating_sub(suffix), len - 1)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            b.parse::<u64>().map_err(|_| ())?.min(len.saturating_sub(1))
        };
        (start, end)
    };
    if start >= len || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

fn resolve(state: &AppState, name: &str, digest: &str) -> Result<(Sha256Digest, u64), ApiError> {
    let name = RepoName::parse(name)?;
    let digest = parse_digest(digest)?;
    let size = state
        .storage()
        .repo_blob_size(&name, &digest)
        .ok_or_else(|| blob_unknown(&digest))?;
    Ok((digest, size))
}

/// `HEAD`: size and digest, no body.
pub(crate) fn head(state: &AppState, name: &str, digest: &str) -> Result<Response, ApiError> {
    let (digest, size) = resolve(state, name, digest)?;
    Ok((
        [
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::ACCEPT_RANGES, "bytes".to_string()),
            (
                header::HeaderName::from_static(DIGEST_HEADER),
                digest.to_string(),
            ),
        ],
        Body::empty(),
    )
        .into_response())
}

/// `GET`: the blob, or the requested range of it (206), streamed.
pub(crate) async fn get(
    state: &AppState,
    name: &str,
    digest: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let (digest, _) = resolve(state, name, digest)?;
    let path = state.storage().blobs().path(&digest);
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| blob_unknown(&digest))?;
    let len = file.metadata().await.map_err(ApiError::io(&path))?.len();
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(v) => parse_range(v, len).map_err(|()| {
            ApiError::new(Code::SizeInvalid, "requested range not satisfiable")
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, &format!("bytes */{len}"))
        })?,
        None => None,
    };
    let (status, start, count) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        None => (StatusCode::OK, 0, len),
    };
    if start > 0 {
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(ApiError::io(&path))?;
    }
    let body = Body::from_stream(ReaderStream::with_capacity(file.take(count), CHUNK));
    let mut resp = (
        status,
        [
            (header::CONTENT_LENGTH, count.to_string()),
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::ACCEPT_RANGES, "bytes".to_string()),
            (
                header::HeaderName::from_static(DIGEST_HEADER),
                digest.to_string(),
            ),
        ],
        body,
    )
        .into_response();
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {start}-{}/{len}", start + count - 1);
        resp.headers_mut()
            .insert(header::CONTENT_RANGE, value.parse().expect("ascii"));
    }
    Ok(resp)
}

/// `DELETE`: unlinks the blob from the repository (gc reclaims the content); 202. With
/// `--immutable-tags`, a blob a tagged manifest names is kept (403).
pub(crate) fn delete(state: &AppState, name: &str, digest: &str) -> Result<Response, ApiError> {
    let repo = RepoName::parse(name)?;
    let digest = parse_digest(digest)?;
    super::manifests::keep_what_tags_reach(state, &repo, &digest)?;
    if !state.storage().unlink_blob(&repo, &digest)? {
        return Err(blob_unknown(&digest));
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=50-500", 100), Ok(Some((50, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=5-1", 100), Err(()));
        assert_eq!(parse_range("bytes=0-0", 0), Err(()));
        assert_eq!(parse_range("items=1-2", 100), Ok(None));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
    }
}
