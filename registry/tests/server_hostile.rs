//! Attacks on the real `coreship-registry serve` binary, each sent as an attacker would send
//! it (raw requests on a 127.0.0.1 socket where a well-behaved client library would refuse to
//! send them): a repository name or a `Host` header crafted to inject into the token
//! challenge, manifests that declare a browser media type, deletes that would break an
//! immutable tag, and a huge config that the web page would read on every visit.
#![cfg(feature = "server")]

mod common;

use common::{
    agent, assert_tags_complete, bearer, body, error_code, header, push_blob, push_manifest,
    push_packed, write_token_file, BinServer, TempDir,
};
use coreship_registry::artifact::{self, MEDIA_TYPE_CONFIG};
use coreship_registry::oci::{
    self, Descriptor, ImageManifest, Manifest, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST,
};
use coreship_registry::server::storage::{RepoName, Storage};
use coreship_registry::{Arch, Package, Sha256Digest};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// A server with the test's push token on a fresh root, started with `extra` arguments.
fn server(dir: &TempDir, extra: &[&str]) -> BinServer {
    BinServer::start(
        &dir.path().join("root"),
        &write_token_file(dir.path()),
        extra,
    )
}

/// An answer as it came off the socket: status line, headers, body.
struct Raw {
    status: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    /// Every value of header `name` (case-insensitive).
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Sends `request` (which must say `Connection: close`) and reads the answer to its end.
fn raw(addr: SocketAddr, request: &str) -> Raw {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).unwrap();
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&bytes)));
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Raw {
        status,
        headers,
        body: bytes[split + 4..].to_vec(),
    }
}

#[test]
fn an_invalid_repository_name_is_refused_and_never_echoed_into_a_challenge() {
    let dir = TempDir::new("hostile-scope");
    let srv = server(&dir, &[]);
    // The name decodes to `x",realm="http://evil.example/token`: echoed into the challenge's
    // scope, it would send clients' credentials to the attacker's realm.
    let attack = "/v2/x%22,realm=%22http:%2F%2Fevil.example%2Ftoken/blobs/uploads/";
    let r = raw(
        srv.addr,
        &format!(
            "POST {attack} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            srv.addr
        ),
    );
    assert_eq!(r.status, "HTTP/1.1 400 Bad Request", "{:?}", r.headers);
    assert_eq!(error_code(&r.body), "NAME_INVALID");
    assert!(r.all("www-authenticate").is_empty(), "{:?}", r.headers);
    for (name, value) in &r.headers {
        assert!(!value.contains("evil.example"), "{name}: {value}");
    }
    // A valid name still gets its challenge, scoped to that name.
    let r = raw(
        srv.addr,
        &format!(
            "POST /v2/probes/x/blobs/uploads/ HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            srv.addr
        ),
    );
    assert_eq!(r.status, "HTTP/1.1 401 Unauthorized");
    assert_eq!(
        r.all("www-authenticate"),
        [format!(
            "Bearer realm=\"http://{}/token\",service=\"coreship-registry\",\
             scope=\"repository:probes/x:pull,push\"",
            srv.addr
        )]
    );
}

#[test]
fn the_token_realm_comes_from_a_valid_host_or_the_listen_address_never_from_forwarded_headers() {
    let dir = TempDir::new("hostile-host");
    let srv = server(&dir, &[]);
    let listen = format!("http://{}", srv.addr);
    let cases = [
        // Quotes and commas would end the realm and add parameters of the attacker's.
        (
            "evil.example\",realm=\"http://evil.example",
            "",
            listen.as_str(),
        ),
        ("a.example,realm=http://evil.example", "", &listen),
        ("a.example/token?x=", "", &listen),
        ("reg.example:99999", "", &listen),
        // A proxy's (or anyone's) X-Forwarded-Proto does not choose the scheme.
        (
            "reg.example:5000",
            "X-Forwarded-Proto: https\r\n",
            "http://reg.example:5000",
        ),
        ("[::1]:5000", "", "http://[::1]:5000"),
        ("registry.lan", "", "http://registry.lan"),
    ];
    for (host, extra, origin) in cases {
        for (method, path, scope) in [
            ("GET", "/v2/", ""),
            (
                "POST",
                "/v2/probes/x/blobs/uploads/",
                ",scope=\"repository:probes/x:pull,push\"",
            ),
        ] {
            let r = raw(
                srv.addr,
                &format!(
                    "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: 0\r\n\
                     Connection: close\r\n\r\n"
                ),
            );
            assert_eq!(
                r.all("www-authenticate"),
                [format!(
                    "Bearer realm=\"{origin}/token\",service=\"coreship-registry\"{scope}"
                )],
                "{method} {path} with Host: {host}"
            );
        }
    }
}

#[test]
fn an_external_url_names_the_realm_whatever_the_host_header() {
    let dir = TempDir::new("hostile-external");
    let srv = server(
        &dir,
        &["--external-url", "https://registry.example.com:8443/"],
    );
    for host in [srv.addr.to_string(), "evil.example".to_string()] {
        let r = raw(
            srv.addr,
            &format!("GET /v2/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        );
        assert_eq!(
            r.all("www-authenticate"),
            ["Bearer realm=\"https://registry.example.com:8443/token\",service=\"coreship-registry\""],
            "Host: {host}"
        );
    }
}

/// An image index with `media_type` in its body.
fn index_declaring(media_type: &str) -> Vec<u8> {
    format!(
        "{{\"schemaVersion\":2,\"mediaType\":{},\"manifests\":[],\
         \"annotations\":{{\"x\":\"<script>alert(document.domain)</script>\"}}}}",
        serde_json::to_string(media_type).unwrap()
    )
    .into_bytes()
}

#[test]
fn manifests_with_a_media_type_outside_the_manifest_set_are_refused_and_nothing_is_stored() {
    let dir = TempDir::new("hostile-media-type");
    let srv = server(&dir, &[]);
    let (a, base) = (agent(), srv.url(""));
    push_blob(&a, &base, "r", b"{}");
    let html = index_declaring("text/html");
    let control = index_declaring(&format!("{MEDIA_TYPE_INDEX}\u{7}"));
    let plain = br#"{"schemaVersion":2,"manifests":[]}"#.to_vec();
    let cases: [(&str, &[u8]); 5] = [
        // Served back as text/html, its script would run on the registry's own origin.
        ("text/html", &html),
        (MEDIA_TYPE_INDEX, &html),
        // The document says nothing; the Content-Type alone would become the served type.
        ("text/html", &plain),
        // Stored, a control character makes every later GET of the manifest fail.
        (MEDIA_TYPE_INDEX, &control),
        // The two disagree.
        (MEDIA_TYPE_MANIFEST, &index_declaring(MEDIA_TYPE_INDEX)),
    ];
    for (content_type, bytes) in cases {
        let digest = Sha256Digest::of(bytes);
        for reference in ["v1".to_string(), digest.to_string()] {
            let mut r = push_manifest(&a, &base, "r", &reference, content_type, bytes);
            let answer = body(&mut r);
            let what = format!(
                "PUT {reference} as {content_type}: {}",
                String::from_utf8_lossy(bytes)
            );
            assert_eq!(r.status(), 400, "{what}");
            assert_eq!(error_code(&answer), "MANIFEST_INVALID", "{what}");
        }
        let r = a
            .get(&format!("{base}/v2/r/manifests/{digest}"))
            .call()
            .unwrap();
        assert_eq!(r.status(), 404, "{content_type} was stored");
        let blob = dir.path().join("root/blobs/sha256").join(digest.hex());
        assert!(!blob.exists(), "its bytes were stored");
    }
    assert!(!dir.path().join("root/repositories/r/_manifests").exists());
    assert!(!dir.path().join("root/repositories/r/_tags").exists());
    // Each type of the set is accepted and served as it was declared.
    for media_type in [
        MEDIA_TYPE_INDEX,
        oci::MEDIA_TYPE_DOCKER_LIST,
        MEDIA_TYPE_MANIFEST,
        oci::MEDIA_TYPE_DOCKER_MANIFEST,
    ] {
        let bytes = match media_type {
            MEDIA_TYPE_INDEX | oci::MEDIA_TYPE_DOCKER_LIST => {
                format!("{{\"schemaVersion\":2,\"mediaType\":\"{media_type}\",\"manifests\":[]}}")
            }
            _ => format!(
                "{{\"schemaVersion\":2,\"mediaType\":\"{media_type}\",\"config\":{}}}",
                serde_json::to_string(&Descriptor::of(oci::MEDIA_TYPE_EMPTY, b"{}")).unwrap()
            ),
        };
        let r = push_manifest(&a, &base, "r", "ok", media_type, bytes.as_bytes());
        assert_eq!(r.status(), 201, "{media_type}");
        let r = a.get(&format!("{base}/v2/r/manifests/ok")).call().unwrap();
        assert_eq!(header(&r, "content-type"), media_type);
    }
}

/// DELETE `path` with the push token: the status and the error code, if any.
fn delete(a: &ureq::Agent, base: &str, path: &str) -> (u16, String) {
    let mut r = a
        .delete(&format!("{base}{path}"))
        .header("Authorization", &bearer())
        .call()
        .unwrap();
    let bytes = body(&mut r);
    let code = match bytes.is_empty() {
        true => String::new(),
        false => error_code(&bytes),
    };
    (r.status().as_u16(), code)
}

fn image(m: &artifact::Blob) -> ImageManifest {
    match Manifest::parse(&m.bytes, Some(&m.descriptor.media_type)).unwrap() {
        Manifest::Image(i) => i,
        Manifest::Index(_) => panic!("a platform manifest is an image manifest"),
    }
}

#[test]
fn with_immutable_tags_nothing_a_tag_reaches_can_be_deleted() {
    let dir = TempDir::new("hostile-immutable");
    let srv = server(&dir, &["--immutable-tags"]);
    let (a, base) = (agent(), srv.url(""));
    let repo = "probes/execsnoop";
    let packed = common::packed(dir.path(), "execsnoop");
    push_packed(&a, &base, repo, "0.1.0", &packed);
    let before = assert_tags_complete(&a, &base);
    let child = &packed.manifests[0];
    let child_image = image(child);
    let reached = [
        format!("/v2/{repo}/manifests/{}", packed.root.descriptor.digest),
        format!("/v2/{repo}/manifests/0.1.0"),
        // A platform manifest of the tagged index: the tag would name a broken index.
        format!("/v2/{repo}/manifests/{}", child.descriptor.digest),
        // Its object layer and its config.
        format!("/v2/{repo}/blobs/{}", child_image.layers[0].digest),
        format!("/v2/{repo}/blobs/{}", child_image.config.digest),
    ];
    for path in &reached {
        assert_eq!(
            delete(&a, &base, path),
            (403, "DENIED".to_string()),
            "DELETE {path}"
        );
    }
    assert_eq!(assert_tags_complete(&a, &base), before, "the tag resolves");

    // What no tag reaches stays deletable: a signature (a referrer of the tagged index) can
    // be withdrawn, e.g. after its key leaked.
    let (sig_blobs, sig) = artifact::signature(
        &packed.root.descriptor,
        b"untrusted comment: test\nRWQ...",
        false,
    );
    for b in &sig_blobs {
        push_blob(&a, &base, repo, &b.bytes);
    }
    let digest = sig.descriptor.digest.to_string();
    let r = push_manifest(&a, &base, repo, &digest, MEDIA_TYPE_MANIFEST, &sig.bytes);
    assert_eq!(r.status(), 201);
    let sig_layer = image(&sig).layers[0].digest;
    assert_eq!(
        delete(&a, &base, &format!("/v2/{repo}/manifests/{digest}")),
        (202, String::new())
    );
    assert_eq!(
        delete(&a, &base, &format!("/v2/{repo}/blobs/{sig_layer}")),
        (202, String::new())
    );
    assert_eq!(assert_tags_complete(&a, &base), before);
}

/// The server's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// Writes, into the storage under `root`, an image manifest of a probe whose package
/// description (its config blob) has `description_len` bytes of description, tagged `tag`, as
/// a registry without a config size limit would have accepted it.
fn store_probe(dir: &Path, root: &Path, repo: &str, tag: &str, description_len: usize) {
    let name = repo.rsplit('/').next().unwrap();
    let pkg_dir = common::package_dir(dir, name, &[Arch::X86_64]);
    let mut pkg = Package::read_dir(&pkg_dir).unwrap();
    pkg.description = Some("d".repeat(description_len));
    let config = pkg.to_json();
    let object = std::fs::read(pkg_dir.join(&pkg.objects[0].file)).unwrap();
    let manifest = oci::to_json(&ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.into()),
        artifact_type: Some(artifact::ARTIFACT_TYPE.into()),
        config: Descriptor::of(MEDIA_TYPE_CONFIG, &config),
        layers: vec![Descriptor::of(artifact::MEDIA_TYPE_OBJECT, &object)],
        subject: None,
        annotations: Default::default(),
    });
    let storage = Storage::open(root).unwrap();
    let repo = RepoName::parse(repo).unwrap();
    for blob in [&config, &object] {
        let d = storage.blobs().put(blob).unwrap();
        storage.link_blob(&repo, &d).unwrap();
    }
    let d = storage.blobs().put(&manifest).unwrap();
    storage
        .link_manifest(&repo, &d, MEDIA_TYPE_MANIFEST)
        .unwrap();
    storage.set_tag(&repo, tag, &d).unwrap();
}

const BIG_CONFIG: usize = 48 << 20;

#[test]
fn the_web_page_reads_a_bounded_prefix_of_each_config() {
    let dir = TempDir::new("hostile-web");
    let root = dir.path().join("root");
    store_probe(dir.path(), &root, "probes/huge", "1.0", BIG_CONFIG);
    store_probe(dir.path(), &root, "probes/small", "1.0", 10);
    let srv = server(&dir, &[]);
    let pid = srv.child.0.as_ref().unwrap().id();
    let a = agent();
    assert_eq!(a.get(&srv.url("/v2/")).call().unwrap().status(), 200);
    let before = peak_rss_kib(pid);
    let pages: Vec<String> = std::thread::scope(|s| {
        let visits: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut r = agent().get(&srv.url("/")).call().unwrap();
                    assert_eq!(r.status(), 200);
                    String::from_utf8(body(&mut r)).unwrap()
                })
            })
            .collect();
        visits.into_iter().map(|v| v.join().unwrap()).collect()
    });
    let grown = peak_rss_kib(pid).saturating_sub(before);
    assert!(
        grown < (BIG_CONFIG as u64 >> 10) / 4,
        "four visits of / took the server's peak RSS from {before} KiB up by {grown} KiB \
         (the config has {} KiB)",
        BIG_CONFIG >> 10
    );
    for page in pages {
        let huge = page.split("probes/huge").nth(1).unwrap();
        let huge = huge.split("probes/small").next().unwrap();
        assert!(huge.contains("config too large to show"), "{huge}");
        assert!(
            page.contains("handle_small"),
            "small configs are still shown"
        );
    }
}

#[test]
fn a_push_declaring_a_config_over_the_cap_is_refused() {
    let dir = TempDir::new("hostile-config-cap");
    let srv = server(&dir, &[]);
    let (a, base) = (agent(), srv.url(""));
    let config = vec![b' '; (1 << 20) + 1];
    push_blob(&a, &base, "r", &config);
    let manifest = oci::to_json(&ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.into()),
        artifact_type: Some(artifact::ARTIFACT_TYPE.into()),
        config: Descriptor::of(MEDIA_TYPE_CONFIG, &config),
        layers: vec![],
        subject: None,
        annotations: Default::default(),
    });
    let mut r = push_manifest(&a, &base, "r", "v1", MEDIA_TYPE_MANIFEST, &manifest);
    let answer = String::from_utf8(body(&mut r)).unwrap();
    assert_eq!(r.status(), 400, "{answer}");
    assert_eq!(error_code(answer.as_bytes()), "MANIFEST_INVALID");
    assert!(answer.contains("1048576"), "names the cap: {answer}");
    assert!(!dir.path().join("root/repositories/r/_tags").exists());
}
