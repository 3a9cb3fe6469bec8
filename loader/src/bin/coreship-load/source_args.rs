//! The arguments that say where a probe comes from and what it must satisfy (shared by `run`,
//! `check` and `pull`), and how it is loaded (shared by `run` and `check`).

use std::path::PathBuf;

use anyhow::Context as _;
use coreship_loader::{AttachSpec, FetchOpts, Fetched, LoadOpts, ProbeRef, SetArg};
use coreship_registry::{Arch, SignedName, TrustedKeys};

use crate::cli::{self, Arg, Parser};

/// Where the probe comes from.
#[derive(Default)]
pub struct SourceArgs {
    /// What to load (`PROBE`).
    pub probe: String,
    pub trust: Vec<PathBuf>,
    pub signed_as: Option<String>,
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
         or .tar, `LAYOUT:NAME` for one of several), a registry reference
         (HOST:PORT/REPO:TAG or …@sha256:DIGEST; port and tag optional), or a name in the
         cache. A first component that looks like a host (has a `.` or a `:`, or is
         localhost) followed by `/` is always a registry reference, even when a file of
         that name exists: write such a path as ./PATH or /ABSOLUTE/PATH

Options:
      --trust KEY.pub|DIR  Refuse the artifact unless it is signed by this minisign public key
                           (a .pub file, or a directory of them; repeatable), for the repository
                           and tag it is asked for
      --signed-as REPO[:TAG]  With --trust: the name the signature must carry instead, for a
                           mirror that serves the artifact under another name
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
                "--signed-as" => self.signed_as = Some(cli::string(p, &f)?),
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
        if self.signed_as.is_some() && self.trust.is_empty() {
            let why = "--signed-as needs --trust (it names what the signature must be for)";
            return Err(cli::Stop::Usage(why.into()));
        }
        Ok(self)
    }

    /// Fetches and verifies the probe (nothing is loaded yet).
    pub fn fetch(&self) -> anyhow::Result<Fetched> {
        let context = || match ProbeRef::local_spelling(&self.probe) {
            Some(local) => format!(
                "cannot use {} (a local path of that name exists: write {local} to use it)",
                self.probe
            ),
            None => format!("cannot use {}", self.probe),
        };
        let probe = ProbeRef::parse(&self.probe).with_context(context)?;
        let trust = if self.trust.is_empty() {
            None
        } else {
            Some(TrustedKeys::from_paths(&self.trust)?)
        };
        let opts = FetchOpts {
            arch: self.arch,
            trust,
            signed_as: self.signed_as.as_deref().map(SignedName::parse),
            offline: self.offline,
            client: coreship_registry::client::ClientOptions {
                insecure: self.insecure,
                ca_files: self.ca_file.clone(),
                ..Default::default()
            },
        };
        let fetched = coreship_loader::fetch(&probe, &opts).with_context(context)?;
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

/// Help text for the options [`LoadArgs::take`] reads.
macro_rules! load_help {
    () => {
        "      --btf FILE           Kernel BTF to relocate against (default: /sys/kernel/btf/vmlinux,
                           else the minimal BTF the artifact ships for this kernel)
      --attach PROG=TARGET Attach target for a program: PROG=TARGET or PROG=KIND:TARGET, e.g.
                           enter=uprobe:/bin/bash:readline
      --uprobe PATH:FUNC   Target for every uprobe/uretprobe program whose section names none:
                           /PATH:FUNC[+OFF] (repeat to trace several functions)
      --set NAME=VALUE     Set the probe's `const volatile` global NAME before load
                           (repeatable), e.g. per_disk=1; `coreship inspect` lists a probe's
                           settings
  -v, --verbose            Copy libbpf's log to stderr
"
    };
}
pub(crate) use load_help;

/// How the probe is loaded: the options `run` and `check` share.
#[derive(Default)]
pub struct LoadArgs {
    btf: Option<PathBuf>,
    attach: Vec<AttachSpec>,
    uprobe: Vec<String>,
    set: Vec<SetArg>,
    verbose: bool,
}

impl LoadArgs {
    /// Reads `--btf`, `--attach`, `--uprobe`, `--set` and `-v`; gives anything else back.
    pub fn take(&mut self, arg: Arg, p: &mut Parser) -> cli::Result<Option<Arg>> {
        let Arg::Flag(f) = &arg else {
            return Ok(Some(arg));
        };
        match f.as_str() {
            "--btf" => self.btf = Some(cli::path(p)?),
            "--attach" => self
                .attach
                .push(cli::value(p, f, str::parse::<AttachSpec>)?),
            "--uprobe" => self.uprobe.push(cli::string(p, f)?),
            "--set" => self.set.push(cli::value(p, f, str::parse::<SetArg>)?),
            "-v" | "--verbose" => self.verbose = true,
            _ => return Ok(Some(arg)),
        }
        Ok(None)
    }

    /// Whether `--btf` was given.
    pub fn has_btf(&self) -> bool {
        self.btf.is_some()
    }

    /// Copies libbpf's log to stderr when `-v` was given, and gives the load options.
    pub fn into_opts(self) -> LoadOpts {
        coreship_loader::libbpf_log::set_echo(self.verbose);
        LoadOpts {
            btf: self.btf,
            attach: self.attach,
            uprobe: self.uprobe,
            set: self.set,
            ..Default::default()
        }
    }
}
