//! The real binary: kill -9 during a chunked upload loses nothing acknowledged and shows no
//! half blob; `gc` removes only what nothing reaches.
#![cfg(feature = "server")]

mod common;

use common::{
    agent, bearer, body, header, push_blob, push_manifest, write_token_file, BinServer, TempDir,
};
use coreship_registry::oci::{
    self, Descriptor, ImageManifest, MEDIA_TYPE_EMPTY, MEDIA_TYPE_MANIFEST,
};
use coreship_registry::store::BlobStore;
use coreship_registry::Sha256Digest;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const CHUNK: usize = 256 << 10;

fn manifest(layer: &[u8]) -> Vec<u8> {
    oci::to_json(&ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.into()),
        artifact_type: Some("application/vnd.test".into()),
        config: Descriptor::of(MEDIA_TYPE_EMPTY, b"{}"),
        layers: vec![Descriptor::of("application/octet-stream", layer)],
        subject: None,
        annotations: Default::default(),
    })
}

/// Chunked upload of `data`; returns the status of the final PUT, or None if the connection
/// broke (the server was killed), checking `stop` between chunks.
fn chunked_push(base: &str, repo: &str, data: &[u8], stop: &AtomicBool) -> Option<u16> {
    let a = agent();
    let r = a
        .post(&format!("{base}/v2/{repo}/blobs/uploads/"))
        .header("Authorization", &bearer())
        .send_empty()
        .ok()?;
    let mut loc = header(&r, "location");
    for (i, part) in data.chunks(CHUNK).enumerate() {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        let start = i * CHUNK;
        let r = a
            .patch(&format!("{base}{loc}"))
            .header("Authorization", &bearer())
            .header(
                "Content-Range",
                &format!("{start}-{}", start + part.len() - 1),
            )
            .send(part)
            .ok()?;
        if r.status() != 202 {
            return Some(r.status().as_u16());
        }
        loc = header(&r, "location");
    }
    let d = Sha256Digest::of(data);
    let r = a
        .put(&format!("{base}{loc}?digest={d}"))
        .header("Authorization", &bearer())
        .send_empty()
        .ok()?;
    Some(r.status().as_u16())
}

fn upload_bytes(root: &Path) -> u64 {
    std::fs::read_dir(root.join("uploads"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn assert_store_consistent(root: &Path) {
    let store = BlobStore::open(root).unwrap();
    for d in store.list().unwrap() {
        store.verify(&d).unwrap_or_else(|e| panic!("blob {d}: {e}"));
    }
    for e in std::fs::read_dir(root.join("blobs/sha256")).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(
            !name.starts_with(".tmp-"),
            "temp file {name} left visible after restart"
        );
    }
}

#[test]
fn kill_9_mid_upload_then_restart_and_push_again() {
    let dir = TempDir::new("crash");
    let root = dir.path().join("root");
    let tokens = write_token_file(dir.path());
    let mut srv = BinServer::start(&root, &tokens, &[]);
    let base = srv.url("");
    let a = agent();
    // Acknowledged state before the crash.
    push_blob(&a, &base, "probes/x", b"{}");
    let layer = push_blob(&a, &base, "probes/x", b"small layer");
    let m = manifest(b"small layer");
    assert_eq!(
        push_manifest(&a, &base, "probes/x", "v1", MEDIA_TYPE_MANIFEST, &m).status(),
        201
    );

    let data: Vec<u8> = (0..8 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let big = Sha256Digest::of(&data);
    let stop = AtomicBool::new(false);
    let outcome = std::thread::scope(|s| {
        let pusher = s.spawn(|| chunked_push(&base, "probes/x", &data, &stop));
        let started =
            common::wait_until(Duration::from_secs(30), || upload_bytes(&root) >= 3 << 20);
        srv.child.kill(); // SIGKILL
        stop.store(true, Ordering::Relaxed);
        assert!(started, "the upload never got going");
        pusher.join().unwrap()
    });
    assert_eq!(outcome, None, "the push was cut off by the kill");

    let srv = BinServer::start(&root, &tokens, &[]);
    let base = srv.url("");
    assert_store_consistent(&root);
    assert!(
        !BlobStore::open(&root).unwrap().contains(&big),
        "no blob from the partial upload"
    );
    let r = a
        .get(&format!("{base}/v2/probes/x/blobs/{big}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 404);
    let mut r = a
        .get(&format!("{base}/v2/probes/x/manifests/v1"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200, "the tag pushed before the crash resolves");
    assert_eq!(body(&mut r), m);
    let mut r = a
        .get(&format!("{base}/v2/probes/x/blobs/{layer}"))
        .call()
        .unwrap();
    assert_eq!(body(&mut r), b"small layer");

    let never = AtomicBool::new(false);
    assert_eq!(chunked_push(&base, "probes/x", &data, &never), Some(201));
    let mut r = a
        .get(&format!("{base}/v2/probes/x/blobs/{big}"))
        .call()
        .unwrap();
    assert_eq!(body(&mut r), data);
    assert_store_consistent(&root);
}

#[test]
fn gc_removes_unreachable_blobs_and_stale_uploads_only() {
    let dir = TempDir::new("gc-cli");
    let root = dir.path().join("root");
    let tokens = write_token_file(dir.path());
    let srv = BinServer::start(&root, &tokens, &[]);
    let base = srv.url("");
    let a = agent();
    let config = push_blob(&a, &base, "r", b"{}");
    let layer = push_blob(&a, &base, "r", b"kept layer");
    let orphan = push_blob(&a, &base, "r", b"orphan layer");
    let m = manifest(b"kept layer");
    assert_eq!(
        push_manifest(&a, &base, "r", "v1", MEDIA_TYPE_MANIFEST, &m).status(),
        201
    );
    let r = a
        .post(&format!("{base}/v2/r/blobs/uploads/"))
        .header("Authorization", &bearer())
        .send_empty()
        .unwrap();
    assert_eq!(r.status(), 202);
    let gc = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_coreship-registry"))
            .arg("gc")
            .arg("--root")
            .arg(&root)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let out = gc(&[]);
    assert!(
        out.contains("removed 0 blobs"),
        "young blobs are kept by the 1h grace: {out}"
    );
    let out = gc(&["--grace", "0s", "--dry-run"]);
    assert!(
        out.contains(&format!("would remove blob {orphan}")),
        "{out}"
    );
    assert!(BlobStore::open(&root).unwrap().contains(&orphan));
    let out = gc(&["--grace", "0s"]);
    assert!(
        out.contains(&format!("removed blob {orphan} (12 bytes)")),
        "{out}"
    );
    assert!(out.contains("removed 1 blobs and 1 uploads"), "{out}");
    let store = BlobStore::open(&root).unwrap();
    let md = Sha256Digest::of(&m);
    for d in [config, layer, md] {
        assert!(store.contains(&d), "{d} is reachable and kept");
    }
    assert!(!store.contains(&orphan));
    let r = a
        .get(&format!("{base}/v2/r/blobs/{orphan}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 404);
    let mut r = a.get(&format!("{base}/v2/r/manifests/v1")).call().unwrap();
    assert_eq!(body(&mut r), m);
}
