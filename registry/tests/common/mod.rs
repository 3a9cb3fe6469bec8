//! Helpers shared by the server tests: temp roots, servers (in a thread or the real binary),
//! an HTTP client that never turns statuses into errors, and a small coreship artifact.
#![allow(dead_code)]

use coreship_registry::artifact::{self, PackOptions, Packed};
use coreship_registry::oci::{
    is_manifest_media_type, Descriptor, Manifest, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST,
};
use coreship_registry::server::{self, AppState, ServerOptions};
use coreship_registry::store::BlobStore;
use coreship_registry::{Arch, Sha256Digest};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "push-s3cret";

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d = std::env::temp_dir().join(format!(
            "coreship-srv-test-{tag}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn options(root: &Path) -> ServerOptions {
    ServerOptions {
        root: root.to_path_buf(),
        push_tokens: vec![TOKEN.to_string()],
        private: false,
        immutable_tags: false,
        logger: None,
        read_timeout: server::DEFAULT_READ_TIMEOUT,
        external_url: None,
    }
}

/// The library's server on 127.0.0.1:0 in a thread of its own; stopped on drop.
pub struct ThreadServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ThreadServer {
    pub fn start(opts: ServerOptions) -> ThreadServer {
        let state = AppState::new(opts).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                server::serve(listener, state, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        ThreadServer {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for ThreadServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A child process killed (SIGKILL) and reaped on drop.
pub struct ChildGuard(pub Option<Child>);

impl ChildGuard {
    pub fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The real `coreship-registry serve` binary on a free port.
pub struct BinServer {
    pub addr: SocketAddr,
    pub child: ChildGuard,
}

impl BinServer {
    pub fn start(root: &Path, token_file: &Path, extra: &[&str]) -> BinServer {
        BinServer::spawn(
            Command::new(env!("CARGO_BIN_EXE_coreship-registry")),
            root,
            token_file,
            extra,
        )
    }

    /// [`BinServer::start`] with at most `fds` open files (soft and hard limit), as a
    /// constrained deployment runs it.
    pub fn start_with_fd_limit(
        root: &Path,
        token_file: &Path,
        extra: &[&str],
        fds: u32,
    ) -> BinServer {
        let mut sh = Command::new("sh");
        sh.args([
            "-c",
            &format!("ulimit -n {fds} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_coreship-registry"),
        ]);
        BinServer::spawn(sh, root, token_file, extra)
    }

    fn spawn(mut command: Command, root: &Path, token_file: &Path, extra: &[&str]) -> BinServer {
        let mut child = command
            .arg("serve")
            .arg("--root")
            .arg(root)
            .args(["--listen", "127.0.0.1:0", "--push-token-file"])
            .arg(token_file)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut guard = ChildGuard(Some(child));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => a.parse().unwrap(),
            Err(_) => {
                guard.kill();
                panic!("coreship-registry did not report its address within 20 s");
            }
        };
        BinServer { addr, child: guard }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

pub fn write_token_file(dir: &Path) -> PathBuf {
    let f = dir.join("tokens.txt");
    std::fs::write(&f, format!("# test tokens\n{TOKEN}\n")).unwrap();
    f
}

/// An HTTP agent that returns every status as a response.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

pub fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

pub fn body(resp: &mut ureq::http::Response<ureq::Body>) -> Vec<u8> {
    resp.body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .unwrap()
}

pub fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The first error code of a spec error body.
pub fn error_code(bytes: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(bytes)));
    v["errors"][0]["code"].as_str().unwrap_or("").to_string()
}

/// Monolithic upload of `bytes` to `base` (`http://host`) repository `repo`.
pub fn push_blob(agent: &ureq::Agent, base: &str, repo: &str, bytes: &[u8]) -> Sha256Digest {
    let d = Sha256Digest::of(bytes);
    let resp = agent
        .post(&format!("{base}/v2/{repo}/blobs/uploads/?digest={d}"))
        .header("Authorization", &bearer())
        .header("Content-Type", "application/octet-stream")
        .send(bytes)
        .unwrap();
    assert_eq!(resp.status(), 201, "blob upload of {d}");
    d
}

pub fn push_manifest(
    agent: &ureq::Agent,
    base: &str,
    repo: &str,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) -> ureq::http::Response<ureq::Body> {
    agent
        .put(&format!("{base}/v2/{repo}/manifests/{reference}"))
        .header("Authorization", &bearer())
        .header("Content-Type", media_type)
        .send(bytes)
        .unwrap()
}

/// Pushes a packed artifact (blobs, manifests by digest, root by tag).
pub fn push_packed(agent: &ureq::Agent, base: &str, repo: &str, tag: &str, packed: &Packed) {
    if let Err(e) = try_push_packed(agent, base, repo, tag, packed) {
        panic!("push of {repo}:{tag}: {e}");
    }
}

/// [`push_packed`] that reports a broken connection or a status other than 201 instead of
/// panicking (for pushes cut off on purpose).
pub fn try_push_packed(
    agent: &ureq::Agent,
    base: &str,
    repo: &str,
    tag: &str,
    packed: &Packed,
) -> Result<(), String> {
    let expect_201 = |what: &str, r: Result<ureq::http::Response<ureq::Body>, ureq::Error>| match r
    {
        Ok(r) if r.status() == 201 => Ok(()),
        Ok(r) => Err(format!("{what}: status {}", r.status())),
        Err(e) => Err(format!("{what}: {e}")),
    };
    for b in &packed.blobs {
        let d = &b.descriptor.digest;
        let r = agent
            .post(&format!("{base}/v2/{repo}/blobs/uploads/?digest={d}"))
            .header("Authorization", &bearer())
            .header("Content-Type", "application/octet-stream")
            .send(&b.bytes[..]);
        expect_201(&format!("blob {d}"), r)?;
    }
    let manifests = packed
        .manifests
        .iter()
        .map(|m| (m.descriptor.digest.to_string(), m));
    for (reference, m) in manifests.chain([(tag.to_string(), &packed.root)]) {
        let r = agent
            .put(&format!("{base}/v2/{repo}/manifests/{reference}"))
            .header("Authorization", &bearer())
            .header("Content-Type", &m.descriptor.media_type)
            .send(&m.bytes[..]);
        expect_201(&format!("manifest {reference}"), r)?;
    }
    Ok(())
}

/// Data bytes held by upload sessions under `root` (not their `.repo` owner files).
pub fn upload_bytes(root: &Path) -> u64 {
    std::fs::read_dir(root.join("uploads"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| !e.file_name().to_string_lossy().ends_with(".repo"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// `len` bytes that do not compress and differ with `seed`.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| {
            (i.wrapping_add(seed.wrapping_mul(0x9e37_79b9))
                .wrapping_mul(2654435761)
                >> 13) as u8
        })
        .collect()
}

/// Checks the store under `root` as a restarted registry sees it: every blob hashes to its
/// name, and no temp file of an interrupted write is left among the blobs.
pub fn assert_store_consistent(root: &Path) {
    let store = BlobStore::open(root).unwrap();
    for d in store.list().unwrap() {
        store.verify(&d).unwrap_or_else(|e| panic!("blob {d}: {e}"));
    }
    for e in std::fs::read_dir(root.join("blobs/sha256")).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(
            !name.starts_with(".tmp-"),
            "temp file {name} left visible after restart"
        );
    }
}

/// A tag as the registry serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedTag {
    pub repo: String,
    pub tag: String,
    /// The bytes of the manifest (or index) the tag resolves to.
    pub manifest: Vec<u8>,
}

/// Walks every tag of every repository through the API (catalog, tag lists, manifests, and
/// every child manifest and blob they reference), checking each one's digest and size:
/// every tag resolves to a complete artifact. Returns the tags, sorted.
pub fn assert_tags_complete(agent: &ureq::Agent, base: &str) -> Vec<ServedTag> {
    let list = |path: &str, field: &str| -> Vec<String> {
        let mut r = agent.get(&format!("{base}{path}")).call().unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        let v: serde_json::Value = serde_json::from_slice(&body(&mut r)).unwrap();
        v[field]
            .as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for repo in list("/v2/_catalog?n=10000", "repositories") {
        for tag in list(&format!("/v2/{repo}/tags/list?n=10000"), "tags") {
            let manifest = fetch_complete(agent, base, &repo, &tag, None);
            out.push(ServedTag {
                repo: repo.clone(),
                tag,
                manifest,
            });
        }
    }
    out.sort_by(|a, b| (&a.repo, &a.tag).cmp(&(&b.repo, &b.tag)));
    out
}

/// The manifest `reference` of `repo`, after checking it (against `expected` when given) and
/// everything it references.
fn fetch_complete(
    agent: &ureq::Agent,
    base: &str,
    repo: &str,
    reference: &str,
    expected: Option<&Descriptor>,
) -> Vec<u8> {
    let accept = [MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST].join(", ");
    let mut r = agent
        .get(&format!("{base}/v2/{repo}/manifests/{reference}"))
        .header("Accept", &accept)
        .call()
        .unwrap();
    assert_eq!(r.status(), 200, "manifest {repo}:{reference} resolves");
    let served = header(&r, "docker-content-digest");
    let bytes = body(&mut r);
    let actual = Sha256Digest::of(&bytes);
    assert_eq!(
        served,
        actual.to_string(),
        "{repo}:{reference}: digest header"
    );
    if let Some(d) = expected {
        assert_eq!(actual, d.digest, "{repo}:{reference}");
        assert_eq!(bytes.len() as u64, d.size, "{repo}:{reference}: size");
    }
    let manifest = Manifest::parse(&bytes, None)
        .unwrap_or_else(|e| panic!("{repo}:{reference} is not a manifest: {e}"));
    for d in manifest.references() {
        if is_manifest_media_type(&d.media_type) {
            fetch_complete(agent, base, repo, &d.digest.to_string(), Some(d));
            continue;
        }
        let mut r = agent
            .get(&format!("{base}/v2/{repo}/blobs/{}", d.digest))
            .call()
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "{repo}:{reference} names blob {}",
            d.digest
        );
        let blob = body(&mut r);
        assert_eq!(Sha256Digest::of(&blob), d.digest, "blob content");
        assert_eq!(blob.len() as u64, d.size, "blob {} size", d.digest);
    }
    bytes
}

/// A package directory with objects for `arches` and one tracepoint program.
pub fn package_dir(dir: &Path, name: &str, arches: &[Arch]) -> PathBuf {
    let pkg_dir = dir.join(format!("pkg-{name}"));
    let objects: Vec<(Arch, Vec<u8>)> = arches
        .iter()
        .map(|a| {
            (
                *a,
                format!("\x7fELF fake object of {name} for {a}").into_bytes(),
            )
        })
        .collect();
    let objects: Vec<(Arch, &[u8])> = objects.iter().map(|(a, b)| (*a, b.as_slice())).collect();
    coreship_registry::testing::write_package(&pkg_dir, name, &objects);
    pkg_dir
}

pub fn packed(dir: &Path, name: &str) -> Packed {
    packed_with(dir, name, &PackOptions::default())
}

pub fn packed_with(dir: &Path, name: &str, opts: &PackOptions) -> Packed {
    let pkg = package_dir(dir, name, &[Arch::X86_64, Arch::Aarch64]);
    artifact::pack(&pkg, opts).unwrap()
}

/// Waits until `f` holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Whether interop peers are mandatory (`CORESHIP_REQUIRE_PEERS=1`).
pub fn peers_required() -> bool {
    std::env::var("CORESHIP_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Skips (prints why) or fails, depending on [`peers_required`].
pub fn skip_or_fail(reason: &str) {
    if peers_required() {
        panic!("CORESHIP_REQUIRE_PEERS=1 but {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// Debian's `docker-registry` (distribution 2.8) on 127.0.0.1, storage in a temp dir, no auth.
pub struct DockerRegistry {
    child: Child,
    pub port: u16,
    pub dir: TempDir,
}

impl DockerRegistry {
    /// Starts one, or returns `None` after printing why the test skips; with
    /// `CORESHIP_REQUIRE_PEERS=1` a missing registry fails the test instead.
    pub fn start(test: &str) -> Option<DockerRegistry> {
        let bin = "/usr/bin/docker-registry";
        if !Path::new(bin).exists() {
            if std::env::var("CORESHIP_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!("{test}: {bin} is missing and CORESHIP_REQUIRE_PEERS=1 (apt-get install docker-registry)");
            }
            eprintln!("skipping {test}: {bin} is missing (apt-get install docker-registry)");
            return None;
        }
        let dir = TempDir::new("registry");
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        let reg = DockerRegistry { child, port, dir };
        assert!(
            wait_for_port(port, Duration::from_secs(20)),
            "docker-registry did not listen on 127.0.0.1:{port}"
        );
        Some(reg)
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The file holding a blob's content in the registry's storage.
    pub fn blob_file(&self, digest: &Sha256Digest) -> PathBuf {
        let hex = digest.hex();
        self.dir.path().join(format!(
            "data/docker/registry/v2/blobs/sha256/{}/{hex}/data",
            &hex[..2]
        ))
    }
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for_port(port: u16, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
