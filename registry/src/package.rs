//! The probe package description (`package.json`) and the on-disk package directory.
//!
//! Layout of a package directory, as `coreship build` writes it:
//! ```text
//! <dir>/package.json
//! <dir>/<arch>/<name>.bpf.o      one per built arch, named in `objects[].file`
//! ```

use crate::{Arch, Sha256Digest};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

/// File name of the description inside a package directory.
pub const PACKAGE_FILE: &str = "package.json";

/// Version of the description schema this crate writes. Readers reject newer majors.
pub const SCHEMA_VERSION: u32 = 1;

/// Description of one probe package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Probe name, e.g. `execsnoop`.
    pub name: String,
    /// Probe version (semver by convention).
    pub version: String,
    /// One-line description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// License from the object's `license` section (the kernel checks it for GPL-only helpers).
    pub license: String,
    /// The C source the objects were compiled from.
    pub source: SourceInfo,
    /// How the objects were built.
    pub build: BuildInfo,
    /// One object per architecture.
    pub objects: Vec<ArchObject>,
    /// BPF programs in the object (identical across arches).
    pub programs: Vec<ProgramInfo>,
    /// BPF maps in the object (identical across arches).
    pub maps: Vec<MapInfo>,
}

/// Where the objects came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Source file, relative to the workspace root.
    pub file: String,
    /// Digest over the source and every header it includes (the build's input hash).
    pub sha256: Sha256Digest,
}

/// Toolchain and kernel the objects were built with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildInfo {
    /// `clang --version` first line.
    pub clang: String,
    /// Kernel release whose BTF produced the `vmlinux.h` used, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_release: Option<String>,
    /// clang flags other than the per-arch define and file paths.
    pub cflags: Vec<String>,
}

/// One compiled object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchObject {
    /// Architecture the object was compiled for.
    pub arch: Arch,
    /// Path of the object relative to the package directory.
    pub file: String,
    /// Digest of the object file.
    pub sha256: Sha256Digest,
    /// Size in bytes.
    pub size: u64,
    /// Minimal BTF for kernels without BTF (`coreship build --min-btf DIR`), one per kernel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub min_btf: Vec<MinBtfFile>,
}

/// A minimal BTF file for one kernel, in the package directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinBtfFile {
    /// The kernel: `ID/VERSION_ID/ARCH/RELEASE` (see [`crate::KernelKey`]).
    pub kernel: String,
    /// Path relative to the package directory.
    pub file: String,
    /// Digest of the file.
    pub sha256: Sha256Digest,
}

/// A BPF program in the object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgramInfo {
    /// Function name.
    pub name: String,
    /// ELF section, e.g. `tp/sched/sched_process_exec`.
    pub section: String,
    /// libbpf program type, e.g. `tracepoint`.
    pub prog_type: String,
    /// Attach point named by the section (`sched/sched_process_exec`), when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
}

/// A BPF map in the object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapInfo {
    /// Map name.
    pub name: String,
    /// Map type, e.g. `ringbuf`, `percpu_hash`.
    pub map_type: String,
    /// BTF name of the key type, when the map has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// BTF name of the value type, when the map has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
    /// What the loader prints from this map, when it is declared with `coreship.h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<MapOutput>,
}

/// An output declaration read from the object's BTF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapOutput {
    /// What kind of output the map carries.
    pub kind: OutputKind,
    /// BTF type name of the event (for events) or the key (for histograms and counters).
    pub type_name: String,
}

/// Kinds of output map `coreship.h` can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// A ring buffer or perf event array carrying one event struct per record.
    Events,
    /// A log2 histogram keyed by a user key plus a slot.
    Hist,
    /// A counter map: key to a 64-bit count.
    Counter,
    /// A stack trace map: the stack ids a stack-profile counter's `kstack`/`ustack` hold.
    Stacks,
}

/// Errors reading or verifying a package.
#[derive(thiserror::Error)]
pub enum PackageError {
    /// The description could not be read.
    #[error("cannot read {path}")]
    Io {
        /// File that failed.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The description is not valid JSON of this schema.
    #[error("{path} is not a coreship package description")]
    Parse {
        /// File that failed.
        path: PathBuf,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// The description was written by a newer coreship.
    #[error("{path} has schema version {found}, this coreship reads up to {SCHEMA_VERSION}: upgrade coreship")]
    Schema {
        /// File that failed.
        path: PathBuf,
        /// Version found.
        found: u32,
    },
    /// The package has no object for the requested arch.
    #[error("package {name} has no object for {arch} (it has: {available}); rebuild it with `coreship build --arch {arch}`")]
    NoArch {
        /// Package name.
        name: String,
        /// Requested arch.
        arch: Arch,
        /// Arches the package has.
        available: String,
    },
    /// An object's bytes do not match the digest the description pins.
    #[error("{path}: digest mismatch: expected {expected}, got {actual}; the object was modified or corrupted, rebuild or re-fetch it")]
    DigestMismatch {
        /// Object file.
        path: PathBuf,
        /// Digest from the description.
        expected: Sha256Digest,
        /// Digest of the bytes read.
        actual: Sha256Digest,
    },
    /// A file path in the description (an object or a minimal BTF file) escapes the package
    /// directory.
    #[error("package {name}: file path `{file}` is not a plain relative path")]
    BadPath {
        /// Package name.
        name: String,
        /// Offending path.
        file: String,
    },
}

impl Package {
    /// Parses a description from JSON bytes; `path` is only used in errors.
    pub fn from_json(bytes: &[u8], path: &Path) -> Result<Package, PackageError> {
        let pkg: Package = serde_json::from_slice(bytes).map_err(|source| PackageError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        if pkg.schema_version > SCHEMA_VERSION {
            return Err(PackageError::Schema {
                path: path.to_path_buf(),
                found: pkg.schema_version,
            });
        }
        let files = pkg
            .objects
            .iter()
            .flat_map(|o| std::iter::once(&o.file).chain(o.min_btf.iter().map(|m| &m.file)));
        for file in files {
            let plain = Path::new(file)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !plain || file.is_empty() {
                return Err(PackageError::BadPath {
                    name: pkg.name.clone(),
                    file: file.clone(),
                });
            }
        }
        Ok(pkg)
    }

    /// Serializes the description as pretty JSON with a trailing newline (stable field order).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("package serializes");
        out.push(b'\n');
        out
    }

    /// Reads `<dir>/package.json`.
    pub fn read_dir(dir: &Path) -> Result<Package, PackageError> {
        let path = dir.join(PACKAGE_FILE);
        let bytes = fs::read(&path).map_err(|source| PackageError::Io {
            path: path.clone(),
            source,
        })?;
        Package::from_json(&bytes, &path)
    }

    /// Writes `<dir>/package.json` atomically (temp file, fsync, rename).
    pub fn write_dir(&self, dir: &Path) -> std::io::Result<()> {
        crate::fsutil::write_atomic(&dir.join(PACKAGE_FILE), &self.to_json())
    }

    /// The object entry for `arch`.
    pub fn object(&self, arch: Arch) -> Result<&ArchObject, PackageError> {
        self.objects
            .iter()
            .find(|o| o.arch == arch)
            .ok_or_else(|| PackageError::NoArch {
                name: self.name.clone(),
                arch,
                available: self
                    .objects
                    .iter()
                    .map(|o| o.arch.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Reads the minimal BTF files of the `arch` object from package directory `dir`, each
    /// verified against its digest: `(kernel key, BTF bytes)`.
    pub fn min_btf_for(
        &self,
        dir: &Path,
        arch: Arch,
    ) -> Result<Vec<(String, Vec<u8>)>, PackageError> {
        let entry = self.object(arch)?;
        let mut out = Vec::new();
        for m in &entry.min_btf {
            let path = dir.join(&m.file);
            let bytes = fs::read(&path).map_err(|source| PackageError::Io {
                path: path.clone(),
                source,
            })?;
            let actual = Sha256Digest::of(&bytes);
            if actual != m.sha256 {
                return Err(PackageError::DigestMismatch {
                    path,
                    expected: m.sha256,
                    actual,
                });
            }
            out.push((m.kernel.clone(), bytes));
        }
        Ok(out)
    }

    /// Reads the object for `arch` from package directory `dir` and verifies its digest.
    pub fn object_for(&self, dir: &Path, arch: Arch) -> Result<(PathBuf, Vec<u8>), PackageError> {
        let entry = self.object(arch)?;
        let path = dir.join(&entry.file);
        let bytes = fs::read(&path).map_err(|source| PackageError::Io {
            path: path.clone(),
            source,
        })?;
        let actual = Sha256Digest::of(&bytes);
        if actual != entry.sha256 {
            return Err(PackageError::DigestMismatch {
                path,
                expected: entry.sha256,
                actual,
            });
        }
        Ok((path, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Package {
        Package {
            schema_version: SCHEMA_VERSION,
            name: "execsnoop".into(),
            version: "0.1.0".into(),
            description: Some("exec events".into()),
            license: "GPL".into(),
            source: SourceInfo {
                file: "bpf/execsnoop.bpf.c".into(),
                sha256: Sha256Digest::of(b"src"),
            },
            build: BuildInfo {
                clang: "Debian clang version 19.1.7".into(),
                kernel_release: Some("6.18.44".into()),
                cflags: vec!["-g".into(), "-O2".into()],
            },
            objects: vec![ArchObject {
                arch: Arch::X86_64,
                file: "x86_64/execsnoop.bpf.o".into(),
                sha256: Sha256Digest::of(b"obj"),
                size: 3,
                min_btf: Vec::new(),
            }],
            programs: vec![ProgramInfo {
                name: "handle_exec".into(),
                section: "tp/sched/sched_process_exec".into(),
                prog_type: "tracepoint".into(),
                attach: Some("sched/sched_process_exec".into()),
            }],
            maps: vec![MapInfo {
                name: "events".into(),
                map_type: "ringbuf".into(),
                key_type: None,
                value_type: None,
                output: Some(MapOutput {
                    kind: OutputKind::Events,
                    type_name: "struct event".into(),
                }),
            }],
        }
    }

    #[test]
    fn json_round_trips() {
        let pkg = sample();
        let back = Package::from_json(&pkg.to_json(), Path::new("p.json")).unwrap();
        assert_eq!(back, pkg);
    }

    #[test]
    fn newer_schema_is_rejected_with_advice() {
        let mut pkg = sample();
        pkg.schema_version = SCHEMA_VERSION + 1;
        let err = Package::from_json(&pkg.to_json(), Path::new("p.json")).unwrap_err();
        assert!(err.to_string().contains("upgrade coreship"), "{err}");
    }

    #[test]
    fn escaping_object_paths_are_rejected() {
        for bad in ["../x.o", "/etc/passwd", ""] {
            let mut pkg = sample();
            pkg.objects[0].file = bad.into();
            let err = Package::from_json(&pkg.to_json(), Path::new("p.json")).unwrap_err();
            assert!(matches!(err, PackageError::BadPath { .. }), "{bad}: {err}");
        }
    }

    /// Fuzzing (fuzz/corpus/package/bad-min-btf-path): minimal BTF paths were not checked, so
    /// `min_btf_for` read `/etc/…` or `../…` named by a package.json.
    #[test]
    fn escaping_min_btf_paths_are_rejected() {
        for bad in ["../x.btf", "/etc/passwd", "", "a/../../b"] {
            let mut pkg = sample();
            pkg.objects[0].min_btf.push(MinBtfFile {
                kernel: "debian/12/x86_64/6.1.0".into(),
                file: bad.into(),
                sha256: Sha256Digest::of(b"btf"),
            });
            let err = Package::from_json(&pkg.to_json(), Path::new("p.json")).unwrap_err();
            assert!(matches!(err, PackageError::BadPath { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn missing_arch_names_what_exists() {
        let err = sample().object(Arch::Aarch64).unwrap_err().to_string();
        assert!(err.contains("no object for aarch64"), "{err}");
        assert!(err.contains("x86_64"), "{err}");
    }

    #[test]
    fn object_digest_is_verified() {
        let dir = std::env::temp_dir().join(format!("coreship-pkg-test-{}", std::process::id()));
        fs::create_dir_all(dir.join("x86_64")).unwrap();
        let pkg = sample();
        pkg.write_dir(&dir).unwrap();
        fs::write(dir.join("x86_64/execsnoop.bpf.o"), b"obj").unwrap();
        let read = Package::read_dir(&dir).unwrap();
        assert_eq!(read.object_for(&dir, Arch::X86_64).unwrap().1, b"obj");
        fs::write(dir.join("x86_64/execsnoop.bpf.o"), b"tampered").unwrap();
        let err = read.object_for(&dir, Arch::X86_64).unwrap_err();
        assert!(matches!(err, PackageError::DigestMismatch { .. }), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}

crate::debug_as_display!(PackageError);
