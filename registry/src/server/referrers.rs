//! `GET /v2/<name>/referrers/<digest>[?artifactType=…]`: an image index of the manifests
//! whose `subject` is `<digest>`, from the records [`super::manifests`] keeps at push time.
//! Always 200: a subject nobody refers to (or that does not exist) has an empty list.

use super::blobs::parse_digest;
use super::error::ApiError;
use super::storage::RepoName;
use super::AppState;
use crate::oci::{self, Annotations, ImageIndex, MEDIA_TYPE_INDEX};
use axum::extract::{Query, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// `OCI-Filters-Applied`: which filters the registry applied.
const FILTERS_HEADER: &str = "oci-filters-applied";

/// The referrers index.
pub(crate) fn list(
    state: &AppState,
    name: &str,
    digest: &str,
    req: &Request,
) -> Result<Response, ApiError> {
    let repo = RepoName::parse(name)?;
    let subject = parse_digest(digest)?;
    let q = Query::<HashMap<String, String>>::try_from_uri(req.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    let mut manifests = state.storage().referrers(&repo, &subject)?;
    let filter = q.get("artifactType").filter(|t| !t.is_empty());
    if let Some(t) = filter {
        manifests.retain(|d| d.artifact_type.as_deref() == Some(t.as_str()));
    }
    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_INDEX.to_string()),
        artifact_type: None,
        manifests,
        subject: None,
        annotations: Annotations::new(),
    };
    let mut resp = (
        [(header::CONTENT_TYPE, MEDIA_TYPE_INDEX)],
        oci::to_json(&index),
    )
        .into_response();
    if filter.is_some() {
        resp.headers_mut()
            .insert(FILTERS_HEADER, "artifactType".parse().expect("ascii"));
    }
    Ok(resp)
}
