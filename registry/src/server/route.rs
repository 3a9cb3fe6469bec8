//! `/v2/<name>/…` paths. Repository names contain slashes, so paths are parsed from the end,
//! as the spec's endpoint table reads: `<name>/manifests/<reference>`, `<name>/blobs/<digest>`,
//! `<name>/blobs/uploads/[<id>]`, `<name>/tags/list`, `<name>/referrers/<digest>`.

use super::auth::Access;
use super::error::{ApiError, Code};
use super::storage::RepoName;
use super::{blobs, manifests, referrers, tags, uploads, AppState};
use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;

/// A `/v2/` endpoint with its path parameters (percent-decoded, not yet validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /v2/<name>/tags/list`.
    Tags(String),
    /// `/v2/<name>/manifests/<reference>`.
    Manifest(String, String),
    /// `/v2/<name>/blobs/<digest>`.
    Blob(String, String),
    /// `POST /v2/<name>/blobs/uploads/`.
    UploadStart(String),
    /// `/v2/<name>/blobs/uploads/<id>`.
    Upload(String, String),
    /// `GET /v2/<name>/referrers/<digest>`.
    Referrers(String, String),
}

impl Endpoint {
    /// Parses the path after `/v2/`.
    pub fn parse(rest: &str) -> Option<Endpoint> {
        let rest = percent_decode(rest)?;
        if let Some(name) = rest.strip_suffix("/tags/list") {
            return Some(Endpoint::Tags(name.to_string()));
        }
        let trimmed = rest.strip_suffix('/').unwrap_or(&rest);
        if let Some(name) = trimmed.strip_suffix("/blobs/uploads") {
            return Some(Endpoint::UploadStart(name.to_string()));
        }
        let (head, last) = trimmed.rsplit_once('/')?;
        let (name, kind) = head.rsplit_once('/')?;
        let (name, last) = (name.to_string(), last.to_string());
        match kind {
            "manifests" => Some(Endpoint::Manifest(name, last)),
            "blobs" => Some(Endpoint::Blob(name, last)),
            "referrers" => Some(Endpoint::Referrers(name, last)),
            "uploads" => {
                let name = name.strip_suffix("/blobs")?;
                Some(Endpoint::Upload(name.to_string(), last))
            }
            _ => None,
        }
    }

    /// The repository name.
    pub fn name(&self) -> &str {
        match self {
            Endpoint::Tags(n)
            | Endpoint::Manifest(n, _)
            | Endpoint::Blob(n, _)
            | Endpoint::UploadStart(n)
            | Endpoint::Upload(n, _)
            | Endpoint::Referrers(n, _) => n,
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn unsupported(method: &Method) -> ApiError {
    ApiError::new(
        Code::Unsupported,
        format!("{method} is not supported on this endpoint"),
    )
}

/// Serves every `/v2/<name>/…` request.
pub(crate) async fn dispatch(state: AppState, req: Request) -> Result<Response, ApiError> {
    let path = req.uri().path().strip_prefix("/v2/").unwrap_or("");
    let Some(endpoint) = Endpoint::parse(path) else {
        return Err(ApiError::new(Code::NameUnknown, "no such endpoint")
            .detail(serde_json::json!({ "path": req.uri().path() })));
    };
    let method = req.method().clone();
    let access = if method == Method::GET || method == Method::HEAD {
        Access::Pull
    } else {
        Access::Push
    };
    // Checked before authorization, so that a challenge's scope only ever names a valid
    // repository: an invalid name is NAME_INVALID, never echoed into WWW-Authenticate.
    let repo = RepoName::parse(endpoint.name())?;
    state.auth().authorize(req.headers(), access, Some(&repo))?;
    match (endpoint, method) {
        (Endpoint::Tags(n), Method::GET) => tags::list(&state, &n, &req),
        (Endpoint::Manifest(n, r), Method::GET) => manifests::get(&state, &n, &r, true),
        (Endpoint::Manifest(n, r), Method::HEAD) => manifests::get(&state, &n, &r, false),
        (Endpoint::Manifest(n, r), Method::PUT) => manifests::put(&state, &n, &r, req).await,
        (Endpoint::Manifest(n, r), Method::DELETE) => manifests::delete(&state, &n, &r).await,
        (Endpoint::Blob(n, d), Method::GET) => blobs::get(&state, &n, &d, req.headers()).await,
        (Endpoint::Blob(n, d), Method::HEAD) => blobs::head(&state, &n, &d),
        (Endpoint::Blob(n, d), Method::DELETE) => blobs::delete(&state, &n, &d),
        (Endpoint::UploadStart(n), Method::POST) => uploads::start(&state, &n, req).await,
        (Endpoint::Upload(n, id), Method::PATCH) => uploads::patch(&state, &n, &id, req).await,
        (Endpoint::Upload(n, id), Method::PUT) => uploads::finish(&state, &n, &id, req).await,
        (Endpoint::Upload(n, id), Method::GET) => uploads::status(&state, &n, &id).await,
        (Endpoint::Upload(n, id), Method::DELETE) => uploads::cancel(&state, &n, &id).await,
        (Endpoint::Referrers(n, d), Method::GET) => referrers::list(&state, &n, &d, &req),
        (_, m) => Err(unsupported(&m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_from_the_end_so_names_may_contain_keywords() {
        use Endpoint::*;
        let cases = [
            ("a/b/tags/list", Some(Tags("a/b".into()))),
            (
                "a/manifests/latest",
                Some(Manifest("a".into(), "latest".into())),
            ),
            (
                "a/blobs/b/manifests/v1",
                Some(Manifest("a/blobs/b".into(), "v1".into())),
            ),
            (
                "a/blobs/sha256%3Aab",
                Some(Blob("a".into(), "sha256:ab".into())),
            ),
            ("x/y/blobs/uploads/", Some(UploadStart("x/y".into()))),
            ("x/blobs/uploads", Some(UploadStart("x".into()))),
            (
                "x/blobs/uploads/abc",
                Some(Upload("x".into(), "abc".into())),
            ),
            (
                "x/referrers/sha256:1",
                Some(Referrers("x".into(), "sha256:1".into())),
            ),
            ("x/uploads/abc", None),
            ("x/other/y", None),
            ("x", None),
            ("x/blobs/%zz", None),
        ];
        for (path, want) in cases {
            assert_eq!(Endpoint::parse(path), want, "{path}");
        }
    }
}
