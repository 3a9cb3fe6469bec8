//! coreship's builder: compile BPF C once into relocatable CO-RE objects and package them.
//!
//! [`build`] runs these phases:
//! 1. **clang** ([`Clang::find`]): `$CLANG`, `clang-19` … `clang-14`, then `clang`.
//! 2. **manifest** ([`read_workspace`]): probes declared under
//!    `[workspace.metadata.coreship.probes.<name>]` and `[package.metadata.coreship.probes.<name>]`
//!    (read with `cargo metadata`), or `NAME.bpf.c` files given directly.
//! 3. **headers**: libbpf's API headers, and a `vmlinux.h` from kernel BTF
//!    ([`generate_vmlinux`], what `bpftool btf dump … format c` prints) when no include dir has
//!    one, written to `<out>/include` only when their content changes.
//! 4. **compile** (one job per probe and arch, on a thread pool): clang with flags that keep
//!    checkout paths out of the object, skipped when the input hash (clang version, flags,
//!    source and every header of the depfile) matches the recorded one.
//! 5. **link**: libbpf's static linker drops DWARF and keeps `.BTF`/`.BTF.ext`; BTF forward
//!    declarations get a canonical order (clang emits them in heap-address order), so objects
//!    are byte-identical across checkouts.
//! 6. **package**: `<out>/<name>/package.json` ([`coreship_registry::Package`]) pinning each
//!    object by digest and listing its programs and maps.
//!
//! [`Builder`] runs the same phases from a crate's `build.rs`, for the crate's target arch,
//! into `OUT_DIR` (its docs show the layout and the cargo directives it prints).
//!
//! Probes may also be Rust crates (`rust = "dir"` instead of `source`), built with nightly
//! cargo and bpf-linker; a machine without them gets [`BuildError::RustToolchain`] naming
//! each [`MissingRustTool`].
//!
//! [`export`] and `push` package built probes as OCI artifacts (the format is
//! `coreship_registry::artifact`'s): an image layout directory or tar, or a registry, signed
//! with a minisign key when one is given.
//!
//! [`inspect_file`] reads a built object back (programs, maps, output types, CO-RE
//! relocations) for `coreship inspect`.
//!
//! Nothing here prints: results come back as [`BuildReport`], failures as typed errors that
//! carry the file, the command line and the compiler's stderr.
#![deny(missing_docs)]
#![deny(clippy::print_stdout, clippy::print_stderr)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod btf_order;
mod build;
mod build_script;
mod clang;
mod compile;
mod depfile;
mod error;
mod fingerprint;
mod flags;
mod fs;
mod headers;
mod inspect;
mod jobs;
mod libbpf_log;
mod link;
mod manifest;
mod min_btf;
mod package;
mod paths;
mod publish;
mod rust_probe;
mod select;
mod vmlinux;

pub use btf_order::BtfOrderError;
pub use build::{build, BuildOpts, BuildReport, Freshness, ObjectReport, ProbeReport};
pub use build_script::{
    All, BuildScriptError, BuildScriptReport, Builder, Named, Selected, Unselected,
};
pub use clang::{Clang, ClangError};
pub use error::BuildError;
pub use fs::write_atomic;
pub use inspect::{
    inspect_bytes, inspect_file, BtfExt, BtfExtError, CoreReloGroup, CoreReloKind, CoreReloRecord,
    CoreRelocation, InspectError, InspectedMap, InspectedSetting, Inspection, SectionRelocations,
};
pub use libbpf_log::LibbpfError;
pub use link::LinkError;
pub use manifest::{read_workspace, ManifestError, ProbeLang, ProbeSpec, Workspace};
pub use publish::{
    attach_signature, default_name, export, pack, pack_options, push, sign, Flavor, PublishError,
    Published,
};
pub use rust_probe::MissingRustTool;
pub use vmlinux::{
    generate as generate_vmlinux, release_from_header, BtfArch, Vmlinux, VmlinuxError, VmlinuxOpts,
    KERNEL_BTF, RELEASE_DEFINE,
};
