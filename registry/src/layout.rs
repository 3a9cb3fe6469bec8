//! OCI image layout directories and tar archives of them: the loader's cache, `coreship
//! export`, `coreship-load import`, and what `skopeo copy oci:DIR` reads and writes.
//!
//! ```text
//! <root>/oci-layout                 {"imageLayoutVersion":"1.0.0"}
//! <root>/index.json                 an image index; each entry's ref.name annotation is its name
//! <root>/blobs/sha256/<hex>         content (see BlobStore)
//! ```
//! `index.json` is rewritten atomically under a lock, and a name is added only after every blob
//! it reaches is present and verified, so a reader never sees a name it cannot load.
//!
//! A name that pins a digest, `…@sha256:D` (the cache's per-arch `…@sha256:D#ARCH` too), only
//! ever stands for the artifact D: recording it for other content is refused, and so is
//! resolving it when the index says otherwise (an index is a file anyone with write access to
//! the directory can edit).

use crate::fsutil::write_atomic;
use crate::oci::{self, Descriptor, ImageIndex, Manifest, ANNOTATION_REF_NAME};
use crate::store::{BlobStore, StoreError};
use crate::Sha256Digest;
use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

mod import;

pub use import::Imported;

/// Annotation of an entry that stands for another manifest: the root descriptor (as JSON) of
/// the cache's per-arch entries `NAME#ARCH`, whose own descriptor is one arch's manifest.
pub const ANNOTATION_CACHE_ROOT: &str = "dev.coreship.cache.root";

const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
const INDEX_FILE: &str = "index.json";
const LOCK_FILE: &str = ".index.lock";

/// Errors reading or writing an image layout.
#[derive(thiserror::Error)]
pub enum LayoutError {
    /// A blob store error.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file of the layout could not be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The directory has no `oci-layout` file.
    #[error("{0} is not an OCI image layout (no oci-layout file)")]
    NotLayout(PathBuf),
    /// `index.json` or a manifest in the layout is not valid.
    #[error("{path}: invalid OCI image index")]
    Index {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A manifest in the layout cannot be parsed.
    #[error("manifest {digest} in {layout}")]
    Manifest {
        /// The layout.
        layout: PathBuf,
        /// The manifest's digest.
        digest: Sha256Digest,
        /// Why.
        #[source]
        source: oci::ManifestError,
    },
    /// A name refers to content that is not all there.
    #[error("{name}: blob {digest} is missing from {layout}; the layout is incomplete, export or pull it again")]
    Incomplete {
        /// The layout.
        layout: PathBuf,
        /// The name whose content is incomplete.
        name: String,
        /// The first missing blob.
        digest: Sha256Digest,
    },
    /// No entry with this name.
    #[error("{layout} has no artifact named `{name}` (it has: {available})")]
    UnknownName {
        /// The layout.
        layout: PathBuf,
        /// The name asked for.
        name: String,
        /// Names present, comma-separated.
        available: String,
    },
    /// No entry was named and the layout does not have exactly one.
    #[error("{layout} holds {available}: name the one to use, as {layout}:NAME")]
    Ambiguous {
        /// The layout.
        layout: PathBuf,
        /// Names present, comma-separated.
        available: String,
    },
    /// A tar archive member that has no place in an image layout.
    #[error("{archive}: member `{member}` is not part of an OCI image layout")]
    BadMember {
        /// The archive.
        archive: PathBuf,
        /// The member path.
        member: String,
    },
    /// A name that pins a digest (`…@sha256:D`) on an entry that is other content.
    #[error("{layout}: `{name}` is {actual}, not the digest in its name: refused, a name with a digest stands only for that content (pull or export it again from its source)")]
    Pinned {
        /// The layout (or the archive being imported).
        layout: PathBuf,
        /// The entry's name.
        name: String,
        /// The digest in the name.
        pinned: Sha256Digest,
        /// The digest of what the entry stands for.
        actual: Sha256Digest,
    },
    /// A file or directory of a layout being imported is a symlink, or not of the kind it
    /// must be.
    #[error("{path} is {found}, not a {expected}: refused, a layout directory is imported only from files it holds itself (copy the content in place of the link)")]
    NotOwnFile {
        /// The path.
        path: PathBuf,
        /// What it is (`a symbolic link`, `a directory`, …).
        found: &'static str,
        /// What it must be (`regular file`, `directory`).
        expected: &'static str,
    },
    /// A blob of a layout being imported is not the size its descriptor declares.
    #[error("{path} is {actual} bytes, its descriptor says {expected}: refused")]
    Size {
        /// The blob file.
        path: PathBuf,
        /// The size the descriptor declares.
        expected: u64,
        /// The file's size.
        actual: u64,
    },
    /// A manifest of a layout being imported is larger than any manifest may be.
    #[error("{path}: a manifest of {size} bytes is over the {limit}-byte limit: refused")]
    ManifestTooLarge {
        /// The blob file.
        path: PathBuf,
        /// Its declared size.
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// The archive could not be read.
    #[error("{archive}: not a readable tar archive of an OCI image layout")]
    Tar {
        /// The archive.
        archive: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> LayoutError + '_ {
    move |source| LayoutError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    blobs: BlobStore,
}

impl Layout {
    /// Opens an existing layout.
    pub fn open(root: &Path) -> Result<Layout, LayoutError> {
        if !root.join(LAYOUT_FILE).is_file() {
            return Err(LayoutError::NotLayout(root.to_path_buf()));
        }
        Ok(Layout {
            root: root.to_path_buf(),
            blobs: BlobStore::open(root)?,
        })
    }

    /// Opens the layout at `root`, creating an empty one if there is none.
    pub fn open_or_create(root: &Path) -> Result<Layout, LayoutError> {
        fs::create_dir_all(root).map_err(io_err(root))?;
        let blobs = BlobStore::open(root)?;
        let layout_file = root.join(LAYOUT_FILE);
        if !layout_file.is_file() {
            write_atomic(&layout_file, LAYOUT_CONTENT).map_err(io_err(&layout_file))?;
        }
        let index = root.join(INDEX_FILE);
        if !index.is_file() {
            let empty = empty_index();
            write_atomic(&index, &oci::to_json(&empty)).map_err(io_err(&index))?;
        }
        Ok(Layout {
            root: root.to_path_buf(),
            blobs,
        })
    }

    /// The layout directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The blobs.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// The current `index.json`.
    pub fn index(&self) -> Result<ImageIndex, LayoutError> {
        let path = self.root.join(INDEX_FILE);
        match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| LayoutError::Index { path, source })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(empty_index()),
            Err(source) => Err(LayoutError::Io { path, source }),
        }
    }

    /// Every named entry, in index order.
    pub fn names(&self) -> Result<Vec<(String, Descriptor)>, LayoutError> {
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .filter_map(|d| Some((d.annotation(ANNOTATION_REF_NAME)?.to_string(), d)))
            .collect())
    }

    /// The entry named `name`, or else the only entry whose name ends in `/<name>` (so
    /// `execsnoop:0.1.0` finds `registry.lan:5000/probes/execsnoop:0.1.0`). A name that pins a
    /// digest must stand for that digest.
    pub fn resolve(&self, name: &str) -> Result<Descriptor, LayoutError> {
        let names = self.names()?;
        if let Some((n, d)) = names.iter().find(|(n, _)| n == name) {
            check_pin(&self.root, n, d)?;
            return Ok(d.clone());
        }
        let suffix = format!("/{name}");
        let mut tails = names.iter().filter(|(n, _)| n.ends_with(&suffix));
        if let (Some((n, d)), None) = (tails.next(), tails.next()) {
            check_pin(&self.root, n, d)?;
            return Ok(d.clone());
        }
        Err(LayoutError::UnknownName {
            layout: self.root.clone(),
            name: name.to_string(),
            available: available(&names),
        })
    }

    /// The only entry, or an error naming them all when there are several (or none).
    pub fn single(&self) -> Result<(String, Descriptor), LayoutError> {
        let mut names = self.names()?;
        if names.len() == 1 {
            let (n, d) = names.remove(0);
            check_pin(&self.root, &n, &d)?;
            return Ok((n, d));
        }
        Err(LayoutError::Ambiguous {
            layout: self.root.clone(),
            available: available(&names),
        })
    }

    /// Reads and parses a manifest blob described by `desc` (digest verified).
    pub fn manifest(&self, desc: &Descriptor) -> Result<(Vec<u8>, Manifest), LayoutError> {
        let bytes = self.blobs.read(&desc.digest)?;
        let manifest = Manifest::parse(&bytes, Some(&desc.media_type)).map_err(|source| {
            LayoutError::Manifest {
                layout: self.root.clone(),
                digest: desc.digest,
                source,
            }
        })?;
        Ok((bytes, manifest))
    }

    /// Checks that every blob reachable from `desc` is present; returns the digests reached.
    pub fn reachable(
        &self,
        name: &str,
        desc: &Descriptor,
    ) -> Result<BTreeSet<Sha256Digest>, LayoutError> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![desc.clone()];
        while let Some(d) = todo.pop() {
            if !seen.insert(d.digest) {
                continue;
            }
            if !self.blobs.contains(&d.digest) {
                return Err(LayoutError::Incomplete {
                    layout: self.root.clone(),
                    name: name.to_string(),
                    digest: d.digest,
                });
            }
            if oci::is_manifest_media_type(&d.media_type) {
                let (_, m) = self.manifest(&d)?;
                todo.extend(m.references().into_iter().cloned());
            }
        }
        Ok(seen)
    }

    /// Points `name` at `desc` (replacing an entry of that name), after checking that all of
    /// its content is present and that a digest the name pins is `desc`'s. Returns the entry
    /// it replaced, if any.
    pub fn set_name(
        &self,
        name: &str,
        desc: &Descriptor,
    ) -> Result<Option<Descriptor>, LayoutError> {
        check_pin(&self.root, name, desc)?;
        self.reachable(name, desc)?;
        let mut entry = desc.clone();
        entry
            .annotations
            .insert(ANNOTATION_REF_NAME.to_string(), name.to_string());
        let mut replaced = None;
        self.update_index(|index| {
            index.manifests.retain(|d| {
                let same = d.annotation(ANNOTATION_REF_NAME) == Some(name);
                if same {
                    replaced = Some(d.clone());
                }
                !same
            });
            index.manifests.push(entry);
        })?;
        Ok(replaced)
    }

    /// Removes the entry `name` (its blobs stay until [`Layout::remove_unreachable`]).
    pub fn remove_name(&self, name: &str) -> Result<(), LayoutError> {
        self.update_index(|index| {
            index
                .manifests
                .retain(|d| d.annotation(ANNOTATION_REF_NAME) != Some(name));
        })
    }

    /// Records `desc` (a manifest whose `subject` is another entry's manifest, e.g. a
    /// signature) as an unnamed index entry, after checking its content is present.
    /// Recording the same manifest twice is a no-op.
    pub fn add_referrer(&self, desc: &Descriptor) -> Result<(), LayoutError> {
        let label = format!("referrer {}", desc.digest);
        self.reachable(&label, desc)?;
        let mut entry = desc.clone();
        entry.annotations.remove(ANNOTATION_REF_NAME);
        self.update_index(|index| {
            if !index.manifests.iter().any(|d| d.digest == entry.digest) {
                index.manifests.push(entry);
            }
        })
    }

    /// The unnamed entries whose manifest's `subject` is `subject` (optionally only those of
    /// `artifact_type`), as the referrers API would list them.
    pub fn referrers(
        &self,
        subject: &Sha256Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, LayoutError> {
        let mut out = Vec::new();
        for d in self.index()?.manifests {
            if d.annotation(ANNOTATION_REF_NAME).is_some() || !self.blobs.contains(&d.digest) {
                continue;
            }
            let (_, m) = self.manifest(&d)?;
            if m.subject().map(|s| s.digest) != Some(*subject) {
                continue;
            }
            let mut entry = d.clone();
            entry.artifact_type = m.artifact_type().map(str::to_string);
            if artifact_type.is_none() || entry.artifact_type.as_deref() == artifact_type {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// Deletes blobs no entry reaches (and old temp files); returns how many blobs went.
    pub fn remove_unreachable(&self) -> Result<usize, LayoutError> {
        self.remove_unreachable_with(|_| Vec::new())
    }

    /// [`Layout::remove_unreachable`], also keeping the blobs `also(entry)` names for each named
    /// entry (a cache entry may stand for content it reaches only through an annotation).
    pub fn remove_unreachable_with(
        &self,
        also: impl Fn(&Descriptor) -> Vec<Sha256Digest>,
    ) -> Result<usize, LayoutError> {
        let _lock = self.lock()?;
        let mut keep = BTreeSet::new();
        for (name, d) in self.names()? {
            keep.extend(also(&d));
            // An incomplete entry keeps what it has; it can still be completed.
            match self.reachable(&name, &d) {
                Ok(set) => keep.extend(set),
                Err(LayoutError::Incomplete { .. }) => {
                    keep.insert(d.digest);
                }
                Err(e) => return Err(e),
            }
        }
        // Referrers live as long as their subject.
        let mut dangling = Vec::new();
        for d in self.index()?.manifests {
            if d.annotation(ANNOTATION_REF_NAME).is_some() {
                continue;
            }
            let subject = match self.manifest(&d) {
                Ok((_, m)) => m.subject().map(|s| s.digest),
                Err(_) => None,
            };
            match subject {
                Some(s) if keep.contains(&s) => {
                    if let Ok(set) = self.reachable("referrer", &d) {
                        keep.extend(set);
                    }
                }
                _ => dangling.push(d.digest),
            }
        }
        if !dangling.is_empty() {
            let path = self.root.join(INDEX_FILE);
            let mut index = self.index()?;
            index.manifests.retain(|d| !dangling.contains(&d.digest));
            write_atomic(&path, &oci::to_json(&index)).map_err(io_err(&path))?;
        }
        let mut removed = 0;
        for d in self.blobs.list()? {
            if !keep.contains(&d) {
                self.blobs.remove(&d)?;
                removed += 1;
            }
        }
        self.blobs
            .remove_temp_files(std::time::Duration::from_secs(3600))?;
        Ok(removed)
    }

    fn lock(&self) -> Result<fs::File, LayoutError> {
        let path = self.root.join(LOCK_FILE);
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        f.lock().map_err(io_err(&path))?;
        Ok(f)
    }

    fn update_index(&self, change: impl FnOnce(&mut ImageIndex)) -> Result<(), LayoutError> {
        let _lock = self.lock()?;
        let mut index = self.index()?;
        change(&mut index);
        let path = self.root.join(INDEX_FILE);
        write_atomic(&path, &oci::to_json(&index)).map_err(io_err(&path))
    }

    /// Writes the entries `names` (all if `None`) and everything they reach as a tar archive of
    /// an image layout, deterministic: sorted members, zero times and owners.
    pub fn write_tar(&self, names: Option<&[String]>, out: impl Write) -> Result<(), LayoutError> {
        let mut entries = self.names()?;
        if let Some(wanted) = names {
            for w in wanted {
                if !entries.iter().any(|(n, _)| n == w) {
                    self.resolve(w)?;
                }
            }
            entries.retain(|(n, _)| wanted.contains(n));
        }
        let mut blobs = BTreeSet::new();
        let mut referrers = Vec::new();
        for (name, d) in &entries {
            blobs.extend(self.reachable(name, d)?);
            for r in self.referrers(&d.digest, None)? {
                if !referrers.iter().any(|x: &Descriptor| x.digest == r.digest) {
                    blobs.extend(self.reachable(name, &r)?);
                    referrers.push(r);
                }
            }
        }
        let mut index = empty_index();
        index.manifests = entries
            .into_iter()
            .map(|(name, mut d)| {
                d.annotations.insert(ANNOTATION_REF_NAME.to_string(), name);
                d
            })
            .chain(referrers)
            .collect();
        let tar_err = |source| LayoutError::Tar {
            archive: PathBuf::from("<output>"),
            source,
        };
        let mut tar = tar::Builder::new(out);
        tar.mode(tar::HeaderMode::Deterministic);
        let mut add = |path: &str, data: &mut dyn Read, size: u64| -> io::Result<()> {
            tar.append_data(&mut crate::tarball::header(size), path, data)
        };
        add(
            LAYOUT_FILE,
            &mut &LAYOUT_CONTENT[..],
            LAYOUT_CONTENT.len() as u64,
        )
        .map_err(tar_err)?;
        let index_bytes = oci::to_json(&index);
        add(INDEX_FILE, &mut &index_bytes[..], index_bytes.len() as u64).map_err(tar_err)?;
        for d in blobs {
            let path = self.blobs.path(&d);
            let mut f = fs::File::open(&path).map_err(io_err(&path))?;
            let size = f.metadata().map_err(io_err(&path))?.len();
            add(&format!("blobs/sha256/{}", d.hex()), &mut f, size).map_err(tar_err)?;
        }
        tar.into_inner()
            .map_err(tar_err)?
            .flush()
            .map_err(tar_err)?;
        Ok(())
    }
}

/// The digest a name pins: `D` in `…@D` (before a `#ARCH` suffix), when it is one.
pub fn pinned_digest(name: &str) -> Option<Sha256Digest> {
    let (_, after) = name.rsplit_once('@')?;
    after.split('#').next()?.parse().ok()
}

/// The digest of the artifact the entry named `name` stands for: for a per-arch name
/// (`…#ARCH`) the root its [`ANNOTATION_CACHE_ROOT`] holds, else the entry's own.
pub fn stands_for(name: &str, entry: &Descriptor) -> Sha256Digest {
    let root = || {
        let json = entry.annotation(ANNOTATION_CACHE_ROOT)?;
        serde_json::from_slice::<Descriptor>(json.as_bytes()).ok()
    };
    match name.contains('#').then(root).flatten() {
        Some(root) => root.digest,
        None => entry.digest,
    }
}

/// Checks that the entry named `name` in `layout` is the artifact its name pins, if any.
pub(crate) fn check_pin(layout: &Path, name: &str, entry: &Descriptor) -> Result<(), LayoutError> {
    let Some(pinned) = pinned_digest(name) else {
        return Ok(());
    };
    let actual = stands_for(name, entry);
    if actual == pinned {
        return Ok(());
    }
    Err(LayoutError::Pinned {
        layout: layout.to_path_buf(),
        name: name.to_string(),
        pinned,
        actual,
    })
}

fn empty_index() -> ImageIndex {
    ImageIndex {
        schema_version: 2,
        media_type: Some(oci::MEDIA_TYPE_INDEX.to_string()),
        artifact_type: None,
        manifests: Vec::new(),
        subject: None,
        annotations: Default::default(),
    }
}

fn available(names: &[(String, Descriptor)]) -> String {
    if names.is_empty() {
        return "nothing".to_string();
    }
    names
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::{ImageManifest, MEDIA_TYPE_EMPTY, MEDIA_TYPE_MANIFEST};

    pub(super) fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("coreship-layout-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    pub(super) fn put_artifact(layout: &Layout, payload: &[u8]) -> Descriptor {
        let config = layout.blobs().put(b"{}").unwrap();
        let layer = layout.blobs().put(payload).unwrap();
        let m = ImageManifest {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_MANIFEST.into()),
            artifact_type: Some("application/x-test".into()),
            config: Descriptor {
                digest: config,
                ..Descriptor::of(MEDIA_TYPE_EMPTY, b"{}")
            },
            layers: vec![Descriptor {
                digest: layer,
                ..Descriptor::of("application/x-bytes", payload)
            }],
            subject: None,
            annotations: Default::default(),
        };
        let bytes = oci::to_json(&m);
        layout.blobs().put(&bytes).unwrap();
        Descriptor::of(MEDIA_TYPE_MANIFEST, &bytes)
    }

    #[test]
    fn names_resolve_and_unreachable_blobs_are_collected() {
        let root = temp("names");
        let layout = Layout::open_or_create(&root).unwrap();
        let a = put_artifact(&layout, b"aaa");
        layout.set_name("x/a:1", &a).unwrap();
        assert_eq!(layout.resolve("x/a:1").unwrap().digest, a.digest);
        assert_eq!(
            layout.resolve("a:1").unwrap().digest,
            a.digest,
            "by its last component"
        );
        let e = layout.resolve("nope").unwrap_err().to_string();
        assert!(
            e.contains("has no artifact named `nope` (it has: x/a:1)"),
            "{e}"
        );
        let b = put_artifact(&layout, b"bbb");
        layout.set_name("x/a:1", &b).unwrap();
        assert_eq!(layout.names().unwrap().len(), 1);
        // a's manifest and layer are unreachable now; the shared config is not.
        assert_eq!(layout.remove_unreachable().unwrap(), 2);
        layout.reachable("x/a:1", &b).unwrap();
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_name_is_refused_while_its_content_is_incomplete() {
        let root = temp("incomplete");
        let layout = Layout::open_or_create(&root).unwrap();
        let a = put_artifact(&layout, b"aaa");
        let (_, m) = layout.manifest(&a).unwrap();
        let Manifest::Image(m) = m else { panic!() };
        layout.blobs().remove(&m.layers[0].digest).unwrap();
        let e = layout.set_name("a", &a).unwrap_err();
        assert!(matches!(e, LayoutError::Incomplete { .. }), "{e}");
        assert!(layout.names().unwrap().is_empty());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn referrers_follow_their_subject_through_export_import_and_gc() {
        let root = temp("referrers");
        let layout = Layout::open_or_create(&root).unwrap();
        let a = put_artifact(&layout, b"aaa");
        layout.set_name("a:1", &a).unwrap();
        let (blobs, sig) = crate::artifact::signature(&a, b"signature", false);
        for b in blobs.iter().chain([&sig]) {
            layout.blobs().put(&b.bytes).unwrap();
        }
        layout.add_referrer(&sig.descriptor).unwrap();
        layout.add_referrer(&sig.descriptor).unwrap();
        let found = layout
            .referrers(&a.digest, Some(crate::artifact::SIGNATURE_ARTIFACT_TYPE))
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(layout.names().unwrap().len(), 1, "referrers are not names");

        let mut tar = Vec::new();
        layout.write_tar(None, &mut tar).unwrap();
        let dest = Layout::open_or_create(&temp("referrers-dest")).unwrap();
        dest.import_tar(Path::new("t.tar"), &tar[..]).unwrap();
        assert_eq!(dest.referrers(&a.digest, None).unwrap().len(), 1);

        assert_eq!(layout.remove_unreachable().unwrap(), 0);
        layout.remove_name("a:1").unwrap();
        assert_eq!(
            layout.remove_unreachable().unwrap(),
            5,
            "manifest, layer, {{}}, signature layer and manifest"
        );
        assert!(layout.index().unwrap().manifests.is_empty());
        for d in [root, dest.root().to_path_buf()] {
            fs::remove_dir_all(d).unwrap();
        }
    }

    #[test]
    fn tar_export_is_deterministic_and_import_verifies_blobs() {
        let root = temp("tar");
        let layout = Layout::open_or_create(&root).unwrap();
        let a = put_artifact(&layout, b"payload");
        layout.set_name("p:1", &a).unwrap();
        let mut one = Vec::new();
        layout.write_tar(None, &mut one).unwrap();
        let mut two = Vec::new();
        layout
            .write_tar(Some(&["p:1".to_string()]), &mut two)
            .unwrap();
        assert_eq!(one, two);

        let dest = Layout::open_or_create(&temp("tar-dest")).unwrap();
        let got = dest.import_tar(Path::new("t.tar"), &one[..]).unwrap();
        assert_eq!(got.len(), 1);
        dest.reachable("p:1", &dest.resolve("p:1").unwrap())
            .unwrap();

        // Flip one byte of the layer's content inside the archive.
        let pos = one.windows(7).position(|w| w == b"payload").unwrap();
        one[pos] = b'P';
        let bad = Layout::open_or_create(&temp("tar-bad")).unwrap();
        let e = bad.import_tar(Path::new("t.tar"), &one[..]).unwrap_err();
        assert!(
            matches!(e, LayoutError::Store(StoreError::DigestMismatch { .. })),
            "{e}"
        );
        assert!(bad.names().unwrap().is_empty());
        for d in [root, dest.root().to_path_buf(), bad.root().to_path_buf()] {
            fs::remove_dir_all(d).unwrap();
        }
    }
}

crate::debug_as_display!(LayoutError);
