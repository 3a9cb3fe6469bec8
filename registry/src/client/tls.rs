//! HTTPS through rustls (ring) trusting the system CA bundle plus `--ca-file` PEMs.
//!
//! The bundle is read as PEM with rustls-pki-types' parser, which adds no dependency;
//! `rustls-native-certs` would add `openssl-probe` to do the same on Linux.
//! Bundled webpki roots are deliberately not used: sites that intercept TLS with their own CA
//! install it in the system store, and so do embedded images.

use super::error::ClientError;
use super::http::{Deadline, HttpError};
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

    /// Wraps `tcp` in TLS to `host` (SNI and certificate name) and completes the handshake
    /// by `deadline`.
    pub(crate) fn connect(
        &self,
        host: &str,
        mut tcp: TcpStream,
        deadline: Deadline,
    ) -> Result<TlsStream, HttpError> {
        let name =
            ServerName::try_from(host.to_string()).map_err(|_| HttpError::Url(host.to_string()))?;
        let mut conn = ClientConnection::new(self.0.clone(), name).map_err(|e| HttpError::Tls {
            host: host.to_string(),
            source: std::io::Error::other(e),
        })?;
        while conn.is_handshaking() {
            deadline
                .check()
                .and_then(|()| conn.complete_io(&mut tcp))
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

    /// Runs `openssl` with `args` in `dir`, panicking with its stderr on failure.
    fn openssl(dir: &std::path::Path, args: &[&str]) {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A test CA and a certificate for localhost/127.0.0.1 signed by it, made with the
    /// `openssl` CLI (the crate has no certificate generator): (ca.pem, leaf.pem, leaf.key).
    fn make_ca(dir: &std::path::Path) {
        std::fs::create_dir_all(dir).unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=coreship test CA",
        ]);
        ca.extend([
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ]);
        openssl(dir, &ca);
        let mut csr = vec!["req"];
        csr.extend(ec);
        csr.extend([
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=localhost",
        ]);
        openssl(dir, &csr);
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             extendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "leaf.pem",
                "-days",
                "1",
                "-extfile",
                "ext.cnf",
            ],
        );
    }

    /// A rustls server on 127.0.0.1 answering `conns` connections with a chunked "hello".
    fn https_server(dir: &std::path::Path, conns: usize) -> u16 {
        use rustls::pki_types::PrivateKeyDer;
        use std::io::{Read, Write};
        let cert = CertificateDer::pem_file_iter(dir.join("leaf.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key")).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(cert, key)
        .unwrap();
        let config = Arc::new(config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for tcp in listener.incoming().take(conns) {
                let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                let mut tls = StreamOwned::new(conn, tcp.unwrap());
                let mut head = Vec::new();
                let mut byte = [0u8];
                while !head.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                if head.ends_with(b"\r\n\r\n") {
                    let reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                                  5\r\nhello\r\n0\r\n\r\n";
                    let _ = tls.write_all(reply);
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
            }
        });
        port
    }

    #[test]
    // A skipped test says why on stderr.
    #[allow(clippy::print_stderr)]
    fn https_checks_the_server_against_the_ca_file_and_its_name() {
        if std::process::Command::new("openssl")
            .arg("version")
            .output()
            .is_err()
        {
            // The certificates come from the openssl CLI; CI installs it and sets the variable.
            assert!(
                std::env::var("CORESHIP_REQUIRE_PEERS").as_deref() != Ok("1"),
                "CORESHIP_REQUIRE_PEERS=1 but openssl is not installed"
            );
            eprintln!("skipped: openssl is not installed (it makes the test CA)");
            return;
        }
        let dir = std::env::temp_dir().join(format!("coreship-https-{}", std::process::id()));
        make_ca(&dir);
        let port = https_server(&dir, 3);
        let url = format!("https://localhost:{port}/v2/");
        let client = crate::client::Client::new(ClientOptions {
            ca_files: vec![dir.join("ca.pem")],
            ..Default::default()
        });
        let call = crate::client::transport::Call::new("GET", url.clone());
        let (mut resp, _) = client.raw(&call, None).unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.read_to_vec(100).unwrap(), b"hello");
        // The certificate names localhost and 127.0.0.1, not other names of this machine.
        let by_ip = format!("https://127.0.0.1:{port}/v2/");
        let call = crate::client::transport::Call::new("GET", by_ip);
        assert_eq!(client.raw(&call, None).unwrap().0.status(), 200);
        // Without the CA file the system roots do not know the test CA.
        let e = crate::client::Client::new(ClientOptions::default())
            .raw(&crate::client::transport::Call::new("GET", url), None)
            .map(|_| ())
            .unwrap_err();
        let chain = format!("{e}: {}", std::error::Error::source(&e).unwrap());
        assert!(chain.contains("TLS handshake with localhost"), "{chain}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
