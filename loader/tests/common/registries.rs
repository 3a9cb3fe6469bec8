//! Registries for the end-to-end tests: the workspace's `coreship-registry` and Debian's
//! `docker-registry`, each on 127.0.0.1 with a temp store, killed on drop.

use super::{bin, TempDir};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The push token every test registry accepts.
pub const TOKEN: &str = "e2e-push-token-5f1c";

/// A running registry.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// Its storage directory.
    pub root: PathBuf,
    _dir: TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// `coreship-registry serve` on a free port with push token [`TOKEN`].
    pub fn coreship(tag: &str) -> Registry {
        let dir = TempDir::new(tag);
        let tokens = dir.0.join("tokens.txt");
        std::fs::write(&tokens, format!("# e2e\n{TOKEN}\n")).unwrap();
        let root = dir.0.join("store");
        let mut child = Command::new(bin("coreship-registry"))
            .args(["serve", "--listen", "127.0.0.1:0", "--root"])
            .arg(&root)
            .arg("--push-token-file")
            .arg(&tokens)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // "coreship-registry: listening on http://127.0.0.1:PORT (root DIR)"
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let host = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split(|c: char| c == '/' || c.is_whitespace()).next())
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_string();
        Registry {
            child,
            host,
            root,
            _dir: dir,
        }
    }

    /// Debian's `docker-registry` (CNCF distribution 2.8), no auth; `None` (with the reason
    /// printed) when it is not installed, unless CORESHIP_REQUIRE_PEERS=1.
    pub fn docker(tag: &str) -> Option<Registry> {
        let exe = "/usr/bin/docker-registry";
        if !std::path::Path::new(exe).exists() {
            assert!(
                std::env::var_os("CORESHIP_REQUIRE_PEERS").is_none_or(|v| v != "1"),
                "{exe} is missing and CORESHIP_REQUIRE_PEERS=1 (apt-get install docker-registry)"
            );
            eprintln!("skipping: {exe} is missing (apt-get install docker-registry)");
            return None;
        }
        let dir = TempDir::new(tag);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let root = dir.0.join("store");
        let config = dir.0.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                root.display()
            ),
        )
        .unwrap();
        let child = Command::new(exe)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let host = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start on {host}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Registry {
            child,
            host,
            root,
            _dir: dir,
        })
    }
}

/// What anyone holding a push token (or the registry itself) can do: copy the artifact `from`
/// (`REPO:TAG`) of `registry` to `to` (`REPO:TAG`) byte for byte — its index, manifests and
/// blobs (mounted), and its signature referrers, which sign the same digest.
pub fn copy_artifact(registry: &Registry, from: &str, to: &str) {
    use coreship_registry::client::{BlobPush, Client, ClientOptions, Credentials, NoProgress};
    use coreship_registry::client::{Secret, Secrets};
    use coreship_registry::oci::{Descriptor, Manifest};
    use coreship_registry::Reference;

    let client = Client::new(ClientOptions {
        credentials: Some(Credentials {
            secrets: Secrets::Token(Secret(TOKEN.into())),
            origin: "test".into(),
        }),
        ..Default::default()
    });
    let src: Reference = format!("{}/{from}", registry.host).parse().unwrap();
    let dst: Reference = format!("{}/{to}", registry.host).parse().unwrap();
    // Children first (manifests of an index, blobs of a manifest), then the manifest itself.
    fn copy(client: &Client, src: &Reference, dst: &Reference, desc: &Descriptor, put_as: &str) {
        let got = client.fetch_manifest(src, desc).unwrap();
        match Manifest::parse(&got.bytes, Some(&desc.media_type)).unwrap() {
            Manifest::Index(index) => {
                for child in &index.manifests {
                    copy(client, src, dst, child, &child.digest.to_string());
                }
            }
            image => {
                for blob in image.references() {
                    let pushed = client
                        .push_blob(dst, blob, &[], Some(&src.repository), &NoProgress)
                        .unwrap();
                    assert!(matches!(pushed, BlobPush::Mounted | BlobPush::Exists));
                }
            }
        }
        client
            .put_manifest(dst, put_as, &desc.media_type, &got.bytes)
            .unwrap();
    }
    let root = client.get_manifest(&src).unwrap().descriptor;
    copy(&client, &src, &dst, &root, dst.tag.as_deref().unwrap());
    for referrer in client.referrers(&src, &root.digest, None).unwrap() {
        copy(&client, &src, &dst, &referrer, &referrer.digest.to_string());
    }
}
