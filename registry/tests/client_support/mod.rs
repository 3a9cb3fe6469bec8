//! Helpers of the client integration tests: package directories and a tiny scripted HTTP server
//! for what no real registry does on demand (cut connections, token endpoints, wrong content).
//! Temp dirs and Debian's `docker-registry` come from `common`, shared with the server tests.
#![allow(dead_code)]

pub use crate::common::{DockerRegistry, TempDir};
use coreship_registry::{Arch, Sha256Digest};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A package directory as `coreship build` writes it (probe `p`), with these objects.
pub fn package_dir(dir: &Path, objects: &[(Arch, &[u8])]) {
    coreship_registry::testing::write_package(dir, "p", objects);
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
