//! The parser on bytes: framing, split reads, malformed answers and limits.

use super::*;
use crate::testing::Trickle;

/// Parses `raw` read `step` bytes at a time (through a 1-byte-capable BufReader).
fn parse(method: &str, raw: &[u8], step: usize) -> Result<Response, HttpError> {
    let r = Trickle::new(raw.to_vec(), step);
    Response::read(method, Box::new(BufReader::with_capacity(step.max(1), r)))
}

fn body(method: &str, raw: &[u8], step: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    parse(method, raw, step)
        .unwrap()
        .into_body()
        .read_to_end(&mut out)?;
    Ok(out)
}

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
    5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n";

#[test]
fn chunked_bodies_decode_whatever_the_read_sizes() {
    for step in [1, 2, 3, 7, 64, 4096] {
        assert_eq!(
            body("GET", CHUNKED, step).unwrap(),
            b"hello, world",
            "step {step}"
        );
    }
    // Upper-case hex and a chunk larger than the read buffer.
    let big = vec![b'x'; 300];
    let mut raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, Chunked\r\n\r\n12C\r\n".to_vec();
    raw.extend_from_slice(&big);
    raw.extend_from_slice(b"\r\n0\r\n\r\n");
    assert_eq!(body("GET", &raw, 5).unwrap(), big);
}

#[test]
fn bad_or_cut_chunked_bodies_are_errors() {
    let bad = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n";
    assert_eq!(
        body("GET", bad, 4).unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );
    let long = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n";
    assert_eq!(
        body("GET", long, 4).unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );
    let cut = &CHUNKED[..CHUNKED.len() - 20];
    assert_eq!(
        body("GET", cut, 3).unwrap_err().kind(),
        io::ErrorKind::UnexpectedEof
    );
}

#[test]
fn content_length_bodies_stop_at_the_length_and_a_short_one_is_an_error() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDocker-Content-Digest: sha256:x\r\n\r\nhelloEXTRA";
    let resp = parse("GET", raw, 2).unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.header("docker-content-digest"), Some("sha256:x"));
    assert_eq!(body("GET", raw, 2).unwrap(), b"hello");
    let short = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello";
    assert_eq!(
        body("GET", short, 3).unwrap_err().kind(),
        io::ErrorKind::UnexpectedEof
    );
    let conflicting = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    assert!(matches!(
        parse("GET", conflicting, 64),
        Err(HttpError::Malformed(_))
    ));
}

#[test]
fn heads_204s_and_interim_answers_have_no_body() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    assert_eq!(body("HEAD", raw, 64).unwrap(), b"");
    let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
    let resp = parse("PUT", raw, 1).unwrap();
    assert_eq!(resp.status(), 204);
    // No length at all: the body runs until the server closes.
    assert_eq!(
        body("GET", b"HTTP/1.0 200 OK\r\n\r\nuntil close", 4).unwrap(),
        b"until close"
    );
}

#[test]
fn interim_answers_are_skipped_up_to_a_bound() {
    let answer = |interim: usize| {
        let mut raw = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(interim);
        raw.extend_from_slice(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
        parse("PUT", &raw, 7)
    };
    assert_eq!(answer(MAX_INTERIM).unwrap().status(), 201);
    assert!(matches!(
        answer(MAX_INTERIM + 1),
        Err(HttpError::Malformed(m)) if m.contains("interim")
    ));
}

#[test]
fn a_passed_deadline_fails_reads_and_writes() {
    let deadline = Deadline::after(Duration::ZERO);
    let e = deadline.check().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    assert_eq!(
        e.to_string(),
        "the request's deadline passed before its answer ended"
    );
    assert!(Deadline::after(Duration::from_secs(3600)).check().is_ok());
}

#[test]
fn origins_are_scheme_host_and_port() {
    let a = Url::parse("https://Registry.example/v2/").unwrap();
    for (other, same) in [
        ("https://registry.example:443/x", true),
        ("http://registry.example:443/x", false),
        ("https://registry.example:8443/x", false),
        ("https://storage.example/x", false),
    ] {
        assert_eq!(a.same_origin(&Url::parse(other).unwrap()), same, "{other}");
    }
}

#[test]
fn malformed_status_lines_are_refused() {
    for raw in [
        &b"HTTP/2 200 OK\r\n\r\n"[..],
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
        b"HTTP/1.1 abc\r\n\r\n",
    ] {
        assert!(
            matches!(parse("GET", raw, 64), Err(HttpError::Malformed(_))),
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
    // A reason phrase is optional; bare LF line ends are accepted.
    assert_eq!(parse("GET", b"HTTP/1.1 404\n\n", 64).unwrap().status(), 404);
    // Nothing at all: the connection closed.
    assert!(
        matches!(parse("GET", b"", 64), Err(HttpError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof)
    );
}

#[test]
fn header_limits_and_bad_header_lines_are_refused() {
    let mut long = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
    long.extend(vec![b'a'; MAX_LINE + 10]);
    long.extend_from_slice(b"\r\n\r\n");
    assert!(matches!(
        parse("GET", &long, 4096),
        Err(HttpError::Malformed(_))
    ));
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert!(matches!(
        parse("GET", &many, 4096),
        Err(HttpError::Malformed(_))
    ));
    for raw in [
        &b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    ] {
        assert!(matches!(
            parse("GET", raw, 64),
            Err(HttpError::Malformed(_))
        ));
    }
}

#[test]
fn read_to_vec_enforces_its_limit() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    assert_eq!(
        parse("GET", raw, 3).unwrap().read_to_vec(5).unwrap(),
        b"hello"
    );
    assert!(matches!(
        parse("GET", raw, 3).unwrap().read_to_vec(4),
        Err(HttpError::TooLong(4))
    ));
}

#[test]
fn requests_carry_host_length_and_close_and_refuse_line_breaks() {
    let url = Url::parse("http://127.0.0.1:5000/v2/a/blobs/uploads/?mount=x").unwrap();
    let mut out = Vec::new();
    write_request(&mut out, "POST", &url, &[("Accept", "a, b")], Some(b"xy")).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "POST /v2/a/blobs/uploads/?mount=x HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nAccept: a, b\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\nxy"
    );
    let e = write_request(&mut Vec::new(), "GET", &url, &[("X", "a\r\nEvil: 1")], None);
    assert_eq!(e.unwrap_err().kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn urls_split_into_host_port_and_target() {
    let u = Url::parse("https://ghcr.io/v2/x?n=1").unwrap();
    assert_eq!(
        (u.tls, u.authority, u.host, u.port, u.target),
        (true, "ghcr.io", "ghcr.io", 443, "/v2/x?n=1")
    );
    let u = Url::parse("http://[::1]:5000").unwrap();
    assert_eq!((u.host, u.port, u.target), ("::1", 5000, "/"));
    assert!(u.is_loopback());
    assert!(Url::parse("http://localhost/").unwrap().is_loopback());
    assert!(!Url::parse("http://registry.lan:5000/")
        .unwrap()
        .is_loopback());
    for bad in [
        "ftp://h/",
        "http://",
        "http://h:x/",
        "http://u:p@h/",
        "http://[::1/",
    ] {
        assert!(Url::parse(bad).is_err(), "{bad}");
    }
}
