//! HTTPS through rustls (ring) trusting the system CA bundle plus `--ca-file` PEMs.
//!
//! The bundle is read as PEM with ureq's parser (rustls-pki-types underneath), which adds no
//! dependency; `rustls-native-certs` would add `openssl-probe` to do the same on Linux.
//! Bundled webpki roots are deliberately not used: sites that intercept TLS with their own CA
//! install it in the system store, and so do embedded images.

use super::error::ClientError;
use super::transport::{agent_config, ClientOptions};
use std::path::PathBuf;
use std::sync::Arc;
use ureq::tls::{parse_pem, Certificate, PemItem, RootCerts, TlsConfig, TlsProvider};

/// Where Linux distributions keep the CA bundle (Debian/Alpine, Fedora/RHEL, openSUSE, other).
const BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

fn certs_in(pem: &[u8]) -> Vec<Certificate<'static>> {
    parse_pem(pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c.to_owned()),
            _ => None,
        })
        .collect()
}

/// The root certificates: `SSL_CERT_FILE` or the first system bundle found, plus `ca_files`.
pub(crate) fn roots(ca_files: &[PathBuf]) -> Result<Vec<Certificate<'static>>, ClientError> {
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

/// The agent for HTTPS requests (`_host` is for the stand-in's error).
pub(crate) fn https_agent(opts: &ClientOptions, _host: &str) -> Result<ureq::Agent, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::Specific(Arc::new(roots(&opts.ca_files)?)))
        .unversioned_rustls_crypto_provider(provider)
        .build();
    Ok(ureq::Agent::new_with_config(
        agent_config(opts).tls_config(tls).build(),
    ))
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
