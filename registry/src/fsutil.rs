//! Crash-safe file writes: a temp file in the target's directory, fsync, rename, fsync of the
//! directory. Readers see the old file or the whole new one, never a part.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Temp file names start with this; whoever cleans a directory may remove them.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// A file being written next to its final place; removed on drop unless persisted.
pub(crate) struct TempFile {
    file: File,
    path: PathBuf,
    persisted: bool,
}

impl TempFile {
    /// Creates a fresh temp file in `dir` (unique per process and call).
    pub(crate) fn new_in(dir: &Path) -> io::Result<TempFile> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{TEMP_PREFIX}{}-{seq}", std::process::id()));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(TempFile {
            file,
            path,
            persisted: false,
        })
    }

    /// fsyncs the data, renames it to `dest` and fsyncs `dest`'s directory.
    pub(crate) fn persist(mut self, dest: &Path) -> io::Result<()> {
        self.file.sync_all()?;
        fs::rename(&self.path, dest)?;
        self.persisted = true;
        sync_dir(dest.parent().unwrap_or(Path::new(".")))
    }
}

impl Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// fsyncs a directory so that renames and creations in it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` atomically (see the module docs).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let mut tmp = TempFile::new_in(dir.unwrap_or(Path::new(".")))?;
    tmp.write_all(bytes)?;
    tmp.persist(path)
}

/// Writes `bytes` to `path` only if `path` does not exist yet, atomically (temp file, fsync,
/// hard link, which fails if the name is taken). Returns whether it was created.
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let mut tmp = TempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.file.sync_all()?;
    let created = match fs::hard_link(&tmp.path, path) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
        Err(e) => return Err(e),
    };
    if created {
        sync_dir(dir)?;
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_temp_file_leaves_nothing_and_a_persisted_one_replaces_the_target() {
        let dir = std::env::temp_dir().join(format!("coreship-fsutil-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("f");
        write_atomic(&target, b"old").unwrap();
        {
            let mut t = TempFile::new_in(&dir).unwrap();
            t.write_all(b"half").unwrap();
        }
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        write_atomic(&target, b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        fs::remove_dir_all(&dir).unwrap();
    }
}
