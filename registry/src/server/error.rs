//! Errors as the distribution spec sends them: a status and
//! `{"errors":[{"code":"…","message":"…","detail":…}]}`.

use crate::store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::io;
use std::path::PathBuf;

/// The spec's error codes (distribution spec v1.1, "Error Codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Blob unknown to registry.
    BlobUnknown,
    /// Blob upload invalid.
    BlobUploadInvalid,
    /// Blob upload unknown to registry.
    BlobUploadUnknown,
    /// Provided digest did not match uploaded content.
    DigestInvalid,
    /// Manifest references a manifest or blob unknown to registry.
    ManifestBlobUnknown,
    /// Manifest invalid.
    ManifestInvalid,
    /// Manifest unknown to registry.
    ManifestUnknown,
    /// Invalid repository name.
    NameInvalid,
    /// Repository name not known to registry.
    NameUnknown,
    /// Provided length did not match content length.
    SizeInvalid,
    /// Authentication required.
    Unauthorized,
    /// Requested access to the resource is denied.
    Denied,
    /// The operation is unsupported.
    Unsupported,
}

impl Code {
    /// The code as the JSON body spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
        }
    }

    /// The status a code is sent with unless the endpoint says otherwise (distribution's).
    fn default_status(self) -> StatusCode {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => StatusCode::NOT_FOUND,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Denied => StatusCode::FORBIDDEN,
            Code::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// A request the server refuses, or could not serve.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A refusal with a spec error code.
    #[error("{code:?}: {message}")]
    Spec {
        /// The code.
        code: Code,
        /// HTTP status.
        status: StatusCode,
        /// Human-readable message.
        message: String,
        /// `detail` (JSON), e.g. the digest concerned.
        detail: serde_json::Value,
        /// Extra headers (`WWW-Authenticate`, `Content-Range`).
        headers: Vec<(header::HeaderName, HeaderValue)>,
    },
    /// The server's own storage failed: 500, with the path but not the OS details.
    #[error("storage error at {path}")]
    Storage {
        /// File involved.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
}

impl ApiError {
    /// A refusal with `code` and its usual status.
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError::Spec {
            code,
            status: code.default_status(),
            message: message.into(),
            detail: serde_json::Value::Null,
            headers: Vec::new(),
        }
    }

    /// Replaces the status.
    pub fn status(mut self, new: StatusCode) -> ApiError {
        if let ApiError::Spec { status, .. } = &mut self {
            *status = new;
        }
        self
    }

    /// Sets `detail`.
    pub fn detail(mut self, value: serde_json::Value) -> ApiError {
        if let ApiError::Spec { detail, .. } = &mut self {
            *detail = value;
        }
        self
    }

    /// Adds a header to the response.
    pub fn header(mut self, name: header::HeaderName, value: &str) -> ApiError {
        if let (ApiError::Spec { headers, .. }, Ok(v)) = (&mut self, HeaderValue::from_str(value)) {
            headers.push((name, v));
        }
        self
    }

    /// The spec code, if this is a refusal.
    pub fn code(&self) -> Option<Code> {
        match self {
            ApiError::Spec { code, .. } => Some(*code),
            ApiError::Storage { .. } => None,
        }
    }

    /// A storage failure at `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> ApiError {
        let path = path.into();
        move |source| ApiError::Storage { path, source }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::DigestMismatch { expected, actual } => ApiError::new(
                Code::DigestInvalid,
                format!("content hashes to {actual}, not to the digest given"),
            )
            .detail(serde_json::json!({ "expected": expected, "actual": actual })),
            StoreError::NotFound(d) => ApiError::new(Code::BlobUnknown, "blob unknown to registry")
                .detail(serde_json::json!({ "digest": d })),
            StoreError::Io { path, source } => ApiError::Storage { path, source },
            StoreError::Corrupt { path, .. } => ApiError::Storage {
                path,
                source: io::Error::new(io::ErrorKind::InvalidData, "stored blob is corrupt"),
            },
        }
    }
}

/// Whether a storage failure means the disk (or the user's quota) is full.
fn is_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// The JSON error body.
pub(crate) fn body(code: &str, message: &str, detail: &serde_json::Value) -> Vec<u8> {
    let mut entry = serde_json::json!({ "code": code, "message": message });
    if !detail.is_null() {
        entry["detail"] = detail.clone();
    }
    serde_json::to_vec(&serde_json::json!({ "errors": [entry] })).expect("json")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, bytes, headers) = match self {
            ApiError::Spec {
                code,
                status,
                message,
                detail,
                headers,
            } => (status, body(code.as_str(), &message, &detail), headers),
            // The path stays in the server's own view; clients get no file system details,
            // except that the disk is full: the one storage failure they can wait out.
            ApiError::Storage { source, .. } if is_full(&source) => (
                StatusCode::INSUFFICIENT_STORAGE,
                body(
                    "UNKNOWN",
                    "the registry's storage is full: nothing of this request was stored; retry once space is freed",
                    &serde_json::Value::Null,
                ),
                Vec::new(),
            ),
            ApiError::Storage { .. } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                body(
                    "UNKNOWN",
                    "internal storage error",
                    &serde_json::Value::Null,
                ),
                Vec::new(),
            ),
        };
        let mut resp = (status, bytes).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in headers {
            resp.headers_mut().append(name, value);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_the_spec_shape_and_detail_only_when_given() {
        let b = body("BLOB_UNKNOWN", "m", &serde_json::Value::Null);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"m"}]}"#
        );
        let e = ApiError::new(Code::Denied, "no").detail(serde_json::json!({"tag": "t"}));
        let resp = e.into_response();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn a_full_disk_is_507_and_other_storage_failures_500() {
        let storage = |kind| {
            ApiError::io("/root/uploads/x")(io::Error::from(kind))
                .into_response()
                .status()
        };
        assert_eq!(
            storage(io::ErrorKind::StorageFull),
            StatusCode::INSUFFICIENT_STORAGE
        );
        assert_eq!(
            storage(io::ErrorKind::PermissionDenied),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
