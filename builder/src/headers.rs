//! The generated include directory `<out>/include`: libbpf's API headers under `bpf/` (from the
//! libbpf coreship links, so helpers match the loader's libbpf), `coreship.h` (the copy this
//! builder was built with, so probes outside this repository can include it) and, when no
//! include dir has
//! one, a `vmlinux.h` generated from kernel BTF. Files are rewritten only when their content
//! changes, so mtimes and input hashes stay put.

use crate::fs::write_if_changed;
use crate::vmlinux::{self, VmlinuxOpts};
use crate::BuildError;
use std::path::{Path, PathBuf};

/// `<out>/include`.
pub(crate) fn include_dir(out: &Path) -> PathBuf {
    out.join("include")
}

/// coreship.h as this builder knows it (a workspace's own `bpf/include` comes first in the
/// include path, so a repository can carry a newer one).
pub const CORESHIP_H: &str = include_str!("../../bpf/include/coreship.h");

/// Writes `libbpf_sys::API_HEADERS` to `<dir>/bpf/` and coreship.h to `<dir>/`.
pub(crate) fn write_libbpf_headers(dir: &Path) -> Result<(), BuildError> {
    for (name, text) in libbpf_sys::API_HEADERS {
        let path = dir.join("bpf").join(name);
        write_if_changed(&path, text.as_bytes()).map_err(BuildError::io("write", &path))?;
    }
    let path = dir.join("coreship.h");
    write_if_changed(&path, CORESHIP_H.as_bytes()).map_err(BuildError::io("write", &path))?;
    Ok(())
}

/// Whether `#include "vmlinux.h"` from a source in `source_dir` finds a header in the
/// source's own directory or one of `dirs`.
pub(crate) fn finds_vmlinux(source_dir: &Path, dirs: &[PathBuf]) -> bool {
    std::iter::once(source_dir)
        .chain(dirs.iter().map(PathBuf::as_path))
        .any(|d| d.join("vmlinux.h").is_file())
}

/// Generates `<dir>/vmlinux.h` from `btf` (default: the running kernel's).
pub(crate) fn write_vmlinux(dir: &Path, btf: Option<&Path>) -> Result<PathBuf, BuildError> {
    let v = vmlinux::generate(&VmlinuxOpts {
        btf: btf.map(Path::to_path_buf),
    })
    .map_err(BuildError::Vmlinux)?;
    let path = dir.join("vmlinux.h");
    write_if_changed(&path, &v.header).map_err(BuildError::io("write", &path))?;
    Ok(path)
}

/// The kernel release recorded in the `vmlinux.h` at `path`, if any.
pub(crate) fn kernel_release(path: &Path) -> Option<String> {
    use std::io::Read as _;
    // The define sits in the first lines; don't read megabytes.
    let mut head = vec![0u8; 4096];
    let mut f = std::fs::File::open(path).ok()?;
    let n = f.read(&mut head).ok()?;
    vmlinux::release_from_header(&head[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libbpf_headers_are_written_once() {
        let dir =
            std::env::temp_dir().join(format!("coreship-headers-unit-{}", std::process::id()));
        write_libbpf_headers(&dir).unwrap();
        let helpers = dir.join("bpf/bpf_helpers.h");
        for h in [
            "bpf_helpers.h",
            "bpf_helper_defs.h",
            "bpf_tracing.h",
            "bpf_core_read.h",
        ] {
            assert!(dir.join("bpf").join(h).is_file(), "{h}");
        }
        assert!(std::fs::read_to_string(dir.join("coreship.h"))
            .unwrap()
            .contains("CORESHIP_EVENTS"));
        let mtime = std::fs::metadata(&helpers).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_libbpf_headers(&dir).unwrap();
        assert_eq!(
            std::fs::metadata(&helpers).unwrap().modified().unwrap(),
            mtime
        );

        assert!(!finds_vmlinux(&dir, &[dir.join("bpf")]));
        std::fs::write(
            dir.join("bpf/vmlinux.h"),
            "#define __CORESHIP_VMLINUX_RELEASE \"6.1.0\"\n",
        )
        .unwrap();
        assert!(finds_vmlinux(&dir, &[dir.join("bpf")]));
        assert_eq!(
            kernel_release(&dir.join("bpf/vmlinux.h")).as_deref(),
            Some("6.1.0")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
