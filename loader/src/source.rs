//! Where a probe's bytes come from: an object file or a package directory.

use std::path::{Path, PathBuf};

use coreship_registry::{Arch, Package, PACKAGE_FILE};

use crate::LoadError;

/// A probe object ready to open: its bytes, a name for libbpf and where it came from.
#[derive(Debug, Clone)]
pub struct ProbeSource {
    /// Object name (the package name, or the file stem without `.bpf`).
    pub name: String,
    /// The object bytes.
    pub bytes: Vec<u8>,
    /// The file the bytes were read from (for messages).
    pub path: PathBuf,
    /// The package description, when read from a package directory.
    pub package: Option<Package>,
    /// Minimal BTF shipped for kernels without BTF: `(ID/VERSION_ID/ARCH/RELEASE, BTF)`.
    pub min_btf: Vec<(String, Vec<u8>)>,
}

impl ProbeSource {
    /// Reads an object file, or the `arch` object of a package directory (digest-verified).
    pub fn read(path: &Path, arch: Arch) -> Result<ProbeSource, LoadError> {
        let is_pkg = path.is_dir() || path.file_name().is_some_and(|n| n == PACKAGE_FILE);
        if is_pkg {
            let dir = if path.is_dir() {
                path
            } else {
                path.parent().unwrap_or(Path::new("."))
            };
            let package = Package::read_dir(dir)?;
            let (obj_path, bytes) = package.object_for(dir, arch)?;
            let min_btf = package.min_btf_for(dir, arch)?;
            return Ok(ProbeSource {
                name: package.name.clone(),
                bytes,
                path: obj_path,
                package: Some(package),
                min_btf,
            });
        }
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(ProbeSource::from_bytes(object_name(path), bytes, path))
    }

    /// Wraps bytes already in memory.
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>, path: &Path) -> ProbeSource {
        ProbeSource {
            name: name.into(),
            bytes,
            path: path.to_path_buf(),
            package: None,
            min_btf: Vec::new(),
        }
    }
}

/// `execsnoop` for `…/execsnoop.bpf.o`.
pub fn object_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "probe".into());
    let stem = file.strip_suffix(".o").unwrap_or(&file);
    stem.strip_suffix(".bpf").unwrap_or(stem).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_drop_bpf_suffixes() {
        assert_eq!(object_name(Path::new("a/execsnoop.bpf.o")), "execsnoop");
        assert_eq!(object_name(Path::new("x.o")), "x");
        assert_eq!(object_name(Path::new("noext")), "noext");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = ProbeSource::read(Path::new("/nonexistent/p.bpf.o"), Arch::X86_64).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/p.bpf.o"), "{err}");
    }
}
