//! A content-addressed blob directory: `<root>/blobs/sha256/<hex>`, the layout of an OCI image
//! layout directory. The registry server, the loader's cache and exported layouts all keep
//! their blobs here.
//!
//! A blob becomes visible only once whole and verified: bytes go to a temp file in the same
//! directory, are hashed on the way, fsynced and renamed to their digest. A crash at any point
//! leaves at most a `.tmp-*` file, which [`BlobStore::remove_temp_files`] clears.

use crate::fsutil::{TempFile, TEMP_PREFIX};
use crate::Sha256Digest;
use sha2::{Digest as _, Sha256};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Errors of the blob store.
#[derive(thiserror::Error)]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("{path}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The bytes do not have the digest they were announced with; nothing was stored.
    #[error("content digest is {actual}, expected {expected}: the data was corrupted or truncated in transit")]
    DigestMismatch {
        /// Announced digest.
        expected: Sha256Digest,
        /// Digest of the bytes received.
        actual: Sha256Digest,
    },
    /// A stored blob no longer has the digest it is named by (changed on disk).
    #[error("stored blob {path} is corrupt (its content hashes to {actual}); remove it and fetch it again")]
    Corrupt {
        /// The blob file.
        path: PathBuf,
        /// What it hashes to now.
        actual: Sha256Digest,
    },
    /// No blob with this digest.
    #[error("blob {0} is not in the store")]
    NotFound(Sha256Digest),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A content-addressed blob directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    /// Opens (creating if needed) the store under `root` (blobs live in `root/blobs/sha256`).
    pub fn open(root: &Path) -> Result<BlobStore, StoreError> {
        let dir = root.join("blobs").join("sha256");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(BlobStore { dir })
    }

    /// Where the blob with `digest` is (or would be) stored.
    pub fn path(&self, digest: &Sha256Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    /// Size of the stored blob, if present.
    pub fn size(&self, digest: &Sha256Digest) -> Option<u64> {
        fs::metadata(self.path(digest)).ok().map(|m| m.len())
    }

    /// Whether the blob is present.
    pub fn contains(&self, digest: &Sha256Digest) -> bool {
        self.size(digest).is_some()
    }

    /// Stores `bytes` and returns their digest (a no-op if already present).
    pub fn put(&self, bytes: &[u8]) -> Result<Sha256Digest, StoreError> {
        let digest = Sha256Digest::of(bytes);
        self.put_verified(&digest, bytes)?;
        Ok(digest)
    }

    /// Streams `reader` into the store, refusing it unless it hashes to `expected`.
    /// Returns the number of bytes stored.
    pub fn put_verified(
        &self,
        expected: &Sha256Digest,
        reader: impl Read,
    ) -> Result<u64, StoreError> {
        let mut w = self.writer()?;
        let mut reader = reader;
        let n = io::copy(&mut reader, &mut w).map_err(io_err(&self.dir))?;
        w.commit(Some(expected))?;
        Ok(n)
    }

    /// A writer for a new blob whose digest is known only at the end.
    pub fn writer(&self) -> Result<BlobWriter, StoreError> {
        Ok(BlobWriter {
            tmp: TempFile::new_in(&self.dir).map_err(io_err(&self.dir))?,
            hasher: Sha256::new(),
            len: 0,
            store: self.clone(),
        })
    }

    /// Moves an existing file (on the same filesystem, e.g. a finished upload) into the store
    /// after hashing it; refuses it, leaving it where it is, unless it hashes to `expected`.
    pub fn adopt_file(&self, file: &Path, expected: &Sha256Digest) -> Result<u64, StoreError> {
        let (actual, len) = hash_file(file)?;
        if actual != *expected {
            return Err(StoreError::DigestMismatch {
                expected: *expected,
                actual,
            });
        }
        let dest = self.path(expected);
        fs::File::open(file)
            .and_then(|f| f.sync_all())
            .and_then(|_| fs::rename(file, &dest))
            .and_then(|_| crate::fsutil::sync_dir(&self.dir))
            .map_err(io_err(&dest))?;
        Ok(len)
    }

    /// Reads a whole blob and checks it still has its digest.
    pub fn read(&self, digest: &Sha256Digest) -> Result<Vec<u8>, StoreError> {
        let path = self.path(digest);
        let bytes = fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::NotFound(*digest),
            _ => StoreError::Io {
                path: path.clone(),
                source: e,
            },
        })?;
        let actual = Sha256Digest::of(&bytes);
        if actual != *digest {
            return Err(StoreError::Corrupt { path, actual });
        }
        Ok(bytes)
    }

    /// Checks a stored blob's content against its name without reading it into memory.
    pub fn verify(&self, digest: &Sha256Digest) -> Result<(), StoreError> {
        let path = self.path(digest);
        if !path.exists() {
            return Err(StoreError::NotFound(*digest));
        }
        let (actual, _) = hash_file(&path)?;
        if actual != *digest {
            return Err(StoreError::Corrupt { path, actual });
        }
        Ok(())
    }

    /// Removes a blob (no error if absent).
    pub fn remove(&self, digest: &Sha256Digest) -> Result<(), StoreError> {
        let path = self.path(digest);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(StoreError::Io { path, source: e })
            }
            _ => Ok(()),
        }
    }

    /// Every stored blob's digest (temp files and stray names skipped).
    pub fn list(&self) -> Result<Vec<Sha256Digest>, StoreError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let entry = entry.map_err(io_err(&self.dir))?;
            if let Some(name) = entry.file_name().to_str() {
                if let Ok(d) = format!("sha256:{name}").parse() {
                    out.push(d);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes temp files older than `age` left by interrupted writes; returns how many.
    pub fn remove_temp_files(&self, age: Duration) -> Result<usize, StoreError> {
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let entry = entry.map_err(io_err(&self.dir))?;
            let is_temp = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(TEMP_PREFIX));
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| now.duration_since(t).unwrap_or_default() >= age)
                .unwrap_or(false);
            if is_temp && old && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// A blob being written; see [`BlobStore::writer`]. Dropped without commit, it leaves nothing.
pub struct BlobWriter {
    tmp: TempFile,
    hasher: Sha256,
    len: u64,
    store: BlobStore,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Finishes the blob: checks it against `expected` if given, then makes it visible.
    pub fn commit(self, expected: Option<&Sha256Digest>) -> Result<Sha256Digest, StoreError> {
        let actual = Sha256Digest::from_bytes(self.hasher.finalize().into());
        if let Some(expected) = expected {
            if *expected != actual {
                return Err(StoreError::DigestMismatch {
                    expected: *expected,
                    actual,
                });
            }
        }
        let dest = self.store.path(&actual);
        self.tmp.persist(&dest).map_err(io_err(&dest))?;
        Ok(actual)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tmp.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

/// sha256 and length of a file, streamed.
pub(crate) fn hash_file(path: &Path) -> Result<(Sha256Digest, u64), StoreError> {
    let mut f = fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((Sha256Digest::from_bytes(hasher.finalize().into()), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("coreship-store-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn blobs_are_stored_by_digest_and_verified_on_read() {
        let root = temp_root("rw");
        let store = BlobStore::open(&root).unwrap();
        let d = store.put(b"hello").unwrap();
        assert!(store.contains(&d));
        assert_eq!(store.read(&d).unwrap(), b"hello");
        assert_eq!(store.list().unwrap(), vec![d]);
        fs::write(store.path(&d), b"HELLO").unwrap();
        assert!(matches!(store.read(&d), Err(StoreError::Corrupt { .. })));
        assert!(matches!(store.verify(&d), Err(StoreError::Corrupt { .. })));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_wrong_digest_stores_nothing() {
        let root = temp_root("bad");
        let store = BlobStore::open(&root).unwrap();
        let wrong = Sha256Digest::of(b"other");
        let e = store.put_verified(&wrong, &b"hello"[..]).unwrap_err();
        assert!(matches!(e, StoreError::DigestMismatch { .. }), "{e}");
        assert!(store.list().unwrap().is_empty());
        assert_eq!(fs::read_dir(root.join("blobs/sha256")).unwrap().count(), 0);
        fs::remove_dir_all(&root).unwrap();
    }
}

crate::debug_as_display!(StoreError);
