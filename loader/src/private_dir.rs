//! Scratch directories for a loader that runs as root: never a predictable name in a shared,
//! world-writable directory such as /tmp, where anyone may have planted a symlink or a
//! directory of their own at that name first.
//!
//! A [`PrivateDir`] is made by `mkdir` with mode 0700: `mkdir` fails on any existing name —
//! directory, file or symlink, dangling or not — so a name someone else holds is never
//! reused; another, unguessable one is tried instead. Files in it are created with
//! `O_CREAT|O_EXCL|O_NOFOLLOW` and mode 0600. The directory and everything in it is removed
//! on drop.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Names tried before giving up: only an attacker holding every one of them exhausts this.
const ATTEMPTS: u32 = 64;

/// A directory only this process's user can enter, removed (with its content) on drop.
#[derive(Debug)]
pub(crate) struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// A new private directory `PREFIX-<pid>-<random>` in the temp dir (`$TMPDIR`, else /tmp).
    pub(crate) fn new(prefix: &str) -> io::Result<PrivateDir> {
        PrivateDir::new_in(&std::env::temp_dir(), prefix)
    }

    /// [`PrivateDir::new`] under `parent`.
    pub(crate) fn new_in(parent: &Path, prefix: &str) -> io::Result<PrivateDir> {
        PrivateDir::new_named(parent, prefix, unguessable)
    }

    /// Makes the directory under one of the names `suffix` gives for attempt 0, 1, …
    fn new_named(
        parent: &Path,
        prefix: &str,
        suffix: impl Fn(u32) -> u64,
    ) -> io::Result<PrivateDir> {
        let pid = std::process::id();
        for attempt in 0..ATTEMPTS {
            let path = parent.join(format!("{prefix}-{pid}-{:016x}", suffix(attempt)));
            match DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(PrivateDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{ATTEMPTS} names for a private directory in {} were all taken",
                parent.display()
            ),
        ))
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the new file `name` in the directory, mode 0600, refusing an existing name or
    /// a symlink; returns its path and the file open for writing.
    pub(crate) fn create_file(&self, name: &str) -> io::Result<(PathBuf, File)> {
        let path = self.path.join(name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)?;
        Ok((path, file))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A name part no one can predict: 8 bytes from the kernel's random source (on a kernel
/// without getrandom, the clock's nanoseconds, which `mkdir`'s refusal of taken names backs).
fn unguessable(attempt: u32) -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: the buffer is valid for its length; getrandom writes at most that many bytes.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), libc::GRND_NONBLOCK) };
    if n == bytes.len() as isize {
        return u64::from_ne_bytes(bytes);
    }
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ SEQ.fetch_add(1, Ordering::Relaxed).rotate_left(48) ^ u64::from(attempt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;

    /// A directory for one test, removed at its end.
    fn parent(tag: &str) -> PrivateDir {
        PrivateDir::new(&format!("coreship-private-dir-test-{tag}")).unwrap()
    }

    #[test]
    fn the_directory_is_private_new_and_removed_on_drop() {
        let parent = parent("mode");
        let dir = PrivateDir::new_in(parent.path(), "d").unwrap();
        let meta = fs::symlink_metadata(dir.path()).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        let other = PrivateDir::new_in(parent.path(), "d").unwrap();
        assert_ne!(dir.path(), other.path());
        let (file, mut f) = dir.create_file("x").unwrap();
        f.write_all(b"bytes").unwrap();
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn names_someone_else_holds_are_skipped_never_entered() {
        let parent = parent("planted");
        let elsewhere = parent.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        let pid = std::process::id();
        let name = |n: u32| parent.path().join(format!("d-{pid}-{:016x}", n));
        // A symlink to a directory, a dangling symlink, a directory and a file.
        std::os::unix::fs::symlink(&elsewhere, name(0)).unwrap();
        std::os::unix::fs::symlink(parent.path().join("nothing"), name(1)).unwrap();
        fs::create_dir(name(2)).unwrap();
        fs::write(name(3), b"").unwrap();
        let dir = PrivateDir::new_named(parent.path(), "d", u64::from).unwrap();
        assert_eq!(dir.path(), name(4));
        dir.create_file("x").unwrap();
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
        assert_eq!(fs::read_dir(name(2)).unwrap().count(), 0);
        assert!(!parent.path().join("nothing").exists());

        let err = PrivateDir::new_named(parent.path(), "d", |_| 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn a_file_is_never_created_through_a_symlink_or_over_a_file() {
        let dir = parent("file");
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("link")).unwrap();
        assert!(dir.create_file("link").is_err());
        assert!(dir.create_file("victim").is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        dir.create_file("new").unwrap();
    }
}
