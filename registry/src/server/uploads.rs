//! Blob uploads: `POST /v2/<name>/blobs/uploads/` (session, monolithic `?digest=`, or
//! `?mount=&from=`), `PATCH`/`PUT`/`GET`/`DELETE /v2/<name>/blobs/uploads/<id>`.
//!
//! A session's bytes go to `<root>/uploads/<id>` (on the blob store's file system); each
//! acknowledged chunk is fsynced, so the `Range` a client is told survives a crash. On `PUT`
//! the file is handed to [`BlobStore::adopt_file`](crate::store::BlobStore::adopt_file), which
//! makes it visible only if it hashes to the digest given; otherwise it is deleted.

use super::blobs::{parse_digest, DIGEST_HEADER};
use super::body::{drain, next_data};
use super::error::{ApiError, Code};
use super::storage::RepoName;
use super::AppState;
use crate::store::StoreError;
use crate::Sha256Digest;
use axum::body::Body;
use axum::extract::{Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::OwnedMutexGuard;

const UUID_HEADER: &str = "docker-upload-uuid";

fn query(uri: &Uri) -> HashMap<String, String> {
    Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

fn upload_unknown(id: &str) -> ApiError {
    ApiError::new(Code::BlobUploadUnknown, "blob upload unknown to registry")
        .detail(serde_json::json!({ "uuid": id }))
}

/// An upload session on disk.
struct Session {
    id: String,
    data: PathBuf,
    owner: PathBuf,
}

impl Session {
    fn paths(state: &AppState, id: &str) -> Session {
        let dir = state.storage().uploads_dir();
        Session {
            id: id.to_string(),
            data: dir.join(id),
            owner: dir.join(format!("{id}.repo")),
        }
    }

    /// A new empty session of `repo`: the owner file first, so data never lacks one.
    fn create(state: &AppState, repo: &RepoName) -> Result<Session, ApiError> {
        let s = Session::paths(state, &super::auth::random_hex()[..32]);
        crate::fsutil::write_atomic(&s.owner, repo.as_str().as_bytes())
            .map_err(ApiError::io(&s.owner))?;
        std::fs::File::create(&s.data).map_err(ApiError::io(&s.data))?;
        Ok(s)
    }

    /// The session `id` of `repo`, if it exists and belongs to it.
    fn open(state: &AppState, repo: &RepoName, id: &str) -> Result<Session, ApiError> {
        if !Session::valid_id(id) {
            return Err(upload_unknown(id));
        }
        let s = Session::paths(state, id);
        match std::fs::read(&s.owner) {
            Ok(owner) if owner == repo.as_str().as_bytes() && s.data.is_file() => Ok(s),
            _ => Err(upload_unknown(id)),
        }
    }

    /// Whether `id` has the form of the ids [`Session::create`] makes.
    fn valid_id(id: &str) -> bool {
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// Waits for the session's lock (a session's chunks are appended one at a time), then
    /// opens it. Only sessions that exist keep an entry in the lock table: ids that are
    /// malformed or name no session (any client may send them) leave nothing behind.
    async fn locked(
        state: &AppState,
        repo: &RepoName,
        id: &str,
    ) -> Result<(OwnedMutexGuard<()>, Session), ApiError> {
        if !Session::valid_id(id) {
            return Err(upload_unknown(id));
        }
        let guard = state.upload_lock(id).lock_owned().await;
        match Session::open(state, repo, id) {
            Ok(s) => Ok((guard, s)),
            Err(e) => {
                drop(guard);
                if !Session::paths(state, id).data.exists() {
                    state.forget_upload_lock(id);
                }
                Err(e)
            }
        }
    }

    fn len(&self) -> Result<u64, ApiError> {
        Ok(std::fs::metadata(&self.data)
            .map_err(ApiError::io(&self.data))?
            .len())
    }

    fn remove(&self) {
        let _ = std::fs::remove_file(&self.data);
        let _ = std::fs::remove_file(&self.owner);
    }

    fn location(&self, repo: &RepoName) -> String {
        format!("/v2/{}/blobs/uploads/{}", repo.as_str(), self.id)
    }

    /// 202/204 with where the session is and how much it holds.
    fn progress(&self, repo: &RepoName, status: StatusCode) -> Result<Response, ApiError> {
        let len = self.len()?;
        Ok((
            status,
            [
                (header::LOCATION, self.location(repo)),
                (header::RANGE, format!("0-{}", len.saturating_sub(1))),
                (header::CONTENT_LENGTH, "0".to_string()),
                (HeaderName::from_static(UUID_HEADER), self.id.clone()),
            ],
        )
            .into_response())
    }

    /// Checks a chunk's `Content-Range` against the current end; sets the expected length.
    fn check_range(
        &self,
        repo: &RepoName,
        headers: &HeaderMap,
        offset: u64,
        expected: &mut Option<u64>,
    ) -> Result<(), ApiError> {
        if let Some(range) = headers.get(header::CONTENT_RANGE) {
            let (start, chunk) = range
                .to_str()
                .ok()
                .and_then(parse_content_range)
                .ok_or_else(|| ApiError::new(Code::BlobUploadInvalid, "malformed Content-Range"))?;
            if start != offset {
                return Err(ApiError::new(
                    Code::BlobUploadInvalid,
                    format!("chunk starts at {start}, the upload holds {offset} bytes"),
                )
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::LOCATION, &self.location(repo))
                .header(header::RANGE, &format!("0-{}", offset.saturating_sub(1))));
            }
            if expected.is_some_and(|n| n != chunk) {
                return Err(ApiError::new(
                    Code::SizeInvalid,
                    "Content-Length does not match Content-Range",
                ));
            }
            *expected = Some(chunk);
        }
        Ok(())
    }

    /// Appends the request body (checking `Content-Range` continues at the current end);
    /// fsyncs, or on failure cuts the file back so no partial chunk remains.
    async fn append(
        &self,
        repo: &RepoName,
        headers: &HeaderMap,
        body: &mut Body,
        idle: Duration,
    ) -> Result<(), ApiError> {
        let offset = self.len()?;
        let mut expected = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        self.check_range(repo, headers, offset, &mut expected)?;
        let result = write_body(&self.data, body, idle).await;
        let failure = match result {
            Ok(n) if expected.is_none_or(|e| e == n) => return Ok(()),
            Ok(n) => ApiError::new(
                Code::SizeInvalid,
                format!("received {n} bytes, {} announced", expected.unwrap_or(0)),
            ),
            Err(e) => e,
        };
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&self.data) {
            let _ = f.set_len(offset).and_then(|_| f.sync_all());
        }
        Err(failure)
    }
}

/// `result`, after draining `body` if it is a refusal (unless the body already stalled: the
/// client is not sending, and waiting for it again would only hold the connection longer).
async fn or_drain<T>(
    state: &AppState,
    result: Result<T, ApiError>,
    body: &mut Body,
) -> Result<T, ApiError> {
    let stalled = matches!(
        &result,
        Err(ApiError::Spec {
            status: StatusCode::REQUEST_TIMEOUT,
            ..
        })
    );
    if result.is_err() && !stalled {
        drain(body, state.read_timeout()).await;
    }
    result
}

/// Start and length of a chunk from its `Content-Range`: `start-end` (or `bytes
/// start-end/total`), both inclusive.
pub(crate) fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let v = v.trim();
    let v = v
        .strip_prefix("bytes=")
        .or_else(|| v.strip_prefix("bytes "))
        .unwrap_or(v);
    let v = v.split('/').next()?;
    let (a, b) = v.split_once('-')?;
    let (start, end): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    // `0-18446744073709551615` is 2^64 bytes: no length, so malformed.
    let len = end.checked_sub(start)?.checked_add(1)?;
    Some((start, len))
}

/// Streams `body` onto the end of `path`; returns the bytes written (fsynced).
async fn write_body(path: &PathBuf, body: &mut Body, idle: Duration) -> Result<u64, ApiError> {
    let file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .await
        .map_err(ApiError::io(path))?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut n = 0u64;
    while let Some(data) = next_data(body, idle)
        .await
        .map_err(|e| e.refusal(Code::BlobUploadInvalid))?
    {
        out.write_all(&data).await.map_err(ApiError::io(path))?;
        n += data.len() as u64;
    }
    out.flush().await.map_err(ApiError::io(path))?;
    out.into_inner()
        .sync_data()
        .await
        .map_err(ApiError::io(path))?;
    Ok(n)
}

/// Makes the session's file the blob `digest` of `repo`; 201.
async fn complete(
    state: &AppState,
    repo: &RepoName,
    session: Session,
    digest: Sha256Digest,
) -> Result<Response, ApiError> {
    let st = state.clone();
    let data = session.data.clone();
    let adopted =
        tokio::task::spawn_blocking(move || st.storage().blobs().adopt_file(&data, &digest))
            .await
            .expect("adopt task");
    state.forget_upload_lock(&session.id);
    match adopted {
        Ok(_) => {}
        Err(e @ StoreError::DigestMismatch { .. }) => {
            session.remove();
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    }
    let _ = std::fs::remove_file(&session.owner);
    state.storage().link_blob(repo, &digest)?;
    Ok(created(repo, &digest))
}

fn created(repo: &RepoName, digest: &Sha256Digest) -> Response {
    (
        StatusCode::CREATED,
        [
            (
                header::LOCATION,
                format!("/v2/{}/blobs/{digest}", repo.as_str()),
            ),
            (header::CONTENT_LENGTH, "0".to_string()),
            (HeaderName::from_static(DIGEST_HEADER), digest.to_string()),
        ],
    )
        .into_response()
}

fn digest_param(q: &HashMap<String, String>) -> Result<Sha256Digest, ApiError> {
    let d = q.get("digest").ok_or_else(|| {
        ApiError::new(
            Code::DigestInvalid,
            "the digest query parameter is required",
        )
    })?;
    parse_digest(d)
}

/// Links `digest` into `repo` if it can be mounted (from `from`, or from anywhere in this
/// registry when `from` is absent); refreshes its mtime so a concurrent gc keeps it.
fn try_mount(
    state: &AppState,
    repo: &RepoName,
    digest: &Sha256Digest,
    from: Option<&String>,
) -> Result<bool, ApiError> {
    let storage = state.storage();
    let available = match from.map(|f| RepoName::parse(f)) {
        Some(Ok(from)) => storage.repo_blob_size(&from, digest).is_some(),
        Some(Err(_)) => false,
        None => storage.blobs().contains(digest),
    };
    if !available {
        return Ok(false);
    }
    let path = storage.blobs().path(digest);
    let touched = std::fs::File::options()
        .append(true)
        .open(&path)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
    if touched.is_err() {
        return Ok(false); // removed meanwhile: upload it instead
    }
    storage.link_blob(repo, digest)?;
    Ok(true)
}

/// `POST /v2/<name>/blobs/uploads/`.
pub(crate) async fn start(
    state: &AppState,
    name: &str,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, mut body) = req.into_parts();
    let result = start_upload(state, name, &parts, &mut body).await;
    or_drain(state, result, &mut body).await
}

async fn start_upload(
    state: &AppState,
    name: &str,
    parts: &Parts,
    body: &mut Body,
) -> Result<Response, ApiError> {
    let repo = RepoName::parse(name)?;
    let q = query(&parts.uri);
    if let Some(mount) = q.get("mount") {
        let digest = parse_digest(mount)?;
        if try_mount(state, &repo, &digest, q.get("from"))? {
            return Ok(created(&repo, &digest));
        }
    } else if q.contains_key("digest") {
        let digest = digest_param(&q)?;
        let session = Session::create(state, &repo)?;
        if let Err(e) = session
            .append(&repo, &parts.headers, body, state.read_timeout())
            .await
        {
            session.remove();
            return Err(e);
        }
        return complete(state, &repo, session, digest).await;
    }
    Session::create(state, &repo)?.progress(&repo, StatusCode::ACCEPTED)
}

/// `PATCH`: appends a chunk (or a streamed body without `Content-Range`); 202.
pub(crate) async fn patch(
    state: &AppState,
    name: &str,
    id: &str,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, mut body) = req.into_parts();
    let result = append_chunk(state, name, id, &parts, &mut body).await;
    or_drain(state, result, &mut body).await
}

async fn append_chunk(
    state: &AppState,
    name: &str,
    id: &str,
    parts: &Parts,
    body: &mut Body,
) -> Result<Response, ApiError> {
    let repo = RepoName::parse(name)?;
    let (_guard, session) = locked_append(state, &repo, id, parts, body).await?;
    session.progress(&repo, StatusCode::ACCEPTED)
}

/// Locks session `id` of `repo` and appends the chunk `body` carries (none is fine); the
/// guard keeps the session to this request until it is dropped.
async fn locked_append(
    state: &AppState,
    repo: &RepoName,
    id: &str,
    parts: &Parts,
    body: &mut Body,
) -> Result<(OwnedMutexGuard<()>, Session), ApiError> {
    let (guard, session) = Session::locked(state, repo, id).await?;
    session
        .append(repo, &parts.headers, body, state.read_timeout())
        .await?;
    Ok((guard, session))
}

/// `PUT ?digest=`: appends the last chunk if any, verifies and stores the blob; 201.
pub(crate) async fn finish(
    state: &AppState,
    name: &str,
    id: &str,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, mut body) = req.into_parts();
    let result = finish_upload(state, name, id, &parts, &mut body).await;
    or_drain(state, result, &mut body).await
}

async fn finish_upload(
    state: &AppState,
    name: &str,
    id: &str,
    parts: &Parts,
    body: &mut Body,
) -> Result<Response, ApiError> {
    let repo = RepoName::parse(name)?;
    let digest = digest_param(&query(&parts.uri))?;
    let (_guard, session) = locked_append(state, &repo, id, parts, body).await?;
    complete(state, &repo, session, digest).await
}

/// `GET`: how much the session holds; 204.
pub(crate) async fn status(state: &AppState, name: &str, id: &str) -> Result<Response, ApiError> {
    let repo = RepoName::parse(name)?;
    let (_guard, session) = Session::locked(state, &repo, id).await?;
    session.progress(&repo, StatusCode::NO_CONTENT)
}

/// `DELETE`: abandons the session; 204.
pub(crate) async fn cancel(state: &AppState, name: &str, id: &str) -> Result<Response, ApiError> {
    let repo = RepoName::parse(name)?;
    let (_guard, session) = Session::locked(state, &repo, id).await?;
    session.remove();
    state.forget_upload_lock(id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::{cancel, parse_content_range, status};
    use crate::server::{AppState, ServerOptions};

    /// Found writing fuzz/server: GET and DELETE of `/v2/<name>/blobs/uploads/<id>` added
    /// `<id>` to the upload lock table even when no such session existed, and never removed
    /// it, so anonymous GETs with fresh ids grew the server's memory without bound.
    #[tokio::test]
    async fn unknown_upload_ids_leave_no_lock_behind() {
        let root = tempfile::tempdir().unwrap();
        let state = AppState::new(ServerOptions {
            root: root.path().to_path_buf(),
            push_tokens: Vec::new(),
            private: false,
            immutable_tags: false,
            logger: None,
            read_timeout: crate::server::DEFAULT_READ_TIMEOUT,
            external_url: None,
        })
        .unwrap();
        for id in ["not-an-id", "0123456789abcdef0123456789abcdef"] {
            assert!(status(&state, "a", id).await.is_err());
            assert!(cancel(&state, "a", id).await.is_err());
        }
        assert_eq!(state.upload_lock_count(), 0);
    }

    #[test]
    fn content_ranges_of_chunks() {
        assert_eq!(parse_content_range("0-99"), Some((0, 100)));
        assert_eq!(parse_content_range("bytes 100-199/*"), Some((100, 100)));
        assert_eq!(parse_content_range("bytes=5-5"), Some((5, 1)));
        assert_eq!(parse_content_range("9-1"), None);
        assert_eq!(parse_content_range("x"), None);
    }

    /// Fuzzing (fuzz/corpus/server/content-range-overflow): the chunk length `end - start + 1`
    /// overflowed for `Content-Range: 0-18446744073709551615` (a panic with overflow checks,
    /// a zero-length chunk without).
    #[test]
    fn a_range_of_2_pow_64_bytes_is_malformed() {
        assert_eq!(parse_content_range("0-18446744073709551615"), None);
        assert_eq!(
            parse_content_range("1-18446744073709551615"),
            Some((1, u64::MAX))
        );
    }
}
