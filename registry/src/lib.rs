//! coreship's artifact format, defined once.
//!
//! A *probe package* is what the builder produces and what the loader consumes: one relocatable
//! CO-RE BPF object per target architecture plus a [`Package`] description (`package.json`)
//! that names the probe, pins every object by its sha256 digest and lists the programs and maps
//! the object holds, including which BTF type each output map carries.
//!
//! The builder writes it ([`Package::write_dir`]), the loader reads and verifies it
//! ([`Package::read_dir`], [`Package::object_for`]); the OCI registry layer of a later issue wraps
//! the same description as an artifact config blob. Nothing here touches the kernel or the
//! network.
#![deny(missing_docs)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod arch;
pub mod artifact;
mod digest;
mod fsutil;
pub mod layout;
pub mod oci;
mod package;
mod reference;
pub mod store;

// --- registry client (feature `client`) ---
#[cfg(feature = "client")]
pub mod client;
// --- end registry client ---

pub use arch::{Arch, UnknownArch};
pub use digest::{DigestError, Sha256Digest};
pub use package::{
    ArchObject, BuildInfo, MapInfo, MapOutput, OutputKind, Package, PackageError, ProgramInfo,
    SourceInfo, PACKAGE_FILE, SCHEMA_VERSION,
};
pub use reference::{valid_repository, valid_tag, Reference, ReferenceError};
