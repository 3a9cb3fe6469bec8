//! The registry's files under `--root`. Content lives once in the [`BlobStore`]; repositories
//! hold small link files that say which content they contain:
//!
//! ```text
//! <root>/blobs/sha256/<hex>                               blobs and manifests (BlobStore)
//! <root>/uploads/<uuid>                                   data of an upload session
//! <root>/uploads/<uuid>.repo                              the repository the session belongs to
//! <root>/repositories/<name>/_layers/<hex>                empty: the blob is in this repository
//! <root>/repositories/<name>/_manifests/<hex>             the manifest's media type
//! <root>/repositories/<name>/_tags/<tag>                  the digest the tag points at
//! <root>/repositories/<name>/_referrers/<subject>/<hex>   descriptor of a referrer of <subject>
//! ```
//! Repository components start with a letter or digit, so the `_` directories never collide
//! with a nested repository. Every file is written with temp + fsync + rename (or hard link),
//! and a link is written only after the content it names is in the store.

use super::error::{ApiError, Code};
use crate::fsutil::{self, TEMP_PREFIX};
use crate::oci::Descriptor;
use crate::store::BlobStore;
use crate::{valid_repository, Sha256Digest};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const LAYERS: &str = "_layers";
const MANIFESTS: &str = "_manifests";
const TAGS: &str = "_tags";
const REFERRERS: &str = "_referrers";

/// The registry's storage root.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    blobs: BlobStore,
}

/// A repository name that passed [`valid_repository`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoName(String);

impl RepoName {
    /// Checks `name` against the spec's grammar.
    pub fn parse(name: &str) -> Result<RepoName, ApiError> {
        if valid_repository(name) {
            Ok(RepoName(name.to_string()))
        } else {
            Err(ApiError::new(Code::NameInvalid, "invalid repository name")
                .detail(serde_json::json!({ "name": name })))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn not_found_is_none<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl Storage {
    /// Opens (creating) the storage under `root`.
    pub fn open(root: &Path) -> Result<Storage, ApiError> {
        let blobs = BlobStore::open(root)?;
        for dir in ["uploads", "repositories"] {
            let d = root.join(dir);
            fs::create_dir_all(&d).map_err(ApiError::io(&d))?;
        }
        Ok(Storage {
            root: root.to_path_buf(),
            blobs,
        })
    }

    /// The content store.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where upload sessions live.
    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }

    /// Where repositories live.
    pub fn repositories_dir(&self) -> PathBuf {
        self.root.join("repositories")
    }

    fn repo_dir(&self, name: &RepoName) -> PathBuf {
        self.repositories_dir().join(name.as_str())
    }

    fn link(&self, name: &RepoName, kind: &str, file: &str) -> PathBuf {
        self.repo_dir(name).join(kind).join(file)
    }

    /// Whether the repository has ever received content.
    pub fn repo_exists(&self, name: &RepoName) -> bool {
        let dir = self.repo_dir(name);
        dir.join(LAYERS).is_dir() || dir.join(MANIFESTS).is_dir()
    }

    fn write_link(&self, path: &Path, bytes: &[u8]) -> Result<(), ApiError> {
        let dir = path.parent().expect("links have a parent");
        fs::create_dir_all(dir).map_err(ApiError::io(dir))?;
        fsutil::write_atomic(path, bytes).map_err(ApiError::io(path))
    }

    /// Whether `digest` is a blob of repository `name` (and present in the store): its size.
    pub fn repo_blob_size(&self, name: &RepoName, digest: &Sha256Digest) -> Option<u64> {
        let hex = digest.hex();
        let linked =
            self.link(name, LAYERS, &hex).exists() || self.link(name, MANIFESTS, &hex).exists();
        linked.then(|| self.blobs.size(digest)).flatten()
    }

    /// Records that the stored blob `digest` belongs to repository `name`.
    pub fn link_blob(&self, name: &RepoName, digest: &Sha256Digest) -> Result<(), ApiError> {
        let path = self.link(name, LAYERS, &digest.hex());
        if path.exists() {
            return Ok(());
        }
        self.write_link(&path, b"")
    }

    /// Removes the blob link (the content stays for gc).
    pub fn unlink_blob(&self, name: &RepoName, digest: &Sha256Digest) -> Result<bool, ApiError> {
        let path = self.link(name, LAYERS, &digest.hex());
        not_found_is_none(fs::remove_file(&path))
            .map(|r| r.is_some())
            .map_err(ApiError::io(path))
    }

    /// Records that manifest `digest` (already in the store) is in `name`, with its media type.
    pub fn link_manifest(
        &self,
        name: &RepoName,
        digest: &Sha256Digest,
        media_type: &str,
    ) -> Result<(), ApiError> {
        let path = self.link(name, MANIFESTS, &digest.hex());
        if fs::read(&path).is_ok_and(|b| b == media_type.as_bytes()) {
            return Ok(());
        }
        self.write_link(&path, media_type.as_bytes())
    }

    /// The media type of manifest `digest` in `name`, if it is there.
    pub fn manifest_media_type(
        &self,
        name: &RepoName,
        digest: &Sha256Digest,
    ) -> Result<Option<String>, ApiError> {
        let path = self.link(name, MANIFESTS, &digest.hex());
        let bytes = not_found_is_none(fs::read(&path)).map_err(ApiError::io(&path))?;
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Removes a manifest link.
    pub fn unlink_manifest(
        &self,
        name: &RepoName,
        digest: &Sha256Digest,
    ) -> Result<bool, ApiError> {
        let path = self.link(name, MANIFESTS, &digest.hex());
        not_found_is_none(fs::remove_file(&path))
            .map(|r| r.is_some())
            .map_err(ApiError::io(path))
    }

    /// Every manifest linked in `name`, with media types.
    pub fn manifests(&self, name: &RepoName) -> Result<Vec<(Sha256Digest, String)>, ApiError> {
        let dir = self.repo_dir(name).join(MANIFESTS);
        let mut out = Vec::new();
        for (file, path) in list_dir(&dir)? {
            if let Ok(d) = format!("sha256:{file}").parse::<Sha256Digest>() {
                let mt = fs::read(&path).map_err(ApiError::io(&path))?;
                out.push((d, String::from_utf8_lossy(&mt).into_owned()));
            }
        }
        Ok(out)
    }

    /// Every blob linked in `name`.
    pub fn layer_links(&self, name: &RepoName) -> Result<Vec<Sha256Digest>, ApiError> {
        let dir = self.repo_dir(name).join(LAYERS);
        Ok(list_dir(&dir)?
            .into_iter()
            .filter_map(|(f, _)| format!("sha256:{f}").parse().ok())
            .collect())
    }

    /// The digest tag `tag` of `name` points at.
    pub fn tag(&self, name: &RepoName, tag: &str) -> Result<Option<Sha256Digest>, ApiError> {
        let path = self.link(name, TAGS, tag);
        let bytes = not_found_is_none(fs::read(&path)).map_err(ApiError::io(&path))?;
        Ok(bytes.and_then(|b| String::from_utf8_lossy(&b).trim().parse().ok()))
    }

    /// Points `tag` at `digest`, replacing it atomically.
    pub fn set_tag(
        &self,
        name: &RepoName,
        tag: &str,
        digest: &Sha256Digest,
    ) -> Result<(), ApiError> {
        self.write_link(&self.link(name, TAGS, tag), digest.to_string().as_bytes())
    }

    /// Creates `tag` pointing at `digest` unless it exists; returns the digest it points at
    /// afterwards (one of two concurrent creators wins, the other sees the winner).
    pub fn create_tag(
        &self,
        name: &RepoName,
        tag: &str,
        digest: &Sha256Digest,
    ) -> Result<Sha256Digest, ApiError> {
        let path = self.link(name, TAGS, tag);
        let dir = path.parent().expect("tag has a parent");
        fs::create_dir_all(dir).map_err(ApiError::io(dir))?;
        if fsutil::write_new(&path, digest.to_string().as_bytes()).map_err(ApiError::io(&path))? {
            return Ok(*digest);
        }
        Ok(self.tag(name, tag)?.unwrap_or(*digest))
    }

    /// Removes a tag.
    pub fn remove_tag(&self, name: &RepoName, tag: &str) -> Result<bool, ApiError> {
        let path = self.link(name, TAGS, tag);
        not_found_is_none(fs::remove_file(&path))
            .map(|r| r.is_some())
            .map_err(ApiError::io(path))
    }

    /// The repository's tags, sorted.
    pub fn tags(&self, name: &RepoName) -> Result<Vec<String>, ApiError> {
        let dir = self.repo_dir(name).join(TAGS);
        let mut tags: Vec<String> = list_dir(&dir)?.into_iter().map(|(f, _)| f).collect();
        tags.sort();
        Ok(tags)
    }

    /// Records `referrer` (a manifest in `name`) as a referrer of `subject`.
    pub fn add_referrer(
        &self,
        name: &RepoName,
        subject: &Sha256Digest,
        referrer: &Descriptor,
    ) -> Result<(), ApiError> {
        let path = self
            .repo_dir(name)
            .join(REFERRERS)
            .join(subject.hex())
            .join(referrer.digest.hex());
        self.write_link(&path, &crate::oci::to_json(referrer))
    }

    /// Removes the referrer record of manifest `referrer` of `subject`.
    pub fn remove_referrer(
        &self,
        name: &RepoName,
        subject: &Sha256Digest,
        referrer: &Sha256Digest,
    ) -> Result<(), ApiError> {
        let path = self
            .repo_dir(name)
            .join(REFERRERS)
            .join(subject.hex())
            .join(referrer.hex());
        not_found_is_none(fs::remove_file(&path))
            .map(|_| ())
            .map_err(ApiError::io(path))
    }

    /// The recorded referrers of `subject` whose manifests are still in `name`.
    pub fn referrers(
        &self,
        name: &RepoName,
        subject: &Sha256Digest,
    ) -> Result<Vec<Descriptor>, ApiError> {
        let dir = self.repo_dir(name).join(REFERRERS).join(subject.hex());
        let mut out = Vec::new();
        for (file, path) in list_dir(&dir)? {
            let Ok(d) = format!("sha256:{file}").parse::<Sha256Digest>() else {
                continue;
            };
            if self.manifest_media_type(name, &d)?.is_none() {
                continue;
            }
            let bytes = fs::read(&path).map_err(ApiError::io(&path))?;
            if let Ok(desc) = serde_json::from_slice::<Descriptor>(&bytes) {
                out.push(desc);
            }
        }
        out.sort_by_key(|d| d.digest);
        Ok(out)
    }

    /// Every repository (directories holding content links), sorted.
    pub fn catalog(&self) -> Result<Vec<String>, ApiError> {
        let mut out = Vec::new();
        let mut todo = vec![(self.repositories_dir(), String::new())];
        while let Some((dir, prefix)) = todo.pop() {
            let mut is_repo = false;
            for (file, path) in list_dir(&dir)? {
                if file == LAYERS || file == MANIFESTS {
                    is_repo = true;
                } else if !file.starts_with('_') && path.is_dir() {
                    let child = if prefix.is_empty() {
                        file
                    } else {
                        format!("{prefix}/{file}")
                    };
                    todo.push((path, child));
                }
            }
            if is_repo && !prefix.is_empty() {
                out.push(prefix);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes every `.tmp-*` file under the repositories, the uploads and the blob store (called at start,
    /// when no write can be in flight); returns how many.
    pub fn remove_temp_files(&self) -> Result<usize, ApiError> {
        let mut removed = self.blobs.remove_temp_files(std::time::Duration::ZERO)?;
        let mut todo = vec![self.repositories_dir(), self.uploads_dir()];
        while let Some(dir) = todo.pop() {
            for (file, path) in list_dir_all(&dir)? {
                if file.starts_with(TEMP_PREFIX) {
                    if fs::remove_file(&path).is_ok() {
                        removed += 1;
                    }
                } else if path.is_dir() {
                    todo.push(path);
                }
            }
        }
        Ok(removed)
    }
}

/// A directory's entries (name, path), without dot files (temp files); a missing directory
/// is empty.
pub(crate) fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>, ApiError> {
    let mut all = list_dir_all(dir)?;
    all.retain(|(name, _)| !name.starts_with('.'));
    Ok(all)
}

/// Every entry of a directory, dot files included.
fn list_dir_all(dir: &Path) -> Result<Vec<(String, PathBuf)>, ApiError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ApiError::io(dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(ApiError::io(dir))?;
        if let Some(name) = entry.file_name().to_str() {
            out.push((name.to_string(), entry.path()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_tags_and_catalog_round_trip() {
        let root =
            std::env::temp_dir().join(format!("coreship-srv-storage-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let s = Storage::open(&root).unwrap();
        let a = RepoName::parse("a/b").unwrap();
        let c = RepoName::parse("a").unwrap();
        let d = s.blobs().put(b"x").unwrap();
        assert_eq!(s.repo_blob_size(&a, &d), None);
        s.link_blob(&a, &d).unwrap();
        assert_eq!(s.repo_blob_size(&a, &d), Some(1));
        assert_eq!(s.catalog().unwrap(), vec!["a/b"]);
        s.link_manifest(&c, &d, "m").unwrap();
        assert_eq!(s.catalog().unwrap(), vec!["a", "a/b"]);
        assert_eq!(s.create_tag(&c, "t", &d).unwrap(), d);
        let other = Sha256Digest::of(b"y");
        assert_eq!(
            s.create_tag(&c, "t", &other).unwrap(),
            d,
            "the first tag wins"
        );
        s.set_tag(&c, "t", &other).unwrap();
        assert_eq!(s.tag(&c, "t").unwrap(), Some(other));
        assert_eq!(s.tags(&c).unwrap(), vec!["t"]);
        assert!(RepoName::parse("A").is_err());
        // Temp files of interrupted writes go at start, wherever they are.
        for dir in ["repositories/a/_tags", "uploads", "blobs/sha256"] {
            fs::write(root.join(dir).join(".tmp-1-1"), b"half").unwrap();
        }
        assert_eq!(s.remove_temp_files().unwrap(), 3);
        assert_eq!(s.tags(&c).unwrap(), vec!["t"]);
        fs::remove_dir_all(&root).unwrap();
    }
}
