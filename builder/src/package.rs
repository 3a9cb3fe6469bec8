//! The package description of a built probe (`<out>/<name>/package.json`).

use crate::compile::Compiled;
use crate::flags::CFLAGS;
use crate::headers;
use crate::paths::{Loc, PathMapper};
use crate::rust_probe::{RustToolchain, CARGO_ARGS};
use crate::{BuildError, Clang, ProbeSpec};
use coreship_loader::ObjectSummary;
use coreship_registry::{ArchObject, BuildInfo, Package, Sha256Digest, SourceInfo, SCHEMA_VERSION};
use std::fs;
use std::path::Path;

/// The compiler recorded in a package description.
pub(crate) struct Toolchain {
    /// Its version line.
    version: String,
    /// Its flags other than the per-arch define and paths.
    flags: Vec<String>,
}

impl Toolchain {
    /// clang with [`CFLAGS`].
    pub(crate) fn clang(clang: &Clang) -> Toolchain {
        Toolchain {
            version: clang.version.clone(),
            flags: CFLAGS.iter().map(|f| f.to_string()).collect(),
        }
    }

    /// Nightly rustc, with cargo's arguments as the flags.
    pub(crate) fn rust(rust: &RustToolchain) -> Toolchain {
        Toolchain {
            version: rust.version.clone(),
            flags: CARGO_ARGS.iter().map(|f| f.to_string()).collect(),
        }
    }
}

/// Describes the objects of `probe` (in arch order, at least one) and writes the description
/// into `dir` when it changed.
pub(crate) fn write_package(
    probe: &ProbeSpec,
    objects: &[Compiled],
    toolchain: &Toolchain,
    m: &PathMapper,
    dir: &Path,
) -> Result<Package, BuildError> {
    let first = objects.first().expect("a probe has at least one arch");
    let mut entries = Vec::new();
    let mut first_bytes = Vec::new();
    for o in objects {
        let bytes = fs::read(&o.object).map_err(BuildError::io("read", &o.object))?;
        entries.push(ArchObject {
            arch: o.arch,
            file: format!("{}/{}.bpf.o", o.arch, probe.name),
            sha256: Sha256Digest::of(&bytes),
            size: bytes.len() as u64,
            min_btf: o.min_btf.clone(),
        });
        if first_bytes.is_empty() {
            first_bytes = bytes;
        }
    }
    // Programs and maps are the same for every arch; read them from the first.
    let summary =
        ObjectSummary::from_bytes(&probe.name, &first_bytes).map_err(|e| BuildError::Summary {
            path: first.object.clone(),
            source: Box::new(e),
        })?;
    let pkg = Package {
        schema_version: SCHEMA_VERSION,
        name: probe.name.clone(),
        version: probe.version.clone(),
        description: probe.description.clone(),
        license: summary.license,
        source: SourceInfo {
            file: m.stable(&probe.source),
            sha256: first.inputs,
        },
        build: BuildInfo {
            clang: toolchain.version.clone(),
            kernel_release: kernel_release(&first.files, m),
            cflags: toolchain.flags.clone(),
        },
        objects: entries,
        programs: summary.programs,
        maps: summary.maps,
    };
    if Package::read_dir(dir).ok().as_ref() != Some(&pkg) {
        pkg.write_dir(dir)
            .map_err(BuildError::io("write the package description in", dir))?;
    }
    Ok(pkg)
}

/// The release recorded in the `vmlinux.h` among `files`.
fn kernel_release(files: &[Loc], m: &PathMapper) -> Option<String> {
    files
        .iter()
        .find(|f| f.name() == "vmlinux.h" || f.name().ends_with("/vmlinux.h"))
        .and_then(|f| headers::kernel_release(&m.resolve(f)))
}
