//! The local artifact cache: an OCI image layout (see [`Layout`]) in
//! `$CORESHIP_CACHE_DIR`, else `$XDG_CACHE_HOME/coreship`, else `/var/cache/coreship` when
//! running as root, else `~/.cache/coreship`.
//!
//! Names in its `index.json`, for a reference `NAME` = `registry/repo:tag` or
//! `registry/repo@sha256:<root>` (a pull records both):
//!
//! ```text
//! NAME#<arch>                       the arch's image manifest; annotation dev.coreship.cache.root
//!                                   holds the root descriptor (the index the tag names and that
//!                                   signatures sign), whose bytes are a blob of the cache
//! NAME                              the root itself, once every arch's content is cached (always
//!                                   for archives brought in by `import_tar`)
//! registry/repo@sha256:<root>.sig.<hex>
//!                                   a signature referrer of that root (manifest digest <hex>)
//! ```
//! Per-arch names keep a pull for one machine from downloading every other arch's object while
//! the layout's rule holds: a name only ever reaches content that is all present. Every read
//! re-hashes what it reads; a corrupt blob is an error offline and is fetched again online.
//! Removing unreachable blobs with [`Layout::remove_unreachable`] would drop the roots of
//! per-arch entries; the next online pull fetches them again.

use super::error::ClientError;
use crate::artifact::{self, BlobSource};
use crate::layout::Layout;
use crate::oci::{Descriptor, Manifest};
use crate::store::{BlobStore, StoreError};
use crate::{Arch, Reference, Sha256Digest};
use std::path::{Path, PathBuf};

/// Annotation of a per-arch entry: the root descriptor as JSON.
pub const ANNOTATION_CACHE_ROOT: &str = "dev.coreship.cache.root";

/// The cache.
#[derive(Debug, Clone)]
pub struct Cache {
    layout: Layout,
}

/// The cache name of a reference: `registry/repo@sha256:…` when pinned, else
/// `registry/repo:tag` (`latest` when untagged).
pub fn cache_name(r: &Reference) -> String {
    match &r.digest {
        Some(d) => format!("{}@{d}", r.name()),
        None => format!("{}:{}", r.name(), r.tag_or_latest()),
    }
}

fn arch_name(name: &str, arch: Arch) -> String {
    format!("{name}#{arch}")
}

fn signature_marker(root: &Sha256Digest) -> String {
    format!("@{root}.sig.")
}

/// The cache directory for this environment (see the module docs); `euid_is_root` decides
/// between `/var/cache` and the home directory.
pub(crate) fn dir_from(
    env: &dyn Fn(&str) -> Option<String>,
    euid_is_root: bool,
) -> Option<PathBuf> {
    if let Some(d) = env("CORESHIP_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = env("XDG_CACHE_HOME") {
        return Some(Path::new(&d).join("coreship"));
    }
    if euid_is_root {
        return Some(PathBuf::from("/var/cache/coreship"));
    }
    env("HOME").map(|h| Path::new(&h).join(".cache/coreship"))
}

/// Whether the effective user is root, from `/proc/self/status` (no libc needed).
fn euid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Uid:"))?.to_string();
            line.split_whitespace().nth(2).map(|e| e == "0")
        })
        .unwrap_or(false)
}

impl Cache {
    /// The default cache directory (see the module docs).
    pub fn default_dir() -> Option<PathBuf> {
        dir_from(
            &|k| std::env::var(k).ok().filter(|v| !v.is_empty()),
            euid_is_root(),
        )
    }

    /// Opens the cache in `dir`, creating it if needed.
    pub fn open(dir: &Path) -> Result<Cache, ClientError> {
        Ok(Cache {
            layout: Layout::open_or_create(dir)?,
        })
    }

    /// Opens the cache in [`Cache::default_dir`].
    pub fn open_default() -> Result<Cache, ClientError> {
        let dir = Cache::default_dir().ok_or(ClientError::NoCacheDir)?;
        Cache::open(&dir)
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        self.layout.root()
    }

    /// The image layout underneath.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The blobs.
    pub fn blobs(&self) -> &BlobStore {
        self.layout.blobs()
    }

    /// Imports a tar archive of an image layout (`coreship export`): every blob verified,
    /// names kept as they are in the archive (they should be full references). Returns them.
    pub fn import_tar(&self, path: &Path) -> Result<Vec<(String, Descriptor)>, ClientError> {
        let file = std::fs::File::open(path).map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(self
            .layout
            .import_tar(path, std::io::BufReader::new(file))?)
    }

    /// The root descriptor cached under `name` (a [`cache_name`] or a name from an imported
    /// archive) with content for `arch`, if any.
    pub fn lookup(&self, name: &str, arch: Arch) -> Result<Option<Descriptor>, ClientError> {
        let names = self.layout.names()?;
        let wanted = arch_name(name, arch);
        if let Some((_, d)) = names.iter().find(|(n, _)| *n == wanted) {
            let root = d
                .annotation(ANNOTATION_CACHE_ROOT)
                .and_then(|j| serde_json::from_str::<Descriptor>(j).ok());
            return Ok(root);
        }
        Ok(names
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, mut d)| {
                d.annotations.remove(crate::oci::ANNOTATION_REF_NAME);
                d
            }))
    }

    /// Records that `reference` (by tag and by root digest) resolves to `root`, whose manifest
    /// for `arch` is `manifest`; everything they reach must be cached already.
    pub(crate) fn record(
        &self,
        reference: &Reference,
        root: &Descriptor,
        manifest: &Descriptor,
        arch: Arch,
    ) -> Result<(), ClientError> {
        let mut entry = manifest.clone();
        let root_json = serde_json::to_string(root).expect("descriptors serialize");
        entry
            .annotations
            .insert(ANNOTATION_CACHE_ROOT.to_string(), root_json);
        let mut names = vec![cache_name(&Reference {
            digest: Some(root.digest),
            ..reference.clone()
        })];
        if reference.digest.is_none() {
            names.push(cache_name(reference));
        }
        for name in names {
            self.layout.set_name(&arch_name(&name, arch), &entry)?;
            // The whole artifact is a name of its own once every arch is here.
            match self.layout.set_name(&name, root) {
                Ok(()) | Err(crate::layout::LayoutError::Incomplete { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Records the signature referrer `sig` of `root` (its blobs must be cached).
    pub(crate) fn record_signature(
        &self,
        reference: &Reference,
        root: &Sha256Digest,
        sig: &Descriptor,
    ) -> Result<(), ClientError> {
        let name = format!(
            "{}{}{}",
            reference.name(),
            signature_marker(root),
            sig.digest.hex()
        );
        Ok(self.layout.set_name(&name, sig)?)
    }

    /// The minisign signatures cached for `root` (from any repository: they sign the digest),
    /// each re-verified against its digest.
    pub fn signatures(&self, root: &Sha256Digest) -> Result<Vec<Vec<u8>>, ClientError> {
        let marker = signature_marker(root);
        let mut out = Vec::new();
        for (name, d) in self.layout.names()? {
            if !name.contains(&marker) {
                continue;
            }
            let corrupt = |e: StoreError| self.corrupt(&name, e);
            let bytes = self.blobs().read(&d.digest).map_err(corrupt)?;
            let Ok(m) = Manifest::parse(&bytes, Some(&d.media_type)) else {
                continue;
            };
            if let Some(layer) = artifact::signature_layer(&m) {
                out.push(self.blobs().read(&layer.digest).map_err(corrupt)?);
            }
        }
        Ok(out)
    }

    /// A store error on reading `what`, as the error that says how to recover.
    pub(crate) fn corrupt(&self, what: &str, e: StoreError) -> ClientError {
        match e {
            StoreError::Corrupt { path, actual } => ClientError::CacheCorrupt {
                reference: what.to_string(),
                cache: self.dir().to_path_buf(),
                detail: format!("{} hashes to {actual}", path.display()),
            },
            other => other.into(),
        }
    }
}

/// Reads artifacts from the cache only (offline), for [`artifact::open`].
pub(crate) struct Offline<'a> {
    pub cache: &'a Cache,
    pub name: String,
    pub arch: Arch,
}

impl BlobSource for Offline<'_> {
    type Error = ClientError;
    fn fetch(&mut self, desc: &Descriptor) -> Result<Vec<u8>, ClientError> {
        self.cache.blobs().read(&desc.digest).map_err(|e| match e {
            StoreError::NotFound(_) => ClientError::NotCached {
                reference: self.name.clone(),
                arch: self.arch,
                cache: self.cache.dir().to_path_buf(),
            },
            other => self.cache.corrupt(&self.name, other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_cache_directory_follows_the_environment_and_the_user() {
        let env = |pairs: &[(&'static str, &'static str)]| {
            let m: HashMap<&str, &str> = pairs.iter().copied().collect();
            move |k: &str| m.get(k).map(|v| v.to_string())
        };
        let all = [
            ("CORESHIP_CACHE_DIR", "/c"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/home/u"),
        ];
        assert_eq!(dir_from(&env(&all), true), Some(PathBuf::from("/c")));
        assert_eq!(
            dir_from(&env(&all[1..]), true),
            Some(PathBuf::from("/x/coreship"))
        );
        assert_eq!(
            dir_from(&env(&all[2..]), true),
            Some(PathBuf::from("/var/cache/coreship"))
        );
        assert_eq!(
            dir_from(&env(&all[2..]), false),
            Some(PathBuf::from("/home/u/.cache/coreship"))
        );
        assert_eq!(dir_from(&env(&[]), false), None);
    }

    #[test]
    fn names_are_full_references() {
        let r: Reference = "localhost:5000/probes/x:1".parse().unwrap();
        assert_eq!(cache_name(&r), "localhost:5000/probes/x:1");
        let d = Sha256Digest::of(b"");
        assert_eq!(
            cache_name(&r.with_digest(d)),
            format!("localhost:5000/probes/x@{d}")
        );
        assert_eq!(arch_name("n", Arch::Aarch64), "n#aarch64");
    }
}
