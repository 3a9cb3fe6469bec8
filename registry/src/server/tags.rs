//! `GET /v2/<name>/tags/list` and `GET /v2/_catalog`, both paginated with `n` and `last` and
//! a `Link: <…>; rel="next"` header when more follow.

use super::error::{ApiError, Code};
use super::storage::RepoName;
use super::AppState;
use axum::extract::{Query, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// Most entries in one page when the client gives no (or a larger) `n`.
pub const MAX_PAGE: usize = 10_000;

/// One page of `all` (sorted): entries after `last`, at most `n`; and whether more follow.
pub(crate) fn page<'a>(
    all: &'a [String],
    n: Option<usize>,
    last: Option<&str>,
) -> (&'a [String], bool) {
    let start = match last {
        Some(l) => all.partition_point(|t| t.as_str() <= l),
        None => 0,
    };
    let rest = &all[start..];
    let n = n.unwrap_or(MAX_PAGE).min(MAX_PAGE);
    if rest.len() > n {
        (&rest[..n], true)
    } else {
        (rest, false)
    }
}

fn paginate(req: &Request) -> Result<(Option<usize>, Option<String>), ApiError> {
    let q = Query::<HashMap<String, String>>::try_from_uri(req.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    let n = match q.get("n") {
        Some(v) => Some(v.parse::<usize>().map_err(|_| {
            ApiError::new(Code::Unsupported, "n must be a non-negative integer")
                .status(axum::http::StatusCode::BAD_REQUEST)
        })?),
        None => None,
    };
    Ok((n, q.get("last").cloned()))
}

fn respond(
    path: &str,
    key: &str,
    name: Option<&str>,
    entries: &[String],
    n: Option<usize>,
    more: bool,
) -> Response {
    let mut body = serde_json::json!({ key: entries });
    if let Some(name) = name {
        body["name"] = serde_json::Value::from(name);
    }
    let mut resp = (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&body).expect("json"),
    )
        .into_response();
    if let (true, Some(last)) = (more, entries.last()) {
        let n = n.unwrap_or(entries.len());
        let link = format!("<{path}?n={n}&last={last}>; rel=\"next\"");
        resp.headers_mut()
            .insert(header::LINK, link.parse().expect("names are ascii"));
    }
    resp
}

/// `GET /v2/<name>/tags/list`.
pub(crate) fn list(state: &AppState, name: &str, req: &Request) -> Result<Response, ApiError> {
    let repo = RepoName::parse(name)?;
    if !state.storage().repo_exists(&repo) {
        return Err(
            ApiError::new(Code::NameUnknown, "repository name not known to registry")
                .detail(serde_json::json!({ "name": name })),
        );
    }
    let (n, last) = paginate(req)?;
    let tags = state.storage().tags(&repo)?;
    let (entries, more) = page(&tags, n, last.as_deref());
    let path = format!("/v2/{name}/tags/list");
    Ok(respond(&path, "tags", Some(name), entries, n, more))
}

/// `GET /v2/_catalog`.
pub(crate) fn catalog(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let (n, last) = paginate(req)?;
    let repos = state.storage().catalog()?;
    let (entries, more) = page(&repos, n, last.as_deref());
    Ok(respond(
        "/v2/_catalog",
        "repositories",
        None,
        entries,
        n,
        more,
    ))
}

#[cfg(test)]
mod tests {
    use super::page;

    #[test]
    fn pages_continue_after_last() {
        let all: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        assert_eq!(page(&all, Some(2), None), (&all[..2], true));
        assert_eq!(page(&all, Some(2), Some("b")), (&all[2..], false));
        assert_eq!(page(&all, None, Some("bb")), (&all[2..], false));
        assert_eq!(page(&all, Some(0), None), (&all[..0], true));
        assert_eq!(page(&all, Some(9), Some("d")), (&all[4..], false));
    }
}
