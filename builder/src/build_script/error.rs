//! Errors of [`super::Builder`].

use crate::BuildError;
use std::error::Error as _;
use std::fmt;
use std::path::PathBuf;

/// Errors building probes from a build script.
///
/// `Debug` shows the same text as `Display` followed by the causes, because that is what
/// cargo shows when `main` returns `Err` or a build script unwraps: clang's `file:line:col`
/// diagnostics then appear verbatim under `--- stderr`, not as an escaped string.
#[derive(thiserror::Error)]
pub enum BuildScriptError {
    /// An environment variable cargo sets for build scripts is missing.
    #[error("`{var}` is not set: Builder::from_env() runs in a build script (build.rs)")]
    MissingEnv {
        /// The variable.
        var: &'static str,
    },
    /// The crate is built for an arch coreship has no BPF objects for.
    #[error("target arch `{arch}` is not one coreship builds BPF objects for (x86_64, aarch64)")]
    UnsupportedArch {
        /// `CARGO_CFG_TARGET_ARCH`.
        arch: String,
    },
    /// The package declares no probes.
    #[error("no [package.metadata.coreship.probes.<name>] table with a `source` in {}", manifest.display())]
    NoProbes {
        /// The package's Cargo.toml.
        manifest: PathBuf,
    },
    /// A probe asked for by name does not declare the target's arch.
    #[error("probe `{probe}` is built for {arch} but declares arches = [{declared}]")]
    ProbeArch {
        /// The probe.
        probe: String,
        /// The target's arch.
        arch: coreship_registry::Arch,
        /// What it declares.
        declared: String,
    },
    /// Building failed (clang's diagnostics are in the message).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// libbpf-cargo could not generate a skeleton.
    #[error("cannot generate the skeleton of probe `{probe}`: {message}")]
    Skeleton {
        /// The probe.
        probe: String,
        /// What libbpf-cargo said (its error chain, joined).
        message: String,
    },
    /// A file could not be written.
    #[error("cannot write {}", path.display())]
    Io {
        /// The file (`-` for stdout).
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl fmt::Debug for BuildScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut cause = self.source();
        while let Some(c) = cause {
            write!(f, "\n\ncaused by: {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_compiler_output_verbatim_and_causes() {
        let e = BuildScriptError::Build(BuildError::Compile {
            probe: "p".into(),
            arch: coreship_registry::Arch::X86_64,
            command: "clang -c p.bpf.c".into(),
            dir: "/c".into(),
            stderr: "src/bpf/p.bpf.c:3:5: error: use of undeclared identifier \"x\"".into(),
        });
        let debug = format!("{e:?}");
        assert!(debug.contains("p.bpf.c:3:5: error: use of undeclared identifier \"x\"\n"));
        assert_eq!(debug, e.to_string());
        let e = BuildScriptError::Io {
            path: "/o".into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(format!("{e:?}"), "cannot write /o\n\ncaused by: disk full");
    }
}
