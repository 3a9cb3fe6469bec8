//! `/v2/<name>/…` paths: repository names contain slashes, so the endpoint is found from the
//! end of the path.

/// An API endpoint with its repository name and reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags(String),
    /// `/v2/<name>/manifests/<reference>`
    Manifest(String, String),
    /// `/v2/<name>/blobs/<digest>`
    Blob(String, String),
    /// `/v2/<name>/blobs/uploads/`
    UploadStart(String),
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload(String, String),
    /// `/v2/<name>/referrers/<digest>`
    Referrers(String, String),
}

impl Route {
    /// The repository name, if the endpoint has one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Route::Catalog => None,
            Route::Tags(n)
            | Route::Manifest(n, _)
            | Route::Blob(n, _)
            | Route::UploadStart(n)
            | Route::Upload(n, _)
            | Route::Referrers(n, _) => Some(n),
        }
    }
}

/// Parses the part of the path after `/v2/`.
pub fn parse(rest: &str) -> Option<Route> {
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Route::Tags(name.to_string()));
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return Some(Route::UploadStart(name.to_string()));
    }
    let split = |sep: &str| {
        rest.rsplit_once(sep)
            .filter(|(n, r)| !n.is_empty() && !r.is_empty() && !r.contains('/'))
            .map(|(n, r)| (n.to_string(), r.to_string()))
    };
    if let Some((name, id)) = split("/blobs/uploads/") {
        return Some(Route::Upload(name, id));
    }
    if let Some((name, r)) = split("/manifests/") {
        return Some(Route::Manifest(name, r));
    }
    if let Some((name, d)) = split("/blobs/") {
        return Some(Route::Blob(name, d));
    }
    if let Some((name, d)) = split("/referrers/") {
        return Some(Route::Referrers(name, d));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_found_from_the_end_of_the_path() {
        assert_eq!(parse("_catalog"), Some(Route::Catalog));
        assert_eq!(parse("a/b/tags/list"), Some(Route::Tags("a/b".into())));
        assert_eq!(
            parse("a/blobs/b/blobs/sha256:x"),
            Some(Route::Blob("a/blobs/b".into(), "sha256:x".into()))
        );
        assert_eq!(
            parse("p/e/blobs/uploads/"),
            Some(Route::UploadStart("p/e".into()))
        );
        assert_eq!(
            parse("p/e/blobs/uploads/abc"),
            Some(Route::Upload("p/e".into(), "abc".into()))
        );
        assert_eq!(
            parse("p/manifests/1.0"),
            Some(Route::Manifest("p".into(), "1.0".into()))
        );
        assert_eq!(
            parse("p/referrers/sha256:x"),
            Some(Route::Referrers("p".into(), "sha256:x".into()))
        );
        assert_eq!(parse("p/manifests/"), None);
        assert_eq!(parse("nothing"), None);
    }
}
