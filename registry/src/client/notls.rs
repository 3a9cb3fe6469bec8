//! Stand-in for `tls.rs` in builds without the `tls` feature: HTTPS is refused with an error
//! that says how to get it, and the HTTP stack carries no TLS code at all.

use super::error::ClientError;
use super::http::{Deadline, HttpError};
use super::transport::ClientOptions;
use std::io;
use std::net::TcpStream;

/// Never an HTTPS connection in this build.
pub(crate) enum TlsStream {}

impl io::Read for TlsStream {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        match *self {}
    }
}

impl io::Write for TlsStream {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        match *self {}
    }
    fn flush(&mut self) -> io::Result<()> {
        match *self {}
    }
}

/// Never built (`new` always fails): this build speaks plain HTTP only. A struct rather than
/// an empty enum so that the client's shared code has no unreachable paths to lint.
#[derive(Clone)]
pub(crate) struct Https(());

impl Https {
    pub(crate) fn new(_opts: &ClientOptions, host: &str) -> Result<Https, ClientError> {
        Err(ClientError::NoTls {
            registry: host.to_string(),
        })
    }

    pub(crate) fn connect(
        &self,
        host: &str,
        _tcp: TcpStream,
        _deadline: Deadline,
    ) -> Result<TlsStream, HttpError> {
        Err(HttpError::Url(host.to_string()))
    }
}
