//! Errors in the distribution spec's form: an HTTP status and
//! `{"errors":[{"code":…,"message":…,"detail":…}]}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An error reply.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Spec error code, e.g. `BLOB_UNKNOWN`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Extra headers (e.g. `WWW-Authenticate`).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// 404 BLOB_UNKNOWN.
    pub fn blob_unknown(what: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            format!("blob unknown to registry: {what}"),
        )
    }

    /// 404 BLOB_UPLOAD_UNKNOWN.
    pub fn upload_unknown() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
            "blob upload unknown to registry",
        )
    }

    /// 400 DIGEST_INVALID.
    pub fn digest_invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", message)
    }

    /// 404 MANIFEST_UNKNOWN.
    pub fn manifest_unknown(reference: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            format!("manifest unknown: {reference}"),
        )
    }

    /// 400 MANIFEST_INVALID.
    pub fn manifest_invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", message)
    }

    /// 400 NAME_INVALID.
    pub fn name_invalid(name: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
            format!("invalid repository name `{name}`"),
        )
    }

    /// 404 NAME_UNKNOWN.
    pub fn name_unknown(name: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            format!("repository name not known to registry: {name}"),
        )
    }

    /// 500 with the cause (never a secret: storage paths and OS errors only).
    pub fn internal(what: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN",
            format!("storage error: {what}"),
        )
    }

    /// Adds a header.
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> ApiError {
        self.headers.push((name, value));
        self
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> ApiError {
        if e.raw_os_error() == Some(libc_enospc()) {
            return ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "UNKNOWN",
                "registry storage is full",
            );
        }
        ApiError::internal(e)
    }
}

/// ENOSPC on Linux.
const fn libc_enospc() -> i32 {
    28
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        use crate::store::StoreError;
        match e {
            StoreError::DigestMismatch { expected, actual } => ApiError::digest_invalid(format!(
                "content does not match digest {expected} (it hashes to {actual})"
            )),
            StoreError::NotFound(d) => ApiError::blob_unknown(d),
            StoreError::Io { source, .. } => source.into(),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "errors": [{ "code": self.code, "message": self.message, "detail": null }]
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        for (k, v) in self.headers {
            resp.headers_mut().append(k, v);
        }
        resp
    }
}

/// A handler result.
pub type ApiResult<T = Response> = Result<T, ApiError>;
