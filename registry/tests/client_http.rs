//! The client against a scripted HTTP server, for what a real registry does not do on demand:
//! connections cut mid-body, token endpoints, Basic challenges, wrong content, and (as a proxy
//! in front of docker-registry) refusing OCI 1.1 manifests.
#![cfg(feature = "client")]

mod client_support;
mod common;

use client_support::{
    fake_minisig, package_dir, DockerRegistry, Reply, Request, Scripted, TempDir,
};
use coreship_registry::artifact::{self, PackOptions};
use coreship_registry::client::{
    pull, push, referrer_descriptor, Cache, Client, ClientError, ClientOptions, Credentials,
    NoProgress, PackageDir, ProgressFn, Secret, Secrets,
};
use coreship_registry::oci::{self, Descriptor, ImageIndex, Manifest};
use coreship_registry::store::BlobStore;
use coreship_registry::{Arch, Reference, Sha256Digest};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// An error with all its causes, as `main` prints it.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(&format!(": {c}"));
        cause = c.source();
    }
    out
}

fn blob_bytes() -> Vec<u8> {
    (0..200_000u32).map(|i| (i % 251) as u8).collect()
}

fn range_start(req: &Request) -> Option<usize> {
    req.header("range")?
        .strip_prefix("bytes=")?
        .trim_end_matches('-')
        .parse()
        .ok()
}

fn reference(server: &Scripted, rest: &str) -> Reference {
    format!("{}/{rest}", server.host()).parse().unwrap()
}

#[test]
fn an_interrupted_download_resumes_with_range() {
    let blob = blob_bytes();
    let served = blob.clone();
    let server = Scripted::start(move |req| match range_start(req) {
        None => Reply {
            cut_after: Some(70_000),
            ..Reply::new(200, served.clone()).header("Accept-Ranges", "bytes")
        },
        Some(start) => Reply::new(206, served[start..].to_vec()).header(
            "Content-Range",
            format!("bytes {start}-{}/{}", served.len() - 1, served.len()),
        ),
    });
    let dir = TempDir::new("resume");
    let store = BlobStore::open(dir.path()).unwrap();
    let desc = Descriptor::of("application/octet-stream", &blob);
    let seen = Mutex::new(Vec::new());
    let progress =
        ProgressFn(|_: &Sha256Digest, done, total| seen.lock().unwrap().push((done, total)));
    let c = Client::new(ClientOptions::default());
    c.fetch_blob(&reference(&server, "a"), &desc, &store, &progress)
        .unwrap();
    assert_eq!(store.read(&desc.digest).unwrap(), blob);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    let resumed_at = range_start(&reqs[1]).expect("the second request has a Range");
    assert!(resumed_at > 0 && resumed_at <= 70_000, "{resumed_at}");
    assert_eq!(
        seen.lock().unwrap().last(),
        Some(&(blob.len() as u64, blob.len() as u64))
    );
}

#[test]
fn a_server_without_range_support_restarts_and_endless_cuts_give_up() {
    let blob = blob_bytes();
    let served = blob.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    let n = calls.clone();
    let server = Scripted::start(move |_| {
        let first = n.fetch_add(1, Ordering::Relaxed) == 0;
        Reply {
            cut_after: first.then_some(50_000),
            ..Reply::new(200, served.clone())
        }
    });
    let dir = TempDir::new("restart");
    let store = BlobStore::open(dir.path()).unwrap();
    let desc = Descriptor::of("application/octet-stream", &blob);
    let c = Client::new(ClientOptions::default());
    c.fetch_blob(&reference(&server, "a"), &desc, &store, &NoProgress)
        .unwrap();
    assert_eq!(store.read(&desc.digest).unwrap(), blob);
    assert_eq!(calls.load(Ordering::Relaxed), 2);

    let served = blob.clone();
    let always_cut = Scripted::start(move |_| Reply {
        cut_after: Some(1000),
        ..Reply::new(200, served.clone())
    });
    let dir = TempDir::new("cut");
    let store = BlobStore::open(dir.path()).unwrap();
    let c = Client::new(ClientOptions {
        download_attempts: 3,
        ..Default::default()
    });
    let e = c
        .fetch_blob(&reference(&always_cut, "a"), &desc, &store, &NoProgress)
        .unwrap_err();
    assert!(
        matches!(e, ClientError::Interrupted { attempts: 3, .. }),
        "{e}"
    );
    assert_eq!(always_cut.requests().len(), 3);
    assert!(store.list().unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(dir.path().join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn a_blob_longer_than_its_descriptor_is_refused() {
    let server = Scripted::start(|_| Reply::new(200, b"0123456789".to_vec()));
    let dir = TempDir::new("long");
    let store = BlobStore::open(dir.path()).unwrap();
    let desc = Descriptor::of("application/octet-stream", b"01234");
    let e = Client::new(ClientOptions::default())
        .fetch_blob(&reference(&server, "a"), &desc, &store, &NoProgress)
        .unwrap_err();
    assert!(matches!(e, ClientError::Size { expected: 5, .. }), "{e}");
    assert!(store.list().unwrap().is_empty());
}

const INDEX: &[u8] =
    br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;

fn manifest_reply() -> Reply {
    Reply::new(200, INDEX)
        .header("Content-Type", "application/vnd.oci.image.index.v1+json")
        .header("Docker-Content-Digest", Sha256Digest::of(INDEX).to_string())
}

fn creds(secrets: Secrets) -> Option<Credentials> {
    Some(Credentials {
        secrets,
        origin: "test credentials".into(),
    })
}

fn basic(user: &str, pass: &str) -> Secrets {
    Secrets::Basic {
        username: user.into(),
        password: Secret(pass.into()),
    }
}

/// A registry behind a token server: `Basic u:p` at /token buys the token `T`.
fn token_server() -> Scripted {
    Scripted::start(|req| {
        let host = req.header("host").unwrap_or("").to_string();
        if req.path.starts_with("/token") {
            return if req.header("authorization") == Some("Basic dTpw") {
                Reply::new(200, r#"{"token":"T","expires_in":300}"#)
            } else {
                Reply::new(
                    401,
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad login"}]}"#,
                )
            };
        }
        if req.header("authorization") == Some("Bearer T") {
            return manifest_reply();
        }
        Reply::new(
            401,
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
        )
        .header(
            "WWW-Authenticate",
            format!(
                r#"Bearer realm="http://{host}/token",service="test",scope="repository:a:pull""#
            ),
        )
    })
}

#[test]
fn the_token_flow_fetches_one_token_and_reuses_it() {
    let server = token_server();
    let c = Client::new(ClientOptions {
        credentials: creds(basic("u", "p")),
        ..Default::default()
    });
    let r = reference(&server, "a:1");
    let got = c.get_manifest(&r).unwrap();
    assert!(matches!(got.manifest, Manifest::Index(_)));
    c.get_manifest(&r).unwrap();
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/v2/a/manifests/1",
            "/token?service=test&scope=repository%3Aa%3Apull",
            "/v2/a/manifests/1",
            "/v2/a/manifests/1"
        ]
    );
    assert_eq!(c.stats().requests, 4);

    let wrong = Client::new(ClientOptions {
        credentials: creds(basic("u", "nope")),
        ..Default::default()
    });
    let e = wrong.get_manifest(&r).unwrap_err();
    let text = e.to_string();
    assert!(
        text.ends_with(": HTTP 401: UNAUTHORIZED: bad login; the credentials from test credentials were refused: check them"),
        "{text}"
    );
    assert!(!text.contains("nope"), "{text}");
}

#[test]
fn basic_challenges_and_direct_bearer_tokens() {
    let server = Scripted::start(|req| match req.header("authorization") {
        // Basic any:<push token>, as coreship-registry takes it.
        Some("Basic Y29yZXNoaXA6cHVzaHRvaw==") | Some("Basic dTpw") => manifest_reply(),
        _ => Reply::new(401, "").header("WWW-Authenticate", r#"Basic realm="r""#),
    });
    let r = reference(&server, "a:1");
    let c = Client::new(ClientOptions {
        credentials: creds(basic("u", "p")),
        ..Default::default()
    });
    c.get_manifest(&r).unwrap();
    c.get_manifest(&r).unwrap();
    assert_eq!(
        c.stats().requests,
        3,
        "Basic is sent up front once asked for"
    );
    let token = Client::new(ClientOptions {
        credentials: creds(Secrets::Token(Secret("pushtok".into()))),
        ..Default::default()
    });
    token.get_manifest(&r).unwrap();
    let reqs = server.requests();
    assert_eq!(
        reqs[reqs.len() - 2].header("authorization"),
        Some("Bearer pushtok")
    );

    let bearer_only = Scripted::start(|req| match req.header("authorization") {
        Some("Bearer pushtok") => manifest_reply(),
        _ => Reply::new(401, ""),
    });
    let token = Client::new(ClientOptions {
        credentials: creds(Secrets::Token(Secret("pushtok".into()))),
        ..Default::default()
    });
    token.get_manifest(&reference(&bearer_only, "a:1")).unwrap();
    assert_eq!(token.stats().requests, 1);
    let none = Client::new(ClientOptions::default());
    let e = none
        .get_manifest(&reference(&bearer_only, "a:1"))
        .unwrap_err();
    assert!(e.to_string().contains("no credentials were found"), "{e}");
}

#[test]
fn manifests_that_do_not_match_their_digest_are_refused() {
    let other = br#"{"schemaVersion":2,"manifests":[],"annotations":{"x":"y"}}"#.to_vec();
    let served = other.clone();
    let server = Scripted::start(move |req| {
        if req.path.ends_with("/manifests/tagged") {
            Reply::new(200, INDEX)
                .header("Docker-Content-Digest", Sha256Digest::of(b"x").to_string())
        } else {
            Reply::new(200, served.clone())
        }
    });
    let c = Client::new(ClientOptions::default());
    let e = c.get_manifest(&reference(&server, "a:tagged")).unwrap_err();
    assert!(matches!(e, ClientError::Digest { .. }), "{e}");
    let pinned = reference(&server, &format!("a@{}", Sha256Digest::of(INDEX)));
    match c.get_manifest(&pinned).unwrap_err() {
        ClientError::Digest {
            expected, actual, ..
        } => {
            assert_eq!(expected, Sha256Digest::of(INDEX));
            assert_eq!(actual, Sha256Digest::of(&other));
        }
        e => panic!("{e}"),
    }
}

/// Forwards one request to 127.0.0.1:`port` and returns the answer (Connection: close).
fn forward(port: u16, req: &Request) -> Reply {
    let mut up = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.path);
    for (k, v) in &req.headers {
        if !k.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes()).unwrap();
    up.write_all(&req.body).unwrap();
    let mut raw = Vec::new();
    up.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer from upstream to {req:?}: {raw:?}"));
    let text = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = text.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut reply = Reply::new(status, Vec::new());
    let mut chunked = false;
    for l in lines {
        let (k, v) = l.split_once(':').unwrap_or_else(|| panic!("{text}"));
        let k = k.trim();
        if k.eq_ignore_ascii_case("transfer-encoding") {
            chunked = true;
        } else if !["content-length", "connection"]
            .iter()
            .any(|h| k.eq_ignore_ascii_case(h))
        {
            reply = reply.header(k, v.trim());
        }
    }
    let mut body = raw[split + 4..].to_vec();
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        for _ in 0..10_000 {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16)
                .unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + n]);
            rest = &rest[eol + 4 + n..];
        }
        body = out;
    }
    if req.method != "HEAD" {
        reply.body = body;
    }
    reply
}

#[test]
fn a_registry_that_refuses_oci_1_1_manifests_gets_the_compat_form() {
    let Some(reg) = DockerRegistry::start("compat") else {
        return;
    };
    let port = reg.port;
    // Like registries that reject unknown manifest fields: OCI 1.1 `artifactType` is refused.
    let proxy = Scripted::start(move |req| {
        if req.method == "PUT"
            && req.path.contains("/manifests/")
            && String::from_utf8_lossy(&req.body).contains("\"artifactType\"")
        {
            return Reply::new(
                400,
                r#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"artifactType"}]}"#,
            );
        }
        forward(port, req)
    });
    let work = TempDir::new("compat");
    let dir = work.path().join("pkg");
    package_dir(&dir, &[(Arch::X86_64, b"x86"), (Arch::Aarch64, b"arm")]);
    let mut source = PackageDir {
        dir: &dir,
        options: PackOptions::default(),
        signer: Some(Box::new(|root: &Descriptor| Ok(fake_minisig(&root.digest)))),
    };
    let r = reference(&proxy, "probes/c:1");
    let c = Client::new(ClientOptions::default());
    let pushed = push(&c, &r, &mut source, &NoProgress).unwrap();
    assert!(pushed.compat);
    let cache = Cache::open(&work.path().join("cache")).unwrap();
    let got = pull(&c, &cache, &r, Arch::Aarch64, false, &NoProgress).unwrap();
    assert_eq!(got.opened.object, b"arm");
    assert_eq!(got.opened.root.digest, pushed.root.digest);
    assert_eq!(got.signatures, vec![fake_minisig(&pushed.root.digest)]);
    let root = c.get_manifest(&r).unwrap();
    assert!(!String::from_utf8_lossy(&root.bytes).contains("artifactType"));
}

#[test]
fn blob_redirects_are_followed_without_the_token_on_another_host() {
    let blob = blob_bytes();
    let served = blob.clone();
    let storage = Scripted::start(move |req| match req.path.as_str() {
        "/b?sig=1" => Reply::new(200, served.clone()),
        _ => Reply::new(404, ""),
    });
    let storage_url = format!("http://localhost:{}/b?sig=1", storage.port);
    let registry = Scripted::start(move |req| match req.header("authorization") {
        // Same host first (a relative Location), then the storage host.
        Some("Bearer tok") if req.path.ends_with("/next") => {
            Reply::new(307, "").header("Location", storage_url.clone())
        }
        Some("Bearer tok") => Reply::new(302, "").header("Location", "/v2/a/next"),
        _ => Reply::new(401, ""),
    });
    let dir = TempDir::new("redirect");
    let store = BlobStore::open(dir.path()).unwrap();
    let desc = Descriptor::of("application/octet-stream", &blob);
    let c = Client::new(ClientOptions {
        credentials: creds(Secrets::Token(Secret("tok".into()))),
        ..Default::default()
    });
    c.fetch_blob(&reference(&registry, "a"), &desc, &store, &NoProgress)
        .unwrap();
    assert!(store.contains(&desc.digest));
    let hops = registry.requests();
    assert_eq!(hops.len(), 2, "{hops:?}");
    assert!(hops
        .iter()
        .all(|r| r.header("authorization") == Some("Bearer tok")));
    let fetched = storage.requests();
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].header("authorization"), None);
    assert_eq!(
        fetched[0].header("host"),
        Some(format!("localhost:{}", storage.port).as_str())
    );
}

#[test]
fn redirect_loops_and_redirects_to_remote_plain_http_are_refused() {
    let looping = Scripted::start(|_| Reply::new(302, "").header("Location", "/v2/a/again"));
    let c = Client::new(ClientOptions::default());
    let e = c.get_manifest(&reference(&looping, "a:1")).unwrap_err();
    let mut chain = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        chain += &format!(": {c}");
        cause = c.source();
    }
    assert!(chain.contains("more than 5 redirects"), "{chain}");
    assert_eq!(looping.requests().len(), 6);
    // 192.0.2.1 (TEST-NET-1) is never contacted: the redirect is refused before connecting.
    let remote = Scripted::start(|_| {
        Reply::new(302, "").header("Location", "http://192.0.2.1/v2/a/manifests/1")
    });
    let e = c.get_manifest(&reference(&remote, "a:1")).unwrap_err();
    let chain = format!("{e}: {}", std::error::Error::source(&e).unwrap());
    assert!(
        chain.contains("redirect to http://192.0.2.1/v2/a/manifests/1 refused"),
        "{chain}"
    );
}

/// A registry behind a token server (Basic `u:p` buys the token `T`) whose blobs live on
/// `storage`, another host: blob GETs answer 307 there.
fn redirecting_registry(storage: String) -> Scripted {
    Scripted::start(move |req| {
        let host = req.header("host").unwrap_or("").to_string();
        if req.path.starts_with("/token") {
            return if req.header("authorization") == Some("Basic dTpw") {
                Reply::new(200, r#"{"token":"T","expires_in":300}"#)
            } else {
                Reply::new(401, "")
            };
        }
        match req.header("authorization") {
            Some("Bearer T") if req.path.contains("/blobs/") => {
                Reply::new(307, "").header("Location", format!("{storage}{}", req.path))
            }
            Some("Bearer T") => manifest_reply(),
            _ => Reply::new(401, "").header(
                "WWW-Authenticate",
                format!(r#"Bearer realm="http://{host}/token",service="test""#),
            ),
        }
    })
}

#[test]
fn a_host_a_redirect_leads_to_gets_no_credentials_even_when_it_asks() {
    // Another port is another host: it answers everything with a challenge naming itself
    // as the token realm, hoping for the registry's credentials.
    let hostile = Scripted::start(|req| {
        let host = req.header("host").unwrap_or("").to_string();
        Reply::new(401, "").header(
            "WWW-Authenticate",
            format!(r#"Bearer realm="http://{host}/token",service="evil""#),
        )
    });
    let registry = redirecting_registry(format!("http://{}", hostile.host()));
    let c = Client::new(ClientOptions {
        credentials: creds(basic("u", "p")),
        ..Default::default()
    });
    let r = reference(&registry, "a:1");
    // The manifest GET buys the token; the blob GET then goes out with it, is redirected.
    c.get_manifest(&r).unwrap();
    let blob = blob_bytes();
    let desc = Descriptor::of("application/octet-stream", &blob);
    let dir = TempDir::new("redirect-401");
    let store = BlobStore::open(dir.path()).unwrap();
    let e = c.fetch_blob(&r, &desc, &store, &NoProgress).unwrap_err();
    let seen = hostile.requests();
    assert!(!seen.is_empty(), "the redirect was not followed");
    for req in &seen {
        assert_eq!(req.header("authorization"), None, "{req:?}");
    }
    let text = e.to_string();
    assert!(
        text.contains(&format!(
            "redirected to http://{}/v2/a/blobs/",
            hostile.host()
        )) && text.contains("which answered HTTP 401"),
        "{text}"
    );
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn a_plain_http_token_realm_on_another_host_is_refused_before_connecting() {
    // 192.0.2.1 (TEST-NET-1) is not this machine; the client must not even connect to it.
    let server = Scripted::start(|_| {
        Reply::new(401, "").header(
            "WWW-Authenticate",
            r#"Bearer realm="http://192.0.2.1/token",service="test""#,
        )
    });
    let c = Client::new(ClientOptions {
        credentials: creds(basic("u", "p")),
        // Only bounds how long the unfixed client spends trying 192.0.2.1.
        connect_timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    });
    let e = c.get_manifest(&reference(&server, "a:1")).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("http://192.0.2.1/token") && text.contains("plain HTTP only to"),
        "{text}"
    );
    assert_eq!(c.stats().requests, 1, "only the registry was asked: {text}");
    assert_eq!(server.requests().len(), 1);
}

/// A server that answers one request with up to `bound` interim `100 Continue` responses and
/// nothing else, then closes; returns its port and the count it managed to send.
fn interim_flood(bound: usize) -> (u16, std::thread::JoinHandle<usize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let mut sent = 0;
        while sent < bound && conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_ok() {
            sent += 1;
        }
        sent
    });
    (port, thread)
}

#[test]
fn an_endless_stream_of_interim_answers_ends_in_an_error() {
    // More than any socket buffer holds: a client that gives up makes the writes fail early.
    let bound = 2_000_000;
    let (port, server) = interim_flood(bound);
    let r: Reference = format!("127.0.0.1:{port}/a:1").parse().unwrap();
    let e = Client::new(ClientOptions::default())
        .get_manifest(&r)
        .unwrap_err();
    let sent = server.join().unwrap();
    let chain = chain(&e);
    assert!(chain.contains("interim"), "{chain}");
    assert!(sent < bound, "the client read all {sent} interim answers");
}

#[test]
fn a_response_that_trickles_forever_ends_at_the_request_deadline() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // One body byte every 5 ms, at most `bound` of the 100 000 announced, then close.
    let bound = 2_000;
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf);
        let mut sent = 0;
        if conn
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            .is_ok()
        {
            while sent < bound && conn.write_all(b"x").is_ok() {
                sent += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        sent
    });
    let r: Reference = format!("127.0.0.1:{port}/a:1").parse().unwrap();
    let c = Client::new(ClientOptions {
        request_timeout: std::time::Duration::from_secs(1),
        ..Default::default()
    });
    let e = c.get_manifest(&r).unwrap_err();
    let sent = server.join().unwrap();
    let chain = chain(&e);
    assert!(chain.contains("deadline"), "{chain}");
    assert!(sent < bound, "the client read all {sent} bytes");
}

#[test]
fn descriptors_larger_than_their_cap_are_refused_before_any_request() {
    let server = Scripted::start(|_| Reply::new(200, b"x".to_vec()));
    let dir = TempDir::new("caps");
    let store = BlobStore::open(dir.path()).unwrap();
    let c = Client::new(ClientOptions::default());
    let r = reference(&server, "a:1");
    let declared = |media_type: &str, size: u64| Descriptor {
        media_type: media_type.to_string(),
        digest: Sha256Digest::of(b"x"),
        size,
        platform: None,
        artifact_type: None,
        annotations: Default::default(),
    };
    for (media_type, size, what) in [
        (
            artifact::MEDIA_TYPE_OBJECT,
            (64 << 20) + 1,
            "BPF object layer",
        ),
        (artifact::MEDIA_TYPE_MIN_BTF, 512 << 20, "minimal BTF layer"),
        (
            artifact::MEDIA_TYPE_CONFIG,
            (1 << 20) + 1,
            "package description",
        ),
        (
            artifact::MEDIA_TYPE_SIGNATURE,
            (64 << 10) + 1,
            "signature layer",
        ),
        ("application/octet-stream", (64 << 20) + 1, "blob"),
    ] {
        let desc = declared(media_type, size);
        let e = c.fetch_blob(&r, &desc, &store, &NoProgress).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("{what} {} declares {size} bytes", desc.digest)),
            "{text}"
        );
    }
    let manifest = declared(coreship_registry::oci::MEDIA_TYPE_MANIFEST, (4 << 20) + 1);
    let e = c.fetch_manifest(&r, &manifest).unwrap_err();
    assert!(e.to_string().starts_with("manifest sha256:"), "{e}");
    assert_eq!(server.requests().len(), 0, "{:?}", server.requests());
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn a_signature_referrer_with_more_than_a_signature_in_it_is_skipped_unread() {
    let work = TempDir::new("sig-extra");
    let dir = work.path().join("pkg");
    package_dir(&dir, &[(Arch::X86_64, b"x86")]);
    let packed = artifact::pack(&dir, &PackOptions::default()).unwrap();
    let root = packed.root.descriptor.clone();
    let minisig = fake_minisig(&root.digest);
    let (sig_blobs, honest) = artifact::signature(&root, &minisig, false);
    // A second signature referrer: the same, plus a 1 GiB layer nobody needs to verify it.
    let Manifest::Image(mut image) = Manifest::parse(&honest.bytes, None).unwrap() else {
        panic!("an image manifest");
    };
    let mut huge = Descriptor::of("application/octet-stream", b"");
    huge.size = 1 << 30;
    image.layers.push(huge.clone());
    let bytes = oci::to_json(&image);
    let hostile = artifact::Blob {
        descriptor: Descriptor::of(oci::MEDIA_TYPE_MANIFEST, &bytes),
        bytes,
    };
    let referrers = oci::to_json(&ImageIndex {
        schema_version: 2,
        media_type: Some(oci::MEDIA_TYPE_INDEX.to_string()),
        artifact_type: None,
        manifests: vec![
            referrer_descriptor(&hostile).unwrap(),
            referrer_descriptor(&honest).unwrap(),
        ],
        subject: None,
        annotations: Default::default(),
    });
    let mut content = std::collections::HashMap::new();
    for b in packed
        .blobs
        .iter()
        .chain(&packed.manifests)
        .chain([&packed.root, &honest, &hostile])
        .chain(&sig_blobs)
    {
        content.insert(b.descriptor.digest.to_string(), b.bytes.clone());
    }
    let (root_bytes, root_digest) = (packed.root.bytes.clone(), root.digest.to_string());
    let server = Scripted::start(move |req| {
        let last = req.path.rsplit('/').next().unwrap_or("");
        if req.path.ends_with("/manifests/1") {
            return Reply::new(200, root_bytes.clone())
                .header("Content-Type", oci::MEDIA_TYPE_INDEX)
                .header("Docker-Content-Digest", root_digest.clone());
        }
        if req.path.contains("/referrers/") {
            return Reply::new(200, referrers.clone())
                .header("Content-Type", oci::MEDIA_TYPE_INDEX);
        }
        match content.get(last) {
            Some(b) => Reply::new(200, b.clone()),
            None => Reply::new(404, ""),
        }
    });
    let cache = Cache::open(&work.path().join("cache")).unwrap();
    let c = Client::new(ClientOptions::default());
    let got = pull(
        &c,
        &cache,
        &reference(&server, "a:1"),
        Arch::X86_64,
        false,
        &NoProgress,
    )
    .unwrap();
    assert_eq!(got.signatures, vec![minisig]);
    let asked: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert!(
        !asked.iter().any(|p| p.ends_with(&huge.digest.to_string())),
        "{asked:?}"
    );
}
