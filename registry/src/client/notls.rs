//! Stand-in for `tls.rs` in builds without the `tls` feature: HTTPS is refused with an error
//! that says how to get it, and the HTTP stack carries no TLS code at all.

use super::error::ClientError;
use super::transport::ClientOptions;

/// Never an agent: this build speaks plain HTTP only.
pub(crate) fn https_agent(_opts: &ClientOptions, host: &str) -> Result<ureq::Agent, ClientError> {
    Err(ClientError::NoTls {
        registry: host.to_string(),
    })
}
