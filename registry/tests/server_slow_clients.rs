//! The real binary against slow and broken clients: a slowloris (many connections sending
//! their request head a byte at a time and never finishing it, reconnecting when dropped) and
//! uploads whose bodies stop short (the client closes, or goes silent) do not keep another
//! client from pulling and pushing, and the cut-off uploads leave nothing behind. The server
//! runs with fewer file descriptors than the slowloris opens connections, as a constrained
//! deployment would, and a short `--read-timeout` so that the test is quick.
#![cfg(feature = "server")]

mod common;

use common::{
    agent, assert_store_consistent, assert_tags_complete, bearer, header, noise, packed,
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
