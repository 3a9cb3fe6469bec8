//! The local artifact cache: an OCI image layout (see [`Layout`]) in [`crate::cache_dir`].
//!
//! Names in its `index.json`, for a reference `NAME` = `registry/repo:tag` or
//! `registry/repo@sha256:<root>` (a pull records both):
//!
//! ```text
//! NAME#<arch>                       the arch's image manifest; annotation dev.coreship.cache.root
//!                                   holds the root descriptor (the index the tag names and that
//!                                   signatures sign), whose bytes are a blob of the cache
//! NAME                              the root itself, once every arch's content is cached (always
//!                                   for layouts brought in by an import)
//! (no name)                         a signature referrer of a root: an unnamed entry whose
//!                                   manifest's subject is the root, as exports carry them
//! ```
//! Per-arch names keep a pull for one machine from downloading every other arch's object while
//! the layout's rule holds: a name only ever reaches content that is all present. A name
//! `…@sha256:D` (and its per-arch names) only ever stands for the root D, whoever wrote the
//! index (see [`crate::layout`]). An import that moves a name to other content drops that
//! name's per-arch entries for the old content and says what moved. Every read
//! re-hashes what it reads; a corrupt blob is an error offline and is fetched again online.
//! Removing unreachable blobs with [`Layout::remove_unreachable`] would drop the roots of
//! per-arch entries; the next online pull fetches them again.

use super::error::ClientError;
use crate::artifact::{self, BlobSource};
use crate::layout::{check_pin, stands_for, Imported, Layout};
use crate::oci::Descriptor;
use crate::store::{BlobStore, StoreError};
use crate::{Arch, Reference, Sha256Digest};
use std::path::{Path, PathBuf};

pub use crate::layout::ANNOTATION_CACHE_ROOT;

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

impl Cache {
    /// The default cache directory (see the module docs).
    pub fn default_dir() -> Option<PathBuf> {
        crate::cache_dir()
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
    /// names kept as they are in the archive (they should be full references). Returns them,
    /// with what each moved from when it named other content before.
    pub fn import_tar(&self, path: &Path) -> Result<Vec<Imported>, ClientError> {
        let file = std::fs::File::open(path).map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let imported = self
            .layout
            .import_tar(path, std::io::BufReader::new(file))?;
        self.settle(imported)
    }

    /// [`Cache::import_tar`] for an image layout directory (symlinks in it are refused).
    pub fn import_dir(&self, dir: &Path) -> Result<Vec<Imported>, ClientError> {
        let imported = self.layout.import_dir(dir)?;
        self.settle(imported)
    }

    /// Drops the per-arch entries (`NAME#ARCH`) an import left pointing at other content than
    /// `NAME` now has — they come first in [`Cache::lookup`] — and counts such content as
    /// what the name moved from.
    fn settle(&self, mut imported: Vec<Imported>) -> Result<Vec<Imported>, ClientError> {
        let names = self.layout.names()?;
        for i in &mut imported {
            let prefix = format!("{}#", i.name);
            for (n, d) in names.iter().filter(|(n, _)| n.starts_with(&prefix)) {
                let old = stands_for(n, d);
                if old != i.descriptor.digest {
                    self.layout.remove_name(n)?;
                    i.moved_from.get_or_insert(old);
                }
            }
        }
        Ok(imported)
    }

    /// The root descriptor cached under `name` (a [`cache_name`] or a name from an imported
    /// archive) with content for `arch`, if any. A name that pins a digest finds only that
    /// root (another is an error).
    pub fn lookup(&self, name: &str, arch: Arch) -> Result<Option<Descriptor>, ClientError> {
        let names = self.layout.names()?;
        let wanted = arch_name(name, arch);
        if let Some((_, d)) = names.iter().find(|(n, _)| *n == wanted) {
            check_pin(self.dir(), &wanted, d)?;
            let root = d
                .annotation(ANNOTATION_CACHE_ROOT)
                .and_then(|j| serde_json::from_slice::<Descriptor>(j.as_bytes()).ok());
            return Ok(root);
        }
        // A whole artifact by its name, or by the tail of one (`execsnoop:0.1.0` for an
        // imported `registry.lan/probes/execsnoop:0.1.0`).
        match self.layout.resolve(name) {
            Ok(mut d) if !name.contains('#') => {
                d.annotations.remove(crate::oci::ANNOTATION_REF_NAME);
                Ok(Some(d))
            }
            Ok(_) | Err(crate::layout::LayoutError::UnknownName { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
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
                Ok(_) | Err(crate::layout::LayoutError::Incomplete { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Records the signature referrer `sig` of `root` (its blobs must be cached), as an
    /// unnamed entry of the layout, as exports carry them.
    pub(crate) fn record_signature(&self, sig: &Descriptor) -> Result<(), ClientError> {
        Ok(self.layout.add_referrer(sig)?)
    }

    /// The minisign signatures cached for `root` (recorded by a pull or brought in by an
    /// import: they sign the digest, whatever repository they came from), each re-verified
    /// against its digest.
    pub fn signatures(&self, root: &Sha256Digest) -> Result<Vec<Vec<u8>>, ClientError> {
        artifact::layout_signatures(&self.layout, root).map_err(|e| match e {
            crate::layout::LayoutError::Store(s) => self.corrupt(&root.to_string(), s),
            other => other.into(),
        })
    }

    /// Removes every blob no name reaches (a per-arch name keeps its root index too, so
    /// signatures of it stay); returns how many blobs went. `remove` a name first to drop it.
    pub fn gc(&self) -> Result<usize, ClientError> {
        Ok(self.layout.remove_unreachable_with(|d| {
            d.annotation(ANNOTATION_CACHE_ROOT)
                .and_then(|j| serde_json::from_slice::<Descriptor>(j.as_bytes()).ok())
                .map(|root| vec![root.digest])
                .unwrap_or_default()
        })?)
    }

    /// Removes `name` and its per-arch names (`name#arch`); whether anything was named so.
    pub fn remove(&self, name: &str) -> Result<bool, ClientError> {
        let prefix = format!("{name}#");
        let names: Vec<String> = self
            .layout
            .names()?
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| n == name || n.starts_with(&prefix))
            .collect();
        for n in &names {
            self.layout.remove_name(n)?;
        }
        Ok(!names.is_empty())
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

    const TAG: &str = "r.lan:5000/p/x:1";

    /// A two-arch artifact whose objects are `x86` and `arm`.
    fn pack(dir: &Path, x86: &[u8], arm: &[u8]) -> artifact::Packed {
        crate::testing::write_package(dir, "x", &[(Arch::X86_64, x86), (Arch::Aarch64, arm)]);
        artifact::pack(dir, &Default::default()).unwrap()
    }

    /// A cache that pulled `a` as TAG for x86_64 only (so TAG has a per-arch name and no
    /// whole one).
    fn pulled_for_x86(cache_dir: &Path, a: &artifact::Packed) -> Cache {
        let cache = Cache::open(cache_dir).unwrap();
        for b in a.blobs.iter().chain([&a.manifests[0], &a.root]) {
            cache.blobs().put(&b.bytes).unwrap();
        }
        let reference: Reference = TAG.parse().unwrap();
        cache
            .record(
                &reference,
                &a.root.descriptor,
                &a.manifests[0].descriptor,
                Arch::X86_64,
            )
            .unwrap();
        let found = cache.lookup(TAG, Arch::X86_64).unwrap().unwrap();
        assert_eq!(found.digest, a.root.descriptor.digest);
        cache
    }

    #[test]
    fn an_import_moving_a_tag_drops_its_per_arch_names_for_the_old_content() {
        let tmp = tempfile::tempdir().unwrap();
        let a = pack(&tmp.path().join("a"), b"a-x86", b"a-arm");
        let cache = pulled_for_x86(&tmp.path().join("cache"), &a);

        // The update on a USB stick: the same tag, other content.
        let b = pack(&tmp.path().join("b"), b"b-x86", b"b-arm");
        let src = Layout::open_or_create(&tmp.path().join("src")).unwrap();
        for blob in b.blobs.iter().chain(&b.manifests).chain([&b.root]) {
            src.blobs().put(&blob.bytes).unwrap();
        }
        src.set_name(TAG, &b.root.descriptor).unwrap();
        let tar = tmp.path().join("b.tar");
        src.write_tar(None, std::fs::File::create(&tar).unwrap())
            .unwrap();
        let got = cache.import_tar(&tar).unwrap();
        assert_eq!(got[0].moved_from, Some(a.root.descriptor.digest));
        let found = cache.lookup(TAG, Arch::X86_64).unwrap().unwrap();
        assert_eq!(
            found.digest, b.root.descriptor.digest,
            "the old per-arch name won"
        );
        // The name pinned to the old digest still means exactly that content.
        let pinned = format!("r.lan:5000/p/x@{}", a.root.descriptor.digest);
        let found = cache.lookup(&pinned, Arch::X86_64).unwrap().unwrap();
        assert_eq!(found.digest, a.root.descriptor.digest);
    }

    #[test]
    fn a_pinned_per_arch_name_finds_only_the_root_it_pins() {
        let tmp = tempfile::tempdir().unwrap();
        let a = pack(&tmp.path().join("a"), b"a-x86", b"a-arm");
        let b = pack(&tmp.path().join("b"), b"b-x86", b"b-arm");
        let cache = pulled_for_x86(&tmp.path().join("cache"), &a);
        // Someone rewrites the per-arch entry's root to other content.
        let index = cache.dir().join("index.json");
        let root_a = serde_json::to_string(&a.root.descriptor).unwrap();
        let root_b = serde_json::to_string(&b.root.descriptor).unwrap();
        let text = std::fs::read_to_string(&index).unwrap();
        let escaped = |j: &str| serde_json::to_string(j).unwrap();
        assert!(text.contains(&escaped(&root_a)));
        std::fs::write(&index, text.replace(&escaped(&root_a), &escaped(&root_b))).unwrap();
        let pinned = format!("r.lan:5000/p/x@{}", a.root.descriptor.digest);
        let e = cache.lookup(&pinned, Arch::X86_64).unwrap_err();
        assert!(
            matches!(&e, ClientError::Cache(crate::layout::LayoutError::Pinned { actual, .. })
                if *actual == b.root.descriptor.digest),
            "{e}"
        );
    }
}
