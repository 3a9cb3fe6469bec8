//! The registry server's request handling, in process: the real router and app state over a
//! fresh storage root, fed a sequence of structured requests (methods, paths with `..`,
//! `%2e` and odd segments, digests, queries, Range/Content-Range/Content-Length/
//! Authorization headers, bodies; uploads and manifests that reference earlier content).
//!
//! Invariants checked: no panic; every status is one the server documents; JSON responses
//! are JSON; served content hashes to the digest it is served under, ranges are the right
//! slice; a manifest is served only as a manifest media type; a challenge's realm is the
//! external URL, else the request's `Host` only when it is a plain `host[:port]`, and its
//! scope names only a valid repository; nothing is written outside the root, and the root
//! holds only the documented layout, every link naming stored content and no temp file left
//! behind.
#![no_main]

use arbitrary::Arbitrary;
use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use coreship_registry::oci::{self, Descriptor, ImageIndex, ImageManifest};
use coreship_registry::server::auth::valid_authority;
use coreship_registry::server::{app, AppState, Endpoint, ServerOptions};
use coreship_registry::{valid_repository, valid_tag, Sha256Digest};
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::OnceLock;
use tower::ServiceExt;

const TOKEN: &str = "push-s3cret";
const MAX_STEPS: usize = 12;
/// `--external-url` when the input asks for one.
const EXTERNAL_URL: &str = "https://registry.example:8443";

const REPOS: [&str; 5] = ["a", "probes/execsnoop", "a/b", "x.y-z__w", "a/blobs/b"];
const SEGS: [&str; 12] = [
    "a",
    "..",
    ".",
    "%2e%2e",
    "%2e",
    "%2f",
    "manifests",
    "blobs",
    "uploads",
    "tags",
    "_tags",
    "",
];
const QUERY_KEYS: [&str; 6] = ["digest", "mount", "from", "n", "last", "artifactType"];
const MEDIA_TYPES: [&str; 6] = [
    oci::MEDIA_TYPE_MANIFEST,
    oci::MEDIA_TYPE_INDEX,
    oci::MEDIA_TYPE_DOCKER_MANIFEST,
    "application/json",
    "application/octet-stream",
    "application/vnd.coreship.signature.v1",
];

#[derive(Arbitrary, Debug)]
enum Seg {
    Known(u8),
    /// `%XX` of any byte.
    Pct(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Repo {
    Known(u8),
    Segs(Vec<Seg>),
}

/// A digest: of content sent earlier (or named in a response), of some bytes, or any string.
#[derive(Arbitrary, Debug, Clone)]
enum DigestArg {
    Known(u8),
    Of(Vec<u8>),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum RefArg {
    Tag(String),
    Latest,
    Digest(DigestArg),
}

#[derive(Arbitrary, Debug)]
enum Tail {
    Manifests(RefArg),
    Blobs(DigestArg),
    UploadStart,
    /// The upload id of the last `Location`, or any string.
    Upload(Option<String>),
    TagsList,
    Referrers(DigestArg),
    Raw(Vec<Seg>),
}

#[derive(Arbitrary, Debug)]
enum Target {
    V2(Repo, Tail),
    Base,
    Catalog,
    Token,
    Page,
    /// The `Location` of the last response.
    Location,
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Value {
    Digest(DigestArg),
    Num(u64),
    Repo(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Auth {
    None,
    Push,
    /// The token the last `/token` answer issued.
    Issued,
    Basic(String, bool),
    Bearer(String),
    Raw(String),
}

/// A number for ranges and lengths: small, at the edge, or any.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Num {
    Small(u8),
    Max,
    Any(u64),
}

impl Num {
    fn get(self) -> u64 {
        match self {
            Num::Small(n) => u64::from(n),
            Num::Max => u64::MAX,
            Num::Any(n) => n,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Range {
    Bytes(Option<Num>, Option<Num>),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Header {
    Range(Range),
    /// `start-end`, `bytes start-end/*` or raw.
    ContentRange(u8, Num, Num),
    ContentRangeRaw(String),
    /// The body's length (`None`) or any number.
    ContentLength(Option<Num>),
    ContentType(u8),
    ContentTypeRaw(String),
    Host(String),
    ForwardedHttps,
    Raw(String, String),
}

#[derive(Arbitrary, Debug)]
enum Size {
    Right,
    Any(u64),
}

#[derive(Arbitrary, Debug)]
struct ManifestSpec {
    schema_2: bool,
    media_type: Option<u8>,
    artifact_type: Option<String>,
    config: (DigestArg, Size),
    layers: Vec<(DigestArg, Size)>,
    subject: Option<DigestArg>,
}

#[derive(Arbitrary, Debug)]
enum BodySpec {
    Empty,
    Bytes(Vec<u8>),
    Manifest(ManifestSpec),
    Index(Vec<(DigestArg, Size)>, Option<DigestArg>),
}

#[derive(Arbitrary, Debug)]
enum Method {
    Get,
    Head,
    Put,
    Post,
    Patch,
    Delete,
    Options,
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// Any request.
    Request {
        method: Method,
        target: Target,
        query: Vec<(u8, Value)>,
        headers: Vec<Header>,
        auth: Auth,
        body: BodySpec,
    },
    /// A monolithic blob upload with the right digest.
    Blob(u8, Vec<u8>, Vec<Header>),
    /// `PATCH` of a chunk to the last `Location` (an upload session).
    Chunk(Vec<Header>, Vec<u8>),
    /// `PUT` of the last chunk to the last `Location`, with the digest of everything sent to
    /// the session (or a wrong one).
    Finish(Vec<Header>, Vec<u8>, bool),
    /// A manifest push under a tag.
    Manifest(u8, String, ManifestSpec),
}

#[derive(Arbitrary, Debug)]
struct Input {
    private: bool,
    immutable_tags: bool,
    external_url: bool,
    steps: Vec<Step>,
}

/// What earlier steps left to refer to.
#[derive(Default)]
struct Memory {
    digests: Vec<(Sha256Digest, u64)>,
    location: Option<String>,
    token: Option<String>,
    /// What the chunks accepted by the current upload session hold.
    upload: Vec<u8>,
}

impl Memory {
    fn digest(&self, d: &DigestArg) -> String {
        match d {
            DigestArg::Known(i) if !self.digests.is_empty() => self.digests
                [usize::from(*i) % self.digests.len()]
            .0
            .to_string(),
            DigestArg::Known(_) => Sha256Digest::of(b"").to_string(),
            DigestArg::Of(b) => Sha256Digest::of(b).to_string(),
            DigestArg::Raw(s) => s.clone(),
        }
    }

    fn descriptor(&self, media_type: &str, (d, size): &(DigestArg, Size)) -> Option<Descriptor> {
        let digest: Sha256Digest = self.digest(d).parse().ok()?;
        let size = match size {
            Size::Any(n) => *n,
            Size::Right => self
                .digests
                .iter()
                .find(|k| k.0 == digest)
                .map_or(0, |k| k.1),
        };
        Some(Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            platform: None,
            artifact_type: None,
            annotations: Default::default(),
        })
    }

    fn remember(&mut self, bytes: &[u8]) {
        let d = Sha256Digest::of(bytes);
        if !self.digests.iter().any(|k| k.0 == d) {
            self.digests.push((d, bytes.len() as u64));
        }
    }

    fn manifest(&self, m: &ManifestSpec) -> Vec<u8> {
        let empty = (DigestArg::Of(Vec::new()), Size::Right);
        let config = self
            .descriptor(oci::MEDIA_TYPE_EMPTY, &m.config)
            .or_else(|| self.descriptor(oci::MEDIA_TYPE_EMPTY, &empty))
            .expect("a digest of bytes parses");
        oci::to_json(&ImageManifest {
            schema_version: if m.schema_2 { 2 } else { 1 },
            media_type: m
                .media_type
                .map(|i| MEDIA_TYPES[usize::from(i) % MEDIA_TYPES.len()].to_string()),
            artifact_type: m.artifact_type.clone(),
            config,
            layers: m
                .layers
                .iter()
                .filter_map(|l| self.descriptor("application/octet-stream", l))
                .collect(),
            subject: m
                .subject
                .as_ref()
                .and_then(|s| self.descriptor(oci::MEDIA_TYPE_MANIFEST, &(s.clone(), Size::Right))),
            annotations: Default::default(),
        })
    }

    fn body(&self, b: &BodySpec) -> Vec<u8> {
        match b {
            BodySpec::Empty => Vec::new(),
            BodySpec::Bytes(b) => b.clone(),
            BodySpec::Manifest(m) => self.manifest(m),
            BodySpec::Index(entries, subject) => oci::to_json(&ImageIndex {
                schema_version: 2,
                media_type: Some(oci::MEDIA_TYPE_INDEX.into()),
                artifact_type: None,
                manifests: entries
                    .iter()
                    .filter_map(|e| self.descriptor(oci::MEDIA_TYPE_MANIFEST, e))
                    .collect(),
                subject: subject.as_ref().and_then(|s| {
                    self.descriptor(oci::MEDIA_TYPE_MANIFEST, &(s.clone(), Size::Right))
                }),
                annotations: Default::default(),
            }),
        }
    }
}

fn seg(s: &Seg) -> String {
    match s {
        Seg::Known(i) => SEGS[usize::from(*i) % SEGS.len()].into(),
        Seg::Pct(b) => format!("%{b:02X}"),
        Seg::Raw(s) => s.clone(),
    }
}

fn repo(r: &Repo) -> String {
    match r {
        Repo::Known(i) => REPOS[usize::from(*i) % REPOS.len()].into(),
        Repo::Segs(s) => s.iter().map(seg).collect::<Vec<_>>().join("/"),
    }
}

fn target(mem: &Memory, t: &Target) -> String {
    match t {
        Target::V2(r, tail) => {
            let name = repo(r);
            let rest = match tail {
                Tail::Manifests(RefArg::Tag(t)) => format!("manifests/{t}"),
                Tail::Manifests(RefArg::Latest) => "manifests/latest".into(),
                Tail::Manifests(RefArg::Digest(d)) => format!("manifests/{}", mem.digest(d)),
                Tail::Blobs(d) => format!("blobs/{}", mem.digest(d)),
                Tail::UploadStart => "blobs/uploads/".into(),
                Tail::Upload(Some(id)) => format!("blobs/uploads/{id}"),
                Tail::Upload(None) => {
                    let last = mem.location.as_deref().unwrap_or("");
                    let id = last.rsplit('/').next().unwrap_or("");
                    format!("blobs/uploads/{id}")
                }
                Tail::TagsList => "tags/list".into(),
                Tail::Referrers(d) => format!("referrers/{}", mem.digest(d)),
                Tail::Raw(s) => s.iter().map(seg).collect::<Vec<_>>().join("/"),
            };
            format!("/v2/{name}/{rest}")
        }
        Target::Base => "/v2/".into(),
        Target::Catalog => "/v2/_catalog".into(),
        Target::Token => "/token".into(),
        Target::Page => "/".into(),
        Target::Location => mem.location.clone().unwrap_or_else(|| "/v2/".into()),
        Target::Raw(s) => s.clone(),
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

fn base64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The last upload session's URL.
fn session(mem: &Memory) -> String {
    match &mem.location {
        Some(l) if l.contains("/blobs/uploads/") => l.clone(),
        _ => "/v2/a/blobs/uploads/00000000000000000000000000000000".into(),
    }
}

/// Builds the request of a step; `None` when it is not a valid HTTP request.
fn request(mem: &mut Memory, step: &Step) -> Option<(Request<Body>, Vec<u8>)> {
    let (method, uri, query, headers, auth, body): (
        &str,
        String,
        String,
        &[Header],
        &Auth,
        Vec<u8>,
    ) = match step {
        Step::Request {
            method,
            target: t,
            query,
            headers,
            auth,
            body,
        } => {
            let method = match method {
                Method::Get => "GET",
                Method::Head => "HEAD",
                Method::Put => "PUT",
                Method::Post => "POST",
                Method::Patch => "PATCH",
                Method::Delete => "DELETE",
                Method::Options => "OPTIONS",
                Method::Raw(m) => m.as_str(),
            };
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| {
                    let k = QUERY_KEYS[usize::from(*k) % QUERY_KEYS.len()];
                    let v = match v {
                        Value::Digest(d) => mem.digest(d),
                        Value::Num(n) => n.to_string(),
                        Value::Repo(i) => REPOS[usize::from(*i) % REPOS.len()].into(),
                        Value::Raw(s) => s.clone(),
                    };
                    format!("{k}={v}")
                })
                .collect();
            (
                method,
                target(mem, t),
                q.join("&"),
                headers,
                auth,
                mem.body(body),
            )
        }
        Step::Blob(r, bytes, headers) => (
            "POST",
            format!(
                "/v2/{}/blobs/uploads/",
                REPOS[usize::from(*r) % REPOS.len()]
            ),
            format!("digest={}", Sha256Digest::of(bytes)),
            &headers[..],
            &Auth::Push,
            bytes.clone(),
        ),
        Step::Chunk(headers, bytes) => (
            "PATCH",
            session(mem),
            String::new(),
            &headers[..],
            &Auth::Push,
            bytes.clone(),
        ),
        Step::Finish(headers, bytes, right) => {
            let mut all = mem.upload.clone();
            all.extend_from_slice(bytes);
            let digest = match right {
                true => Sha256Digest::of(&all),
                false => Sha256Digest::of(bytes),
            };
            (
                "PUT",
                session(mem),
                format!("digest={digest}"),
                &headers[..],
                &Auth::Push,
                bytes.clone(),
            )
        }
        Step::Manifest(r, tag, m) => (
            "PUT",
            format!(
                "/v2/{}/manifests/{tag}",
                REPOS[usize::from(*r) % REPOS.len()]
            ),
            String::new(),
            &[][..],
            &Auth::Push,
            mem.manifest(m),
        ),
    };
    let uri = match (query.is_empty(), uri.contains('?')) {
        (true, _) => uri,
        (false, true) => format!("{uri}&{query}"),
        (false, false) => format!("{uri}?{query}"),
    };
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "reg.test:5000");
    let auth = match auth {
        Auth::None => None,
        Auth::Push => Some(format!("Bearer {TOKEN}")),
        Auth::Issued => mem.token.as_ref().map(|t| format!("Bearer {t}")),
        Auth::Basic(user, good) => Some(format!(
            "Basic {}",
            base64(&format!("{user}:{}", if *good { TOKEN } else { "nope" }))
        )),
        Auth::Bearer(t) => Some(format!("Bearer {t}")),
        Auth::Raw(v) => Some(v.clone()),
    };
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    for h in headers {
        b = match h {
            Header::Range(Range::Bytes(s, e)) => b.header(
                header::RANGE,
                format!(
                    "bytes={}-{}",
                    s.map(|v| v.get().to_string()).unwrap_or_default(),
                    e.map(|v| v.get().to_string()).unwrap_or_default()
                ),
            ),
            Header::Range(Range::Raw(v)) => b.header(header::RANGE, v.as_str()),
            Header::ContentRange(form, s, e) => b.header(header::CONTENT_RANGE, {
                let (s, e) = (s.get(), e.get());
                match form % 3 {
                    0 => format!("{s}-{e}"),
                    1 => format!("bytes {s}-{e}/*"),
                    _ => format!("bytes={s}-{e}"),
                }
            }),
            Header::ContentRangeRaw(v) => b.header(header::CONTENT_RANGE, v.as_str()),
            Header::ContentLength(n) => b.header(
                header::CONTENT_LENGTH,
                n.map_or(body.len() as u64, Num::get).to_string(),
            ),
            Header::ContentType(i) => b.header(
                header::CONTENT_TYPE,
                MEDIA_TYPES[usize::from(*i) % MEDIA_TYPES.len()],
            ),
            Header::ContentTypeRaw(v) => b.header(header::CONTENT_TYPE, v.as_str()),
            // Replaces the default, so that the server sees this one.
            Header::Host(v) => {
                if let (Some(h), Ok(v)) = (b.headers_mut(), v.parse()) {
                    h.insert(header::HOST, v);
                }
                b
            }
            Header::ForwardedHttps => b.header("x-forwarded-proto", "https"),
            Header::Raw(k, v) => b.header(k.as_str(), v.as_str()),
        };
    }
    mem.remember(&body);
    let req = b.body(Body::from(body.clone())).ok()?;
    Some((req, body))
}

/// Statuses the server's documentation and the distribution spec allow.
fn allowed(s: StatusCode) -> bool {
    matches!(
        s.as_u16(),
        200 | 201 | 202 | 204 | 206 | 400 | 401 | 403 | 404 | 405 | 413 | 416
    )
}

fn header_value(headers: &header::HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn header_str<'a>(resp: &'a Response<Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A `Bearer` challenge names `<origin>/token` (the external URL, else `http://` and the
/// request's `Host` when it is a plain `host[:port]`, else `http://localhost` in process) and
/// at most a scope of a valid repository: nothing of the request but those reaches it.
fn check_challenge(value: &str, host: Option<&str>, external: bool) {
    let origin = match (external, host.filter(|h| valid_authority(h))) {
        (true, _) => EXTERNAL_URL.to_string(),
        (false, Some(h)) => format!("http://{h}"),
        (false, None) => "http://localhost".to_string(),
    };
    let base = format!("Bearer realm=\"{origin}/token\",service=\"coreship-registry\"");
    let rest = value
        .strip_prefix(&base)
        .unwrap_or_else(|| panic!("challenge {value:?} for Host {host:?}"));
    if !rest.is_empty() {
        let name = rest
            .strip_prefix(",scope=\"repository:")
            .and_then(|r| r.strip_suffix(":pull,push\""))
            .unwrap_or_else(|| panic!("challenge {value:?}"));
        assert!(valid_repository(name), "challenge scope {name:?}");
    }
}

/// What the request was, as `check_response` needs it.
struct Sent {
    method: String,
    path: String,
    host: Option<String>,
    external_url: bool,
}

fn check_response(
    state: &AppState,
    sent: &Sent,
    resp: Response<Body>,
    mem: &mut Memory,
) -> Vec<u8> {
    let method = sent.method.as_str();
    let status = resp.status();
    assert!(allowed(status), "status {status}");
    assert_eq!(
        header_str(&resp, "docker-distribution-api-version"),
        Some("registry/2.0")
    );
    for v in resp.headers().get_all(header::WWW_AUTHENTICATE) {
        let v = v.to_str().expect("a challenge is ASCII");
        if v.starts_with("Bearer ") {
            check_challenge(v, sent.host.as_deref(), sent.external_url);
        }
    }
    let manifest = sent
        .path
        .strip_prefix("/v2/")
        .and_then(Endpoint::parse)
        .is_some_and(|e| matches!(e, Endpoint::Manifest(..)));
    if status == StatusCode::OK && manifest {
        let served = header_str(&resp, "content-type").unwrap_or("");
        assert!(
            oci::is_manifest_media_type(served),
            "manifest served as {served:?}"
        );
    }
    let digest = header_str(&resp, "docker-content-digest").map(str::to_string);
    let content_range = header_str(&resp, "content-range").map(str::to_string);
    let content_length = header_str(&resp, "content-length").map(str::to_string);
    let json = header_str(&resp, "content-type") == Some("application/json");
    if let Some(l) = header_str(&resp, "location") {
        mem.location = Some(l.to_string());
    }
    let (_, body) = resp.into_parts();
    let body = runtime()
        .block_on(axum::body::to_bytes(body, 64 << 20))
        .expect("response body")
        .to_vec();
    if json && !body.is_empty() {
        let v: serde_json::Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(&body)));
        if let Some(t) = v.get("token").and_then(|t| t.as_str()) {
            mem.token = Some(t.to_string());
        }
    }
    if method == "HEAD" {
        assert!(body.is_empty(), "HEAD with a body");
        return body;
    }
    if let Some(n) = content_length {
        assert_eq!(n, body.len().to_string(), "Content-Length of a {status}");
    }
    let Some(d) = digest.and_then(|d| d.parse::<Sha256Digest>().ok()) else {
        return body;
    };
    match status {
        StatusCode::OK => assert_eq!(Sha256Digest::of(&body), d, "content served as {d}"),
        StatusCode::PARTIAL_CONTENT => {
            let whole = state
                .storage()
                .blobs()
                .read(&d)
                .expect("a served blob is stored");
            let cr = content_range.expect("206 has Content-Range");
            let (range, len) = cr
                .strip_prefix("bytes ")
                .and_then(|r| r.split_once('/'))
                .expect("Content-Range bytes s-e/len");
            let (s, e) = range.split_once('-').expect("s-e");
            let (s, e): (usize, usize) = (s.parse().unwrap(), e.parse().unwrap());
            assert_eq!(len, whole.len().to_string());
            assert_eq!(&whole[s..=e], &body[..], "range {cr}");
        }
        _ => {}
    }
    mem.digests.push((d, body.len() as u64));
    body
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn names(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().expect("utf-8 file name"),
                e.path(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The documented layout (server/storage.rs), with every link naming stored content.
fn check_root(root: &Path) {
    for (name, _) in names(root) {
        assert!(
            ["blobs", "repositories", "uploads"].contains(&name.as_str()),
            "{name} in root"
        );
    }
    let blobs = root.join("blobs");
    assert_eq!(names(&blobs).len(), 1);
    let store = blobs.join("sha256");
    for (name, path) in names(&store) {
        assert!(is_hex(&name, 64), "blob file {name}");
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(Sha256Digest::of(&bytes).hex(), name, "stored blob content");
    }
    let stored = |hex: &str| store.join(hex).is_file();
    for (name, path) in names(&root.join("uploads")) {
        let id = name.strip_suffix(".repo").unwrap_or(&name);
        assert!(is_hex(id, 32), "upload file {name}");
        if name.ends_with(".repo") {
            let owner = std::fs::read_to_string(&path).unwrap();
            assert!(valid_repository(&owner), "upload owner {owner:?}");
        }
    }
    let mut todo = vec![(root.join("repositories"), String::new())];
    while let Some((dir, prefix)) = todo.pop() {
        for (name, path) in names(&dir) {
            assert!(
                !name.starts_with(".tmp-"),
                "temp file left in {}",
                dir.display()
            );
            let repo_dir = &prefix;
            match name.as_str() {
                "_layers" | "_manifests" => {
                    for (hex, _) in names(&path) {
                        assert!(is_hex(&hex, 64) && stored(&hex), "{repo_dir}/{name}/{hex}");
                    }
                }
                "_tags" => {
                    for (tag, p) in names(&path) {
                        assert!(valid_tag(&tag), "tag file {tag:?}");
                        let d: Sha256Digest = std::fs::read_to_string(&p)
                            .unwrap()
                            .trim()
                            .parse()
                            .expect("a tag holds a digest");
                        let link = dir.join("_manifests").join(d.hex());
                        assert!(link.is_file(), "tag {repo_dir}:{tag} names no manifest");
                    }
                }
                "_referrers" => {
                    for (subject, p) in names(&path) {
                        assert!(is_hex(&subject, 64));
                        for (hex, r) in names(&p) {
                            assert!(is_hex(&hex, 64));
                            let bytes = std::fs::read(&r).unwrap();
                            serde_json::from_slice::<Descriptor>(&bytes).expect("referrer record");
                        }
                    }
                }
                _ => {
                    let child = match prefix.is_empty() {
                        true => name.clone(),
                        false => format!("{prefix}/{name}"),
                    };
                    assert!(valid_repository(&child), "repository directory {child:?}");
                    todo.push((path, child));
                }
            }
        }
    }
}

/// `FUZZ_TRACE=1`: print each request and its status (to read what a reproducer does).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("FUZZ_TRACE").is_some())
}

fn sandbox() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let base = match shm.is_dir() {
        true => shm.to_path_buf(),
        false => std::env::temp_dir(),
    };
    tempfile::Builder::new()
        .prefix("coreship-fuzz-server-")
        .tempdir_in(base)
        .expect("temp dir")
}

fuzz_target!(|input: Input| {
    let sandbox = sandbox();
    // Two levels down, so that `../..` from the root still lands in the sandbox.
    let root = sandbox.path().join("s/t/root");
    let state = AppState::new(ServerOptions {
        root: root.clone(),
        push_tokens: vec![TOKEN.to_string()],
        private: input.private,
        immutable_tags: input.immutable_tags,
        logger: None,
        read_timeout: coreship_registry::server::DEFAULT_READ_TIMEOUT,
        external_url: input.external_url.then(|| EXTERNAL_URL.to_string()),
    })
    .expect("app state");
    let mut mem = Memory::default();
    for step in input.steps.iter().take(MAX_STEPS) {
        let Some((req, _)) = request(&mut mem, step) else {
            continue;
        };
        let method = req.method().to_string();
        let uri = req.uri().to_string();
        let sent = Sent {
            method: method.clone(),
            path: req.uri().path().to_string(),
            host: header_value(req.headers(), header::HOST),
            external_url: input.external_url,
        };
        let resp = runtime()
            .block_on(app(state.clone()).oneshot(req))
            .expect("the router is infallible");
        let status = resp.status();
        if trace() {
            eprintln!("fuzz: {method} {uri} -> {status}");
        }
        check_response(&state, &sent, resp, &mut mem);
        match (step, status) {
            (Step::Chunk(_, bytes), StatusCode::ACCEPTED) => mem.upload.extend_from_slice(bytes),
            (Step::Request { .. }, StatusCode::ACCEPTED) if method == "POST" => mem.upload.clear(),
            _ => {}
        }
    }
    let mut dirs = vec![sandbox.path().to_path_buf()];
    while let Some(d) = dirs.pop() {
        for (name, path) in names(&d) {
            if path == root {
                continue;
            }
            assert!(
                path.is_dir() && root.starts_with(&path),
                "{name} written outside the root"
            );
            dirs.push(path);
        }
    }
    check_root(&root);
});
