//! `coreship-registry`: an OCI distribution (v1.1) server over a [`BlobStore`] root.
//!
//! [`app`] builds the router (tested in-process with `oneshot` and on a real port); [`serve`]
//! runs it on a listener. Everything the server stores survives `kill -9` at any instant: blobs
//! become visible only whole and verified, links and tags are replaced atomically. See
//! [`storage`] for the layout on disk, [`auth`] for tokens, [`gc`] for garbage collection.
//!
//! Error choices where the spec leaves room:
//! - `--immutable-tags`: moving an existing tag to another digest, or deleting it, is `403
//!   DENIED` (the credentials are fine, the registry's policy forbids it; the message names
//!   the digest the tag keeps). Pushing the same digest again is `201`. Deleting what a tag
//!   reaches is `403 DENIED` too: a manifest its index lists (at any depth), or a blob one of
//!   those names, so that a tag always resolves to a whole artifact. A referrer (a signature)
//!   is not reached through its subject and stays deletable, e.g. after its key leaked.
//! - `MANIFEST_BLOB_UNKNOWN` (400) for a manifest naming a missing blob *and* for an index
//!   naming a manifest not in the repository; `MANIFEST_INVALID` (400) for syntax, a bad tag
//!   or a descriptor size that differs from the stored content.
//! - `MANIFEST_INVALID` (400) too for a `mediaType` or a `Content-Type` outside the OCI and
//!   Docker manifest and index types, or the two disagreeing: `GET` serves that type back.
//! - A manifest over 4 MiB is `413 SIZE_INVALID`; an unsatisfiable blob `Range` is `416
//!   SIZE_INVALID` with `Content-Range: bytes */<len>`; a chunk that does not continue at the
//!   upload's end is `416 BLOB_UPLOAD_INVALID` with the session's current `Range`.
//! - A coreship config declared larger than [`MAX_CONFIG_BYTES`] is `400 MANIFEST_INVALID`.
//! - A pull-only token trying to write gets `401` with a fresh challenge (not 403), so clients
//!   ask the token endpoint again with their push credentials.
//! - An invalid repository name is `400 NAME_INVALID` before credentials are looked at, so
//!   that a challenge's scope only ever names a valid repository.
//! - A full disk is `507 UNKNOWN` ("the registry's storage is full"), any other storage
//!   failure `500 UNKNOWN`; a refused upload's body is read to its end first, so the client
//!   gets the answer rather than a reset.
//! - A request body that pauses longer than the read timeout is `408` with
//!   `BLOB_UPLOAD_INVALID` (an upload) or `MANIFEST_INVALID`; what it sent is dropped. A
//!   response the client reads nothing of for the read timeout ends its connection.
//!
//! [`BlobStore`]: crate::store::BlobStore

pub mod auth;
mod blobs;
mod body;
pub mod error;
pub mod gc;
mod listen;
mod manifests;
mod referrers;
mod route;
pub mod storage;
mod tags;
mod uploads;
mod web;

pub use auth::{parse_token_file, Access, Auth};
pub use error::{ApiError, Code};
pub use gc::{collect_garbage, GcOptions, GcReport};
pub use listen::max_connections;
pub use manifests::MAX_CONFIG_BYTES;
pub use route::Endpoint;
pub use storage::Storage;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A sink for the server's few log lines (start-up, storage failures). The library never
/// prints; the binary passes one that writes to stderr.
pub type Logger = Arc<dyn Fn(&str) + Send + Sync>;

/// How the server runs.
#[derive(Clone)]
pub struct ServerOptions {
    /// Storage root.
    pub root: PathBuf,
    /// Tokens that may push.
    pub push_tokens: Vec<String>,
    /// Pulls need a token too.
    pub private: bool,
    /// A tag, once set, may not move to another digest (nor be deleted).
    pub immutable_tags: bool,
    /// Where log lines go (`None`: nowhere).
    pub logger: Option<Logger>,
    /// How long a client may take to send a request head, pause in a request body, or leave
    /// a response unread, before its connection is closed ([`DEFAULT_READ_TIMEOUT`] unless
    /// told).
    pub read_timeout: Duration,
    /// The URL clients reach the registry at (`http(s)://host[:port]`), named as the realm
    /// of token challenges; `None`: the request's `Host` when valid, else the listen address.
    pub external_url: Option<String>,
}

/// 30 s, hyper's own default for request heads.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Failures starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The storage root could not be prepared.
    #[error("cannot prepare storage root {root}")]
    Storage {
        /// The root.
        root: PathBuf,
        /// Why.
        #[source]
        source: ApiError,
    },
    /// The token file could not be read.
    #[error("cannot read push token file {path}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token file holds no token.
    #[error("push token file {0} holds no token (one per line, # for comments)")]
    NoTokens(PathBuf),
    /// The external URL is not an origin clients can be sent to.
    #[error(
        "external URL `{0}` is not http(s)://HOST[:PORT]: give the scheme, host and port \
         clients reach the registry at, without a path"
    )]
    ExternalUrl(String),
}

/// Reads a push token file.
pub fn read_token_file(path: &Path) -> Result<Vec<String>, ServerError> {
    let text = std::fs::read_to_string(path).map_err(|source| ServerError::TokenFile {
        path: path.to_path_buf(),
        source,
    })?;
    let tokens = parse_token_file(&text);
    if tokens.is_empty() {
        return Err(ServerError::NoTokens(path.to_path_buf()));
    }
    Ok(tokens)
}

struct Inner {
    storage: Storage,
    auth: Auth,
    immutable_tags: bool,
    logger: Option<Logger>,
    read_timeout: Duration,
    /// One lock per upload session, so that chunks of a session are appended one at a time.
    upload_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Turns of the web page at reading the storage.
    page_turns: Arc<tokio::sync::Semaphore>,
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// Opens the storage (removing temp files interrupted writes left) and sets up auth.
    pub fn new(opts: ServerOptions) -> Result<AppState, ServerError> {
        let storage_err = |source| ServerError::Storage {
            root: opts.root.clone(),
            source,
        };
        let mut auth = Auth::new(&opts.push_tokens, opts.private);
        if let Some(url) = &opts.external_url {
            let origin =
                auth::external_origin(url).ok_or_else(|| ServerError::ExternalUrl(url.clone()))?;
            auth = auth.with_external_origin(origin);
        }
        let storage = Storage::open(&opts.root).map_err(storage_err)?;
        let removed = storage.remove_temp_files().map_err(storage_err)?;
        let state = AppState(Arc::new(Inner {
            storage,
            auth,
            immutable_tags: opts.immutable_tags,
            logger: opts.logger,
            read_timeout: opts.read_timeout,
            upload_locks: Mutex::new(HashMap::new()),
            page_turns: Arc::new(tokio::sync::Semaphore::new(web::PAGE_RENDERS)),
        }));
        if removed > 0 {
            state.log(&format!(
                "removed {removed} temp files left by interrupted writes"
            ));
        }
        Ok(state)
    }

    /// The storage.
    pub fn storage(&self) -> &Storage {
        &self.0.storage
    }

    pub(crate) fn auth(&self) -> &Auth {
        &self.0.auth
    }

    pub(crate) fn immutable_tags(&self) -> bool {
        self.0.immutable_tags
    }

    pub(crate) fn read_timeout(&self) -> Duration {
        self.0.read_timeout
    }

    /// Waits for a turn of the web page at reading the storage (held until dropped, also by
    /// a rendering that goes on after its client left).
    pub(crate) async fn page_turn(&self) -> tokio::sync::OwnedSemaphorePermit {
        let turns = self.0.page_turns.clone();
        turns.acquire_owned().await.expect("never closed")
    }

    pub(crate) fn log(&self, line: &str) {
        if let Some(logger) = &self.0.logger {
            logger(line);
        }
    }

    pub(crate) fn upload_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.0.upload_locks.lock().expect("upload lock table");
        locks.entry(id.to_string()).or_default().clone()
    }

    #[cfg(test)]
    pub(crate) fn upload_lock_count(&self) -> usize {
        self.0.upload_locks.lock().expect("upload lock table").len()
    }

    pub(crate) fn forget_upload_lock(&self, id: &str) {
        self.0
            .upload_locks
            .lock()
            .expect("upload lock table")
            .remove(id);
    }
}

/// `Docker-Distribution-API-Version: registry/2.0`, sent on every response.
pub const API_VERSION_HEADER: &str = "docker-distribution-api-version";

async fn base(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    state.auth().authorize(&headers, Access::Pull, None)?;
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "{}",
    )
        .into_response();
    if Auth::is_anonymous(&headers) {
        // Tells clients holding credentials where to get a token before they write
        // (containers/image reads challenges from the /v2/ ping whatever its status).
        if let Ok(v) = HeaderValue::from_str(&state.auth().challenge(&headers, None)) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    Ok(resp)
}

async fn token(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let body = state.auth().issue(&headers)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        serde_json::to_vec(&body).expect("json"),
    )
        .into_response())
}

async fn v2(State(state): State<AppState>, req: Request) -> Response {
    match route::dispatch(state.clone(), req).await {
        Ok(r) => r,
        Err(e) => {
            if let ApiError::Storage { path, source } = &e {
                state.log(&format!("storage error at {}: {source}", path.display()));
            }
            e.into_response()
        }
    }
}

async fn catalog(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    state.auth().authorize(req.headers(), Access::Pull, None)?;
    tags::catalog(&state, &req)
}

async fn version_header(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(API_VERSION_HEADER, HeaderValue::from_static("registry/2.0"));
    resp
}

/// The router: `/v2/…`, the token endpoint and the web page at `/`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v2/", get(base))
        .route("/v2", get(base))
        .route("/v2/_catalog", get(catalog))
        .route("/v2/{*rest}", any(v2))
        .route(auth::TOKEN_PATH, get(token))
        .route("/", get(web::page))
        .layer(axum::middleware::map_response(version_header))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes, then lets open connections
/// finish. Connections are capped and slow clients timed out: see [`max_connections`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listen::serve(listener, state, shutdown).await
}
