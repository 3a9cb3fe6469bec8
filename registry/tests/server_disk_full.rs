//! The real binary on a full disk (a small tmpfs as its root): uploads and manifest pushes that
//! do not fit get a clean 507 with a spec error body, leave no half blob, keep what was stored
//! before, and succeed once space is freed. Needs root for the mount: skipped otherwise unless
//! CORESHIP_REQUIRE_PEERS=1 or CORESHIP_REQUIRE_BPF=1.
#![cfg(feature = "server")]

mod common;

use common::{
    agent, assert_store_consistent, assert_tags_complete, bearer, body, error_code, header, noise,
    packed, push_blob, push_packed, write_token_file, BinServer, TempDir,
};
use coreship_registry::oci::{
    self, Descriptor, ImageManifest, MEDIA_TYPE_EMPTY, MEDIA_TYPE_MANIFEST,
};
use coreship_registry::store::BlobStore;
use coreship_registry::Sha256Digest;
use std::path::{Path, PathBuf};
use std::process::Command;

const MIB: usize = 1 << 20;

/// A tmpfs mounted on a directory, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount -t tmpfs on {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Still busy (a panic left a process on it): detach it now, freed when idle.
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Whether this test may mount: root, or a skip (printed) unless CI requires these tests.
fn can_mount(test: &str) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("");
    if euid == "0" {
        return true;
    }
    let required = ["CORESHIP_REQUIRE_PEERS", "CORESHIP_REQUIRE_BPF"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|v| v == "1"));
    if required {
        panic!("{test}: mounting a tmpfs needs root, and CORESHIP_REQUIRE_PEERS/BPF=1 is set");
    }
    eprintln!("SKIPPED: {test}: mounting a tmpfs needs root");
    false
}

/// Bytes available to files on the file system of `dir`.
fn free_bytes(dir: &Path) -> usize {
    let out = Command::new("stat")
        .args(["-f", "-c", "%a %S"])
        .arg(dir)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut f = text.split_whitespace().map(|n| n.parse::<usize>().unwrap());
    f.next().unwrap() * f.next().unwrap()
}

/// Fills the file system of `mnt` with a ballast file until about `left` bytes are free.
fn fill(mnt: &Path, left: usize) -> PathBuf {
    let ballast = mnt.join("ballast");
    let _ = std::fs::remove_file(&ballast);
    let n = free_bytes(mnt).saturating_sub(left);
    std::fs::write(&ballast, vec![0u8; n]).unwrap();
    ballast
}

/// Checks a refusal for lack of space: 507 with a spec error body that says so.
fn assert_disk_full(what: &str, r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) {
    let mut r = r.unwrap_or_else(|e| panic!("{what}: no response, the client saw: {e}"));
    assert_eq!(r.status(), 507, "{what}");
    assert_eq!(header(&r, "content-type"), "application/json", "{what}");
    let bytes = body(&mut r);
    assert_eq!(error_code(&bytes), "UNKNOWN", "{what}");
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let message = v["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("full"), "{what}: {message}");
}

fn upload_files(root: &Path) -> Vec<String> {
    std::fs::read_dir(root.join("uploads"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn full_disk_refuses_uploads_cleanly_and_they_succeed_once_space_is_freed() {
    if !can_mount("full_disk_refuses_uploads_cleanly") {
        return;
    }
    // Dropped in reverse: the server, then the mount, then the directory.
    let dir = TempDir::new("disk-full");
    let mnt = dir.path().join("mnt");
    let _tmpfs = Tmpfs::mount(&mnt, "96m");
    let root = mnt.join("root");
    let tokens = write_token_file(dir.path());
    let srv = BinServer::start(&root, &tokens, &[]);
    let base = srv.url("");
    let a = agent();
    push_packed(
        &a,
        &base,
        "probes/early",
        "v1",
        &packed(dir.path(), "early"),
    );
    let before = assert_tags_complete(&a, &base);
    let store = BlobStore::open(&root).unwrap();

    // Monolithic: 64 MiB with about 4 MiB free (far more than the socket buffers hold).
    let ballast = fill(&mnt, 4 * MIB);
    let big = noise(64 * MIB, 1);
    let d = Sha256Digest::of(&big);
    let monolithic = || {
        a.post(&format!("{base}/v2/probes/early/blobs/uploads/?digest={d}"))
            .header("Authorization", &bearer())
            .header("Content-Type", "application/octet-stream")
            .send(&big[..])
    };
    assert_disk_full("monolithic upload", monolithic());
    assert!(!store.contains(&d), "no half blob");
    assert!(upload_files(&root).is_empty(), "{:?}", upload_files(&root));
    assert_store_consistent(&root);
    assert_eq!(
        assert_tags_complete(&a, &base),
        before,
        "earlier content served"
    );

    // A manifest push with no space at all.
    push_blob(&a, &base, "probes/early", b"{}");
    fill(&mnt, 0);
    let manifest = oci::to_json(&ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.into()),
        artifact_type: Some("application/vnd.test".into()),
        config: Descriptor::of(MEDIA_TYPE_EMPTY, b"{}"),
        layers: vec![],
        subject: None,
        annotations: Default::default(),
    });
    let r = a
        .put(&format!("{base}/v2/probes/early/manifests/v2"))
        .header("Authorization", &bearer())
        .header("Content-Type", MEDIA_TYPE_MANIFEST)
        .send(&manifest[..]);
    assert_disk_full("manifest push", r);
    assert!(!store.contains(&Sha256Digest::of(&manifest)));
    assert_eq!(
        assert_tags_complete(&a, &base),
        before,
        "earlier content served"
    );

    std::fs::remove_file(&ballast).unwrap();
    let r = monolithic().unwrap();
    assert_eq!(r.status(), 201, "the same push once space is freed");
    assert_eq!(store.verify(&d).ok(), Some(()));

    // Chunked, 1 MiB at a time, with about 4 MiB free: a chunk that does not fit is refused
    // whole and the session keeps the chunks before it, so the push resumes after freeing.
    let ballast = fill(&mnt, 4 * MIB);
    let big = noise(6 * MIB, 2);
    let d = Sha256Digest::of(&big);
    let r = a
        .post(&format!("{base}/v2/probes/early/blobs/uploads/"))
        .header("Authorization", &bearer())
        .send_empty()
        .unwrap();
    let loc = header(&r, "location");
    let patch = |i: usize| {
        a.patch(&format!("{base}{loc}"))
            .header("Authorization", &bearer())
            .header(
                "Content-Range",
                &format!("{}-{}", i * MIB, (i + 1) * MIB - 1),
            )
            .send(&big[i * MIB..(i + 1) * MIB])
    };
    let mut stored = 0;
    loop {
        assert!(stored < 6, "every chunk fitted: the disk was not full");
        let r = patch(stored);
        if r.as_ref().is_ok_and(|r| r.status() == 202) {
            stored += 1;
            continue;
        }
        assert_disk_full(&format!("chunk {stored}"), r);
        break;
    }
    assert!(stored > 0, "no chunk fitted in 4 MiB");
    let r = a
        .get(&format!("{base}{loc}"))
        .header("Authorization", &bearer())
        .call()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        header(&r, "range"),
        format!("0-{}", stored * MIB - 1),
        "the refused chunk left nothing in the session"
    );
    assert!(!store.contains(&d), "no half blob");
    assert_store_consistent(&root);
    assert_eq!(
        assert_tags_complete(&a, &base),
        before,
        "earlier content served"
    );

    std::fs::remove_file(&ballast).unwrap();
    for i in stored..6 {
        assert_eq!(patch(i).unwrap().status(), 202, "chunk {i} after freeing");
    }
    let r = a
        .put(&format!("{base}{loc}?digest={d}"))
        .header("Authorization", &bearer())
        .send_empty()
        .unwrap();
    assert_eq!(r.status(), 201);
    let mut g = a
        .get(&format!("{base}/v2/probes/early/blobs/{d}"))
        .call()
        .unwrap();
    assert_eq!(body(&mut g), big);
    assert_store_consistent(&root);
    push_blob(&a, &base, "probes/early", b"after the full disk");
}
