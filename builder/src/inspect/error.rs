//! Errors of `inspect`, each naming the object and what is wrong with it.

use super::BtfExtError;
use std::path::PathBuf;

/// Why an object could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a usable BPF object (not ELF, corrupt, another machine's, no BTF).
    #[error("{path} {problem}")]
    Elf {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        problem: coreship_loader::ElfError,
    },
    /// `.BTF` could not be decoded.
    #[error("{path} has a corrupt .BTF section")]
    Btf {
        /// The file.
        path: PathBuf,
        /// What the BTF parser found.
        #[source]
        source: btf_rs::Error,
    },
    /// `.BTF.ext` is malformed.
    #[error("{path} has a corrupt .BTF.ext section")]
    BtfExt {
        /// The file.
        path: PathBuf,
        /// The first inconsistency found.
        #[source]
        source: BtfExtError,
    },
    /// A `.BTF.ext` string offset does not start a string in `.BTF`.
    #[error("{path} has a corrupt .BTF.ext section: {what} offset {offset} is not a .BTF string")]
    BadString {
        /// The file.
        path: PathBuf,
        /// Which string (section name or access string).
        what: &'static str,
        /// The offset.
        offset: u32,
    },
    /// libbpf could not open the object to list its settings (`.rodata` globals).
    #[error("cannot list the settings of {path}")]
    Settings {
        /// The file.
        path: PathBuf,
        /// The loader's error.
        #[source]
        source: coreship_loader::LoadError,
    },
    /// libbpf could not open the object to list programs and maps.
    #[error("cannot list the programs and maps of {path}")]
    Summary {
        /// The file.
        path: PathBuf,
        /// The loader's error.
        #[source]
        source: coreship_loader::LoadError,
    },
}
