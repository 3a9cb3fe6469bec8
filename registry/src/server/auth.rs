//! Push tokens: writes need one (as `Bearer TOKEN`, or `Basic` with TOKEN as the password, the
//! way `docker login` / `skopeo --creds` send it); reads are anonymous unless `--private`.
//! `GET /token` is the distribution token endpoint the `WWW-Authenticate` challenge points
//! at: Basic credentials holding a push token get that token back as the bearer token;
//! anonymous callers get a pull-only token when the registry is public.

use super::error::ApiError;
use super::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

/// The bearer token handed to anonymous callers of a public registry (grants reads only,
/// which need no token anyway).
pub const ANONYMOUS: &str = "anonymous";

/// Push tokens read from the token file.
#[derive(Debug, Clone, Default)]
pub struct Tokens(Vec<String>);

impl Tokens {
    /// Parses a token file: one token per line, blank lines and `#` comments ignored.
    pub fn parse(text: &str) -> Tokens {
        Tokens(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect(),
        )
    }

    /// Whether there are no tokens (the registry is then read-only).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `candidate` is one of the tokens (constant time per token).
    pub fn contains(&self, candidate: &str) -> bool {
        self.0.iter().fold(false, |found, t| {
            found | constant_time_eq(t.as_bytes(), candidate.as_bytes())
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The secret a request presents: a bearer token, or the password of Basic credentials.
pub fn presented(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => Some(rest.trim().to_string()),
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            text.split_once(':')
                .map(|(_, password)| password.to_string())
        }
        _ => None,
    }
}

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// GET/HEAD.
    Pull,
    /// POST/PATCH/PUT/DELETE.
    Push,
}

fn challenge(state: &State, headers: &HeaderMap, scope: Option<(&str, Access)>) -> HeaderValue {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    let mut v = format!(r#"Bearer realm="{proto}://{host}/token",service="coreship-registry""#);
    if let Some((name, access)) = scope {
        let actions = match access {
            Access::Pull => "pull",
            Access::Push => "pull,push",
        };
        v.push_str(&format!(r#",scope="repository:{name}:{actions}""#));
    }
    let _ = state;
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// Checks that the request may do `access` (on repository `name`, for the challenge's scope).
pub fn check(
    state: &State,
    headers: &HeaderMap,
    access: Access,
    name: Option<&str>,
) -> Result<(), ApiError> {
    // The anonymous token proves nothing: treat it as no credentials.
    let secret = presented(headers).filter(|s| s != ANONYMOUS);
    let allowed = match access {
        Access::Pull if !state.private => true,
        _ => secret.as_deref().is_some_and(|s| state.tokens.contains(s)),
    };
    if allowed {
        return Ok(());
    }
    if access == Access::Push && state.tokens.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "DENIED",
            "this registry is read-only: it was started without --push-token-file",
        ));
    }
    let message = match secret {
        Some(_) => "the token is not valid for this registry",
        None => "authentication required: push with a token from the registry's token file",
    };
    Err(
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message).with_header(
            header::WWW_AUTHENTICATE,
            challenge(state, headers, name.map(|n| (n, access))),
        ),
    )
}

/// `GET /v2/`: 200 for a caller with a usable token (or any caller of a public registry
/// without tokens); otherwise a challenge so that clients run the token flow.
pub fn ping(state: &State, headers: &HeaderMap) -> Result<(), ApiError> {
    let secret = presented(headers);
    let ok = match secret.as_deref() {
        Some(s) => state.tokens.contains(s) || (!state.private && s == ANONYMOUS),
        None => !state.private && state.tokens.is_empty(),
    };
    if ok {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "authentication required",
    )
    .with_header(header::WWW_AUTHENTICATE, challenge(state, headers, None)))
}

/// `GET /token`: the distribution token endpoint.
pub fn token(state: &State, headers: &HeaderMap) -> Response {
    let token = match presented(headers) {
        Some(s) if state.tokens.contains(&s) => s,
        Some(_) => {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "the token is not valid for this registry",
            )
            .into_response()
        }
        None if !state.private => ANONYMOUS.to_string(),
        None => {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "this registry is private: log in with a token",
            )
            .into_response()
        }
    };
    let body = serde_json::json!({ "token": token, "access_token": token, "expires_in": 3600 });
    (StatusCode::OK, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_skip_comments_and_blank_lines() {
        let t = Tokens::parse("# push tokens\n\n  abc  \ndef\n");
        assert!(t.contains("abc") && t.contains("def"));
        assert!(!t.contains("ab") && !t.contains("# push tokens") && !t.contains(""));
    }

    #[test]
    fn bearer_and_basic_present_the_secret() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer tok"),
        );
        assert_eq!(presented(&h).as_deref(), Some("tok"));
        // base64("user:tok")
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjp0b2s="),
        );
        assert_eq!(presented(&h).as_deref(), Some("tok"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Digest x"));
        assert_eq!(presented(&h), None);
    }
}
