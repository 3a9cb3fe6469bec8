//! The real `coreship-load` against registries that misbehave on purpose: small HTTP servers
//! on 127.0.0.1 written here, which record what the loader sends them and serve what no honest
//! registry would. No kernel involved: `pull` only fetches and verifies.

mod common;

use common::{bin, refused, root, TempDir};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
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
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start(handler: impl Fn(&str) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (handler, seen) = (handler.clone(), seen2.clone());
                std::thread::spawn(move || serve(conn, &*handler, &seen));
            }
        });
        Server { port, seen, stop }
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

fn serve(conn: TcpStream, handler: &Handler, seen: &Mutex<Vec<Seen>>) {
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
            let _ = out.write_all(&b);
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
    common::Finished {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
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
            "CORESHIP_REGISTRY_TOKEN is set but applies only to registry.example, ghcr.io: \
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
