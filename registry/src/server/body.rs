//! Reading request bodies with a limit on silence: a client that stops sending mid-body is
//! cut off after the server's read timeout instead of holding its connection (and its upload
//! session's lock) forever.

use super::error::{ApiError, Code};
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use http_body_util::BodyExt;
use std::time::Duration;

/// Why a request body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Nothing arrived for this long.
    Stalled(Duration),
    /// The connection broke off (e.g. fewer bytes than `Content-Length`, then a close).
    Broken(String),
    /// More than this many bytes.
    TooLarge(usize),
}

impl BodyError {
    /// The refusal, with `code` for a body that stalled or broke off (the endpoint's own:
    /// `BLOB_UPLOAD_INVALID`, `MANIFEST_INVALID`).
    pub(crate) fn refusal(self, code: Code) -> ApiError {
        match self {
            BodyError::Stalled(idle) => ApiError::new(
                code,
                format!(
                    "the request body stalled: nothing arrived for {} s",
                    idle.as_secs_f32()
                ),
            )
            .status(StatusCode::REQUEST_TIMEOUT),
            BodyError::Broken(e) => ApiError::new(code, format!("request body: {e}")),
            BodyError::TooLarge(limit) => ApiError::new(
                Code::SizeInvalid,
                format!("request body larger than {limit} bytes"),
            )
            .status(StatusCode::PAYLOAD_TOO_LARGE),
        }
    }
}

/// The next chunk of data (`None` at the end).
pub(crate) async fn next_data(body: &mut Body, idle: Duration) -> Result<Option<Bytes>, BodyError> {
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(BodyError::Stalled(idle)),
            Ok(None) => return Ok(None),
            Ok(Some(frame)) => frame.map_err(|e| BodyError::Broken(e.to_string()))?,
        };
        if let Ok(data) = frame.into_data() {
            return Ok(Some(data));
        }
    }
}

/// The whole body, at most `limit` bytes.
pub(crate) async fn read_to_vec(
    body: &mut Body,
    limit: usize,
    idle: Duration,
) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    while let Some(data) = next_data(body, idle).await? {
        if out.len() + data.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        out.extend_from_slice(&data);
    }
    Ok(out)
}

/// Reads and drops the rest of a body (at most 1 GiB, stopping at a stall): a client still
/// sending when the server answers and closes gets a reset instead of the answer (a full disk,
/// a chunk at the wrong offset).
pub(crate) async fn drain(body: &mut Body, idle: Duration) {
    let mut n = 0usize;
    while let Ok(Some(data)) = next_data(body, idle).await {
        n += data.len();
        if n > 1 << 30 {
            break;
        }
    }
}
