//! A small blocking HTTP/1.1 client on std: request writing, response parsing (status line,
//! headers, `Content-Length`, chunked and read-to-close bodies) and the connection, a
//! `TcpStream` or a rustls stream (`tls` feature, see `tls.rs`).
//!
//! One connection per request, sent with `Connection: close`: registry traffic is a handful of
//! requests per pull, so a pool would save little and cost code in the loader. Redirects,
//! authentication and the HTTP/HTTPS choice are `transport.rs`'s business.

use super::tls::TlsStream;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Longest status or header line accepted.
const MAX_LINE: usize = 8 << 10;
/// Most header lines accepted in one response.
const MAX_HEADERS: usize = 128;
/// Most interim (1xx) responses skipped before the final one: registries send at most one
/// (`100 Continue`); a server sending them without end would keep the client reading forever.
const MAX_INTERIM: usize = 8;

/// What went wrong below HTTP: the URL, resolving, connecting, TLS, I/O, or an answer that is
/// not HTTP/1.x.
#[derive(thiserror::Error)]
pub enum HttpError {
    /// A URL that is not `http(s)://host[:port]/…`.
    #[error("unsupported URL `{0}`")]
    Url(String),
    /// The host name did not resolve.
    #[error("cannot resolve {host}")]
    Resolve {
        /// `host:port`.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// No address of the host accepted a connection in time.
    #[error("cannot connect to {host}")]
    Connect {
        /// `host:port`.
        host: String,
        /// The last address's error.
        #[source]
        source: io::Error,
    },
    /// The TLS handshake failed (certificate, protocol).
    #[error("TLS handshake with {host}")]
    Tls {
        /// The host name.
        host: String,
        /// rustls's error.
        #[source]
        source: io::Error,
    },
    /// Sending the request or reading the answer failed (reset, timeout, cut body).
    #[error("connection")]
    Io(#[source] io::Error),
    /// The answer is not HTTP/1.x as this client reads it.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    /// A redirect chain longer than the client follows.
    #[error("more than {0} redirects")]
    Redirects(u32),
    /// A redirect from HTTPS or to a remote host in plain HTTP.
    #[error("redirect to {0} refused: plain HTTP only to loopback registries or with --insecure")]
    PlainRedirect(String),
    /// A body longer than the caller accepts.
    #[error("response body longer than {0} bytes")]
    TooLong(u64),
}

/// The parts of an `http(s)://` URL a request needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Url<'a> {
    /// `https`.
    pub tls: bool,
    /// `host[:port]` as written (the `Host` header).
    pub authority: &'a str,
    /// The host without brackets (connecting, SNI).
    pub host: &'a str,
    /// The port, explicit or the scheme's.
    pub port: u16,
    /// Path and query (`/` when empty).
    pub target: &'a str,
}

impl<'a> Url<'a> {
    pub(crate) fn parse(url: &'a str) -> Result<Url<'a>, HttpError> {
        let bad = || HttpError::Url(url.to_string());
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad());
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(end);
        let target = if target.is_empty() { "/" } else { target };
        let default = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            match after.strip_prefix(':') {
                Some(p) => (host, p.parse().map_err(|_| bad())?),
                None if after.is_empty() => (host, default),
                None => return Err(bad()),
            }
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
                None => (authority, default),
            }
        };
        if host.is_empty() || authority.contains('@') || target.starts_with('?') {
            return Err(bad());
        }
        Ok(Url {
            tls,
            authority,
            host,
            port,
            target,
        })
    }

    /// Whether the host is this machine (`localhost` or a loopback address).
    pub(crate) fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// Whether `other` has the same scheme, host (any case) and port.
    pub(crate) fn same_origin(&self, other: &Url<'_>) -> bool {
        self.tls == other.tls
            && self.port == other.port
            && self.host.eq_ignore_ascii_case(other.host)
    }
}

/// A connection to one host.
pub(crate) enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// Connects to `url`'s host, trying each address within `timeout`; reads and writes then time
/// out after `io_timeout` each.
pub(crate) fn connect(
    url: &Url<'_>,
    timeout: Duration,
    io_timeout: Duration,
) -> Result<TcpStream, HttpError> {
    let host = format!("{}:{}", url.host, url.port);
    let addrs = (url.host, url.port)
        .to_socket_addrs()
        .map_err(|source| HttpError::Resolve {
            host: host.clone(),
            source,
        })?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                let timeouts = s
                    .set_read_timeout(Some(io_timeout))
                    .and_then(|()| s.set_write_timeout(Some(io_timeout)));
                // Requests are written in one or two writes: Nagle would only add latency.
                let _ = s.set_nodelay(true);
                timeouts.map_err(HttpError::Io)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(HttpError::Connect { host, source: last })
}

/// Writes a request head (with `Host`, `Content-Length` for a body, `Connection: close`) and
/// the body. Header values with line breaks are refused: they would smuggle headers.
pub(crate) fn write_request(
    w: &mut impl Write,
    method: &str,
    url: &Url<'_>,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> io::Result<()> {
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\n",
        url.target, url.authority
    );
    for (k, v) in headers {
        if v.contains(['\r', '\n']) || k.contains(['\r', '\n', ':']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("header `{k}` holds a line break"),
            ));
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    w.write_all(head.as_bytes())?;
    if let Some(b) = body {
        w.write_all(b)?;
    }
    w.flush()
}

/// A response: status, headers, and the body as a reader.
pub(crate) struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
}

impl Response {
    /// Reads the head from `r` (skipping interim 1xx answers) and frames the body, which the
    /// response reads from `r` on demand.
    pub(crate) fn read(
        method: &str,
        mut r: Box<dyn BufRead + Send>,
    ) -> Result<Response, HttpError> {
        let mut interim = 0;
        let (status, headers) = loop {
            let (status, headers) = read_head(&mut r)?;
            if !(100..200).contains(&status) {
                break (status, headers);
            }
            interim += 1;
            if interim > MAX_INTERIM {
                return Err(HttpError::Malformed("more than 8 interim (1xx) responses"));
            }
        };
        let framing = framing(method, status, &headers)?;
        Ok(Response {
            status,
            headers,
            body: Body { r, framing },
        })
    }

    /// The status code.
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    /// The first value of header `name` (any case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body, to stream.
    pub(crate) fn into_body(self) -> Body {
        self.body
    }

    /// The whole body, refusing more than `limit` bytes.
    pub(crate) fn read_to_vec(&mut self, limit: u64) -> Result<Vec<u8>, HttpError> {
        let mut out = Vec::new();
        (&mut self.body)
            .take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(HttpError::Io)?;
        if out.len() as u64 > limit {
            return Err(HttpError::TooLong(limit));
        }
        Ok(out)
    }
}

/// What [`read_response`] made of an answer.
#[doc(hidden)]
#[derive(Debug)]
pub struct ReadResponse {
    /// The final status.
    pub status: u16,
    /// The final answer's headers.
    pub headers: Vec<(String, String)>,
    /// The body, or why it could not be read whole.
    pub body: Result<Vec<u8>, HttpError>,
}

/// Reads `input` as the answer to a `method` request, as the client reads a connection: the
/// head (interim answers skipped), then the body, at most `limit` bytes. The fuzz target's
/// way in; the client itself streams bodies.
#[doc(hidden)]
pub fn read_response(
    method: &str,
    input: Box<dyn BufRead + Send>,
    limit: u64,
) -> Result<ReadResponse, HttpError> {
    let mut resp = Response::read(method, input)?;
    let body = resp.read_to_vec(limit);
    Ok(ReadResponse {
        status: resp.status,
        headers: resp.headers,
        body,
    })
}

/// One line without its CRLF (or LF), at most [`MAX_LINE`] bytes.
fn read_line(r: &mut dyn BufRead) -> Result<Vec<u8>, HttpError> {
    let mut line = Vec::new();
    r.take(MAX_LINE as u64 + 2)
        .read_until(b'\n', &mut line)
        .map_err(HttpError::Io)?;
    if line.last() != Some(&b'\n') {
        return Err(match line.len() {
            0 => HttpError::Io(io::ErrorKind::UnexpectedEof.into()),
            n if n > MAX_LINE => HttpError::Malformed("line longer than 8 KiB"),
            _ => HttpError::Io(io::ErrorKind::UnexpectedEof.into()),
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

type Headers = Vec<(String, String)>;

/// The status line and header lines up to the empty line.
fn read_head(r: &mut dyn BufRead) -> Result<(u16, Headers), HttpError> {
    let line = read_line(r)?;
    let line = std::str::from_utf8(&line).map_err(|_| HttpError::Malformed("status line"))?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    if !matches!(version, "HTTP/1.0" | "HTTP/1.1")
        || code.len() != 3
        || !code.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(HttpError::Malformed("status line"));
    }
    let status: u16 = code.parse().map_err(|_| HttpError::Malformed("status"))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            return Ok((status, headers));
        }
        if headers.len() == MAX_HEADERS {
            return Err(HttpError::Malformed("more than 128 header lines"));
        }
        let line = String::from_utf8_lossy(&line);
        let (k, v) = line
            .split_once(':')
            .ok_or(HttpError::Malformed("header line without `:`"))?;
        if k.is_empty() || k.contains([' ', '\t']) {
            // Also refuses obsolete line folding (a line starting with white space).
            return Err(HttpError::Malformed("header name"));
        }
        headers.push((k.to_string(), v.trim().to_string()));
    }
}

enum Framing {
    /// This many bytes are left.
    Length(u64),
    /// Chunked: bytes left in the current chunk, and whether its CRLF is still to read.
    Chunked { left: u64, crlf: bool, done: bool },
    /// Until the server closes the connection.
    Close,
}

fn framing(method: &str, status: u16, headers: &Headers) -> Result<Framing, HttpError> {
    if method == "HEAD" || status == 204 || status == 304 {
        return Ok(Framing::Length(0));
    }
    fn all<'h>(headers: &'h Headers, name: &'static str) -> impl Iterator<Item = &'h str> {
        headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
    }
    if let Some(last) = all(headers, "transfer-encoding").last() {
        return Ok(if last.eq_ignore_ascii_case("chunked") {
            Framing::Chunked {
                left: 0,
                crlf: false,
                done: false,
            }
        } else {
            Framing::Close
        });
    }
    let mut length = None;
    for v in all(headers, "content-length") {
        let n: u64 = v
            .parse()
            .map_err(|_| HttpError::Malformed("Content-Length"))?;
        if length.is_some_and(|l| l != n) {
            return Err(HttpError::Malformed("conflicting Content-Length values"));
        }
        length = Some(n);
    }
    Ok(length.map_or(Framing::Close, Framing::Length))
}

/// A response body: reads stop at its end (length, last chunk, or close), and a connection
/// that closes early is an `UnexpectedEof` error, never a short body.
pub(crate) struct Body {
    r: Box<dyn BufRead + Send>,
    framing: Framing,
}

fn cut() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "connection closed before the end of the body",
    )
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match &mut self.framing {
            Framing::Close => self.r.read(buf),
            Framing::Length(0) => Ok(0),
            Framing::Length(left) => {
                let max = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = self.r.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(cut());
                }
                *left -= n as u64;
                Ok(n)
            }
            Framing::Chunked { left, crlf, done } => {
                if *left == 0 {
                    if *done {
                        return Ok(0);
                    }
                    let to_io = |e: HttpError| match e {
                        HttpError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => cut(),
                        HttpError::Io(e) => e,
                        _ => invalid("chunk header line too long"),
                    };
                    if *crlf {
                        if !read_line(&mut *self.r).map_err(to_io)?.is_empty() {
                            return Err(invalid("chunk data longer than its size"));
                        }
                        *crlf = false;
                    }
                    let line = read_line(&mut *self.r).map_err(to_io)?;
                    let size = line.split(|&b| b == b';').next().unwrap_or(&[]);
                    let size = std::str::from_utf8(size)
                        .ok()
                        .map(str::trim)
                        .filter(|s| !s.is_empty() && s.len() <= 16)
                        .and_then(|s| u64::from_str_radix(s, 16).ok())
                        .ok_or_else(|| invalid("bad chunk size"))?;
                    if size == 0 {
                        // Trailer lines, then the empty line that ends the body.
                        for _ in 0..MAX_HEADERS {
                            if read_line(&mut *self.r).map_err(to_io)?.is_empty() {
                                *done = true;
                                return Ok(0);
                            }
                        }
                        return Err(invalid("too many trailer lines"));
                    }
                    *left = size;
                }
                let max = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = self.r.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(cut());
                }
                *left -= n as u64;
                *crlf = *left == 0;
                Ok(n)
            }
        }
    }
}

/// The end of the time one request may take: connecting, TLS, sending, and the whole answer.
/// Per-read timeouts alone let a server that sends a byte now and then hold a request
/// forever. (A read already waiting can overrun it by up to the per-read timeout.)
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(Instant);

impl Deadline {
    /// `limit` from now.
    pub(crate) fn after(limit: Duration) -> Deadline {
        Deadline(Instant::now() + limit)
    }

    /// A `TimedOut` error once the deadline has passed.
    pub(crate) fn check(&self) -> io::Result<()> {
        if Instant::now() < self.0 {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the request's deadline passed before its answer ended",
        ))
    }
}

/// A connection whose reads and writes fail once the request's deadline has passed.
struct Timed {
    conn: Conn,
    deadline: Deadline,
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.deadline.check()?;
        self.conn.read(buf)
    }
}

impl Write for Timed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.deadline.check()?;
        self.conn.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.conn.flush()
    }
}

/// Sends one request on `conn` and reads the answer's head; the rest of the request and the
/// whole answer (head and body) must be done by `deadline`.
pub(crate) fn exchange(
    conn: Conn,
    method: &str,
    url: &Url<'_>,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    deadline: Deadline,
) -> Result<Response, HttpError> {
    let mut conn = Timed { conn, deadline };
    write_request(&mut conn, method, url, headers, body).map_err(HttpError::Io)?;
    Response::read(method, Box::new(BufReader::with_capacity(16 << 10, conn)))
}

#[cfg(test)]
mod tests;

crate::debug_as_display!(HttpError);
