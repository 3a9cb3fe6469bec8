//! The arguments that say where a probe comes from and what it must satisfy, shared by `run`
//! and `pull`.

use std::path::PathBuf;

use anyhow::Context as _;
use coreship_loader::{FetchOpts, Fetched, ProbeRef};
use coreship_registry::{Arch, TrustedKeys};

/// Where the probe comes from.
#[derive(clap::Args)]
pub struct SourceArgs {
    /// What to load: a .bpf.o file, a package directory, an OCI image layout (directory or
    /// .tar, `LAYOUT:NAME` for one of several), or a registry reference
    /// (HOST:PORT/REPO:TAG or …@sha256:DIGEST; port and tag optional)
    #[arg(value_name = "PROBE")]
    pub probe: String,
    /// Refuse the artifact unless it is signed by this minisign public key (a .pub file, or a
    /// directory of them; repeatable)
    #[arg(long, value_name = "KEY.pub|DIR")]
    pub trust: Vec<PathBuf>,
    /// Use only the local cache, never the network
    #[arg(long)]
    pub offline: bool,
    /// Trust this PEM CA certificate too for HTTPS registries (repeatable)
    #[arg(long, value_name = "PEM")]
    pub ca_file: Vec<PathBuf>,
    /// Allow plain HTTP to registries that are not on this machine
    #[arg(long)]
    pub insecure: bool,
    /// Object arch to pick from a package or artifact (default: this machine's)
    #[arg(long)]
    pub arch: Option<Arch>,
}

impl SourceArgs {
    /// Fetches and verifies the probe (nothing is loaded yet).
    pub fn fetch(&self) -> anyhow::Result<Fetched> {
        let probe = ProbeRef::parse(&self.probe)?;
        let trust = if self.trust.is_empty() {
            None
        } else {
            Some(TrustedKeys::from_paths(&self.trust)?)
        };
        let opts = FetchOpts {
            arch: self.arch,
            trust,
            offline: self.offline,
            client: coreship_registry::client::ClientOptions {
                insecure: self.insecure,
                ca_files: self.ca_file.clone(),
                ..Default::default()
            },
        };
        let fetched = coreship_loader::fetch(&probe, &opts)
            .with_context(|| format!("cannot use {}", self.probe))?;
        if let (Some(v), Some(d)) = (&fetched.verified, &fetched.digest) {
            eprintln!(
                "coreship-load: {}: {d} signed by key {} ({})",
                self.probe,
                v.key_id,
                v.source.display()
            );
        }
        Ok(fetched)
    }
}
