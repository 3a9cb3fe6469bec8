//! Errors of `coreship build`.

use crate::{ClangError, LinkError, ManifestError, MissingRustTool, VmlinuxError};
use coreship_registry::Arch;
use std::io;
use std::path::PathBuf;

/// Errors building probes.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No usable clang.
    #[error(transparent)]
    Clang(#[from] ClangError),
    /// The probe declarations could not be read.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// No probes to build.
    #[error("no probes declared in {}: add a [workspace.metadata.coreship.probes.<name>] table with a `source`, or pass FILE.bpf.c", manifest.display())]
    NoProbes {
        /// The workspace manifest.
        manifest: PathBuf,
    },
    /// `--probe` named a probe that is not declared.
    #[error("no probe named `{name}` (declared: {available})")]
    NoSuchProbe {
        /// The name asked for.
        name: String,
        /// The declared names.
        available: String,
    },
    /// `--package` named a package that is not a workspace member.
    #[error("no package named `{name}` in the workspace (members: {available})")]
    NoSuchPackage {
        /// The name asked for.
        name: String,
        /// The members' names.
        available: String,
    },
    /// A Rust probe is selected but the tools to build it are missing.
    #[error("cannot build Rust probe `{probe}`: missing {}", join(missing))]
    RustToolchain {
        /// The first Rust probe selected.
        probe: String,
        /// Everything missing, each with how to get it.
        missing: Vec<MissingRustTool>,
    },
    /// cargo built a Rust probe's crate but reported no executable (the BPF object).
    #[error("cargo built the crate of probe `{probe}` in {} but reported no binary: a BPF crate needs a bin target", dir.display())]
    NoRustArtifact {
        /// The probe.
        probe: String,
        /// The crate.
        dir: PathBuf,
    },
    /// A source file given on the command line cannot name a probe.
    #[error("cannot name a probe after {}: expected NAME.bpf.c with NAME of letters, digits, `_` or `-`", path.display())]
    BadSourceName {
        /// The file.
        path: PathBuf,
    },
    /// A probe's source file does not exist.
    #[error("source of probe `{probe}` not found: {}", path.display())]
    MissingSource {
        /// The probe.
        probe: String,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `vmlinux.h` was needed (none in the include dirs) but could not be generated.
    #[error("no vmlinux.h in the probes' include dirs, and generating one failed (pass --btf FILE, or run `coreship vmlinux -o bpf/include/vmlinux.h` where kernel BTF exists)")]
    Vmlinux(#[source] VmlinuxError),
    /// A file or directory could not be read or written.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done: "write", "read", "create directory", …
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A helper tool could not be started.
    #[error("cannot run `{command}` ({hint})")]
    ToolSpawn {
        /// The command.
        command: String,
        /// How to get it.
        hint: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `bpftool gen min_core_btf` failed for one kernel BTF.
    #[error("minimal BTF of {} from {} failed: {said}", object.display(), input.display())]
    MinBtf {
        /// The kernel BTF.
        input: PathBuf,
        /// The object.
        object: PathBuf,
        /// bpftool's stderr.
        said: String,
    },
    /// `--min-btf DIR` holds no kernel BTF laid out as expected.
    #[error("{} has no kernel BTF files laid out as ID/VERSION_ID/ARCH/RELEASE.btf (e.g. debian/12/x86_64/6.1.0-47-cloud-amd64.btf; ARCH is x86_64 or arm64)", dir.display())]
    NoMinBtfInputs {
        /// The directory.
        dir: PathBuf,
    },
    /// clang (or, for Rust probes, rustup's cargo) could not be started.
    #[error("cannot run `{command}`")]
    ClangSpawn {
        /// The command line.
        command: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// clang (or cargo) reported errors. The message carries its stderr verbatim (with
    /// file:line:col).
    #[error("could not compile probe `{probe}` for {arch}:\n{stderr}\ncommand (in {}): {command}", dir.display())]
    Compile {
        /// The probe.
        probe: String,
        /// The arch.
        arch: Arch,
        /// The command line.
        command: String,
        /// Its working directory.
        dir: PathBuf,
        /// clang's stderr, trimmed at the end.
        stderr: String,
    },
    /// clang succeeded but wrote no usable depfile.
    #[error("clang wrote no usable dependency file at {}", path.display())]
    Depfile {
        /// The depfile.
        path: PathBuf,
    },
    /// Stripping or canonicalizing the object failed.
    #[error("cannot finish the object of probe `{probe}` for {arch}")]
    Link {
        /// The probe.
        probe: String,
        /// The arch.
        arch: Arch,
        /// What failed.
        #[source]
        source: LinkError,
    },
    /// The object could not be summarized for the package description.
    #[error("cannot read programs and maps of {}", path.display())]
    Summary {
        /// The object.
        path: PathBuf,
        /// The loader's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A job thread panicked.
    #[error("a build thread panicked while building `{probe}` for {arch}")]
    Panic {
        /// The probe.
        probe: String,
        /// The arch.
        arch: Arch,
    },
}

fn join(missing: &[MissingRustTool]) -> String {
    missing
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl BuildError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> BuildError {
        let path = path.into();
        move |source| BuildError::Io {
            action,
            path,
            source,
        }
    }
}
