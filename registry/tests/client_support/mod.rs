//! Helpers of the client integration tests: temp dirs, package directories, a real
//! `docker-registry` on 127.0.0.1, and a tiny scripted HTTP server for what no real registry
//! does on demand (cut connections, token endpoints, wrong content).
#![allow(dead_code)]

use coreship_registry::{
    Arch, ArchObject, BuildInfo, Package, ProgramInfo, Sha256Digest, SourceInfo, SCHEMA_VERSION,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A fresh directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let d =
            std::env::temp_dir().join(format!("coreship-client-{tag}-{}-{n}", std::process::id()));
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

/// A package directory as `coreship build` writes it, with these objects.
pub fn package_dir(dir: &Path, objects: &[(Arch, &[u8])]) {
    let mut entries = Vec::new();
    for (arch, bytes) in objects {
        let file = format!("{}/p.bpf.o", arch.as_str());
        std::fs::create_dir_all(dir.join(arch.as_str())).unwrap();
        std::fs::write(dir.join(&file), bytes).unwrap();
        entries.push(ArchObject {
            arch: *arch,
            file,
            sha256: Sha256Digest::of(bytes),
            size: bytes.len() as u64,
        });
    }
    Package {
        schema_version: SCHEMA_VERSION,
        name: "p".into(),
        version: "1.0.0".into(),
        description: None,
        license: "GPL".into(),
        source: SourceInfo {
            file: "p.bpf.c".into(),
            sha256: Sha256Digest::of(b"src"),
        },
        build: BuildInfo {
            clang: "clang".into(),
            kernel_release: None,
            cflags: vec![],
        },
        objects: entries,
        programs: vec![ProgramInfo {
            name: "handle".into(),
            section: "tp/sched/sched_process_exec".into(),
            prog_type: "tracepoint".into(),
            attach: Some("sched/sched_process_exec".into()),
        }],
        maps: vec![],
    }
    .write_dir(dir)
    .unwrap();
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
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

/// A request the scripted server received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the scripted server answers.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send only this many body bytes, then close the connection (Content-Length still says
    /// the whole length).
    pub cut_after: Option<usize>,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: body.into(),
            cut_after: None,
        }
    }
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Reply {
        self.headers.push((k.to_string(), v.into()));
        self
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A scripted HTTP/1.1 server on 127.0.0.1 (one thread per connection, stopped on drop).
pub struct Scripted {
    pub port: u16,
    pub log: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

impl Scripted {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (log2, stop2) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (handler, log) = (handler.clone(), log2.clone());
                std::thread::spawn(move || serve(conn, &*handler, &log));
            }
        });
        Scripted { port, log, stop }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }
}

fn serve(conn: TcpStream, handler: &Handler, log: &Mutex<Vec<Request>>) {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut out = conn;
    // At most 100 requests per connection: a bounded loop.
    for _ in 0..100 {
        let Some(req) = read_request(&mut reader) else {
            return;
        };
        log.lock().unwrap().push(req.clone());
        let reply = handler(&req);
        let mut head = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
            reply.status,
            reply.body.len()
        );
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if out.write_all(head.as_bytes()).is_err() {
            return;
        }
        let send = if req.method == "HEAD" {
            0
        } else {
            reply.cut_after.unwrap_or(reply.body.len())
        };
        if out.write_all(&reply.body[..send]).is_err() || reply.cut_after.is_some() {
            let _ = out.shutdown(std::net::Shutdown::Both);
            return;
        }
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A pretend minisign signature file (its verification is another module's business).
pub fn fake_minisig(root: &Sha256Digest) -> Vec<u8> {
    format!("untrusted comment: signature of {root}\nRWQfake\ntrusted comment: t\nsig\n")
        .into_bytes()
}
