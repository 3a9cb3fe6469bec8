//! [`Client`] and [`ClientOptions`]: the choice of HTTP or HTTPS per registry, redirects,
//! authentication retries, URL building and request statistics, over the small HTTP/1.1
//! client in `http.rs`.

use super::auth::{parse_challenge, token_query, AuthState, Challenge, TokenResponse};
use super::credentials::{basic_header, Credentials, Secrets, Withheld};
use super::error::{ClientError, RegistryErrors};
pub(crate) use super::http::Response;
use super::http::{self, Conn, Deadline, HttpError, Url};
use super::tls::Https;
use crate::Reference;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Redirects followed for one GET or HEAD (registries send blob GETs to storage hosts).
const MAX_REDIRECTS: u32 = 5;

/// How the client talks to registries.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Allow plain HTTP to registries that are not on this machine (loopback registries always
    /// use plain HTTP). Nothing else is relaxed: digests and TLS certificates are still checked.
    pub insecure: bool,
    /// Extra PEM CA certificates trusted besides the system bundle (`--ca-file`).
    pub ca_files: Vec<PathBuf>,
    /// Credentials for every registry; `None` looks them up per host (see
    /// [`credentials::lookup`](super::credentials::lookup)).
    pub credentials: Option<Credentials>,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Time allowed for any single read or write on a connection (a stalled transfer fails).
    pub io_timeout: Duration,
    /// Time allowed for one whole request, from connecting to the end of the answer's body
    /// (a blob download that runs out of it resumes in a new request where the server allows).
    pub request_timeout: Duration,
    /// Blobs up to this size are uploaded in one PUT; larger ones in PATCH chunks of this size.
    pub chunk_size: u64,
    /// Attempts for one blob download (each resumes with `Range` where the server allows).
    pub download_attempts: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure: false,
            ca_files: Vec::new(),
            credentials: None,
            user_agent: concat!("coreship/", env!("CARGO_PKG_VERSION")).to_string(),
            connect_timeout: Duration::from_secs(30),
            io_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(600),
            chunk_size: 8 << 20,
            download_attempts: 4,
        }
    }
}

/// Requests made and bytes received, for tests and `--verbose` summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// HTTP requests sent (token requests included).
    pub requests: u64,
    /// Manifest GETs (by tag or digest).
    pub manifest_gets: u64,
    /// Blob body bytes received.
    pub blob_bytes: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    manifest_gets: AtomicU64,
    blob_bytes: AtomicU64,
}

/// A blocking OCI distribution client. Cheap to share by reference; safe across threads.
pub struct Client {
    opts: ClientOptions,
    /// Built on first HTTPS use, so that plain-HTTP use never reads CA files.
    tls: Mutex<Option<Https>>,
    auth: Mutex<AuthState>,
    counters: Counters,
}

/// One request: everything needed to send it again after an authentication challenge.
pub(crate) struct Call<'a> {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<&'a [u8]>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(method: &'static str, url: String) -> Call<'a> {
        Call {
            method,
            url,
            headers: Vec::new(),
            body: None,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body(mut self, body: &'a [u8]) -> Self {
        self.body = Some(body);
        self
    }
}

/// Scope of a request in the distribution token grammar.
pub(crate) fn pull_scope(r: &Reference) -> String {
    format!("repository:{}:pull", r.repository)
}

/// Scope of a push request.
pub(crate) fn push_scope(r: &Reference) -> String {
    format!("repository:{}:pull,push", r.repository)
}

impl Client {
    /// A client with `opts`. Nothing is read or sent until the first request.
    pub fn new(opts: ClientOptions) -> Client {
        Client {
            opts,
            tls: Mutex::new(None),
            auth: Mutex::new(AuthState::default()),
            counters: Counters::default(),
        }
    }

    /// The options.
    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// Requests and bytes so far.
    pub fn stats(&self) -> Stats {
        Stats {
            requests: self.counters.requests.load(Ordering::Relaxed),
            manifest_gets: self.counters.manifest_gets.load(Ordering::Relaxed),
            blob_bytes: self.counters.blob_bytes.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn count_manifest_get(&self) {
        self.counters.manifest_gets.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_blob_bytes(&self, n: u64) {
        self.counters.blob_bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Whether `registry` is spoken to in plain HTTP.
    pub(crate) fn plain_http(&self, r: &Reference) -> bool {
        self.opts.insecure || r.is_loopback()
    }

    /// `http(s)://registry/v2/<repository>/` + `rest`.
    pub(crate) fn url(&self, r: &Reference, rest: &str) -> String {
        let scheme = if self.plain_http(r) { "http" } else { "https" };
        format!("{scheme}://{}/v2/{}/{rest}", r.registry, r.repository)
    }

    /// Resolves a `Location` header (absolute, or a path on the registry) against `url`.
    pub(crate) fn resolve_location(url: &str, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            return location.to_string();
        }
        let origin_end = url
            .find("://")
            .map(|i| i + 3)
            .and_then(|start| url[start..].find('/').map(|j| start + j))
            .unwrap_or(url.len());
        format!("{}{location}", &url[..origin_end])
    }

    fn https(&self, host: &str) -> Result<Https, ClientError> {
        let mut tls = self.tls.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = tls.as_ref() {
            return Ok(h.clone());
        }
        let https = Https::new(&self.opts, host)?;
        *tls = Some(https.clone());
        Ok(https)
    }

    /// One request on a new connection, no redirects.
    fn once(
        &self,
        method: &'static str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Response, ClientError> {
        let transport = |source: HttpError| ClientError::Transport {
            method,
            url: url.to_string(),
            source: Box::new(source),
        };
        let parsed = Url::parse(url).map_err(transport)?;
        let deadline = Deadline::after(self.opts.request_timeout);
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let https = if parsed.tls {
            Some(self.https(parsed.authority)?)
        } else {
            None
        };
        let tcp = http::connect(&parsed, self.opts.connect_timeout, self.opts.io_timeout)
            .map_err(transport)?;
        let conn = match https {
            Some(h) => Conn::Tls(Box::new(
                h.connect(parsed.host, tcp, deadline).map_err(transport)?,
            )),
            None => Conn::Plain(tcp),
        };
        http::exchange(conn, method, &parsed, headers, body, deadline).map_err(transport)
    }

    /// Whether a request may go to `to` after one to a URL of scheme `from_tls`: HTTPS always;
    /// plain HTTP never after HTTPS, else only to this machine or with `--insecure`.
    /// Redirects and token endpoints obey it, as registry URLs do.
    fn may_send(&self, from_tls: bool, to: &Url<'_>) -> bool {
        to.tls || (!from_tls && (self.opts.insecure || to.is_loopback()))
    }

    /// Sends one request without authentication handling, following redirects of GET and
    /// HEAD (up to [`MAX_REDIRECTS`]); `Authorization` is dropped for good once a redirect
    /// leaves the origin (scheme, host, port) of `call`, and a redirect to plain HTTP is
    /// followed only where plain HTTP is allowed anyway. Returns the answer and, when it came
    /// from another origin, that URL.
    pub(crate) fn raw(
        &self,
        call: &Call<'_>,
        authorization: Option<&str>,
    ) -> Result<(Response, Option<String>), ClientError> {
        let mut headers: Vec<(&str, &str)> = vec![("User-Agent", self.opts.user_agent.as_str())];
        headers.extend(call.headers.iter().map(|(k, v)| (*k, v.as_str())));
        // An empty body is sent as `Content-Length: 0`, which servers and proxies expect on
        // POST, PUT and PATCH.
        let body = match call.body {
            None if matches!(call.method, "POST" | "PUT" | "PATCH") => Some(&[][..]),
            other => other,
        };
        let follow = matches!(call.method, "GET" | "HEAD");
        let refuse = |source: HttpError| ClientError::Transport {
            method: call.method,
            url: call.url.clone(),
            source: Box::new(source),
        };
        let origin = Url::parse(&call.url).map_err(refuse)?;
        let mut url = call.url.clone();
        let mut authorization = authorization;
        let mut elsewhere = false;
        for hop in 0.. {
            let mut all = headers.clone();
            if let Some(a) = authorization {
                all.push(("Authorization", a));
            }
            let resp = self.once(call.method, &url, &all, body)?;
            let location = match resp.header("location") {
                Some(l) if follow && matches!(resp.status(), 301 | 302 | 303 | 307 | 308) => {
                    l.to_string()
                }
                _ => return Ok((resp, elsewhere.then_some(url))),
            };
            if hop == MAX_REDIRECTS {
                return Err(refuse(HttpError::Redirects(MAX_REDIRECTS)));
            }
            let next = Self::resolve_location(&url, &location);
            let to = Url::parse(&next).map_err(refuse)?;
            let from_tls = Url::parse(&url).is_ok_and(|u| u.tls);
            if !self.may_send(from_tls, &to) {
                return Err(refuse(HttpError::PlainRedirect(next)));
            }
            if !origin.same_origin(&to) {
                // Credentials are for the registry alone: once off its origin, none are sent
                // for the rest of the chain, and a challenge from there is not answered.
                authorization = None;
                elsewhere = true;
            }
            url = next;
        }
        unreachable!("the loop returns by MAX_REDIRECTS")
    }

    /// Sends `call` to the repository of `r` for `scope`, answering one authentication
    /// challenge (token flow or Basic) and retrying once. A final 401/403 is an error naming
    /// where the credentials came from.
    pub(crate) fn send(
        &self,
        r: &Reference,
        scope: &str,
        call: &Call<'_>,
    ) -> Result<Response, ClientError> {
        let creds = self
            .lock_auth()
            .credentials(&r.registry, self.opts.credentials.as_ref());
        let creds = creds.as_ref();
        for attempt in 0..2 {
            let header = self.lock_auth().header(&r.registry, scope, creds);
            let (mut resp, elsewhere) = self.raw(call, header.as_deref())?;
            let status = resp.status();
            if status != 401 && status != 403 {
                return Ok(resp);
            }
            if let Some(to) = elsewhere {
                return Err(ClientError::RedirectedAuth {
                    url: call.url.clone(),
                    to,
                    status,
                });
            }
            let challenge = header_str(&resp, "www-authenticate");
            if status == 401 && attempt == 0 {
                match challenge.as_deref().and_then(parse_challenge) {
                    Some(Challenge::Basic) if creds.and_then(|c| c.basic()).is_some() => {
                        self.lock_auth().set_basic(&r.registry);
                        continue;
                    }
                    Some(Challenge::Bearer {
                        realm,
                        service,
                        scope: asked,
                    }) => {
                        let scopes = [asked.as_deref().unwrap_or(scope), scope];
                        let (token, life) = self.fetch_token(
                            &call.url,
                            &realm,
                            service.as_deref(),
                            &scopes,
                            &r.registry,
                            creds,
                        )?;
                        self.lock_auth().set_token(&r.registry, scope, token, life);
                        continue;
                    }
                    Some(Challenge::Basic) => {}
                    None => {
                        if let Some(c) = challenge.filter(|c| !c.trim().is_empty()) {
                            if !c.trim_start().to_ascii_lowercase().starts_with("bearer") {
                                return Err(ClientError::Challenge {
                                    url: call.url.clone(),
                                    challenge: c,
                                });
                            }
                        }
                    }
                }
            }
            return Err(ClientError::Unauthorized {
                url: call.url.clone(),
                status,
                origin: creds.map(|c| c.origin.clone()),
                withheld: withheld(creds, &r.registry),
                errors: read_errors(&mut resp),
            });
        }
        unreachable!("the second attempt always returns")
    }

    fn lock_auth(&self) -> std::sync::MutexGuard<'_, AuthState> {
        self.auth.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The distribution token flow: GET the realm (Basic credentials if any), or POST an
    /// OAuth2 refresh token for a docker `identitytoken`. The realm, named by the challenge
    /// of a request to `from`, obeys the plain-HTTP rule of [`Client::may_send`] as seen from
    /// there: a refused realm gets no request at all.
    fn fetch_token(
        &self,
        from: &str,
        realm: &str,
        service: Option<&str>,
        scopes: &[&str],
        registry: &str,
        creds: Option<&Credentials>,
    ) -> Result<(String, Duration), ClientError> {
        // (A realm that is no URL at all fails in the request below, naming it.)
        let from_tls = Url::parse(from).is_ok_and(|u| u.tls);
        if Url::parse(realm).is_ok_and(|to| !self.may_send(from_tls, &to)) {
            return Err(ClientError::PlainRealm {
                url: from.to_string(),
                realm: realm.to_string(),
            });
        }
        let sep = if realm.contains('?') { '&' } else { '?' };
        let query = token_query(service, scopes);
        let mut resp = match creds.map(|c| &c.secrets) {
            Some(Secrets::IdentityToken(t)) => {
                let form = format!(
                    "grant_type=refresh_token&client_id=coreship&refresh_token={}&{query}",
                    super::auth::encode(&t.0)
                );
                let call = Call::new("POST", realm.to_string())
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(form.as_bytes());
                self.raw(&call, None)?.0
            }
            _ => {
                let auth = creds
                    .and_then(|c| c.basic())
                    .map(|(u, p)| basic_header(&u, &p));
                let call = Call::new("GET", format!("{realm}{sep}{query}"));
                self.raw(&call, auth.as_deref())?.0
            }
        };
        let url = realm.to_string();
        let status = resp.status();
        if status == 401 || status == 403 {
            return Err(ClientError::Unauthorized {
                url,
                status,
                origin: creds.map(|c| c.origin.clone()),
                withheld: withheld(creds, registry),
                errors: read_errors(&mut resp),
            });
        }
        if status != 200 {
            return Err(status_error("GET", &url, &mut resp));
        }
        let body = read_body("GET", &url, &mut resp, 1 << 20)?;
        serde_json::from_slice::<TokenResponse>(&body)
            .ok()
            .and_then(TokenResponse::into_token)
            .ok_or(ClientError::Token { url })
    }
}

/// When a request went without credentials: the environment's that were set for other hosts
/// than `registry`, for the error to mention.
fn withheld(creds: Option<&Credentials>, registry: &str) -> Option<Box<Withheld>> {
    match creds {
        Some(_) => None,
        None => super::credentials::withheld(registry).map(Box::new),
    }
}

/// A header's value as a string.
pub(crate) fn header_str(resp: &Response, name: &str) -> Option<String> {
    resp.header(name).map(str::to_string)
}

/// Reads a whole body, refusing more than `limit` bytes.
pub(crate) fn read_body(
    method: &'static str,
    url: &str,
    resp: &mut Response,
    limit: u64,
) -> Result<Vec<u8>, ClientError> {
    resp.read_to_vec(limit)
        .map_err(|source| ClientError::Transport {
            method,
            url: url.to_string(),
            source: Box::new(source),
        })
}

/// The error list of an error response (empty if unreadable).
pub(crate) fn read_errors(resp: &mut Response) -> RegistryErrors {
    resp.read_to_vec(64 << 10)
        .map(|b| RegistryErrors::parse(&b))
        .unwrap_or_default()
}

/// An unexpected status as an error, with the registry's error list.
pub(crate) fn status_error(method: &'static str, url: &str, resp: &mut Response) -> ClientError {
    ClientError::Status {
        method,
        url: url.to_string(),
        status: resp.status(),
        errors: read_errors(resp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_use_http_only_for_loopback_or_insecure() {
        let c = Client::new(ClientOptions::default());
        let local: Reference = "localhost:5000/probes/x:1".parse().unwrap();
        let remote: Reference = "ghcr.io/acme/x:1".parse().unwrap();
        assert_eq!(
            c.url(&local, "manifests/1"),
            "http://localhost:5000/v2/probes/x/manifests/1"
        );
        assert_eq!(
            c.url(&remote, "tags/list"),
            "https://ghcr.io/v2/acme/x/tags/list"
        );
        let c = Client::new(ClientOptions {
            insecure: true,
            ..Default::default()
        });
        assert!(c.url(&remote, "").starts_with("http://ghcr.io/"));
        assert_eq!(pull_scope(&remote), "repository:acme/x:pull");
        assert_eq!(push_scope(&remote), "repository:acme/x:pull,push");
    }

    #[test]
    fn plain_http_goes_only_to_this_machine_unless_insecure_and_never_after_https() {
        let url = |u| Url::parse(u).unwrap();
        let c = Client::new(ClientOptions::default());
        assert!(c.may_send(false, &url("http://127.0.0.1:1/token")));
        assert!(c.may_send(false, &url("http://localhost/token")));
        assert!(!c.may_send(false, &url("http://192.0.2.1/token")));
        assert!(!c.may_send(true, &url("http://127.0.0.1/token")));
        assert!(c.may_send(true, &url("https://auth.example/token")));
        let insecure = Client::new(ClientOptions {
            insecure: true,
            ..Default::default()
        });
        assert!(insecure.may_send(false, &url("http://192.0.2.1/token")));
        assert!(!insecure.may_send(true, &url("http://192.0.2.1/token")));
    }

    #[test]
    fn locations_resolve_against_the_registry() {
        let base = "http://127.0.0.1:5000/v2/a/blobs/uploads/";
        assert_eq!(
            Client::resolve_location(base, "/v2/a/blobs/uploads/u?_state=x"),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/u?_state=x"
        );
        assert_eq!(
            Client::resolve_location(base, "https://s3.example/b?sig=1"),
            "https://s3.example/b?sig=1"
        );
    }
}
