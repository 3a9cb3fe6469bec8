//! HTTPS through rustls (ring) trusting the system CA bundle plus `--ca-file` PEMs.
//!
//! The bundle is read as PEM with rustls-pki-types' parser, which adds no dependency;
//! `rustls-native-certs` would add `openssl-probe` to do the same on Linux.
//! Bundled webpki roots are deliberately not used: sites that intercept TLS with their own CA
//! install it in the system store, and so do embedded images.

use super::error::ClientError;
use super::http::HttpError;
use super::transport::ClientOptions;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;

/// An HTTPS connection.
pub(crate) type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Where Linux distributions keep the CA bundle (Debian/Alpine, Fedora/RHEL, openSUSE, other).
const BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

fn certs_in(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect()
}

/// The root certificates: `SSL_CERT_FILE` or the first system bundle found, plus `ca_files`.
pub(crate) fn roots(ca_files: &[PathBuf]) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let mut certs = Vec::new();
    let env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let candidates = env.into_iter().chain(BUNDLES.iter().map(PathBuf::from));
    for path in candidates {
        if let Ok(pem) = std::fs::read(&path) {
            certs = certs_in(&pem);
            if !certs.is_empty() {
                break;
            }
        }
    }
    for path in ca_files {
        let pem = std::fs::read(path).map_err(|e| ClientError::CaFile {
            path: path.clone(),
            what: e.to_string(),
        })?;
        let found = certs_in(&pem);
        if found.is_empty() {
            return Err(ClientError::CaFile {
                path: path.clone(),
                what: "no PEM certificate in it".into(),
            });
        }
        certs.extend(found);
    }
    if certs.is_empty() {
        return Err(ClientError::NoRoots {
            looked: BUNDLES.join(", "),
        });
    }
    Ok(certs)
}

/// The TLS side of the client: one rustls configuration (ring) for every HTTPS host.
#[derive(Clone)]
pub(crate) struct Https(Arc<ClientConfig>);

impl Https {
    /// Reads the roots (`_host` is for the stand-in's error).
    pub(crate) fn new(opts: &ClientOptions, _host: &str) -> Result<Https, ClientError> {
        let mut store = RootCertStore::empty();
        // Bundles may hold certificates webpki cannot use (old or odd ones): skip those.
        let (added, _ignored) = store.add_parsable_certificates(roots(&opts.ca_files)?);
        if added == 0 {
            return Err(ClientError::NoRoots {
                looked: BUNDLES.join(", "),
            });
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(store)
            .with_no_client_auth();
        Ok(Https(Arc::new(config)))
    }

    /// Wraps `tcp` in TLS to `host` (SNI and certificate name) and completes the handshake.
    pub(crate) fn connect(&self, host: &str, mut tcp: TcpStream) -> Result<TlsStream, HttpError> {
        let name =
            ServerName::try_from(host.to_string()).map_err(|_| HttpError::Url(host.to_string()))?;
        let mut conn = ClientConnection::new(self.0.clone(), name).map_err(|e| HttpError::Tls {
            host: host.to_string(),
            source: std::io::Error::other(e),
        })?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)
                .map_err(|source| HttpError::Tls {
                    host: host.to_string(),
                    source,
                })?;
        }
        Ok(StreamOwned::new(conn, tcp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_is_refused_by_name() {
        let f = std::env::temp_dir().join(format!("coreship-ca-{}.pem", std::process::id()));
        std::fs::write(&f, "not a certificate\n").unwrap();
        let e = roots(std::slice::from_ref(&f)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("CA file {}: no PEM certificate in it", f.display())
        );
        std::fs::remove_file(f).unwrap();
        let missing = PathBuf::from("/nonexistent/ca.pem");
        let e = roots(std::slice::from_ref(&missing)).unwrap_err();
        assert!(
            e.to_string().starts_with("CA file /nonexistent/ca.pem: "),
            "{e}"
        );
    }
}
