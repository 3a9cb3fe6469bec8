//! Bringing another image layout into this one (the loader's cache): a tar archive of one, as
//! `coreship export -o X.tar` writes it, or a directory.
//!
//! Either way, blobs are streamed into the store and verified against their digest on the
//! way (never held whole in memory), names that pin a digest are checked before anything is
//! recorded, and each name is added only once all its content is present. A directory is read
//! only through the files it holds itself: a symlink anywhere in it (`oci-layout`,
//! `index.json`, `blobs/`, a blob) is refused, never followed, and no more of a blob is read
//! than its descriptor declares.

use super::{check_pin, io_err, Layout, LayoutError, INDEX_FILE, LAYOUT_FILE};
use crate::oci::{self, Descriptor, ImageIndex, ANNOTATION_REF_NAME};
use crate::store::BlobStore;
use crate::Sha256Digest;
use std::collections::BTreeSet;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// A name an import recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The name.
    pub name: String,
    /// The entry it now stands for.
    pub descriptor: Descriptor,
    /// What the name stood for before, when the import moved it to other content.
    pub moved_from: Option<Sha256Digest>,
}

impl Layout {
    /// Imports a tar archive of an image layout (`archive` names it in errors): every blob is
    /// verified against its name while it is stored, and each entry of the archive's index is
    /// added under its name only once all its content is present. Returns the names imported.
    pub fn import_tar(
        &self,
        archive: &Path,
        input: impl Read,
    ) -> Result<Vec<Imported>, LayoutError> {
        let tar_err = |source| LayoutError::Tar {
            archive: archive.to_path_buf(),
            source,
        };
        let mut index: Option<ImageIndex> = None;
        let mut saw_layout = false;
        let mut tar = tar::Archive::new(input);
        for entry in tar.entries().map_err(tar_err)? {
            let mut entry = entry.map_err(tar_err)?;
            let kind = entry.header().entry_type();
            let member = entry
                .path()
                .map_err(tar_err)?
                .to_string_lossy()
                .into_owned();
            let member = member.trim_start_matches("./").to_string();
            if kind.is_dir() || member.is_empty() {
                continue;
            }
            let bad = || LayoutError::BadMember {
                archive: archive.to_path_buf(),
                member: member.clone(),
            };
            if !kind.is_file() {
                return Err(bad());
            }
            if member == LAYOUT_FILE {
                saw_layout = true;
            } else if member == INDEX_FILE {
                let parsed = parse_index(&archive.join(INDEX_FILE), &mut entry)?;
                check_pins(archive, &parsed)?;
                index = Some(parsed);
            } else if let Some(hex) = member.strip_prefix("blobs/sha256/") {
                let digest: Sha256Digest = format!("sha256:{hex}").parse().map_err(|_| bad())?;
                if !self.blobs.contains(&digest) {
                    self.blobs.put_verified(&digest, &mut entry)?;
                }
            } else {
                return Err(bad());
            }
        }
        let index = match (saw_layout, index) {
            (true, Some(index)) => index,
            _ => return Err(LayoutError::NotLayout(archive.to_path_buf())),
        };
        self.record(index)
    }

    /// Imports the image layout directory `dir`: the blobs its index reaches, each streamed
    /// into the store (at most the size its descriptor declares, digest checked), then its
    /// names, as [`Layout::import_tar`] does. Symlinks inside `dir` are refused, not followed.
    pub fn import_dir(&self, dir: &Path) -> Result<Vec<Imported>, LayoutError> {
        let src = SourceDir { root: dir };
        src.metadata(Path::new(LAYOUT_FILE), Kind::File)?
            .ok_or_else(|| LayoutError::NotLayout(dir.to_path_buf()))?;
        let index_path = dir.join(INDEX_FILE);
        let (mut file, _) = src
            .open(Path::new(INDEX_FILE))?
            .ok_or_else(|| LayoutError::NotLayout(dir.to_path_buf()))?;
        let index = parse_index(&index_path, &mut file)?;
        check_pins(dir, &index)?;
        for d in ["blobs", "blobs/sha256"] {
            src.metadata(Path::new(d), Kind::Dir)?;
        }
        let mut seen = BTreeSet::new();
        let mut todo: Vec<Descriptor> = index.manifests.clone();
        while let Some(d) = todo.pop() {
            if !seen.insert(d.digest) {
                continue;
            }
            // A blob missing here is reported by `record`, naming the entry it leaves
            // incomplete.
            if !self.blobs.contains(&d.digest) && !src.copy_blob(&d, &self.blobs)? {
                continue;
            }
            if oci::is_manifest_media_type(&d.media_type) {
                let (_, m) = self.manifest(&d)?;
                todo.extend(m.references().into_iter().cloned());
            }
        }
        self.record(index)
    }

    /// Adds the names of an imported index (each once its content is all here) and its
    /// unnamed entries as referrers.
    fn record(&self, index: ImageIndex) -> Result<Vec<Imported>, LayoutError> {
        let mut imported = Vec::new();
        let mut unnamed = Vec::new();
        for d in index.manifests {
            match d.annotation(ANNOTATION_REF_NAME).map(str::to_string) {
                Some(name) => {
                    let before = self.set_name(&name, &d)?;
                    imported.push(Imported {
                        moved_from: before.map(|b| b.digest).filter(|b| *b != d.digest),
                        name,
                        descriptor: d,
                    });
                }
                None => unnamed.push(d),
            }
        }
        for d in unnamed {
            self.add_referrer(&d)?;
        }
        Ok(imported)
    }
}

/// Parses an `index.json` read from `input` (no more than a manifest may be).
fn parse_index(path: &Path, input: &mut impl Read) -> Result<ImageIndex, LayoutError> {
    let mut bytes = Vec::new();
    input
        .take(oci::MAX_MANIFEST_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    serde_json::from_slice(&bytes).map_err(|source| LayoutError::Index {
        path: path.to_path_buf(),
        source,
    })
}

/// Refuses an index with a name that pins a digest its entry is not, before anything of it
/// is stored or named.
fn check_pins(layout: &Path, index: &ImageIndex) -> Result<(), LayoutError> {
    for d in &index.manifests {
        if let Some(name) = d.annotation(ANNOTATION_REF_NAME) {
            check_pin(layout, name, d)?;
        }
    }
    Ok(())
}

/// What a path of a layout being imported must be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
}

/// A layout directory being imported, read without following symlinks.
struct SourceDir<'a> {
    root: &'a Path,
}

impl SourceDir<'_> {
    /// The metadata of `rel` (not following a symlink), `None` when absent; an error when it
    /// is not of `kind`.
    fn metadata(&self, rel: &Path, kind: Kind) -> Result<Option<Metadata>, LayoutError> {
        let path = self.root.join(rel);
        match fs::symlink_metadata(&path) {
            Ok(m) => is_kind(&path, &m, kind).map(|()| Some(m)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Opens the regular file `rel`, refusing a symlink even one swapped in after a check;
    /// `None` when absent.
    fn open(&self, rel: &Path) -> Result<Option<(File, Metadata)>, LayoutError> {
        let path = self.root.join(rel);
        if self.metadata(rel, Kind::File)?.is_none() {
            return Ok(None);
        }
        // O_NONBLOCK: a FIFO swapped in after the check must not block the open.
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => not_own(&path, "a symbolic link", Kind::File),
                _ => io_err(&path)(e),
            })?;
        let meta = file.metadata().map_err(io_err(&path))?;
        is_kind(&path, &meta, Kind::File)?;
        Ok(Some((file, meta)))
    }

    /// Streams the blob `d` into `store`, reading no more than its declared size; `false` when
    /// the directory does not have it.
    fn copy_blob(&self, d: &Descriptor, store: &BlobStore) -> Result<bool, LayoutError> {
        let rel = PathBuf::from("blobs/sha256").join(d.digest.hex());
        let path = self.root.join(&rel);
        if oci::is_manifest_media_type(&d.media_type) && d.size > oci::MAX_MANIFEST_BYTES as u64 {
            return Err(LayoutError::ManifestTooLarge {
                path,
                size: d.size,
                limit: oci::MAX_MANIFEST_BYTES,
            });
        }
        let Some((file, meta)) = self.open(&rel)? else {
            return Ok(false);
        };
        if meta.len() != d.size {
            return Err(LayoutError::Size {
                path,
                expected: d.size,
                actual: meta.len(),
            });
        }
        store.put_verified(&d.digest, file.take(d.size))?;
        Ok(true)
    }
}

fn is_kind(path: &Path, meta: &Metadata, kind: Kind) -> Result<(), LayoutError> {
    let t = meta.file_type();
    let found = if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else {
        "a device, FIFO or socket"
    };
    let ok = match kind {
        Kind::File => t.is_file(),
        Kind::Dir => t.is_dir(),
    };
    match ok {
        true => Ok(()),
        false => Err(not_own(path, found, kind)),
    }
}

fn not_own(path: &Path, found: &'static str, kind: Kind) -> LayoutError {
    LayoutError::NotOwnFile {
        path: path.to_path_buf(),
        found,
        expected: match kind {
            Kind::File => "regular file",
            Kind::Dir => "directory",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{put_artifact, temp};
    use super::*;
    use crate::oci::Manifest;
    use std::os::unix::fs::symlink;

    /// A layout directory holding one artifact named `r.lan/p/a:1`; returns it, the entry and
    /// the path of the artifact's layer blob.
    fn source(tag: &str, payload: &[u8]) -> (Layout, Descriptor, PathBuf) {
        let layout = Layout::open_or_create(&temp(tag)).unwrap();
        let a = put_artifact(&layout, payload);
        layout.set_name("r.lan/p/a:1", &a).unwrap();
        let (_, m) = layout.manifest(&a).unwrap();
        let Manifest::Image(m) = m else { panic!() };
        let layer = layout.blobs().path(&m.layers[0].digest);
        (layout, a, layer)
    }

    fn dest(tag: &str) -> Layout {
        Layout::open_or_create(&temp(tag)).unwrap()
    }

    fn cleanup(layouts: &[&Layout]) {
        for l in layouts {
            fs::remove_dir_all(l.root()).unwrap();
        }
    }

    #[test]
    fn a_directory_is_imported_blob_by_blob() {
        let (src, a, _) = source("dir-src", b"payload");
        let into = dest("dir-dest");
        let got = into.import_dir(src.root()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "r.lan/p/a:1");
        assert_eq!(got[0].moved_from, None);
        into.reachable("r.lan/p/a:1", &into.resolve("r.lan/p/a:1").unwrap())
            .unwrap();
        assert_eq!(into.resolve("a:1").unwrap().digest, a.digest);
        cleanup(&[&src, &into]);
    }

    #[test]
    fn links_in_an_imported_directory_are_refused_not_followed() {
        let (src, _, layer) = source("links-src", b"payload");
        let outside = src.root().join("outside");
        fs::copy(&layer, &outside).unwrap();
        let blobs = src.root().join("blobs");
        let index = src.root().join(INDEX_FILE);
        let moved = |p: &Path| p.with_extension("real");
        // A blob linked to an endless device, to a file with the right content elsewhere;
        // the blob directory and the index linked to real ones.
        let cases: [(&Path, &Path); 4] = [
            (&layer, Path::new("/dev/zero")),
            (&layer, &outside),
            (&blobs, &moved(&blobs)),
            (&index, &moved(&index)),
        ];
        for (i, (path, target)) in cases.into_iter().enumerate() {
            if *target == moved(path) {
                fs::rename(path, target).unwrap();
            } else {
                fs::remove_file(path).unwrap();
            }
            symlink(target, path).unwrap();
            let into = dest(&format!("links-dest-{i}"));
            let e = into.import_dir(src.root()).unwrap_err();
            assert!(
                matches!(&e, LayoutError::NotOwnFile { path: p, found: "a symbolic link", .. } if p == path),
                "{}: {e}",
                path.display()
            );
            assert!(into.names().unwrap().is_empty());
            fs::remove_file(path).unwrap();
            if *target == moved(path) {
                fs::rename(target, path).unwrap();
            } else {
                fs::copy(&outside, path).unwrap();
            }
            cleanup(&[&into]);
        }
        cleanup(&[&src]);
    }

    #[test]
    fn no_more_of_a_blob_is_read_than_its_descriptor_declares() {
        let (src, _, layer) = source("size-src", b"payload");
        let mut bytes = fs::read(&layer).unwrap();
        bytes.extend_from_slice(b" and more");
        fs::write(&layer, &bytes).unwrap();
        let into = dest("size-dest");
        let e = into.import_dir(src.root()).unwrap_err();
        assert!(
            matches!(
                e,
                LayoutError::Size {
                    expected: 7,
                    actual: 16,
                    ..
                }
            ),
            "{e}"
        );
        assert!(into.names().unwrap().is_empty());
        cleanup(&[&src, &into]);
    }

    #[test]
    fn a_name_that_pins_a_digest_is_never_imported_for_other_content() {
        let (src, a, _) = source("pin-src", b"aaa");
        let b = put_artifact(&src, b"bbb");
        let pinned = format!("r.lan/p/a@{}", a.digest);
        // The layout refuses to record it; an index written by hand says it anyway.
        let e = src.set_name(&pinned, &b).unwrap_err();
        assert!(matches!(e, LayoutError::Pinned { .. }), "{e}");
        src.set_name(&pinned, &a).unwrap();
        let index_path = src.root().join(INDEX_FILE);
        let text = fs::read_to_string(&index_path).unwrap();
        let mut index: ImageIndex = serde_json::from_str(&text).unwrap();
        for d in &mut index.manifests {
            if d.annotation(ANNOTATION_REF_NAME) == Some(pinned.as_str()) {
                let mut entry = b.clone();
                entry.annotations = d.annotations.clone();
                *d = entry;
            }
        }
        fs::write(&index_path, oci::to_json(&index)).unwrap();

        for name in [pinned.as_str(), &format!("a@{}", a.digest)] {
            let e = src.resolve(name).unwrap_err();
            assert!(
                matches!(&e, LayoutError::Pinned { actual, .. } if *actual == b.digest),
                "{e}"
            );
        }

        let mut tar = Vec::new();
        src.write_tar(None, &mut tar).unwrap();
        for (i, import) in ["tar", "dir"].into_iter().enumerate() {
            let into = dest(&format!("pin-dest-{i}"));
            let e = match import {
                "tar" => into.import_tar(Path::new("t.tar"), &tar[..]),
                _ => into.import_dir(src.root()),
            }
            .unwrap_err();
            assert!(
                matches!(&e, LayoutError::Pinned { name, .. } if *name == pinned),
                "{e}"
            );
            assert!(into.names().unwrap().is_empty(), "{import}");
            assert!(into.blobs().list().unwrap().is_empty(), "{import}");
            cleanup(&[&into]);
        }
        cleanup(&[&src]);
    }

    #[test]
    fn an_import_says_which_names_it_moved() {
        let (old, a, _) = source("moved-old", b"aaa");
        let (new, b, _) = source("moved-new", b"bbb");
        let into = dest("moved-dest");
        let mut tar = Vec::new();
        new.write_tar(None, &mut tar).unwrap();
        into.import_dir(old.root()).unwrap();
        let got = into.import_tar(Path::new("t.tar"), &tar[..]).unwrap();
        assert_eq!(got[0].moved_from, Some(a.digest));
        assert_eq!(got[0].descriptor.digest, b.digest);
        let again = into.import_tar(Path::new("t.tar"), &tar[..]).unwrap();
        assert_eq!(again[0].moved_from, None);
        cleanup(&[&old, &new, &into]);
    }

    #[test]
    fn per_arch_names_pin_the_root_they_stand_for() {
        let d = Sha256Digest::of(b"root");
        assert_eq!(pinned(&format!("r/p/x@{d}")), Some(d));
        assert_eq!(pinned(&format!("r/p/x@{d}#x86_64")), Some(d));
        assert_eq!(pinned("r/p/x:1#x86_64"), None);
        assert_eq!(pinned("r/p/x@sha256:12"), None);
        let mut arch_manifest = Descriptor::of(oci::MEDIA_TYPE_MANIFEST, b"m");
        let root = Descriptor::of(oci::MEDIA_TYPE_INDEX, b"root");
        arch_manifest.annotations.insert(
            super::super::ANNOTATION_CACHE_ROOT.into(),
            serde_json::to_string(&root).unwrap(),
        );
        let name = format!("r/p/x@{}#x86_64", root.digest);
        check_pin(Path::new("c"), &name, &arch_manifest).unwrap();
        let other = format!("r/p/x@{}#x86_64", arch_manifest.digest);
        assert!(check_pin(Path::new("c"), &other, &arch_manifest).is_err());
    }

    fn pinned(name: &str) -> Option<Sha256Digest> {
        super::super::pinned_digest(name)
    }
}
