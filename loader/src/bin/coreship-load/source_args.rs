//! The arguments that say where a probe comes from and what it must satisfy, shared by `run`
//! and `pull`.

use std::path::PathBuf;

use anyhow::Context as _;
use coreship_loader::{FetchOpts, Fetched, ProbeRef};
use coreship_registry::{Arch, TrustedKeys};

use crate::cli::{self, Arg, Parser};

/// Where the probe comes from.
#[derive(Default)]
pub struct SourceArgs {
    /// What to load (`PROBE`).
    pub probe: String,
    pub trust: Vec<PathBuf>,
    pub offline: bool,
    pub ca_file: Vec<PathBuf>,
    pub insecure: bool,
    pub arch: Option<Arch>,
}

/// Help text for `PROBE` and the options [`SourceArgs::take`] reads (a macro: `concat!` takes
/// literals only).
macro_rules! source_help {
    () => {
        "Arguments:
  PROBE  What to load: a .bpf.o file, a package directory, an OCI image layout (directory
         or .tar, `LAYOUT:NAME` for one of several), or a registry reference
         (HOST:PORT/REPO:TAG or …@sha256:DIGEST; port and tag optional)

Options:
      --trust KEY.pub|DIR  Refuse the artifact unless it is signed by this minisign public key
                           (a .pub file, or a directory of them; repeatable)
      --offline            Use only the local cache, never the network
      --ca-file PEM        Trust this PEM CA certificate too for HTTPS registries (repeatable)
      --insecure           Allow plain HTTP to registries that are not on this machine
      --arch ARCH          Object arch to pick from a package or artifact (x86_64, aarch64;
                           default: this machine's)
"
    };
}
pub(crate) use source_help;

impl SourceArgs {
    /// Reads `arg` when it is PROBE or one of the options of [`source_help`]; gives it back
    /// otherwise.
    pub fn take(&mut self, arg: Arg, p: &mut Parser) -> cli::Result<Option<Arg>> {
        match arg {
            Arg::Value(v) if self.probe.is_empty() => self.probe = cli::positional(v, "PROBE")?,
            Arg::Flag(f) => match f.as_str() {
                "--trust" => self.trust.push(cli::path(p)?),
                "--offline" => self.offline = true,
                "--ca-file" => self.ca_file.push(cli::path(p)?),
                "--insecure" => self.insecure = true,
                "--arch" => self.arch = Some(cli::value(p, &f, str::parse::<Arch>)?),
                _ => return Ok(Some(Arg::Flag(f))),
            },
            arg => return Ok(Some(arg)),
        }
        Ok(None)
    }

    /// Checks what every command taking a PROBE needs once all arguments are read.
    pub fn finish(self) -> cli::Result<Self> {
        cli::required((!self.probe.is_empty()).then_some(()), "PROBE")?;
        Ok(self)
    }

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
