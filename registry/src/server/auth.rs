//! Who may push and pull, and the distribution token endpoint.
//!
//! Push tokens come from `--push-token-file` (one per line, `#` comments). A request proves
//! one with `Authorization: Bearer <token>` or `Basic base64(<any user>:<token>)`. Clients
//! that follow the distribution token flow (skopeo, docker, oras) instead get a challenge,
//! call [`TOKEN_PATH`] with Basic credentials and receive an *issued* token, so the long-lived
//! push token does not end up in clients' token caches.
//!
//! An issued token carries its own grant (push or pull) and expiry, sealed with HMAC-SHA256
//! under a key of 32 random bytes the server makes at start. The server keeps nothing per
//! issued token: any number of token requests, anonymous ones included, costs no memory and
//! cannot crowd out a login. Issued tokens are short-lived, never written anywhere and die
//! with the process (its key goes with it; clients simply ask again).
//!
//! Comparisons are constant-time: push tokens over sha256 hashes of the presented and known
//! tokens (so neither content nor length leaks through timing), issued tokens over their MAC.
//! No token is ever logged or echoed.
//!
//! A challenge names where to get a token (its realm) and, for a repository, the validated
//! name only. The realm's origin is `--external-url` when given; otherwise the request's
//! `Host` when it is a plain `host[:port]`, over http; otherwise the listen address.
//! `X-Forwarded-*` headers are ignored: anyone can send them.

use super::error::{ApiError, Code};
use super::storage::RepoName;
use axum::http::{header, HeaderMap};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Where the token endpoint is served.
pub const TOKEN_PATH: &str = "/token";
/// The `service` of challenges and tokens.
pub const SERVICE: &str = "coreship-registry";
/// Lifetime of issued tokens.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The layout of an issued token before base64url: version, expiry (seconds after the
/// server's start, big-endian), grant, then the MAC of those ten bytes.
const TOKEN_VERSION: u8 = 1;
const SEALED: usize = 10;
const TOKEN_BYTES: usize = SEALED + 32;

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

impl Grant {
    /// The byte an issued token holds for it.
    fn byte(self) -> u8 {
        match self {
            Grant::Anonymous => 0,
            Grant::Pull => 1,
            Grant::Push => 2,
        }
    }
}

/// The server's credentials, and where its challenges send clients.
pub struct Auth {
    push_hashes: Vec<[u8; 32]>,
    private: bool,
    /// Seals issued tokens.
    key: [u8; 32],
    /// Issued tokens count their expiry from here (a monotonic clock: setting the wall
    /// clock neither revives nor kills them).
    started: Instant,
    /// `scheme://host[:port]` from `--external-url`.
    external_origin: Option<String>,
    /// `http://<listen address>`, once the server listens.
    listen_origin: OnceLock<String>,
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// HMAC-SHA256 (RFC 2104): keys longer than SHA-256's 64-byte block are hashed first.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
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

/// Whether `s` is `host[:port]` as a `Host` header or a URL names a server: a DNS name or an
/// IPv4 address (dot-separated labels of letters, digits, `-` and `_`) or a bracketed IPv6
/// address, and a port from 1 to 65535. Nothing else (quotes, commas, slashes, spaces) can
/// reach a challenge.
pub fn valid_authority(s: &str) -> bool {
    let (host, port) = match s.strip_prefix('[') {
        Some(rest) => {
            let Some((ip, after)) = rest.split_once(']') else {
                return false;
            };
            if ip.parse::<Ipv6Addr>().is_err() {
                return false;
            }
            match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None if after.is_empty() => (None, None),
                None => return false,
            }
        }
        None => match s.rsplit_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(s), None),
        },
    };
    let host_ok = host.is_none_or(|h| {
        h.len() <= 253
            && h.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    });
    let port_ok = port.is_none_or(|p| {
        p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|n| n > 0)
    });
    host_ok && port_ok
}

/// The origin (`scheme://host[:port]`, scheme lowercased, no trailing slash) of an
/// `--external-url`: `http` or `https`, a [`valid_authority`], and no user, path, query or
/// fragment. `None` for anything else.
pub fn external_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    valid_authority(authority).then(|| format!("{scheme}://{authority}"))
}

impl Auth {
    /// Credentials from the push tokens; `private` makes pulls need a token too.
    pub fn new(push_tokens: &[String], private: bool) -> Auth {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random source works");
        Auth {
            push_hashes: push_tokens.iter().map(|t| hash(t)).collect(),
            private,
            key,
            started: Instant::now(),
            external_origin: None,
            listen_origin: OnceLock::new(),
        }
    }

    /// Challenges name `origin` (from [`external_origin`]) as their realm's origin,
    /// whatever the request's `Host`.
    pub fn with_external_origin(mut self, origin: String) -> Auth {
        self.external_origin = Some(origin);
        self
    }

    /// Records the address the server listens on: the realm's origin of requests whose
    /// `Host` is missing or not a plain `host[:port]`.
    pub(crate) fn listening_on(&self, addr: SocketAddr) {
        let _ = self.listen_origin.set(format!("http://{addr}"));
    }

    fn is_push_token(&self, presented: &str) -> bool {
        let h = hash(presented);
        // Every entry is compared, so timing does not tell which one matched.
        self.push_hashes
            .iter()
            .fold(subtle::Choice::from(0), |acc, known| acc | known.ct_eq(&h))
            .into()
    }

    /// Seconds since the server started.
    fn now(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// An issued token for `grant`, valid until `expires` (seconds after the start).
    fn seal(&self, grant: Grant, expires: u64) -> String {
        let mut bytes = [0u8; TOKEN_BYTES];
        bytes[0] = TOKEN_VERSION;
        bytes[1..9].copy_from_slice(&expires.to_be_bytes());
        bytes[9] = grant.byte();
        let mac = hmac_sha256(&self.key, &bytes[..SEALED]);
        bytes[SEALED..].copy_from_slice(&mac);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The grant of an issued token, if this server sealed it and it has not expired.
    fn issued_grant(&self, presented: &str) -> Option<Grant> {
        let mut bytes = [0u8; TOKEN_BYTES];
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode_slice(presented.as_bytes(), &mut bytes)
            .ok()?;
        if n != TOKEN_BYTES {
            return None;
        }
        let mac = hmac_sha256(&self.key, &bytes[..SEALED]);
        if !bool::from(mac.ct_eq(&bytes[SEALED..])) || bytes[0] != TOKEN_VERSION {
            return None;
        }
        let expires = u64::from_be_bytes(bytes[1..9].try_into().expect("8 bytes"));
        if self.now() >= expires {
            return None;
        }
        match bytes[9] {
            1 => Some(Grant::Pull),
            2 => Some(Grant::Push),
            _ => None,
        }
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
        repo: Option<&RepoName>,
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
            .header(header::WWW_AUTHENTICATE, &self.challenge(headers, repo)))
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
        let token = self.seal(grant, self.now() + TOKEN_LIFETIME.as_secs());
        Ok(serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": TOKEN_LIFETIME.as_secs(),
        }))
    }

    /// Where challenges send clients for a token: see the module's documentation.
    fn realm_origin(&self, headers: &HeaderMap) -> String {
        if let Some(origin) = &self.external_origin {
            return origin.clone();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| valid_authority(h));
        match (host, self.listen_origin.get()) {
            (Some(host), _) => format!("http://{host}"),
            (None, Some(listen)) => listen.clone(),
            // In process, without a listener: nothing better to name.
            (None, None) => "http://localhost".to_string(),
        }
    }

    /// `Bearer realm="<origin>/token",service="…"[,scope="repository:<name>:pull,push"]`.
    pub fn challenge(&self, headers: &HeaderMap, repo: Option<&RepoName>) -> String {
        let origin = self.realm_origin(headers);
        let mut c = format!("Bearer realm=\"{origin}{TOKEN_PATH}\",service=\"{SERVICE}\"");
        if let Some(name) = repo {
            c.push_str(&format!(
                ",scope=\"repository:{}:pull,push\"",
                name.as_str()
            ));
        }
        c
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
        let a = RepoName::parse("a").unwrap();
        assert!(auth.authorize(&none, Access::Pull, Some(&a)).is_ok());
        let e = auth.authorize(&none, Access::Push, Some(&a)).unwrap_err();
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

    /// RFC 4231 test cases 1, 2, 6 and 7 (short keys, a key longer than the block, data
    /// longer than the block).
    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let long_key = [0xaa; 131];
        let cases: [(&[u8], &[u8], &str); 4] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &long_key,
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                &long_key,
                b"This is a test using a larger than block-size key and a larger than block-size \
                  data. The key needs to be hashed before being used by the HMAC algorithm.",
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, want) in cases {
            assert_eq!(hex(hmac_sha256(key, data)), want);
        }
    }

    #[test]
    fn issued_tokens_are_refused_when_expired_altered_or_sealed_by_another_server() {
        let auth = Auth::new(&["s3cret".into()], false);
        let push = auth.seal(Grant::Push, auth.now() + 60);
        assert_eq!(auth.issued_grant(&push), Some(Grant::Push));
        assert_eq!(auth.issued_grant(&auth.seal(Grant::Push, auth.now())), None);
        // Each byte changed in turn: the grant byte, the expiry, the MAC.
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let bytes = engine.decode(&push).unwrap();
        for i in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[i] ^= 1;
            assert_eq!(
                auth.issued_grant(&engine.encode(&altered)),
                None,
                "byte {i}"
            );
        }
        assert_eq!(
            auth.issued_grant(&engine.encode(&bytes[..TOKEN_BYTES - 1])),
            None
        );
        assert_eq!(auth.issued_grant(&format!("{push}AA")), None);
        let other = Auth::new(&["s3cret".into()], false);
        assert_eq!(other.issued_grant(&push), None, "another process's key");
    }

    #[test]
    fn only_plain_host_and_port_pass_as_an_authority() {
        for good in [
            "localhost",
            "reg.example:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
            "[::1]",
            "my_registry",
        ] {
            assert!(valid_authority(good), "{good}");
        }
        for bad in [
            "",
            "a\",realm=\"http://evil",
            "a,b",
            "a b",
            "a/token",
            "a:0",
            "a:65536",
            "a:",
            "::1",
            "[::1",
            "[x]:1",
            "a..b",
            "user@host",
        ] {
            assert!(!valid_authority(bad), "{bad}");
        }
        assert_eq!(
            external_origin("HTTPS://registry.example.com:8443/").as_deref(),
            Some("https://registry.example.com:8443")
        );
        assert_eq!(
            external_origin("http://10.0.0.1").as_deref(),
            Some("http://10.0.0.1")
        );
        for bad in [
            "registry.example.com",
            "ftp://registry.example.com",
            "https://registry.example.com/v2/",
            "https://user:pw@registry.example.com",
            "https://a\",realm=\"b",
        ] {
            assert_eq!(external_origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn challenges_name_the_external_origin_else_a_valid_host_else_the_listen_address() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("a,b"));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let auth = Auth::new(&[], false);
        let repo = RepoName::parse("probes/x").unwrap();
        auth.listening_on("127.0.0.1:5000".parse().unwrap());
        assert_eq!(
            auth.challenge(&headers, Some(&repo)),
            "Bearer realm=\"http://127.0.0.1:5000/token\",service=\"coreship-registry\",\
             scope=\"repository:probes/x:pull,push\""
        );
        headers.insert(header::HOST, HeaderValue::from_static("reg.lan:5000"));
        assert!(auth
            .challenge(&headers, None)
            .starts_with("Bearer realm=\"http://reg.lan:5000/token\""));
        let auth = auth.with_external_origin("https://reg.example".into());
        assert!(auth
            .challenge(&headers, None)
            .starts_with("Bearer realm=\"https://reg.example/token\""));
    }
}
