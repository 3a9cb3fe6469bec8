//! End-to-end flows on a real 127.0.0.1 port with a plain HTTP client (ureq).
#![cfg(feature = "server")]

mod common;

use common::{
    agent, bearer, body, error_code, header, options, push_blob, push_manifest, TempDir,
    ThreadServer,
};
use coreship_registry::oci::{
    self, Descriptor, ImageManifest, MEDIA_TYPE_EMPTY, MEDIA_TYPE_MANIFEST,
};
use coreship_registry::Sha256Digest;
use std::path::Path;

fn blob_files(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn manifest(layers: &[&[u8]]) -> Vec<u8> {
    oci::to_json(&ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.into()),
        artifact_type: Some("application/vnd.test".into()),
        config: Descriptor::of(MEDIA_TYPE_EMPTY, b"{}"),
        layers: layers
            .iter()
            .map(|l| Descriptor::of("application/octet-stream", l))
            .collect(),
        subject: None,
        annotations: Default::default(),
    })
}

#[test]
fn chunked_upload_with_status_out_of_order_chunk_and_range_reads() {
    let dir = TempDir::new("flow-chunked");
    let srv = ThreadServer::start(options(dir.path()));
    let base = srv.url("");
    let a = agent();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let d = Sha256Digest::of(&data);
    let r = a
        .post(&format!("{base}/v2/big/blobs/uploads/"))
        .header("Authorization", &bearer())
        .send_empty()
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(header(&r, "range"), "0-0");
    let uuid = header(&r, "docker-upload-uuid");
    let mut location = header(&r, "location");
    assert_eq!(location, format!("/v2/big/blobs/uploads/{uuid}"));
    let chunk = 1_000_000;
    for (i, part) in data.chunks(chunk).enumerate() {
        let start = i * chunk;
        let end = start + part.len() - 1;
        if i == 1 {
            // A chunk that does not continue at the current offset: 416, the state unchanged.
            let mut r = a
                .patch(&format!("{base}{location}"))
                .header("Authorization", &bearer())
                .header("Content-Range", &format!("{}-{}", start + 5, end + 5))
                .send(part)
                .unwrap();
            assert_eq!(r.status(), 416);
            assert_eq!(header(&r, "range"), format!("0-{}", start - 1));
            assert_eq!(error_code(&body(&mut r)), "BLOB_UPLOAD_INVALID");
        }
        let r = a
            .patch(&format!("{base}{location}"))
            .header("Authorization", &bearer())
            .header("Content-Type", "application/octet-stream")
            .header("Content-Range", &format!("{start}-{end}"))
            .send(part)
            .unwrap();
        assert_eq!(r.status(), 202, "chunk {i}");
        assert_eq!(header(&r, "range"), format!("0-{end}"));
        location = header(&r, "location");
        let s = a
            .get(&format!("{base}{location}"))
            .header("Authorization", &bearer())
            .call()
            .unwrap();
        assert_eq!(s.status(), 204);
        assert_eq!(header(&s, "range"), format!("0-{end}"));
    }
    assert!(
        !blob_files(dir.path()).contains(&d.hex()),
        "not visible before PUT"
    );
    let r = a
        .put(&format!("{base}{location}?digest={d}"))
        .header("Authorization", &bearer())
        .send_empty()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "location"), format!("/v2/big/blobs/{d}"));
    assert_eq!(header(&r, "docker-content-digest"), d.to_string());
    let mut g = a.get(&format!("{base}/v2/big/blobs/{d}")).call().unwrap();
    assert_eq!(g.status(), 200);
    assert_eq!(header(&g, "content-length"), data.len().to_string());
    assert_eq!(body(&mut g), data);
    let h = a.head(&format!("{base}/v2/big/blobs/{d}")).call().unwrap();
    assert_eq!(header(&h, "content-length"), data.len().to_string());
    assert_eq!(header(&h, "docker-content-digest"), d.to_string());
    let mut g = a
        .get(&format!("{base}/v2/big/blobs/{d}"))
        .header("Range", "bytes=1000-1999")
        .call()
        .unwrap();
    assert_eq!(g.status(), 206);
    assert_eq!(
        header(&g, "content-range"),
        format!("bytes 1000-1999/{}", data.len())
    );
    assert_eq!(body(&mut g), &data[1000..2000]);
    let mut g = a
        .get(&format!("{base}/v2/big/blobs/{d}"))
        .header("Range", "bytes=-10")
        .call()
        .unwrap();
    assert_eq!(body(&mut g), &data[data.len() - 10..]);
    let g = a
        .get(&format!("{base}/v2/big/blobs/{d}"))
        .header("Range", &format!("bytes={}-", data.len()))
        .call()
        .unwrap();
    assert_eq!(g.status(), 416);
    assert_eq!(
        header(&g, "content-range"),
        format!("bytes */{}", data.len())
    );
    let upload_dir: Vec<_> = std::fs::read_dir(dir.path().join("uploads"))
        .unwrap()
        .collect();
    assert!(
        upload_dir.is_empty(),
        "the finished session left nothing behind"
    );
}

#[test]
fn streamed_patch_without_content_range_and_put_with_last_chunk() {
    let dir = TempDir::new("flow-stream");
    let srv = ThreadServer::start(options(dir.path()));
    let base = srv.url("");
    let a = agent();
    let data = b"streamed-part|last-part".to_vec();
    let r = a
        .post(&format!("{base}/v2/s/blobs/uploads/"))
        .header("Authorization", &bearer())
        .send_empty()
        .unwrap();
    let loc = header(&r, "location");
    let r = a
        .patch(&format!("{base}{loc}"))
        .header("Authorization", &bearer())
        .send(&data[..14])
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(header(&r, "range"), "0-13");
    let d = Sha256Digest::of(&data);
    let r = a
        .put(&format!("{base}{loc}?digest={d}"))
        .header("Authorization", &bearer())
        .header("Content-Range", "14-22")
        .send(&data[14..])
        .unwrap();
    assert_eq!(r.status(), 201);
    let mut g = a.get(&format!("{base}/v2/s/blobs/{d}")).call().unwrap();
    assert_eq!(body(&mut g), data);
    // DELETE of a session: gone afterwards.
    let r = a
        .post(&format!("{base}/v2/s/blobs/uploads/"))
        .header("Authorization", &bearer())
        .send_empty()
        .unwrap();
    let loc = header(&r, "location");
    let r = a
        .delete(&format!("{base}{loc}"))
        .header("Authorization", &bearer())
        .call()
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = a.get(&format!("{base}{loc}")).call().unwrap();
    assert_eq!(r.status(), 404);
}

#[test]
fn wrong_or_truncated_uploads_are_refused_and_store_nothing() {
    let dir = TempDir::new("flow-bad");
    let srv = ThreadServer::start(options(dir.path()));
    let base = srv.url("");
    let a = agent();
    let data = b"the whole blob".to_vec();
    let d = Sha256Digest::of(&data);
    // Monolithic upload under another digest.
    let wrong = Sha256Digest::of(b"something else");
    let mut r = a
        .post(&format!("{base}/v2/r/blobs/uploads/?digest={wrong}"))
        .header("Authorization", &bearer())
        .send(&data[..])
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(&body(&mut r)), "DIGEST_INVALID");
    // Truncated: the session gets fewer bytes than the digest describes.
    let r = a
        .post(&format!("{base}/v2/r/blobs/uploads/"))
        .header("Authorization", &bearer())
        .send_empty()
        .unwrap();
    let loc = header(&r, "location");
    let mut r = a
        .put(&format!("{base}{loc}?digest={d}"))
        .header("Authorization", &bearer())
        .send(&data[..5])
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(&body(&mut r)), "DIGEST_INVALID");
    // A missing digest parameter.
    let r = a
        .post(&format!("{base}/v2/r/blobs/uploads/"))
        .header("Authorization", &bearer())
        .send_empty()
        .unwrap();
    let loc = header(&r, "location");
    let mut r = a
        .put(&format!("{base}{loc}"))
        .header("Authorization", &bearer())
        .send(&data[..])
        .unwrap();
    assert_eq!(error_code(&body(&mut r)), "DIGEST_INVALID");
    assert!(
        blob_files(dir.path()).is_empty(),
        "no blob stored: {:?}",
        blob_files(dir.path())
    );
    let r = a.get(&format!("{base}/v2/r/blobs/{d}")).call().unwrap();
    assert_eq!(r.status(), 404);
    // A manifest naming a blob that is not there.
    let m = manifest(&[b"absent layer"]);
    push_blob(&a, &base, "r", b"{}");
    let mut r = push_manifest(&a, &base, "r", "v1", MEDIA_TYPE_MANIFEST, &m);
    assert_eq!(error_code(&body(&mut r)), "MANIFEST_BLOB_UNKNOWN");
    let mut r = a.get(&format!("{base}/v2/r/manifests/v1")).call().unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(&body(&mut r)), "MANIFEST_UNKNOWN");
    assert!(!dir.path().join("repositories/r/_manifests").exists());
    // A bad token.
    let mut r = a
        .post(&format!("{base}/v2/r/blobs/uploads/?digest={d}"))
        .header("Authorization", "Bearer not-a-token")
        .send(&data[..])
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(header(&r, "www-authenticate").starts_with("Bearer realm=\"http://127.0.0.1:"));
    assert_eq!(error_code(&body(&mut r)), "UNAUTHORIZED");
    assert_eq!(blob_files(dir.path()).len(), 1, "only the config blob");
}

#[test]
fn mount_from_another_repository_or_a_session_when_not_mountable() {
    let dir = TempDir::new("flow-mount");
    let srv = ThreadServer::start(options(dir.path()));
    let base = srv.url("");
    let a = agent();
    let d = push_blob(&a, &base, "src", b"shared layer");
    let r = a.get(&format!("{base}/v2/dst/blobs/{d}")).call().unwrap();
    assert_eq!(r.status(), 404, "not in dst before the mount");
    let r = a
        .post(&format!("{base}/v2/dst/blobs/uploads/?mount={d}&from=src"))
        .header("Authorization", &bearer())
        .send_empty()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "location"), format!("/v2/dst/blobs/{d}"));
    let mut g = a.get(&format!("{base}/v2/dst/blobs/{d}")).call().unwrap();
    assert_eq!(body(&mut g), b"shared layer");
    let missing = Sha256Digest::of(b"nowhere");
    let r = a
        .post(&format!(
            "{base}/v2/dst/blobs/uploads/?mount={missing}&from=src"
        ))
        .header("Authorization", &bearer())
        .send_empty()
        .unwrap();
    assert_eq!(r.status(), 202, "falls back to an upload session");
    assert!(header(&r, "location").starts_with("/v2/dst/blobs/uploads/"));
}

#[test]
fn tags_and_catalog_paginate_with_link_headers() {
    let dir = TempDir::new("flow-tags");
    let srv = ThreadServer::start(options(dir.path()));
    let base = srv.url("");
    let a = agent();
    push_blob(&a, &base, "p/one", b"{}");
    push_blob(&a, &base, "p/two", b"{}");
    let m = manifest(&[]);
    for tag in ["a", "b", "c", "d", "e"] {
        assert_eq!(
            push_manifest(&a, &base, "p/one", tag, MEDIA_TYPE_MANIFEST, &m).status(),
            201
        );
    }
    let mut seen = Vec::new();
    let mut next = Some("/v2/p/one/tags/list?n=2".to_string());
    let mut pages = 0;
    while let Some(path) = next.take() {
        pages += 1;
        assert!(pages < 10, "bounded");
        let mut r = a.get(&format!("{base}{path}")).call().unwrap();
        assert_eq!(r.status(), 200);
        let link = header(&r, "link");
        let v: serde_json::Value = serde_json::from_slice(&body(&mut r)).unwrap();
        assert_eq!(v["name"], "p/one");
        seen.extend(
            v["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string()),
        );
        if !link.is_empty() {
            assert!(link.ends_with("; rel=\"next\""), "{link}");
            next = Some(link[1..link.find('>').unwrap()].to_string());
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    assert_eq!(pages, 3);
    let mut r = a.get(&format!("{base}/v2/_catalog?n=1")).call().unwrap();
    assert_eq!(
        header(&r, "link"),
        "</v2/_catalog?n=1&last=p/one>; rel=\"next\""
    );
    let v: serde_json::Value = serde_json::from_slice(&body(&mut r)).unwrap();
    assert_eq!(v["repositories"], serde_json::json!(["p/one"]));
    let mut r = a
        .get(&format!("{base}/v2/_catalog?n=1&last=p/one"))
        .call()
        .unwrap();
    assert_eq!(header(&r, "link"), "");
    let v: serde_json::Value = serde_json::from_slice(&body(&mut r)).unwrap();
    assert_eq!(v["repositories"], serde_json::json!(["p/two"]));
}

#[test]
fn token_flow_as_docker_clients_do_it() {
    let dir = TempDir::new("flow-token");
    let mut o = options(dir.path());
    o.private = true;
    let srv = ThreadServer::start(o);
    let base = srv.url("");
    let a = agent();
    let r = a.get(&format!("{base}/v2/x/tags/list")).call().unwrap();
    assert_eq!(r.status(), 401);
    let challenge = header(&r, "www-authenticate");
    let realm = challenge
        .split("realm=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(realm, format!("{base}/token"));
    let r = a
        .get(&format!("{realm}?service=coreship-registry"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 401, "private: no anonymous token");
    let basic = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("ci:{}", common::TOKEN))
    };
    let mut r = a
        .get(&format!(
            "{realm}?service=coreship-registry&scope=repository:x:pull,push"
        ))
        .header("Authorization", &format!("Basic {basic}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = serde_json::from_slice(&body(&mut r)).unwrap();
    let token = v["token"].as_str().unwrap().to_string();
    let d = Sha256Digest::of(b"via token");
    let r = a
        .post(&format!("{base}/v2/x/blobs/uploads/?digest={d}"))
        .header("Authorization", &format!("Bearer {token}"))
        .send(&b"via token"[..])
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = a
        .get(&format!("{base}/v2/x/blobs/{d}"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = a.get(&format!("{base}/v2/x/blobs/{d}")).call().unwrap();
    assert_eq!(r.status(), 401, "private: anonymous pulls refused");
}

#[test]
fn concurrent_pushes_of_one_tag_end_with_one_consistent_tag() {
    let dir = TempDir::new("flow-race");
    let srv = ThreadServer::start(options(dir.path()));
    let base = srv.url("");
    let a = agent();
    push_blob(&a, &base, "race", b"{}");
    let manifests: Vec<Vec<u8>> = (0..8u8)
        .map(|i| {
            push_blob(&a, &base, "race", &[i]);
            manifest(&[&[i]])
        })
        .collect();
    std::thread::scope(|s| {
        for m in &manifests {
            let base = base.clone();
            s.spawn(move || {
                let a = agent();
                for _ in 0..5 {
                    let r = push_manifest(&a, &base, "race", "latest", MEDIA_TYPE_MANIFEST, m);
                    assert_eq!(r.status(), 201);
                }
            });
        }
    });
    let mut r = a
        .get(&format!("{base}/v2/race/manifests/latest"))
        .call()
        .unwrap();
    let digest = header(&r, "docker-content-digest");
    let bytes = body(&mut r);
    assert_eq!(Sha256Digest::of(&bytes).to_string(), digest);
    assert!(manifests.contains(&bytes));
    let tags_dir = dir.path().join("repositories/race/_tags");
    let names: Vec<_> = std::fs::read_dir(tags_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["latest"], "no temp files left");
}
