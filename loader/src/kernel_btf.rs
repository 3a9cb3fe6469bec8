//! Which BTF CO-RE relocates against: `--btf FILE`, else the kernel's own
//! (`/sys/kernel/btf/vmlinux`), else the minimal BTF the artifact ships for this kernel
//! (matched by os-release ID, VERSION_ID, arch and `uname -r`), handed to libbpf's
//! `btf_custom_path`.
//!
//! libbpf reads that BTF by path, and the loader runs as root, so the bytes never go to a
//! predictable name in a shared directory (a symlink planted there would have root write
//! them wherever it points). They go to a memfd, read as `/proc/self/fd/N`: no filesystem
//! name at all, and it works on read-only roots. Without memfd or /proc, they go to a new
//! file (0600) in a private directory (0700) that `mkdir` made ([`PrivateDir`]).

use std::fs::File;
use std::io::Write as _;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use coreship_registry::{Arch, KernelKey};

use crate::private_dir::PrivateDir;
use crate::{LoadError, ProbeSource};

/// Where the kernel exposes its BTF.
pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

/// The BTF chosen for a load; the minimal BTF's bytes stay reachable at `path` until this is
/// dropped.
#[derive(Debug)]
pub(crate) struct ChosenBtf {
    /// Path for libbpf's `btf_custom_path`, or `None` for the kernel's own.
    pub path: Option<PathBuf>,
    /// The kernel key of the minimal BTF used, if one was.
    pub min_btf: Option<String>,
    _held: Option<Held>,
}

/// What keeps the minimal BTF's path valid.
#[derive(Debug)]
enum Held {
    /// The memfd `/proc/self/fd/N` names.
    Memfd { _fd: OwnedFd },
    /// The private directory holding the file (removed with it).
    Dir { _dir: PrivateDir },
}

/// Chooses the BTF for `src` (see the module docs). `ignore_kernel_btf` behaves as on a kernel
/// without BTF.
pub(crate) fn choose(
    src: &ProbeSource,
    btf: Option<&Path>,
    ignore_kernel_btf: bool,
) -> Result<ChosenBtf, LoadError> {
    let none = |path| ChosenBtf {
        path,
        min_btf: None,
        _held: None,
    };
    if let Some(b) = btf {
        return Ok(none(Some(b.to_path_buf())));
    }
    if !ignore_kernel_btf && Path::new(KERNEL_BTF).exists() {
        return Ok(none(None));
    }
    let arch = Arch::host().ok_or(LoadError::NoKernelBtf {
        running: "an unknown arch".into(),
        shipped: String::new(),
    })?;
    let key = KernelKey::running(arch).to_string();
    let Some((_, bytes)) = src.min_btf.iter().find(|(k, _)| *k == key) else {
        let shipped: Vec<&str> = src.min_btf.iter().map(|(k, _)| k.as_str()).collect();
        return Err(LoadError::NoKernelBtf {
            running: key,
            shipped: shipped.join(", "),
        });
    };
    let (path, held) = match memfd_with(bytes) {
        Some((path, fd)) => (path, Held::Memfd { _fd: fd }),
        None => {
            let (path, dir) =
                private_file_with(bytes).map_err(|source| LoadError::MinBtfWrite {
                    dir: std::env::temp_dir(),
                    source,
                })?;
            (path, Held::Dir { _dir: dir })
        }
    };
    Ok(ChosenBtf {
        path: Some(path),
        min_btf: Some(key),
        _held: Some(held),
    })
}

/// A memfd holding `bytes` and the path that opens it again, `/proc/self/fd/N`; `None` when
/// the kernel has no memfd (before 3.17, or a seccomp filter) or that path does not lead to
/// it (/proc not mounted).
fn memfd_with(bytes: &[u8]) -> Option<(PathBuf, OwnedFd)> {
    // SAFETY: the name is a NUL-terminated literal and the flags are valid.
    let fd = unsafe { libc::memfd_create(c"coreship-min-btf".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: memfd_create returned a new descriptor that nothing else owns.
    let mut file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.write_all(bytes).ok()?;
    let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    let (mine, seen) = (file.metadata().ok()?, std::fs::metadata(&path).ok()?);
    (mine.dev() == seen.dev() && mine.ino() == seen.ino()).then(|| (path, file.into()))
}

/// `bytes` in a new file of a new private directory; the directory goes when dropped.
fn private_file_with(bytes: &[u8]) -> std::io::Result<(PathBuf, PrivateDir)> {
    let dir = PrivateDir::new("coreship-min-btf")?;
    let (path, mut file) = dir.create_file("min.btf")?;
    file.write_all(bytes)?;
    Ok((path, dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn the_minimal_btf_lives_in_a_memfd_without_a_name_in_the_filesystem() {
        let (path, fd) = memfd_with(b"\x9f\xeb\x01\x00btf").expect("memfd and /proc work here");
        assert!(path.starts_with("/proc/self/fd"), "{}", path.display());
        assert_eq!(std::fs::read(&path).unwrap(), b"\x9f\xeb\x01\x00btf");
        let target = std::fs::read_link(&path).unwrap();
        assert!(
            target
                .to_string_lossy()
                .starts_with("/memfd:coreship-min-btf"),
            "{}",
            target.display()
        );
        drop(fd);
        assert!(
            std::fs::read(&path).is_err(),
            "readable after the fd closed"
        );
    }

    #[test]
    fn without_memfd_it_is_a_private_file_removed_with_its_directory() {
        let (path, dir) = private_file_with(b"btf").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"btf");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(path.parent(), Some(dir.path()));
        drop(dir);
        assert!(!path.exists());
    }
}
