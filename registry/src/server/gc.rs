//! `coreship-registry gc`: deletes content no manifest reaches, and abandoned uploads.
//!
//! Every manifest linked in any repository is a root (tagged or not); indexes are walked
//! recursively. A referrer's `subject` is not followed: a signature keeps itself, not what it
//! signs. Anything younger than the grace period is kept, whatever reaches it, so a gc running
//! while a client pushes (blobs first, manifest last) never deletes the blobs of that push.

use super::error::ApiError;
use super::storage::{list_dir, RepoName, Storage};
use crate::oci::{is_manifest_media_type, Manifest, MAX_MANIFEST_BYTES};
use crate::Sha256Digest;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What to collect.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Keep anything modified more recently than this.
    pub grace: Duration,
    /// Only report what would go.
    pub dry_run: bool,
}

/// What was (or, dry, would be) removed.
#[derive(Debug, Default, Clone)]
pub struct GcReport {
    /// Blobs removed, with sizes.
    pub blobs: Vec<(Sha256Digest, u64)>,
    /// Upload sessions removed (id, bytes).
    pub uploads: Vec<(String, u64)>,
    /// Unreachable blobs kept because they are younger than the grace period.
    pub kept_young: usize,
    /// Blobs reachable from some manifest.
    pub reachable: usize,
    /// Bytes freed.
    pub freed_bytes: u64,
}

/// A gc failure.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// The storage could not be read or changed.
    #[error("registry storage under {root}")]
    Storage {
        /// The root.
        root: PathBuf,
        /// Why.
        #[source]
        source: ApiError,
    },
}

fn age(path: &Path, now: SystemTime) -> Option<Duration> {
    let modified = fs::metadata(path).and_then(|m| m.modified()).ok()?;
    Some(now.duration_since(modified).unwrap_or_default())
}

/// Runs a collection over the registry at `root`.
pub fn collect_garbage(root: &Path, opts: &GcOptions) -> Result<GcReport, GcError> {
    let wrap = |source| GcError::Storage {
        root: root.to_path_buf(),
        source,
    };
    let storage = Storage::open(root).map_err(wrap)?;
    run(&storage, opts).map_err(wrap)
}

fn mark(storage: &Storage) -> Result<BTreeSet<Sha256Digest>, ApiError> {
    let mut roots = Vec::new();
    for name in storage.catalog()? {
        let repo = RepoName::parse(&name)?;
        roots.extend(storage.manifests(&repo)?.into_iter().map(|(d, _)| d));
    }
    Ok(reachable(storage, roots))
}

/// Everything the manifests `roots` reach: themselves, the manifests their indexes list
/// (recursively) and the blobs each of those names. A referrer's `subject` is not followed.
pub(crate) fn reachable(
    storage: &Storage,
    roots: impl IntoIterator<Item = Sha256Digest>,
) -> BTreeSet<Sha256Digest> {
    let mut todo: Vec<(Sha256Digest, bool)> = roots.into_iter().map(|d| (d, true)).collect();
    let mut marked = BTreeSet::new();
    while let Some((digest, is_manifest)) = todo.pop() {
        if !marked.insert(digest) || !is_manifest {
            continue;
        }
        // A manifest that cannot be read keeps itself only; its content is not guessed at.
        // Nor is a blob larger than any manifest read whole because a descriptor calls it one.
        let fits = storage
            .blobs()
            .size(&digest)
            .is_some_and(|n| n <= MAX_MANIFEST_BYTES as u64);
        let Some(bytes) = fits
            .then(|| fs::read(storage.blobs().path(&digest)).ok())
            .flatten()
        else {
            continue;
        };
        if let Ok(m) = Manifest::parse(&bytes, None) {
            let index = matches!(m, Manifest::Index(_));
            for d in m.references() {
                todo.push((d.digest, index || is_manifest_media_type(&d.media_type)));
            }
        }
    }
    marked
}

fn run(storage: &Storage, opts: &GcOptions) -> Result<GcReport, ApiError> {
    let now = SystemTime::now();
    let young = |p: &Path| age(p, now).is_none_or(|a| a < opts.grace);
    let marked = mark(storage)?;
    let mut report = GcReport {
        reachable: marked.len(),
        ..GcReport::default()
    };
    for digest in storage.blobs().list()? {
        if marked.contains(&digest) {
            continue;
        }
        let path = storage.blobs().path(&digest);
        if young(&path) {
            report.kept_young += 1;
            continue;
        }
        let size = storage.blobs().size(&digest).unwrap_or(0);
        if !opts.dry_run {
            storage.blobs().remove(&digest)?;
        }
        report.freed_bytes += size;
        report.blobs.push((digest, size));
    }
    if !opts.dry_run {
        // Repository links to content that is gone.
        for name in storage.catalog()? {
            let repo = RepoName::parse(&name)?;
            for d in storage.layer_links(&repo)? {
                if !storage.blobs().contains(&d) {
                    storage.unlink_blob(&repo, &d)?;
                }
            }
        }
    }
    for (file, path) in list_dir(&storage.uploads_dir())? {
        if file.ends_with(".repo") || young(&path) {
            continue;
        }
        let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if !opts.dry_run {
            let _ = fs::remove_file(&path);
            let _ = fs::remove_file(storage.uploads_dir().join(format!("{file}.repo")));
        }
        report.freed_bytes += size;
        report.uploads.push((file, size));
    }
    if !opts.dry_run {
        // Owner files whose data is gone (a crash between the two removals).
        for (file, path) in list_dir(&storage.uploads_dir())? {
            if let Some(id) = file.strip_suffix(".repo") {
                if !storage.uploads_dir().join(id).exists() && !young(&path) {
                    let _ = fs::remove_file(&path);
                }
            }
        }
        storage.blobs().remove_temp_files(opts.grace)?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::{self, Descriptor, ImageManifest, MEDIA_TYPE_EMPTY, MEDIA_TYPE_MANIFEST};

    #[test]
    fn unreachable_old_blobs_go_and_young_or_reachable_ones_stay() {
        let root = std::env::temp_dir().join(format!("coreship-srv-gc-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let s = Storage::open(&root).unwrap();
        let repo = RepoName::parse("r").unwrap();
        let config = s.blobs().put(b"{}").unwrap();
        let orphan = s.blobs().put(b"orphan").unwrap();
        let m = ImageManifest {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_MANIFEST.into()),
            artifact_type: None,
            config: Descriptor::of(MEDIA_TYPE_EMPTY, b"{}"),
            layers: vec![],
            subject: None,
            annotations: Default::default(),
        };
        let md = s.blobs().put(&oci::to_json(&m)).unwrap();
        s.link_blob(&repo, &config).unwrap();
        s.link_blob(&repo, &orphan).unwrap();
        s.link_manifest(&repo, &md, MEDIA_TYPE_MANIFEST).unwrap();
        let keep_all = GcOptions {
            grace: Duration::from_secs(3600),
            dry_run: false,
        };
        let r = run(&s, &keep_all).unwrap();
        assert!(r.blobs.is_empty());
        assert_eq!(r.kept_young, 1);
        let now = GcOptions {
            grace: Duration::ZERO,
            dry_run: false,
        };
        let r = run(&s, &now).unwrap();
        assert_eq!(r.blobs, vec![(orphan, 6)]);
        assert!(s.blobs().contains(&config) && s.blobs().contains(&md));
        assert!(s.layer_links(&repo).unwrap() == vec![config]);
        fs::remove_dir_all(&root).unwrap();
    }
}
