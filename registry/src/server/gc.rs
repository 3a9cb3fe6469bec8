//! `coreship-registry gc`: remove blobs that no manifest of any repository reaches, and upload
//! sessions abandoned longer than the grace period. Blobs younger than the grace period are
//! kept, so a gc running beside a push does not delete a blob whose manifest is not up yet.

use super::storage::Storage;
use crate::oci::{self, Manifest};
use crate::Sha256Digest;
use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// What a gc did (or would do, with `dry_run`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs still referenced.
    pub kept: usize,
    /// Blobs removed.
    pub removed: Vec<Sha256Digest>,
    /// Bytes those blobs held.
    pub freed_bytes: u64,
    /// Unreferenced blobs kept because they are younger than the grace period.
    pub young: usize,
    /// Upload sessions removed.
    pub uploads_removed: usize,
}

fn older_than(path: &Path, grace: Duration, now: SystemTime) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| now.duration_since(t).unwrap_or_default() >= grace)
        .unwrap_or(false)
}

/// Collects garbage under `root` (see the module docs).
pub fn gc(root: &Path, grace: Duration, dry_run: bool) -> io::Result<GcReport> {
    let storage = Storage::open(root)?;
    let blobs = storage.blobs();
    let mut live = BTreeSet::new();
    for repo in storage.repositories()? {
        let mut todo: Vec<(Sha256Digest, Option<String>)> = storage
            .manifests(&repo)?
            .into_iter()
            .map(|d| (d, None))
            .collect();
        while let Some((d, media_type)) = todo.pop() {
            if !live.insert(d) {
                continue;
            }
            let is_manifest = media_type
                .as_deref()
                .is_none_or(oci::is_manifest_media_type);
            if !is_manifest {
                continue;
            }
            // A manifest that cannot be read keeps only itself; gc never guesses.
            let Ok(bytes) = blobs.read(&d) else { continue };
            let Ok(m) = Manifest::parse(&bytes, media_type.as_deref()) else {
                continue;
            };
            for r in m.references() {
                todo.push((r.digest, Some(r.media_type.clone())));
            }
        }
    }
    let now = SystemTime::now();
    let mut report = GcReport::default();
    for d in blobs.list().map_err(io::Error::other)? {
        if live.contains(&d) {
            report.kept += 1;
            continue;
        }
        let path = blobs.path(&d);
        if !older_than(&path, grace, now) {
            report.young += 1;
            continue;
        }
        report.freed_bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if !dry_run {
            blobs.remove(&d).map_err(io::Error::other)?;
        }
        report.removed.push(d);
    }
    for e in fs::read_dir(storage.uploads_dir())? {
        let path = e?.path();
        let is_data = path.extension().is_none();
        if is_data && older_than(&path, grace, now) {
            if !dry_run {
                fs::remove_file(&path)?;
                let _ = fs::remove_file(path.with_extension("name"));
            }
            report.uploads_removed += 1;
        }
    }
    if !dry_run {
        blobs.remove_temp_files(grace).map_err(io::Error::other)?;
    }
    Ok(report)
}
