//! Registry authentication: `WWW-Authenticate` challenges, the distribution token flow and
//! its per-scope token cache, Basic auth and direct bearer tokens.

use super::credentials::{basic_header, Credentials, Secrets};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// `Basic realm=…`.
    Basic,
    /// `Bearer realm=…,service=…,scope=…`.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses the first Basic or Bearer challenge of a `WWW-Authenticate` value.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    Some(Challenge::Bearer {
        realm: get("realm")?,
        service: get("service"),
        scope: get("scope"),
    })
}

/// `a="x, y",b=z` → `[(a, "x, y"), (b, z)]` (keys lowercased).
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                value.push(c);
            }
        }
        out.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
}

/// The token endpoint's answer.
#[derive(serde::Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl TokenResponse {
    /// The token and how long to keep it (60 s when unsaid, as the spec prescribes; a few
    /// seconds are taken off for the time the answer travelled).
    pub(crate) fn into_token(self) -> Option<(String, Duration)> {
        let token = self
            .token
            .filter(|t| !t.is_empty())
            .or(self.access_token.filter(|t| !t.is_empty()))?;
        let life = self.expires_in.unwrap_or(60).max(10) - 5;
        Some((token, Duration::from_secs(life)))
    }
}

/// The token request's query: service, then the challenge's scope and ours.
pub(crate) fn token_query(service: Option<&str>, scopes: &[&str]) -> String {
    let mut parts = Vec::new();
    if let Some(s) = service {
        parts.push(format!("service={}", encode(s)));
    }
    let mut seen = HashSet::new();
    for s in scopes {
        if seen.insert(*s) {
            parts.push(format!("scope={}", encode(s)));
        }
    }
    parts.join("&")
}

/// Percent-encodes a query component (unreserved characters kept).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What the client knows about authenticating at each registry.
#[derive(Default)]
pub(crate) struct AuthState {
    /// Bearer tokens by (registry, scope), with their end of life.
    tokens: HashMap<(String, String), (String, Instant)>,
    /// Registries that asked for Basic auth.
    basic: HashSet<String>,
    /// Credentials per registry (looked up once).
    credentials: HashMap<String, Option<Credentials>>,
}

impl AuthState {
    pub(crate) fn credentials(
        &mut self,
        registry: &str,
        explicit: Option<&Credentials>,
    ) -> Option<Credentials> {
        if let Some(c) = explicit {
            return Some(c.clone());
        }
        self.credentials
            .entry(registry.to_string())
            .or_insert_with(|| super::credentials::lookup(registry))
            .clone()
    }

    /// The `Authorization` value to send before any challenge, if any.
    pub(crate) fn header(
        &mut self,
        registry: &str,
        scope: &str,
        creds: Option<&Credentials>,
    ) -> Option<String> {
        let key = (registry.to_string(), scope.to_string());
        if let Some((token, until)) = self.tokens.get(&key) {
            if Instant::now() < *until {
                return Some(format!("Bearer {token}"));
            }
            self.tokens.remove(&key);
        }
        let creds = creds?;
        if self.basic.contains(registry) {
            return creds.basic().map(|(u, p)| basic_header(&u, &p));
        }
        match &creds.secrets {
            Secrets::Token(t) => Some(format!("Bearer {}", t.0)),
            _ => None,
        }
    }

    pub(crate) fn set_basic(&mut self, registry: &str) {
        self.basic.insert(registry.to_string());
    }

    pub(crate) fn set_token(&mut self, registry: &str, scope: &str, token: String, life: Duration) {
        self.tokens.insert(
            (registry.to_string(), scope.to_string()),
            (token, Instant::now() + life),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_are_parsed_with_quoted_commas() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push",error="insufficient_scope""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(
            parse_challenge("Basic realm=\"Registry Realm\""),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge("bearer realm=http://127.0.0.1:1/t"),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t".into(),
                service: None,
                scope: None
            })
        );
        assert_eq!(parse_challenge("Negotiate abc"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
    }

    #[test]
    fn token_answers_and_queries() {
        let r: TokenResponse =
            serde_json::from_str(r#"{"access_token":"a","expires_in":300}"#).unwrap();
        assert_eq!(r.into_token(), Some(("a".into(), Duration::from_secs(295))));
        let r: TokenResponse = serde_json::from_str(r#"{"token":"t","access_token":"a"}"#).unwrap();
        assert_eq!(r.into_token(), Some(("t".into(), Duration::from_secs(55))));
        let r: TokenResponse = serde_json::from_str(r#"{"token":""}"#).unwrap();
        assert_eq!(r.into_token(), None);
        assert_eq!(
            token_query(
                Some("reg istry"),
                &["repository:a/b:pull", "repository:a/b:pull,push", "repository:a/b:pull"]
            ),
            "service=reg%20istry&scope=repository%3Aa%2Fb%3Apull&scope=repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }

    #[test]
    fn cached_tokens_win_and_basic_is_sent_once_asked_for() {
        use super::super::credentials::Secret;
        let creds = Credentials {
            secrets: Secrets::Basic {
                username: "u".into(),
                password: Secret("p".into()),
            },
            origin: "test".into(),
        };
        let mut s = AuthState::default();
        assert_eq!(s.header("r", "repository:a:pull", Some(&creds)), None);
        s.set_basic("r");
        assert_eq!(
            s.header("r", "repository:a:pull", Some(&creds)).as_deref(),
            Some("Basic dTpw")
        );
        s.set_token(
            "r",
            "repository:a:pull",
            "t".into(),
            Duration::from_secs(60),
        );
        assert_eq!(
            s.header("r", "repository:a:pull", Some(&creds)).as_deref(),
            Some("Bearer t")
        );
        s.set_token("r", "repository:a:push", "old".into(), Duration::ZERO);
        assert_eq!(
            s.header("r", "repository:a:push", None),
            None,
            "an expired token is dropped"
        );
    }
}
