//! The client against a real registry: Debian's `docker-registry` (distribution 2.8, which
//! has no referrers API, so signatures go through the referrers tag schema).
#![cfg(feature = "client")]

mod client_support;
mod common;

use client_support::{fake_minisig, package_dir, DockerRegistry, TempDir};
use coreship_registry::artifact::{self, PackOptions, SIGNATURE_ARTIFACT_TYPE};
use coreship_registry::client::{
    pull, push, BlobPush, Cache, Client, ClientError, ClientOptions, NoProgress, PackageDir,
    Pushed, Signer,
};
use coreship_registry::{Arch, Reference};

const X86: &[u8] = b"\x7fELF x86_64 object bytes";
const ARM: &[u8] = b"\x7fELF aarch64 object bytes, a bit longer";

fn signer<'a>() -> Signer<'a> {
    Box::new(|root| Ok(fake_minisig(&root.digest)))
}

/// Packs a two-arch package and pushes it, signed, to `reference`.
fn push_package(client: &Client, reference: &Reference, work: &TempDir) -> Pushed {
    let dir = work.path().join("pkg");
    package_dir(&dir, &[(Arch::X86_64, X86), (Arch::Aarch64, ARM)]);
    let mut source = PackageDir {
        dir: &dir,
        options: PackOptions::default(),
        signer: Some(signer()),
    };
    push(client, reference, &mut source, &NoProgress).unwrap()
}

fn client() -> Client {
    Client::new(ClientOptions::default())
}

#[test]
fn pushed_artifacts_pull_per_arch_and_a_second_pull_costs_one_manifest_request() {
    let Some(reg) = DockerRegistry::start("push_pull") else {
        return;
    };
    let work = TempDir::new("push-pull");
    let r: Reference = format!("{}/probes/p:1.0.0", reg.host()).parse().unwrap();
    let pushed = push_package(&client(), &r, &work);
    assert!(!pushed.compat, "distribution 2.8 takes OCI 1.1 fields");
    assert!(pushed.signature.is_some());

    let cache = Cache::open(&work.path().join("cache")).unwrap();
    let c = client();
    let x86 = pull(&c, &cache, &r, Arch::X86_64, false, &NoProgress).unwrap();
    assert_eq!(x86.opened.object, X86);
    assert_eq!(x86.opened.root.digest, pushed.root.digest);
    assert_eq!(x86.signatures, vec![fake_minisig(&pushed.root.digest)]);
    assert!(!x86.from_cache);
    let arm = pull(&c, &cache, &r, Arch::Aarch64, false, &NoProgress).unwrap();
    assert_eq!(arm.opened.object, ARM);
    assert_eq!(arm.opened.package.name, "p");

    // Everything for x86_64 is cached: one manifest GET, no blob byte, signatures reused.
    let again = client();
    let second = pull(&again, &cache, &r, Arch::X86_64, false, &NoProgress).unwrap();
    let stats = again.stats();
    assert_eq!(
        (stats.requests, stats.manifest_gets, stats.blob_bytes),
        (1, 1, 0)
    );
    assert!(second.from_cache);
    assert_eq!(second.signatures, x86.signatures);

    // Both arches are cached now, so the tag names the whole artifact too.
    let names: Vec<String> = cache
        .layout()
        .names()
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for n in [
        format!("{r}"),
        format!("{r}#x86_64"),
        format!("{}@{}#aarch64", r.name(), pushed.root.digest),
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
}

#[test]
fn the_signature_is_found_through_the_referrers_tag_and_tags_are_listed() {
    let Some(reg) = DockerRegistry::start("referrers") else {
        return;
    };
    let work = TempDir::new("referrers");
    let r: Reference = format!("{}/probes/sig:2", reg.host()).parse().unwrap();
    let c = client();
    let pushed = push_package(&c, &r, &work);
    let tag = artifact::referrers_tag(&pushed.root.digest);
    let mut tags = c.tags(&r).unwrap();
    tags.sort();
    assert_eq!(tags, vec!["2".to_string(), tag]);
    let referrers = c
        .referrers(&r, &pushed.root.digest, Some(SIGNATURE_ARTIFACT_TYPE))
        .unwrap();
    assert_eq!(referrers.len(), 1);
    assert_eq!(referrers[0].digest, pushed.signature.unwrap().digest);
    // Pushing the same signature again leaves one entry.
    let (blobs, m) = artifact::signature(&pushed.root, &fake_minisig(&pushed.root.digest), false);
    c.push_referrer(&r, &pushed.root.digest, &blobs, &m, &NoProgress)
        .unwrap();
    assert_eq!(c.referrers(&r, &pushed.root.digest, None).unwrap().len(), 1);
}

#[test]
fn offline_pulls_use_only_the_cache_and_a_miss_says_to_pull_first() {
    let Some(reg) = DockerRegistry::start("offline") else {
        return;
    };
    let work = TempDir::new("offline");
    let r: Reference = format!("{}/probes/off:1", reg.host()).parse().unwrap();
    let c = client();
    push_package(&c, &r, &work);
    let cache = Cache::open(&work.path().join("cache")).unwrap();
    let miss = pull(&c, &cache, &r, Arch::X86_64, true, &NoProgress).unwrap_err();
    assert!(matches!(miss, ClientError::NotCached { .. }), "{miss}");
    assert!(
        miss.to_string()
            .ends_with(&format!("run `coreship-load pull {r}` first")),
        "{miss}"
    );
    let online = pull(&c, &cache, &r, Arch::X86_64, false, &NoProgress).unwrap();
    drop(reg);
    let offline = Client::new(ClientOptions::default());
    let hit = pull(&offline, &cache, &r, Arch::X86_64, true, &NoProgress).unwrap();
    assert_eq!(hit.opened.object, X86);
    assert_eq!(hit.signatures, online.signatures);
    assert_eq!(offline.stats().requests, 0);
    // The other arch was never pulled.
    let e = pull(&offline, &cache, &r, Arch::Aarch64, true, &NoProgress).unwrap_err();
    assert!(matches!(e, ClientError::NotCached { .. }), "{e}");
    // Pinned by digest, offline too.
    let pinned = r.with_digest(online.opened.root.digest);
    let pinned = Reference {
        tag: None,
        ..pinned
    };
    pull(&offline, &cache, &pinned, Arch::X86_64, true, &NoProgress).unwrap();
}

#[test]
fn a_tampered_cached_layer_is_refused_offline_and_fetched_again_online() {
    let Some(reg) = DockerRegistry::start("tamper") else {
        return;
    };
    let work = TempDir::new("tamper");
    let r: Reference = format!("{}/probes/t:1", reg.host()).parse().unwrap();
    let c = client();
    push_package(&c, &r, &work);
    let cache = Cache::open(&work.path().join("cache")).unwrap();
    let first = pull(&c, &cache, &r, Arch::X86_64, false, &NoProgress).unwrap();
    let layer = cache
        .blobs()
        .path(&first.opened.package.object(Arch::X86_64).unwrap().sha256);
    let mut bytes = std::fs::read(&layer).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&layer, &bytes).unwrap();

    let e = pull(&c, &cache, &r, Arch::X86_64, true, &NoProgress).unwrap_err();
    assert!(matches!(e, ClientError::CacheCorrupt { .. }), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("run `coreship-load pull {r}` again")),
        "{e}"
    );

    let fresh = client();
    let again = pull(&fresh, &cache, &r, Arch::X86_64, false, &NoProgress).unwrap();
    assert_eq!(again.opened.object, X86);
    assert!(!again.from_cache);
    assert_eq!(fresh.stats().blob_bytes, X86.len() as u64);
    pull(&fresh, &cache, &r, Arch::X86_64, true, &NoProgress).unwrap();
}

#[test]
fn content_that_does_not_match_its_digest_is_refused_and_nothing_is_cached() {
    let Some(reg) = DockerRegistry::start("wrong_digest") else {
        return;
    };
    let work = TempDir::new("wrong-digest");
    let r: Reference = format!("{}/probes/w:1", reg.host()).parse().unwrap();
    let c = client();
    push_package(&c, &r, &work);
    // Corrupt the registry's stored x86 object, keeping its length.
    let digest = coreship_registry::Sha256Digest::of(X86);
    let file = reg.blob_file(&digest);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[1] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();

    let cache = Cache::open(&work.path().join("cache")).unwrap();
    let e = pull(&c, &cache, &r, Arch::X86_64, false, &NoProgress).unwrap_err();
    match &e {
        ClientError::Digest {
            expected, actual, ..
        } => {
            assert_eq!(*expected, digest);
            assert_eq!(*actual, coreship_registry::Sha256Digest::of(&bytes));
        }
        other => panic!("{other}"),
    }
    assert!(
        e.to_string().ends_with("refused, nothing was stored"),
        "{e}"
    );
    assert!(!cache.blobs().contains(&digest));
    assert!(cache.layout().names().unwrap().is_empty());
    // The arm64 object is intact and still pulls.
    pull(&c, &cache, &r, Arch::Aarch64, false, &NoProgress).unwrap();
}

#[test]
fn an_unknown_tag_is_reported_with_the_registry_code() {
    let Some(reg) = DockerRegistry::start("unknown_tag") else {
        return;
    };
    let work = TempDir::new("unknown");
    let r: Reference = format!("{}/probes/u:1", reg.host()).parse().unwrap();
    let c = client();
    push_package(&c, &r, &work);
    let missing = r.with_tag("9");
    let cache = Cache::open(&work.path().join("cache")).unwrap();
    let e = pull(&c, &cache, &missing, Arch::X86_64, false, &NoProgress).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{missing} not found (MANIFEST_UNKNOWN): check the repository and tag (tags: GET \
             http://{}/v2/probes/u/tags/list)",
            reg.host()
        )
    );
}

#[test]
fn large_blobs_go_up_in_chunks_and_known_blobs_are_mounted() {
    let Some(reg) = DockerRegistry::start("chunks") else {
        return;
    };
    let work = TempDir::new("chunks");
    let r: Reference = format!("{}/probes/big:1", reg.host()).parse().unwrap();
    let small_chunks = Client::new(ClientOptions {
        chunk_size: 7,
        ..Default::default()
    });
    push_package(&small_chunks, &r, &work);
    let cache = Cache::open(&work.path().join("cache")).unwrap();
    let got = pull(&client(), &cache, &r, Arch::Aarch64, false, &NoProgress).unwrap();
    assert_eq!(got.opened.object, ARM);

    let other: Reference = format!("{}/probes/other:1", reg.host()).parse().unwrap();
    let blob = coreship_registry::oci::Descriptor::of("application/octet-stream", ARM);
    let c = client();
    assert_eq!(
        c.push_blob(&other, &blob, ARM, Some("probes/big"), &NoProgress)
            .unwrap(),
        BlobPush::Mounted
    );
    assert_eq!(
        c.push_blob(&other, &blob, ARM, None, &NoProgress).unwrap(),
        BlobPush::Exists
    );
}
