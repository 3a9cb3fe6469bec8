//! The real binary against slow and broken clients: a slowloris (many connections sending
//! their request head a byte at a time and never finishing it, reconnecting when dropped),
//! uploads whose bodies stop short (the client closes, or goes silent) and downloads whose
//! client never reads do not keep another client from pulling and pushing, and the cut-off
//! uploads leave nothing behind. The server runs with fewer file descriptors than the attacks
//! open connections, as a constrained deployment would, and a short `--read-timeout` so that
//! the test is quick.
#![cfg(feature = "server")]

mod common;

use common::{
    agent, assert_store_consistent, assert_tags_complete, bearer, header, noise, packed, push_blob,
    push_packed, upload_bytes, write_token_file, BinServer, TempDir,
};
use coreship_registry::store::BlobStore;
use coreship_registry::Sha256Digest;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SERVER_FDS: u32 = 128;
const SLOW_CONNECTIONS: usize = 160;
const BODY: usize = 1 << 20;

/// What the slowloris is doing.
#[derive(Default)]
struct Slowloris {
    stop: AtomicBool,
    running: AtomicBool,
    open: AtomicUsize,
    dropped: AtomicUsize,
}

impl Slowloris {
    /// Keeps [`SLOW_CONNECTIONS`] connections to `addr` open, each sending one more byte of a
    /// request head that never ends every 100 ms; reconnects those the server drops. Stops
    /// when told, or after 180 s.
    fn run(&self, addr: SocketAddr) {
        self.running.store(true, Ordering::SeqCst);
        let head = b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
        let mut conns: Vec<(TcpStream, usize)> = Vec::new();
        let end = Instant::now() + Duration::from_secs(180);
        while !self.stop.load(Ordering::SeqCst) && Instant::now() < end {
            while conns.len() < SLOW_CONNECTIONS {
                let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
                    break;
                };
                let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
                conns.push((s, 0));
            }
            self.open.store(conns.len(), Ordering::SeqCst);
            conns.retain_mut(|(s, sent)| {
                let byte = head.get(*sent).copied().unwrap_or(b'a');
                *sent += 1;
                let alive = s.write_all(&[byte]).is_ok();
                if !alive {
                    self.dropped.fetch_add(1, Ordering::SeqCst);
                }
                alive
            });
            std::thread::sleep(Duration::from_millis(100));
        }
        self.running.store(false, Ordering::SeqCst);
    }
}

/// Sets its flag when dropped, also when a failed assertion unwinds.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// How a client cuts its upload short.
#[derive(Clone, Copy)]
enum Ending {
    /// Closes the connection.
    Close,
    /// Closes its sending side and reads the answer.
    HalfClose,
    /// Sends nothing more, the connection open, and reads the answer.
    Stall,
}

/// What the server sent back until it closed the connection (at most 120 s).
fn read_answer(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut answer = Vec::new();
    if let Err(e) = stream.read_to_end(&mut answer) {
        if answer.is_empty() {
            panic!("no answer to a cut upload: {e}");
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Sends a request head announcing `BODY` bytes and half of them; returns the stream (drop it
/// to close, keep it to stall).
fn half_body(addr: SocketAddr, request_line: &str, extra_headers: &str, seed: u32) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    let head = format!(
        "{request_line} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {BODY}\r\n{extra_headers}\r\n",
        bearer()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&noise(BODY, seed)[..BODY / 2]).unwrap();
    s.flush().unwrap();
    s
}

#[test]
fn slowloris_and_truncated_bodies_do_not_block_others_and_leave_nothing() {
    let dir = TempDir::new("slow");
    let root = dir.path().join("root");
    let tokens = write_token_file(dir.path());
    let srv = BinServer::start_with_fd_limit(&root, &tokens, &["--read-timeout", "2s"], SERVER_FDS);
    let base = srv.url("");
    let addr = srv.addr;
    let a = agent();
    push_packed(&a, &base, "probes/kept", "v1", &packed(dir.path(), "kept"));
    let before = assert_tags_complete(&a, &base);
    let store = BlobStore::open(&root).unwrap();

    let attack = Slowloris::default();
    let mut cut = Vec::new();
    std::thread::scope(|s| {
        s.spawn(|| attack.run(addr));
        let _stop = StopOnDrop(&attack.stop);
        let all_open = common::wait_until(Duration::from_secs(60), || {
            attack.open.load(Ordering::SeqCst) == SLOW_CONNECTIONS
        });
        assert!(all_open, "the slowloris could not open its connections");

        // Uploads cut short, each monolithic and chunked: the client closes mid-body, or
        // closes its sending side mid-body and waits for the answer, or goes silent mid-body
        // with the connection open and waits for the answer.
        let mut answers = Vec::new();
        for (i, ending) in [Ending::Close, Ending::HalfClose, Ending::Stall]
            .into_iter()
            .cycle()
            .take(18)
            .enumerate()
        {
            let seed = i as u32;
            let d = Sha256Digest::of(&noise(BODY, seed));
            cut.push(d);
            let request = if i % 2 == 0 {
                half_body(
                    addr,
                    &format!("POST /v2/probes/cut/blobs/uploads/?digest={d}"),
                    "",
                    seed,
                )
            } else {
                let r = a
                    .post(&format!("{base}/v2/probes/cut/blobs/uploads/"))
                    .header("Authorization", &bearer())
                    .send_empty()
                    .unwrap();
                assert_eq!(r.status(), 202);
                let range = format!("Content-Range: 0-{}\r\n", BODY - 1);
                let patch = format!("PATCH {}", header(&r, "location"));
                half_body(addr, &patch, &range, seed)
            };
            match ending {
                Ending::Close => drop(request),
                Ending::HalfClose => {
                    request.shutdown(Shutdown::Write).unwrap();
                    answers.push(("400 Bad Request", request));
                }
                Ending::Stall => answers.push(("408 Request Timeout", request)),
            }
        }

        // Another client pulls and pushes meanwhile.
        assert_eq!(
            assert_tags_complete(&a, &base),
            before,
            "pull during the attack"
        );
        let fresh = packed(dir.path(), "fresh");
        push_packed(&a, &base, "probes/kept", "v2", &fresh);
        let after = assert_tags_complete(&a, &base);
        assert!(after
            .iter()
            .any(|t| t.tag == "v2" && t.manifest == fresh.root.bytes));
        assert!(
            attack.running.load(Ordering::SeqCst),
            "the slowloris was still at it"
        );
        assert!(
            attack.dropped.load(Ordering::SeqCst) > 0,
            "the server dropped slowloris connections"
        );

        // Every cut upload the client waits on is answered: a spec error, once its body ended
        // short or stalled for the read timeout.
        for (status, mut stream) in answers {
            let answer = read_answer(&mut stream);
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status}")),
                "{answer}"
            );
            assert!(answer.contains("BLOB_UPLOAD_INVALID"), "{answer}");
        }
        attack.stop.store(true, Ordering::SeqCst);
    });
    // Nothing of any cut upload remains (each closed one was queued before an answered one,
    // so it was taken up first; a leftover would stay).
    let emptied = common::wait_until(Duration::from_secs(30), || upload_bytes(&root) == 0);
    assert!(
        emptied,
        "upload sessions still hold {} bytes",
        upload_bytes(&root)
    );
    for d in &cut {
        assert!(!store.contains(d), "a cut upload left blob {d}");
    }
    assert_store_consistent(&root);
}

/// A blob larger than what the kernel buffers on both ends of a loopback connection, so that
/// a client that never reads leaves the server blocked in its write.
const BIG_BLOB: usize = 16 << 20;

/// A connection that asks for `path` and never reads the answer.
fn never_reading(addr: SocketAddr, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    s
}

/// `/proc/net/tcp`'s spelling of an IPv4 socket address.
fn proc_net_addr(addr: SocketAddr) -> String {
    let SocketAddr::V4(v4) = addr else {
        panic!("{addr} is not IPv4");
    };
    let ip = u32::from_ne_bytes(v4.ip().octets());
    format!("{ip:08X}:{:04X}", v4.port())
}

/// Whether a process still holds the server's end of the connection from `client` to
/// `server` (a socket the server closed is gone, or an orphan with inode 0, while the kernel
/// still tries to deliver what it had sent).
fn server_holds(server: SocketAddr, client: SocketAddr) -> bool {
    let (local, remote) = (proc_net_addr(server), proc_net_addr(client));
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table.lines().skip(1).any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        f.len() > 9 && f[1] == local && f[2] == remote && f[9] != "0"
    })
}

#[test]
fn a_download_that_makes_no_progress_for_the_read_timeout_ends_its_connection() {
    let dir = TempDir::new("slow-reader");
    let root = dir.path().join("root");
    let tokens = write_token_file(dir.path());
    let srv = BinServer::start(&root, &tokens, &["--read-timeout", "2s"]);
    let d = push_blob(&agent(), &srv.url(""), "probes/big", &noise(BIG_BLOB, 1));
    let mut s = never_reading(srv.addr, &format!("/v2/probes/big/blobs/{d}"));
    let client = s.local_addr().unwrap();
    assert!(
        common::wait_until(Duration::from_secs(30), || server_holds(srv.addr, client)),
        "the server did not take the connection"
    );
    let closed = common::wait_until(Duration::from_secs(60), || !server_holds(srv.addr, client));
    assert!(
        closed,
        "the server still holds a connection whose client has read nothing for 60 s"
    );
    // The client gets what the kernels had buffered, then the end: less than the blob.
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(got.starts_with(b"HTTP/1.1 200 OK"));
    assert!(got.len() < BIG_BLOB, "the whole blob was sent");
}

#[test]
fn downloads_that_never_read_are_evicted_when_every_slot_is_taken() {
    let dir = TempDir::new("slow-readers");
    let root = dir.path().join("root");
    let tokens = write_token_file(dir.path());
    // A read timeout longer than the test: only eviction can free a slot.
    let srv = BinServer::start_with_fd_limit(&root, &tokens, &["--read-timeout", "1h"], SERVER_FDS);
    let d = push_blob(&agent(), &srv.url(""), "probes/big", &noise(BIG_BLOB, 2));
    // More than the server's connection slots ((SERVER_FDS - 64) / 2 = 32), each asking for
    // the blob and reading nothing.
    let path = format!("/v2/probes/big/blobs/{d}");
    let stalled: Vec<TcpStream> = (0..SERVER_FDS as usize / 4 + 8)
        .map(|_| never_reading(srv.addr, &path))
        .collect();
    let r = agent().get(&srv.url("/v2/")).call();
    let status = r.map(|r| r.status().as_u16()).map_err(|e| e.to_string());
    assert_eq!(
        status,
        Ok(200),
        "GET /v2/ behind {} stalled downloads",
        stalled.len()
    );
    // Whoever still reads gets the whole blob.
    let mut r = agent().get(&srv.url(&path)).call().unwrap();
    assert_eq!(Sha256Digest::of(&common::body(&mut r)), d);
}
