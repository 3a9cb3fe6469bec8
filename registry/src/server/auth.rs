//! Who may push and pull, and the distribution token endpoint.
//!
//! Push tokens come from `--push-token-file` (one per line, `#` comments). A request proves
//! one with `Authorization: Bearer <token>` or `Basic base64(<any user>:<token>)`. Clients
//! that follow the distribution token flow (skopeo, docker, oras) instead get a challenge,
//! call [`TOKEN_PATH`] with Basic credentials and receive an *issued* token: 32 random bytes,
//! hex, kept only in memory with its grant (push or pull) and expiry. Issued tokens are
//! short-lived, never written anywhere and die with the process (clients simply ask again),
//! so the long-lived push token does not end up in clients' token caches.
//!
//! Comparisons are constant-time over sha256 hashes of the presented and known tokens (so
//! neither content nor length leaks through timing); issued tokens are looked up by the hash
//! of the presented value. No token is ever logged or echoed.

use super::error::{ApiError, Code};
use axum::http::{header, HeaderMap, StatusCode};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Where the token endpoint is served.
pub const TOKEN_PATH: &str = "/token";
/// The `service` of challenges and tokens.
pub const SERVICE: &str = "coreship-registry";
/// Lifetime of issued tokens.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Most issued tokens kept at once (expired ones are dropped first).
const MAX_ISSUED: usize = 100_000;

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read.
    Pull,
    /// Write (POST, PATCH, PUT, DELETE).
    Push,
}

/// What presented credentials are worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    Anonymous,
    Pull,
    Push,
}

/// The server's credentials.
pub struct Auth {
    push_hashes: Vec<[u8; 32]>,
    private: bool,
    issued: Mutex<HashMap<[u8; 32], (Grant, Instant)>>,
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Parses a token file's text: one token per line, blank lines and `#` comments skipped.
pub fn parse_token_file(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// A fresh random token (32 bytes, hex).
pub(crate) fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Auth {
    /// Credentials from the push tokens; `private` makes pulls need a token too.
    pub fn new(push_tokens: &[String], private: bool) -> Auth {
        Auth {
            push_hashes: push_tokens.iter().map(|t| hash(t)).collect(),
            private,
            issued: Mutex::new(HashMap::new()),
        }
    }

    fn is_push_token(&self, presented: &str) -> bool {
        let h = hash(presented);
        // Every entry is compared, so timing does not tell which one matched.
        self.push_hashes
            .iter()
            .fold(subtle::Choice::from(0), |acc, known| acc | known.ct_eq(&h))
            .into()
    }

    fn issued_grant(&self, presented: &str) -> Option<Grant> {
        let issued = self.issued.lock().expect("token table lock");
        issued
            .get(&hash(presented))
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(g, _)| *g)
    }

    /// What the request's credentials grant; `Err` when they are presented but wrong.
    fn grant(&self, headers: &HeaderMap) -> Result<Grant, ()> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(Grant::Anonymous);
        };
        let value = value.to_str().map_err(|_| ())?;
        let (scheme, rest) = value.split_once(' ').ok_or(())?;
        let secret = match scheme.to_ascii_lowercase().as_str() {
            "bearer" => rest.trim().to_string(),
            "basic" => basic_password(rest).ok_or(())?,
            _ => return Err(()),
        };
        if self.is_push_token(&secret) {
            return Ok(Grant::Push);
        }
        self.issued_grant(&secret).ok_or(())
    }

    /// Allows the request or refuses it with 401 and a challenge for `repo`.
    pub fn authorize(
        &self,
        headers: &HeaderMap,
        access: Access,
        repo: Option<&str>,
    ) -> Result<(), ApiError> {
        let grant = self.grant(headers);
        let ok = match (grant, access) {
            (Ok(Grant::Push), _) => true,
            (Ok(Grant::Pull), Access::Pull) => true,
            (Ok(Grant::Anonymous), Access::Pull) => !self.private,
            _ => false,
        };
        if ok {
            return Ok(());
        }
        let message = match grant {
            Err(()) => "invalid credentials",
            Ok(_) if access == Access::Push => "a push token is required to write",
            Ok(_) => "authentication required",
        };
        Err(ApiError::new(Code::Unauthorized, message)
            .header(header::WWW_AUTHENTICATE, &challenge(headers, repo)))
    }

    /// Whether the request carries no credentials at all.
    pub fn is_anonymous(headers: &HeaderMap) -> bool {
        !headers.contains_key(header::AUTHORIZATION)
    }

    /// The token endpoint: Basic credentials with a push token get a push token, anonymous
    /// callers a pull token (unless the registry is private), anything else 401.
    pub fn issue(&self, headers: &HeaderMap) -> Result<serde_json::Value, ApiError> {
        let refuse = |msg: &str| {
            ApiError::new(Code::Unauthorized, msg).header(
                header::WWW_AUTHENTICATE,
                &format!("Basic realm=\"{SERVICE}\""),
            )
        };
        let grant = match headers.get(header::AUTHORIZATION) {
            None if self.private => return Err(refuse("this registry is private: log in")),
            None => Grant::Pull,
            Some(_) => match self.grant(headers) {
                Ok(Grant::Push) => Grant::Push,
                _ => return Err(refuse("invalid credentials")),
            },
        };
        let token = random_hex();
        let now = Instant::now();
        {
            let mut issued = self.issued.lock().expect("token table lock");
            if issued.len() >= MAX_ISSUED {
                issued.retain(|_, (_, expires)| *expires > now);
                if issued.len() >= MAX_ISSUED {
                    return Err(
                        ApiError::new(Code::Denied, "too many tokens issued, retry later")
                            .status(StatusCode::TOO_MANY_REQUESTS),
                    );
                }
            }
            issued.insert(hash(&token), (grant, now + TOKEN_LIFETIME));
        }
        Ok(serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": TOKEN_LIFETIME.as_secs(),
        }))
    }
}

/// The password of `Basic base64(user:password)`.
fn basic_password(encoded: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    Some(text.split_once(':')?.1.to_string())
}

/// `Bearer realm="<scheme>://<host>/token",service="…"[,scope="repository:<name>:pull,push"]`.
pub fn challenge(headers: &HeaderMap, repo: Option<&str>) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.contains('"'))
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    let mut c = format!("Bearer realm=\"{scheme}://{host}{TOKEN_PATH}\",service=\"{SERVICE}\"");
    if let Some(name) = repo {
        c.push_str(&format!(",scope=\"repository:{name}:pull,push\""));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn token_files_skip_comments_and_blank_lines() {
        assert_eq!(
            parse_token_file("# ci\n s3cret \n\n#x\nother"),
            vec!["s3cret", "other"]
        );
    }

    #[test]
    fn push_needs_a_push_token_in_bearer_or_basic_form() {
        let auth = Auth::new(&["s3cret".into()], false);
        let none = HeaderMap::new();
        assert!(auth.authorize(&none, Access::Pull, Some("a")).is_ok());
        let e = auth.authorize(&none, Access::Push, Some("a")).unwrap_err();
        assert_eq!(e.code(), Some(Code::Unauthorized));
        assert!(auth
            .authorize(&with_auth("Bearer s3cret"), Access::Push, None)
            .is_ok());
        let basic = base64::engine::general_purpose::STANDARD.encode("x:s3cret");
        assert!(auth
            .authorize(&with_auth(&format!("Basic {basic}")), Access::Push, None)
            .is_ok());
        assert!(auth
            .authorize(&with_auth("Bearer wrong"), Access::Pull, None)
            .is_err());
    }

    #[test]
    fn issued_tokens_carry_their_grant() {
        let auth = Auth::new(&["s3cret".into()], false);
        let pull = auth.issue(&HeaderMap::new()).unwrap();
        let pull = with_auth(&format!("Bearer {}", pull["token"].as_str().unwrap()));
        assert!(auth.authorize(&pull, Access::Pull, None).is_ok());
        assert!(auth.authorize(&pull, Access::Push, None).is_err());
        let basic = base64::engine::general_purpose::STANDARD.encode("u:s3cret");
        let push = auth.issue(&with_auth(&format!("Basic {basic}"))).unwrap();
        let push = with_auth(&format!(
            "Bearer {}",
            push["access_token"].as_str().unwrap()
        ));
        assert!(auth.authorize(&push, Access::Push, None).is_ok());
        let bad = base64::engine::general_purpose::STANDARD.encode("u:nope");
        assert!(auth.issue(&with_auth(&format!("Basic {bad}"))).is_err());
        let private = Auth::new(&["s3cret".into()], true);
        assert!(private.issue(&HeaderMap::new()).is_err());
        assert!(private
            .authorize(&HeaderMap::new(), Access::Pull, None)
            .is_err());
    }
}
