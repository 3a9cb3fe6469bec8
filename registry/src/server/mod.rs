//! `coreship-registry`: an OCI distribution-spec (v1.1) registry over a content-addressed
//! directory, with push tokens, immutable tags, the referrers API, garbage collection and a
//! read-only web page listing what it holds.
//!
//! [`app`] is the whole HTTP surface as an axum `Router` (tested in-process and on a real
//! port); [`serve`] runs it; [`gc`] removes what nothing references.

mod auth;
mod blobs;
mod error;
mod gc;
mod manifests;
mod route;
mod storage;
mod web;

pub use auth::Tokens;
pub use error::ApiError;
pub use gc::{gc, GcReport};
pub use storage::Storage;

use axum::body::Body;
use axum::extract::{Request, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use route::Route;
use std::sync::Arc;

/// How the registry runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Storage root.
    pub root: std::path::PathBuf,
    /// Push tokens (none: read-only).
    pub tokens: Tokens,
    /// Reads need a token too.
    pub private: bool,
    /// A tag, once pushed, never points at another manifest.
    pub immutable_tags: bool,
}

/// Shared state of the handlers.
#[derive(Debug)]
pub struct Inner {
    storage: Storage,
    tokens: Tokens,
    private: bool,
    immutable_tags: bool,
}

/// The handlers' state.
pub type State = Arc<Inner>;

impl Inner {
    /// Opens the storage for `config`.
    pub fn new(config: &Config) -> std::io::Result<State> {
        Ok(Arc::new(Inner {
            storage: Storage::open(&config.root)?,
            tokens: config.tokens.clone(),
            private: config.private,
            immutable_tags: config.immutable_tags,
        }))
    }
}

/// The registry's HTTP surface.
pub fn app(state: State) -> Router {
    Router::new()
        .route("/", get(web::index))
        .route("/token", get(token))
        .route("/v2", any(ping))
        .route("/v2/", any(ping))
        .route("/v2/{*rest}", any(dispatch))
        .with_state(state)
}

fn api_version(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    resp
}

async fn token(AxState(state): AxState<State>, headers: HeaderMap) -> Response {
    auth::token(&state, &headers)
}

async fn ping(AxState(state): AxState<State>, headers: HeaderMap) -> Response {
    api_version(match auth::ping(&state, &headers) {
        Ok(()) => (StatusCode::OK, axum::Json(serde_json::json!({}))).into_response(),
        Err(e) => e.into_response(),
    })
}

async fn dispatch(AxState(state): AxState<State>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let rest = parts.uri.path().trim_start_matches("/v2/").to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let resp = match route::parse(&rest) {
        Some(route) => handle(&state, &parts.method, &parts.headers, &query, route, body).await,
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            format!("no such endpoint: /v2/{rest}"),
        )),
    };
    api_version(resp.unwrap_or_else(IntoResponse::into_response))
}

async fn handle(
    state: &State,
    method: &Method,
    headers: &HeaderMap,
    query: &str,
    route: Route,
    body: Body,
) -> error::ApiResult {
    use auth::Access;
    let access = if matches!(*method, Method::GET | Method::HEAD) {
        Access::Pull
    } else {
        Access::Push
    };
    if let Some(name) = route.name() {
        if !crate::valid_repository(name) {
            return Err(ApiError::name_invalid(name));
        }
    }
    auth::check(state, headers, access, route.name())?;
    let head = *method == Method::HEAD;
    match (route, method.clone()) {
        (Route::Catalog, Method::GET) => manifests::catalog(state, query),
        (Route::Tags(name), Method::GET) => manifests::tags(state, &name, query),
        (Route::Manifest(name, r), Method::GET | Method::HEAD) => {
            manifests::get(state, &name, &r, head)
        }
        (Route::Manifest(name, r), Method::PUT) => {
            manifests::put(state, &name, &r, headers, body).await
        }
        (Route::Manifest(name, r), Method::DELETE) => manifests::delete(state, &name, &r),
        (Route::Referrers(name, d), Method::GET) => manifests::referrers(state, &name, &d, query),
        (Route::Blob(name, d), Method::GET | Method::HEAD) => {
            blobs::get(state, &name, &d, headers, head).await
        }
        (Route::Blob(_, _), Method::DELETE) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "blobs are deleted by `coreship-registry gc` once no manifest references them",
        )),
        (Route::UploadStart(name), Method::POST) => blobs::start(state, &name, query, body).await,
        (Route::Upload(name, id), Method::GET) => blobs::status(state, &name, &id),
        (Route::Upload(name, id), Method::PATCH) => {
            blobs::patch(state, &name, &id, headers, body).await
        }
        (Route::Upload(name, id), Method::PUT) => {
            blobs::finish(state, &name, &id, query, body).await
        }
        (Route::Upload(name, id), Method::DELETE) => blobs::cancel(state, &name, &id),
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            format!("{method} is not supported here"),
        )),
    }
}

/// A `Location` header value.
fn location(path: &str) -> (header::HeaderName, HeaderValue) {
    (
        header::LOCATION,
        HeaderValue::from_str(path).unwrap_or_else(|_| HeaderValue::from_static("/")),
    )
}

/// Serves `config` on `listener` until SIGINT/SIGTERM.
pub async fn serve(config: &Config, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let state = Inner::new(config)?;
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown())
        .await
}

async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
