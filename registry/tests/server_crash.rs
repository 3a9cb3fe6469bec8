//! The real binary: kill -9 during a chunked upload, during concurrent pushes of whole
//! artifacts or during a gc loses nothing acknowledged, shows no half blob and leaves a store
//! that serves every tag whole, collects again and takes pushes; `gc` removes only what
//! nothing reaches.
#![cfg(feature = "server")]

mod common;

use common::{
    agent, assert_store_consistent, assert_tags_complete, bearer, body, header, noise, push_blob,
    push_manifest, push_packed, try_push_packed, upload_bytes, write_token_file, BinServer,
    ChildGuard, TempDir,
};
use coreship_registry::artifact::{self, PackOptions, Packed};
use coreship_registry::oci::{
    self, Descriptor, ImageManifest, MEDIA_TYPE_EMPTY, MEDIA_TYPE_MANIFEST,
};
use coreship_registry::store::BlobStore;
use coreship_registry::{testing, Arch, Sha256Digest};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// `coreship-registry gc --root ROOT EXTRA…` to completion; its stdout.
fn run_gc(root: &Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_coreship-registry"))
        .arg("gc")
        .arg("--root")
        .arg(root)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
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

    let data = noise(8 << 20, 0);
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
    let gc = |extra: &[&str]| run_gc(&root, extra);
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

/// A coreship artifact (index, two per-arch manifests, config, objects) whose objects are
/// `object_len` bytes of noise from `seed`.
fn artifact(dir: &Path, seed: u32, object_len: usize) -> Packed {
    let pkg = dir.join(format!("pkg-{seed}"));
    let x86 = noise(object_len, seed);
    let arm = noise(object_len, seed + 1_000_000);
    testing::write_package(
        &pkg,
        "probe",
        &[(Arch::X86_64, &x86[..]), (Arch::Aarch64, &arm[..])],
    );
    let packed = artifact::pack(&pkg, &PackOptions::default()).unwrap();
    std::fs::remove_dir_all(&pkg).unwrap();
    packed
}

#[test]
fn kill_9_during_gc_then_restart_collect_again_and_push() {
    let dir = TempDir::new("crash-gc");
    let root = dir.path().join("root");
    let tokens = write_token_file(dir.path());
    let mut srv = BinServer::start(&root, &tokens, &[]);
    let base = srv.url("");
    let a = agent();
    let kept = [artifact(dir.path(), 1, 4096), artifact(dir.path(), 2, 4096)];
    push_packed(&a, &base, "probes/kept", "v1", &kept[0]);
    push_packed(&a, &base, "probes/kept", "v2", &kept[1]);
    let before = assert_tags_complete(&a, &base);
    assert_eq!(before.len(), 2);

    // Many blobs nothing reaches, as abandoned pushes leave them: content in the store and a
    // layer link in a repository. Written directly (no fsync each) to keep the setup quick.
    let store = BlobStore::open(&root).unwrap();
    let links = root.join("repositories/probes/junk/_layers");
    std::fs::create_dir_all(&links).unwrap();
    let mut orphans: Vec<Sha256Digest> = (0..40_000u32)
        .map(|i| {
            let bytes = format!("orphan layer {i}");
            let d = Sha256Digest::of(bytes.as_bytes());
            std::fs::write(store.path(&d), bytes).unwrap();
            std::fs::write(links.join(d.hex()), b"").unwrap();
            d
        })
        .collect();
    orphans.sort();

    // gc sweeps blobs in digest order: once the orphan a tenth of the way is gone, it is
    // mid-sweep. Kill it and the server there.
    let mut gc = ChildGuard(Some(
        Command::new(env!("CARGO_BIN_EXE_coreship-registry"))
            .arg("gc")
            .arg("--root")
            .arg(&root)
            .args(["--grace", "0s"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let marker = store.path(&orphans[orphans.len() / 10]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while marker.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    gc.kill();
    srv.child.kill();
    assert!(!marker.exists(), "gc did not reach its sweep within 120 s");
    let left = orphans.iter().filter(|d| store.contains(d)).count();
    assert!(
        left > 0,
        "gc finished before the kill: no crash mid-sweep was tested"
    );

    let srv = BinServer::start(&root, &tokens, &[]);
    let base = srv.url("");
    assert_store_consistent(&root);
    assert_eq!(
        assert_tags_complete(&a, &base),
        before,
        "every tag resolves to the artifact pushed before the gc"
    );
    // A link whose blob the killed gc removed reads as missing, not as a server error.
    let r = a
        .get(&format!("{base}/v2/probes/junk/blobs/{}", orphans[0]))
        .call()
        .unwrap();
    assert_eq!(r.status(), 404);

    let out = run_gc(&root, &["--grace", "0s"]);
    assert!(
        out.contains(&format!("removed {left} blobs and 0 uploads")),
        "the second gc removes what the first left: {}",
        out.lines().last().unwrap_or("")
    );
    assert!(orphans.iter().all(|d| !store.contains(d)));
    assert_eq!(
        std::fs::read_dir(&links).map(|d| d.count()).unwrap_or(0),
        0,
        "no link to a removed blob remains"
    );
    assert_store_consistent(&root);
    assert_eq!(assert_tags_complete(&a, &base), before);

    let again = artifact(dir.path(), 3, 4096);
    push_packed(&a, &base, "probes/kept", "v3", &again);
    let after = assert_tags_complete(&a, &base);
    assert_eq!(after.len(), 3);
    assert!(after
        .iter()
        .any(|t| t.tag == "v3" && t.manifest == again.root.bytes));
}

#[test]
fn kill_9_during_concurrent_artifact_pushes_then_restart_and_push() {
    const CLIENTS: u32 = 4;
    let dir = TempDir::new("crash-push");
    let root = dir.path().join("root");
    let tokens = write_token_file(dir.path());
    let mut srv = BinServer::start(&root, &tokens, &[]);
    let base = srv.url("");
    // Tags each client was told were pushed (201 for the tag), and every index a client sent
    // for `latest` (its 201 may be lost in the kill, its write not).
    let acked: Mutex<Vec<(String, Vec<u8>)>> = Mutex::new(Vec::new());
    let sent_latest: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for c in 0..CLIENTS {
            let (base, acked, sent_latest, dir) = (&base, &acked, &sent_latest, dir.path());
            s.spawn(move || {
                let a = agent();
                // Bounded: stops at the first push the kill cuts off, or after 200.
                for n in 0..200u32 {
                    let packed = artifact(dir, c * 1000 + n, 512 << 10);
                    let tag = format!("c{c}-v{n}");
                    if try_push_packed(&a, base, "probes/all", &tag, &packed).is_err() {
                        return;
                    }
                    acked.lock().unwrap().push((tag, packed.root.bytes.clone()));
                    sent_latest.lock().unwrap().push(packed.root.bytes.clone());
                    let r = a
                        .put(&format!("{base}/v2/probes/all/manifests/latest"))
                        .header("Authorization", &bearer())
                        .header("Content-Type", &packed.root.descriptor.media_type)
                        .send(&packed.root.bytes[..]);
                    if !r.is_ok_and(|r| r.status() == 201) {
                        return;
                    }
                    acked
                        .lock()
                        .unwrap()
                        .push(("latest".into(), packed.root.bytes.clone()));
                }
            });
        }
        // Kill once several artifacts are in and an upload is under way.
        let busy = common::wait_until(Duration::from_secs(120), || {
            acked.lock().unwrap().len() >= 8 && upload_bytes(&root) > 0
        });
        srv.child.kill();
        assert!(busy, "the pushes never got going");
    });
    let acked = acked.into_inner().unwrap();
    let sent_latest = sent_latest.into_inner().unwrap();

    let srv = BinServer::start(&root, &tokens, &[]);
    let base = srv.url("");
    let a = agent();
    assert_store_consistent(&root);
    let served = assert_tags_complete(&a, &base);
    for (tag, manifest) in acked.iter().filter(|(t, _)| t != "latest") {
        let t = served.iter().find(|t2| &t2.tag == tag);
        assert!(
            t.is_some_and(|t| &t.manifest == manifest),
            "acknowledged tag {tag} lost or changed"
        );
    }
    let latest = served.iter().find(|t| t.tag == "latest").expect("latest");
    assert!(
        sent_latest.contains(&latest.manifest),
        "latest points at an index some client sent"
    );

    run_gc(&root, &["--grace", "0s"]);
    assert_store_consistent(&root);
    assert_eq!(
        assert_tags_complete(&a, &base),
        served,
        "gc after the crash keeps every tag whole"
    );
    let again = artifact(dir.path(), 999_999, 512 << 10);
    push_packed(&a, &base, "probes/all", "after-crash", &again);
    let after = assert_tags_complete(&a, &base);
    assert_eq!(after.len(), served.len() + 1);
}
