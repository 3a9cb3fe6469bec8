//! The registry's storage: content-addressed blobs (manifests are blobs too) in a
//! [`BlobStore`], and per repository small link files:
//!
//! ```text
//! <root>/blobs/sha256/<hex>                              content (BlobStore)
//! <root>/repositories/<name>/_manifests/<hex>            manifest in this repo; content: its media type
//! <root>/repositories/<name>/_tags/<tag>                 content: the digest it points at
//! <root>/repositories/<name>/_referrers/<subject>/<hex>  content: the referrer's descriptor (JSON)
//! <root>/uploads/<id>                                    upload session data (same filesystem as blobs)
//! <root>/uploads/<id>.name                               its repository
//! ```
//! Repository path components start with a letter or digit, so `_…` directories never clash
//! with nested repositories. Every file is written temp+fsync+rename: a crash leaves the old
//! content or the new, and a blob is visible only once whole and verified.

use crate::fsutil::write_atomic;
use crate::oci::Descriptor;
use crate::store::BlobStore;
use crate::Sha256Digest;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const MANIFESTS: &str = "_manifests";
const TAGS: &str = "_tags";
const REFERRERS: &str = "_referrers";

/// The registry's files.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    blobs: BlobStore,
}

fn not_found_is_none<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl Storage {
    /// Opens (creating) the storage under `root`, clearing temp files an earlier crash left.
    pub fn open(root: &Path) -> io::Result<Storage> {
        let blobs = BlobStore::open(root).map_err(io::Error::other)?;
        fs::create_dir_all(root.join("repositories"))?;
        fs::create_dir_all(root.join("uploads"))?;
        blobs
            .remove_temp_files(std::time::Duration::ZERO)
            .map_err(io::Error::other)?;
        Ok(Storage {
            root: root.to_path_buf(),
            blobs,
        })
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The blobs.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    fn repo(&self, name: &str) -> PathBuf {
        self.root.join("repositories").join(name)
    }

    /// Whether the repository has anything.
    pub fn repo_exists(&self, name: &str) -> bool {
        self.repo(name).join(MANIFESTS).is_dir()
    }

    /// The media type of manifest `digest` in repository `name`, if it is there.
    pub fn manifest_media_type(
        &self,
        name: &str,
        digest: &Sha256Digest,
    ) -> io::Result<Option<String>> {
        let link = self.repo(name).join(MANIFESTS).join(digest.hex());
        not_found_is_none(fs::read_to_string(link))
    }

    /// Records manifest `digest` (already a blob) in `name` with its media type.
    pub fn link_manifest(
        &self,
        name: &str,
        digest: &Sha256Digest,
        media_type: &str,
    ) -> io::Result<()> {
        let dir = self.repo(name).join(MANIFESTS);
        fs::create_dir_all(&dir)?;
        write_atomic(&dir.join(digest.hex()), media_type.as_bytes())
    }

    /// Removes manifest `digest` from `name`, with every tag pointing at it; whether it was there.
    pub fn unlink_manifest(&self, name: &str, digest: &Sha256Digest) -> io::Result<bool> {
        let link = self.repo(name).join(MANIFESTS).join(digest.hex());
        let existed = not_found_is_none(fs::remove_file(link))?.is_some();
        for (tag, d) in self.tags(name)? {
            if d == *digest {
                self.delete_tag(name, &tag)?;
            }
        }
        Ok(existed)
    }

    /// The digest tag `tag` of `name` points at.
    pub fn tag(&self, name: &str, tag: &str) -> io::Result<Option<Sha256Digest>> {
        let path = self.repo(name).join(TAGS).join(tag);
        Ok(not_found_is_none(fs::read_to_string(path))?.and_then(|s| s.trim().parse().ok()))
    }

    /// Points `tag` of `name` at `digest`.
    pub fn set_tag(&self, name: &str, tag: &str, digest: &Sha256Digest) -> io::Result<()> {
        let dir = self.repo(name).join(TAGS);
        fs::create_dir_all(&dir)?;
        write_atomic(&dir.join(tag), digest.to_string().as_bytes())
    }

    /// Removes `tag` of `name`; whether it existed.
    pub fn delete_tag(&self, name: &str, tag: &str) -> io::Result<bool> {
        Ok(not_found_is_none(fs::remove_file(self.repo(name).join(TAGS).join(tag)))?.is_some())
    }

    /// The tags of `name`, sorted, with their digests.
    pub fn tags(&self, name: &str) -> io::Result<Vec<(String, Sha256Digest)>> {
        let dir = self.repo(name).join(TAGS);
        let mut out = Vec::new();
        let Some(entries) = not_found_is_none(fs::read_dir(&dir))? else {
            return Ok(out);
        };
        for e in entries {
            let e = e?;
            let Some(tag) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if tag.starts_with('.') {
                continue;
            }
            if let Some(d) = self.tag(name, &tag)? {
                out.push((tag, d));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The manifests of `name` (digests), sorted.
    pub fn manifests(&self, name: &str) -> io::Result<Vec<Sha256Digest>> {
        let dir = self.repo(name).join(MANIFESTS);
        let mut out = Vec::new();
        if let Some(entries) = not_found_is_none(fs::read_dir(&dir))? {
            for e in entries {
                if let Some(d) = e?
                    .file_name()
                    .to_str()
                    .and_then(|h| format!("sha256:{h}").parse().ok())
                {
                    out.push(d);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Records `referrer` as referring to `subject` in `name`.
    pub fn add_referrer(
        &self,
        name: &str,
        subject: &Sha256Digest,
        referrer: &Descriptor,
    ) -> io::Result<()> {
        let dir = self.repo(name).join(REFERRERS).join(subject.hex());
        fs::create_dir_all(&dir)?;
        let json = serde_json::to_vec(referrer).expect("descriptors serialize");
        write_atomic(&dir.join(referrer.digest.hex()), &json)
    }

    /// The referrers of `subject` in `name` whose manifests are still in the repository.
    pub fn referrers(&self, name: &str, subject: &Sha256Digest) -> io::Result<Vec<Descriptor>> {
        let dir = self.repo(name).join(REFERRERS).join(subject.hex());
        let mut out = Vec::new();
        let Some(entries) = not_found_is_none(fs::read_dir(&dir))? else {
            return Ok(out);
        };
        for e in entries {
            let e = e?;
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let Ok(d) = serde_json::from_slice::<Descriptor>(&fs::read(e.path())?) else {
                continue;
            };
            if self.manifest_media_type(name, &d.digest)?.is_some() {
                out.push(d);
            }
        }
        out.sort_by_key(|d| d.digest);
        Ok(out)
    }

    /// Every repository name, sorted.
    pub fn repositories(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        let base = self.root.join("repositories");
        let mut todo = vec![base.clone()];
        while let Some(dir) = todo.pop() {
            for e in fs::read_dir(&dir)? {
                let e = e?;
                let name = e.file_name();
                let name = name.to_string_lossy();
                if !e.file_type()?.is_dir() {
                    continue;
                }
                if name == MANIFESTS {
                    let rel = dir.strip_prefix(&base).unwrap_or(&dir);
                    out.push(rel.to_string_lossy().into_owned());
                } else if !name.starts_with('_') && !name.starts_with('.') {
                    todo.push(e.path());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The file of upload session `id` and its repository file.
    pub fn upload_paths(&self, id: &str) -> (PathBuf, PathBuf) {
        let dir = self.root.join("uploads");
        (dir.join(id), dir.join(format!("{id}.name")))
    }

    /// The uploads directory.
    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }
}
