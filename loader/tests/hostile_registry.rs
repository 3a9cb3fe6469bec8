//! The real `coreship-load` against registries that misbehave on purpose: small HTTP servers
//! on 127.0.0.1 written here, which record what the loader sends them and serve what no honest
//! registry would. No kernel involved: `pull` only fetches and verifies.

mod common;

use common::{bin, refused, root, TempDir};
use coreship_registry::artifact::{self, PackOptions, MEDIA_TYPE_MIN_BTF};
use coreship_registry::oci::{self, Descriptor, Manifest};
use coreship_registry::{Arch, Sha256Digest};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request the server received: method, path and `Authorization`.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: Option<String>,
}

/// What the server answers.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

enum Body {
    Bytes(Vec<u8>),
    /// This many zero bytes, written as they go (never held in memory).
    Zeros(u64),
}

impl Answer {
    fn new(status: u16, body: impl Into<Vec<u8>>) -> Answer {
        Answer {
            status,
            headers: vec![],
            body: Body::Bytes(body.into()),
        }
    }
    fn header(mut self, k: &'static str, v: impl Into<String>) -> Answer {
        self.headers.push((k, v.into()));
        self
    }
}

type Handler = dyn Fn(&str) -> Answer + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1, one request per connection, stopped on drop.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Body bytes written, all answers together.
    body_bytes: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start(handler: impl Fn(&str) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let body_bytes = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (seen2, bytes2, stop2) = (seen.clone(), body_bytes.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (handler, seen, bytes) = (handler.clone(), seen2.clone(), bytes2.clone());
                std::thread::spawn(move || serve(conn, &*handler, &seen, &bytes));
            }
        });
        Server {
            port,
            seen,
            body_bytes,
            stop,
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(conn: TcpStream, handler: &Handler, seen: &Mutex<Vec<Seen>>, bytes: &AtomicU64) {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split(' ').nth(1).unwrap_or("").to_string();
    let mut authorization = None;
    // At most 100 header lines: a bounded loop.
    for _ in 0..100 {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authorization = Some(v.trim().to_string());
            }
        }
    }
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        authorization,
    });
    let answer = handler(&path);
    let len = match &answer.body {
        Body::Bytes(b) => b.len() as u64,
        Body::Zeros(n) => *n,
    };
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {len}\r\nConnection: close\r\n",
        answer.status
    );
    for (k, v) in &answer.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = conn;
    if out.write_all(head.as_bytes()).is_err() {
        return;
    }
    match answer.body {
        Body::Bytes(b) => {
            if out.write_all(&b).is_ok() {
                bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
            }
        }
        Body::Zeros(n) => {
            let zeros = vec![0u8; 1 << 20];
            let mut left = n;
            while left > 0 {
                let k = left.min(zeros.len() as u64) as usize;
                if out.write_all(&zeros[..k]).is_err() {
                    return;
                }
                bytes.fetch_add(k as u64, Ordering::Relaxed);
                left -= k as u64;
            }
        }
    }
}

/// A `coreship-load` that sees no registry credentials but `env`, and the cache `cache`.
fn loader(cache: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin("coreship-load"));
    for var in [
        "CORESHIP_REGISTRY_TOKEN",
        "CORESHIP_REGISTRY_USER",
        "CORESHIP_REGISTRY_PASSWORD",
        "CORESHIP_REGISTRY_HOST",
        "DOCKER_CONFIG",
        "REGISTRY_AUTH_FILE",
        "XDG_RUNTIME_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", cache)
        .env("CORESHIP_CACHE_DIR", cache)
        .envs(env.iter().copied())
        .current_dir(root())
        .stdin(Stdio::null());
    cmd
}

fn finished(cmd: &mut Command) -> common::Finished {
    let out = cmd.output().unwrap();
    common::Finished::from(out)
}

#[test]
fn registry_credentials_from_the_environment_go_only_to_the_hosts_they_name() {
    // A registry that wants Basic credentials for everything, and records what it gets.
    let server = Server::start(|_| {
        Answer::new(401, "").header("WWW-Authenticate", r#"Basic realm="hostile""#)
    });
    let dir = TempDir::new("env-creds");
    let reference = format!("{}/probes/p:1", server.host());
    let pull = |env: &[(&str, &str)]| finished(loader(&dir.0, env).args(["pull", &reference]));

    // Meant for another registry: this one gets nothing, and the error says how to send them.
    let token_elsewhere = pull(&[
        ("CORESHIP_REGISTRY_TOKEN", "s3cret-token"),
        ("CORESHIP_REGISTRY_HOST", "registry.example,ghcr.io"),
    ]);
    let basic_elsewhere = pull(&[
        ("CORESHIP_REGISTRY_USER", "alice"),
        ("CORESHIP_REGISTRY_PASSWORD", "s3cret-password"),
        ("CORESHIP_REGISTRY_HOST", "registry.example"),
    ]);
    let seen = server.seen();
    assert!(
        seen.iter().any(|s| s.path == "/v2/probes/p/manifests/1"),
        "{seen:?}"
    );
    for s in &seen {
        assert_eq!(s.authorization, None, "{s:?}");
    }
    refused(
        &token_elsewhere,
        &format!(
            "CORESHIP_REGISTRY_TOKEN is set but applies only to registry.example,ghcr.io: \
             set CORESHIP_REGISTRY_HOST={} if it is for this registry",
            server.host()
        ),
    );
    refused(
        &basic_elsewhere,
        &format!(
            "CORESHIP_REGISTRY_USER/CORESHIP_REGISTRY_PASSWORD is set but applies only to \
             registry.example: set CORESHIP_REGISTRY_HOST={} if it is for this registry",
            server.host()
        ),
    );

    // Named: sent (and refused by this registry, which takes nothing).
    let before = seen.len();
    let named = pull(&[
        ("CORESHIP_REGISTRY_TOKEN", "s3cret-token"),
        (
            "CORESHIP_REGISTRY_HOST",
            &format!("registry.example, {}", server.host()),
        ),
    ]);
    refused(
        &named,
        "the credentials from env CORESHIP_REGISTRY_TOKEN were refused",
    );
    let sent: Vec<Option<String>> = server.seen()[before..]
        .iter()
        .map(|s| s.authorization.clone())
        .collect();
    assert!(
        sent.contains(&Some("Bearer s3cret-token".to_string())),
        "{sent:?}"
    );
}

/// The digest of `n` zero bytes, hashed by `sha256sum` as they stream (never in memory).
fn zeros_digest(n: u64) -> Sha256Digest {
    let out = Command::new("sh")
        .args(["-c", &format!("head -c {n} /dev/zero | sha256sum")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256:{}", &text[..64]).parse().unwrap()
}

/// Runs `cmd` to its end; returns its stderr and its peak resident memory in KiB.
// Reaped by wait4 below: std's `wait` does not report the child's resource usage.
#[allow(clippy::zombie_processes)]
fn run_measured(cmd: &mut Command) -> (String, i64) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain integers, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals; the pid is this test's own child, not yet
    // reaped by anyone.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(
        pid,
        child.id() as i32,
        "{}",
        std::io::Error::last_os_error()
    );
    (stderr, usage.ru_maxrss)
}

#[test]
fn a_layer_declared_larger_than_its_cap_is_refused_before_any_byte_of_it() {
    // A real probe artifact whose per-arch manifests also list a 512 MiB minimal-BTF layer,
    // with the digest of 512 MiB of zeros: a registry serving exactly that was honoured.
    const DECLARED: u64 = 512 << 20;
    let work = TempDir::new("huge-layer");
    let pkg = work.0.join("pkg");
    coreship_registry::testing::write_package(
        &pkg,
        "p",
        &[
            (Arch::X86_64, b"x86 object"),
            (Arch::Aarch64, b"arm object"),
        ],
    );
    let packed = artifact::pack(&pkg, &PackOptions::default()).unwrap();
    let huge = Descriptor {
        media_type: MEDIA_TYPE_MIN_BTF.to_string(),
        digest: zeros_digest(DECLARED),
        size: DECLARED,
        platform: None,
        artifact_type: None,
        annotations: Default::default(),
    };
    let mut blobs: HashMap<String, (String, Vec<u8>)> = HashMap::new();
    for b in &packed.blobs {
        blobs.insert(
            b.descriptor.digest.to_string(),
            (b.descriptor.media_type.clone(), b.bytes.clone()),
        );
    }
    let Manifest::Index(mut index) = Manifest::parse(&packed.root.bytes, None).unwrap() else {
        panic!("the root is an index");
    };
    for entry in &mut index.manifests {
        let m = packed
            .manifests
            .iter()
            .find(|m| m.descriptor.digest == entry.digest)
            .unwrap();
        let Manifest::Image(mut image) = Manifest::parse(&m.bytes, None).unwrap() else {
            panic!("an image manifest");
        };
        image.layers.push(huge.clone());
        let bytes = oci::to_json(&image);
        entry.digest = Sha256Digest::of(&bytes);
        entry.size = bytes.len() as u64;
        blobs.insert(
            entry.digest.to_string(),
            (oci::MEDIA_TYPE_MANIFEST.to_string(), bytes),
        );
    }
    let root = oci::to_json(&index);
    let huge_digest = huge.digest.to_string();
    let server = Server::start(move |path| {
        let last = path.rsplit('/').next().unwrap_or("");
        if path.contains("/manifests/") && last == "1" {
            return Answer::new(200, root.clone())
                .header("Content-Type", oci::MEDIA_TYPE_INDEX)
                .header("Docker-Content-Digest", Sha256Digest::of(&root).to_string());
        }
        if last == huge_digest {
            return Answer {
                status: 200,
                headers: vec![],
                body: Body::Zeros(DECLARED),
            };
        }
        match blobs.get(last) {
            Some((media_type, bytes)) => {
                Answer::new(200, bytes.clone()).header("Content-Type", media_type.clone())
            }
            None => Answer::new(404, r#"{"errors":[{"code":"NOT_FOUND","message":"no"}]}"#),
        }
    });

    let cache = work.0.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let reference = format!("{}/probes/p:1", server.host());
    let (stderr, peak_kib) = run_measured(loader(&cache, &[]).args(["pull", &reference]));
    let served = server.body_bytes.load(Ordering::Relaxed);
    let asked = server
        .seen()
        .iter()
        .filter(|s| s.path.ends_with(&huge.digest.to_string()))
        .count();
    let cached: u64 = walk_sizes(&cache);
    assert!(
        asked == 0 && cached < (1 << 20) && peak_kib < 64 << 10,
        "the huge layer was asked for {asked} times; the server sent {served} body bytes; \
         the cache holds {cached} bytes; coreship-load peaked at {peak_kib} KiB; it said: \
         {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "minimal BTF layer {} declares 536870912 bytes, more than the 64 MiB cap for it",
            huge.digest
        )),
        "{stderr}"
    );
}

/// The total size of the regular files under `dir`.
fn walk_sizes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            walk_sizes(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}
