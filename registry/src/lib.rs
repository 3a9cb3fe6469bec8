//! coreship's artifact format, defined once.
//!
//! A *probe package* is what the builder produces and what the loader consumes: one relocatable
//! CO-RE BPF object per target architecture plus a [`Package`] description (`package.json`)
//! that names the probe, pins every object by its sha256 digest and lists the programs and maps
//! the object holds, including which BTF type each output map carries.
//!
//! The builder writes it ([`Package::write_dir`]), the loader reads and verifies it
//! ([`Package::read_dir`], [`Package::object_for`]); the OCI artifact ([`artifact`]) carries the
//! same description as its config blob. Nothing here touches the kernel or the
//! network.
//!
//! # Signatures
//!
//! A pushed artifact can carry [minisign] signatures. What is signed is the UTF-8 string of the
//! artifact's top-level manifest digest, `sha256:<64 hex>` with no newline, as a standard
//! prehashed (`ED`) minisign signature whose trusted comment ([`trusted_comment`]) reads
//! `coreship digest=sha256:<hex> name=<repository> [tag=<tag> ]timestamp=<unix seconds>`: a
//! signature is for one repository and, when pushed under a tag, that tag ([`SignedName`]), so
//! an artifact cannot be served under a name it was not signed for. The loader checks
//! signatures with [`TrustedKeys`] (always built, one dependency-free crate); the builder makes
//! keys with `keygen` and signs with `SecretKey` (cargo feature `sign`). The `minisign` CLI
//! stands in on either side: with the digest string in a file, `minisign -Vm FILE -p KEY.pub -x
//! SIG` checks a coreship signature, and `minisign -Sm FILE -t COMMENT` with the comment
//! `coreship sign REF --print-comment` prints makes one that coreship accepts.
//!
//! [minisign]: https://jedisct1.github.io/minisign/
#![deny(missing_docs)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

/// `impl Debug` for error types as their `Display` message. Errors reach users through
/// `Display` only; a derived `Debug` per variant is code the static loader would carry for
/// nothing (~10 KiB of it across the error enums, pulled in by anyhow's vtables).
#[doc(hidden)]
#[macro_export]
macro_rules! debug_as_display {
    ($($t:ty),* $(,)?) => {
        $(impl ::std::fmt::Debug for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(self, f)
            }
        })*
    };
}

mod arch;
pub mod artifact;
mod cache_dir;
mod digest;
mod fsutil;
pub mod layout;
mod min_btf;
pub mod oci;
mod package;
mod reference;
#[cfg(feature = "server")]
pub mod server;
mod signature;
pub mod store;
mod tarball;
#[doc(hidden)]
pub mod testing;
mod time;

// --- registry client (feature `client`) ---
#[cfg(feature = "client")]
pub mod client;
// --- end registry client ---

pub use arch::{Arch, UnknownArch};
pub use cache_dir::cache_dir;
pub use digest::{DigestError, Sha256Digest};
pub use min_btf::{btfhub_arch, os_release_ids, KernelKey};
pub use package::{
    ArchObject, BuildInfo, MapInfo, MapOutput, MinBtfFile, OutputKind, Package, PackageError,
    ProgramInfo, SourceInfo, PACKAGE_FILE, SCHEMA_VERSION,
};
pub use reference::{valid_repository, valid_tag, Reference, ReferenceError};
pub use signature::{
    check_signed_for, trusted_comment, KeyId, PublicKey, SignatureError, SignedName, TrustedKeys,
    Verified,
};
#[cfg(feature = "sign")]
pub use signature::{keygen, SecretKey};
pub use time::rfc3339;
