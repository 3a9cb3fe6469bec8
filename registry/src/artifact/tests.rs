use super::*;
use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

struct Mem(HashMap<Sha256Digest, Vec<u8>>);

impl BlobSource for Mem {
    type Error = String;
    fn fetch(&mut self, desc: &Descriptor) -> Result<Vec<u8>, String> {
        self.0
            .get(&desc.digest)
            .cloned()
            .ok_or_else(|| format!("missing {}", desc.digest))
    }
}

pub(super) fn package_dir(tag: &str, objects: &[(Arch, &[u8])]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coreship-artifact-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    crate::testing::write_package(&dir, "p", objects);
    dir
}

fn memory(packed: &Packed) -> Mem {
    let all = packed
        .blobs
        .iter()
        .chain(&packed.manifests)
        .chain([&packed.root]);
    Mem(all
        .map(|b| (b.descriptor.digest, b.bytes.clone()))
        .collect())
}

#[test]
fn each_arch_opens_its_own_object_from_one_index() {
    let dir = package_dir(
        "arches",
        &[
            (Arch::X86_64, b"x86 object"),
            (Arch::Aarch64, b"arm object"),
        ],
    );
    let packed = pack(&dir, &PackOptions::default()).unwrap();
    assert_eq!(packed.blobs.len(), 3, "config + two layers");
    let mut src = memory(&packed);
    let x86 = open(&mut src, &packed.root.descriptor, Arch::X86_64).unwrap();
    assert_eq!(x86.object, b"x86 object");
    assert_eq!(x86.package.name, "p");
    let arm = open(&mut src, &packed.root.descriptor, Arch::Aarch64).unwrap();
    assert_eq!(arm.object, b"arm object");
    assert_ne!(x86.manifest.digest, arm.manifest.digest);

    let text = String::from_utf8(packed.root.bytes.clone()).unwrap();
    for needle in [
        r#""artifactType":"application/vnd.coreship.probe.v1""#,
        r#""platform":{"architecture":"arm64","os":"linux","variant":"v8"}"#,
        r#""org.opencontainers.image.version":"0.1.0""#,
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn packing_is_reproducible_and_identical_objects_share_a_layer() {
    let dir = package_dir("same", &[(Arch::X86_64, b"same"), (Arch::Aarch64, b"same")]);
    let one = pack(&dir, &PackOptions::default()).unwrap();
    let two = pack(&dir, &PackOptions::default()).unwrap();
    assert_eq!(one.root, two.root);
    assert_eq!(one.blobs.len(), 2);
    let compat = pack(
        &dir,
        &PackOptions {
            compat: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!String::from_utf8_lossy(&compat.root.bytes).contains("artifactType"));
    open(&mut memory(&compat), &compat.root.descriptor, Arch::Aarch64).unwrap();
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn tampered_content_a_missing_arch_and_foreign_artifacts_are_refused() {
    let dir = package_dir("bad", &[(Arch::X86_64, b"x86 object")]);
    let packed = pack(&dir, &PackOptions::default()).unwrap();
    let e = open(&mut memory(&packed), &packed.root.descriptor, Arch::Aarch64).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the artifact has no object for aarch64 (it has: x86_64); rebuild with `coreship build --arch aarch64`"
    );

    let mut src = memory(&packed);
    let layer = packed.blobs[1].descriptor.digest;
    src.0.insert(layer, b"x86 objecT".to_vec());
    let e = open(&mut src, &packed.root.descriptor, Arch::X86_64).unwrap_err();
    assert!(e.to_string().starts_with("object sha256:"), "{e}");
    assert!(e.to_string().ends_with("corrupted or tampered with"), "{e}");

    // A plain container image manifest.
    let (blobs, sig) = signature(&packed.root.descriptor, b"sig", false);
    let mut src = memory(&packed);
    for b in blobs.iter().chain([&sig]) {
        src.0.insert(b.descriptor.digest, b.bytes.clone());
    }
    let e = open(&mut src, &sig.descriptor, Arch::X86_64).unwrap_err();
    assert!(e.to_string().contains("is not a coreship probe"), "{e}");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_signature_referrer_points_at_its_subject_and_carries_the_signature() {
    let subject = Descriptor::of(oci::MEDIA_TYPE_INDEX, b"index");
    for compat in [false, true] {
        let (blobs, manifest) = signature(&subject, b"untrusted comment: x\n", compat);
        let parsed = Manifest::parse(&manifest.bytes, None).unwrap();
        assert_eq!(parsed.subject().unwrap().digest, subject.digest);
        assert_eq!(parsed.artifact_type(), Some(SIGNATURE_ARTIFACT_TYPE));
        let layer = signature_layer(&parsed).unwrap();
        assert_eq!(layer.digest, blobs[1].descriptor.digest);
    }
    assert_eq!(
        referrers_tag(&subject.digest),
        format!("sha256-{}", subject.digest.hex())
    );
}

#[test]
fn every_media_type_has_a_size_cap_named_in_the_refusal() {
    let caps = [
        (MEDIA_TYPE_CONFIG, 1 << 20, "package description", "1 MiB"),
        (MEDIA_TYPE_OBJECT, 64 << 20, "BPF object layer", "64 MiB"),
        (MEDIA_TYPE_MIN_BTF, 64 << 20, "minimal BTF layer", "64 MiB"),
        (MEDIA_TYPE_SIGNATURE, 64 << 10, "signature layer", "64 KiB"),
        (MEDIA_TYPE_INDEX, 4 << 20, "manifest", "4 MiB"),
        ("application/octet-stream", 64 << 20, "blob", "64 MiB"),
    ];
    for (media_type, max, what, said) in caps {
        assert_eq!(size_cap(media_type), (max, what, said), "{media_type}");
        // The cap as said is the cap.
        let (n, unit) = said.split_once(' ').unwrap();
        let shift = if unit == "MiB" { 20 } else { 10 };
        assert_eq!(n.parse::<u64>().unwrap() << shift, max, "{media_type}");
    }
    let mut desc = Descriptor::of(MEDIA_TYPE_SIGNATURE, b"sig");
    desc.size = 64 << 10;
    check_size(&desc).unwrap();
    desc.size += 1;
    assert_eq!(
        check_size(&desc).unwrap_err().to_string(),
        format!(
            "signature layer {} declares 65537 bytes, more than the 64 KiB cap for it; refused \
             before reading it",
            desc.digest
        )
    );
}

#[test]
fn open_refuses_a_layer_declared_over_its_cap_without_fetching_it() {
    let dir = package_dir("cap", &[(Arch::X86_64, b"x86 object")]);
    let packed = pack(&dir, &PackOptions::default()).unwrap();
    let Manifest::Image(mut image) = Manifest::parse(&packed.manifests[0].bytes, None).unwrap()
    else {
        panic!("an image manifest");
    };
    let mut huge = Descriptor::of(MEDIA_TYPE_MIN_BTF, b"");
    huge.size = 512 << 20;
    image.layers.push(huge.clone());
    let bytes = oci::to_json(&image);
    let root = Descriptor::of(MEDIA_TYPE_MANIFEST, &bytes);
    let mut src = memory(&packed);
    src.0.insert(root.digest, bytes);
    // The source would answer: `open` must not ask.
    src.0.insert(huge.digest, Vec::new());
    struct Counting(Mem, Vec<Sha256Digest>);
    impl BlobSource for Counting {
        type Error = String;
        fn fetch(&mut self, desc: &Descriptor) -> Result<Vec<u8>, String> {
            self.1.push(desc.digest);
            self.0.fetch(desc)
        }
    }
    let mut src = Counting(src, Vec::new());
    let e = open(&mut src, &root, Arch::X86_64).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "minimal BTF layer {} declares 536870912 bytes, more than the 64 MiB cap",
            huge.digest
        )),
        "{e}"
    );
    assert!(!src.1.contains(&huge.digest));
    fs::remove_dir_all(dir).unwrap();
}
