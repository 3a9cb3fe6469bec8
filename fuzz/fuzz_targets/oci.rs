//! OCI documents and references: manifest/index parsing, `Reference` and digest parsing, and
//! `artifact::open` over an in-memory blob source, fed either raw blobs (seeded from real
//! exports) or an artifact assembled from a structured description with real digests.
//!
//! Input: the first byte picks the mode, the second byte is a parameter, the rest is data.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use coreship_registry::artifact::{self, BlobSource, OpenError};
use coreship_registry::oci::{self, Descriptor, ImageIndex, ImageManifest, Manifest, Platform};
use coreship_registry::{
    valid_repository, valid_tag, Arch, ArchObject, BuildInfo, MinBtfFile, Package, Reference,
    Sha256Digest, SourceInfo,
};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

/// Separates blobs in bundle mode; blob 0 is the root manifest.
const SEP: &[u8] = b"\0\0BLOB\0\0";

const MEDIA_TYPES: [&str; 10] = [
    oci::MEDIA_TYPE_INDEX,
    oci::MEDIA_TYPE_MANIFEST,
    oci::MEDIA_TYPE_DOCKER_LIST,
    oci::MEDIA_TYPE_DOCKER_MANIFEST,
    "application/json",
    "application/vnd.oci.image.manifest.v1+json; charset=utf-8",
    artifact::MEDIA_TYPE_CONFIG,
    artifact::MEDIA_TYPE_OBJECT,
    artifact::MEDIA_TYPE_MIN_BTF,
    "text/plain",
];

fuzz_target!(|data: &[u8]| {
    let (mode, param, rest) = match data {
        [m, p, rest @ ..] => (*m, *p, rest),
        _ => return,
    };
    match mode % 4 {
        0 => manifest(param, rest),
        1 => names(rest),
        2 => bundle(param, rest),
        _ => {
            if let Ok(case) = OpenCase::arbitrary_take_rest(Unstructured::new(rest)) {
                structured(case);
            }
        }
    }
});

/// `Manifest::parse` with an optional content type; what parses re-serializes to the same.
fn manifest(param: u8, bytes: &[u8]) {
    let ct = MEDIA_TYPES.get(usize::from(param)).copied();
    let Ok(m) = Manifest::parse(bytes, ct) else {
        return;
    };
    let _ = (
        m.media_type(),
        m.subject(),
        m.artifact_type(),
        m.annotations(),
    );
    let _ = artifact::signature_layer(&m);
    let n = m.references().len();
    let again = match &m {
        Manifest::Image(i) => oci::to_json(i),
        Manifest::Index(i) => oci::to_json(i),
    };
    let back = Manifest::parse(&again, None).expect("a serialized manifest parses");
    assert_eq!(back, m, "manifest round trip");
    assert_eq!(back.references().len(), n);
    if let Manifest::Index(index) = &m {
        for arch in Arch::ALL {
            if let Ok(d) = artifact::pick_platform(index, arch) {
                let p = d.platform.as_ref().expect("picked by platform");
                assert_eq!(
                    (p.os.as_str(), p.architecture.as_str()),
                    ("linux", arch.oci_name())
                );
            }
        }
    }
}

/// References and digests: what parses prints back to something that parses the same.
fn names(bytes: &[u8]) {
    let Ok(s) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(r) = s.parse::<Reference>() {
        assert!(valid_repository(&r.repository), "{s}");
        assert!(r.tag.as_deref().is_none_or(valid_tag), "{s}");
        let printed = r.to_string();
        assert_eq!(
            printed.parse::<Reference>().as_ref(),
            Ok(&r),
            "{s} printed as {printed}"
        );
        let _ = (
            r.is_loopback(),
            r.manifest_reference(),
            r.name(),
            r.tag_or_latest(),
        );
    }
    if let Ok(d) = s.parse::<Sha256Digest>() {
        assert_eq!(d.to_string(), s);
    }
    let _ = (valid_repository(s), valid_tag(s));
}

/// Blobs looked up by digest, as registry, cache and layout sources do.
struct Mem(HashMap<Sha256Digest, Vec<u8>>);

impl BlobSource for Mem {
    type Error = ();
    fn fetch(&mut self, desc: &Descriptor) -> Result<Vec<u8>, ()> {
        self.0.get(&desc.digest).cloned().ok_or(())
    }
}

fn open_and_check(src: &mut Mem, root: &Descriptor, arch: Arch) {
    let opened = match artifact::open(src, root, arch) {
        Ok(o) => o,
        Err(OpenError::Source(()) | OpenError::Artifact(_)) => return,
    };
    let expected = opened.package.object(arch).expect("opened for arch");
    assert_eq!(Sha256Digest::of(&opened.object), expected.sha256);
    for (kernel, btf) in &opened.min_btf {
        let listed = expected.min_btf.iter().find(|m| &m.kernel == kernel);
        assert_eq!(
            listed.map(|m| m.sha256),
            Some(Sha256Digest::of(btf)),
            "{kernel}"
        );
    }
}

/// Raw blobs separated by [`SEP`]; the first is the root, typed by `param`.
fn bundle(param: u8, bytes: &[u8]) {
    let mut blobs = Vec::new();
    let mut rest = bytes;
    while let Some(i) = rest.windows(SEP.len()).position(|w| w == SEP) {
        blobs.push(&rest[..i]);
        rest = &rest[i + SEP.len()..];
    }
    blobs.push(rest);
    let root = Descriptor::of(MEDIA_TYPES[usize::from(param % 4)], blobs[0]);
    let mut src = Mem(blobs
        .iter()
        .map(|b| (Sha256Digest::of(b), b.to_vec()))
        .collect());
    for arch in Arch::ALL {
        open_and_check(&mut src, &root, arch);
    }
}

// Structured mode: the first variant of each choice (and `false`, `None`, empty) is what a
// well-formed artifact has, since `arbitrary` picks those once the input runs out; so short
// inputs open successfully and longer ones break one thing at a time.

#[derive(Arbitrary, Debug)]
enum Media {
    Right,
    Known(u8),
    Raw(String),
}

impl Media {
    fn get(&self, right: &str) -> String {
        match self {
            Media::Right => right.to_string(),
            Media::Known(i) => MEDIA_TYPES[usize::from(*i) % MEDIA_TYPES.len()].to_string(),
            Media::Raw(s) => s.clone(),
        }
    }
}

/// A digest: of the content it should name, or of other bytes.
#[derive(Arbitrary, Debug)]
enum DigestOf {
    Right,
    Wrong(u8),
}

impl DigestOf {
    fn of(&self, bytes: &[u8]) -> Sha256Digest {
        match self {
            DigestOf::Right => Sha256Digest::of(bytes),
            DigestOf::Wrong(b) => Sha256Digest::of(&[*b]),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct PlatformSpec {
    os_other: bool,
    arch: Option<String>,
    arm: bool,
}

impl PlatformSpec {
    fn get(&self) -> Platform {
        Platform {
            architecture: self
                .arch
                .clone()
                .unwrap_or_else(|| if self.arm { "arm64" } else { "amd64" }.into()),
            os: if self.os_other { "windows" } else { "linux" }.into(),
            variant: None,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct MinBtfSpec {
    /// `None`: the name of the layer member it describes, less `.btf`.
    kernel: Option<String>,
    file: Option<String>,
    /// Which member of the BTF layer the digest is of.
    member: u8,
    digest: DigestOf,
}

#[derive(Arbitrary, Debug)]
struct ObjSpec {
    arm: bool,
    file: Option<String>,
    digest: DigestOf,
    min_btf: Vec<MinBtfSpec>,
}

#[derive(Arbitrary, Debug)]
enum BtfLayer {
    None,
    Members(Vec<(String, Vec<u8>)>),
    Raw(Vec<u8>),
}

/// An artifact described by shape; digests are computed, or deliberately wrong.
#[derive(Arbitrary, Debug)]
struct OpenCase {
    arm: bool,
    /// `None`: the root is the image manifest itself.
    index: Option<(PlatformSpec, Vec<PlatformSpec>, Media)>,
    schema_1: bool,
    config_media: Media,
    artifact_type: Option<Media>,
    config_digest: DigestOf,
    layer_media: Media,
    layer_digest: DigestOf,
    extra_layers: Vec<(Media, Vec<u8>)>,
    schema_version: u8,
    name: String,
    object_spec: ObjSpec,
    more_objects: Vec<ObjSpec>,
    object: Vec<u8>,
    btf: BtfLayer,
    /// A blob the source does not have.
    missing: Option<u8>,
}

fn tar(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, bytes) in members {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        let _ = b.append_data(&mut h, path, &bytes[..]);
    }
    b.into_inner().unwrap_or_default()
}

fn structured(c: OpenCase) {
    let arch = if c.arm { Arch::Aarch64 } else { Arch::X86_64 };
    let (btf_bytes, members) = match &c.btf {
        BtfLayer::None => (None, Vec::new()),
        BtfLayer::Members(m) => (Some(tar(m)), m.clone()),
        BtfLayer::Raw(r) => (Some(r.clone()), Vec::new()),
    };
    let pkg = Package {
        schema_version: u32::from(c.schema_version % 3),
        name: c.name.clone(),
        version: "0.1.0".into(),
        description: None,
        license: "GPL".into(),
        source: SourceInfo {
            file: "p.bpf.c".into(),
            sha256: Sha256Digest::of(b""),
        },
        build: BuildInfo {
            clang: "clang".into(),
            kernel_release: None,
            cflags: Vec::new(),
        },
        objects: std::iter::once(&c.object_spec)
            .chain(&c.more_objects)
            .map(|o| ArchObject {
                arch: if o.arm { Arch::Aarch64 } else { Arch::X86_64 },
                file: o.file.clone().unwrap_or_else(|| "x86_64/p.bpf.o".into()),
                sha256: o.digest.of(&c.object),
                size: c.object.len() as u64,
                min_btf: o
                    .min_btf
                    .iter()
                    .map(|m| {
                        let member = members.get(usize::from(m.member) % members.len().max(1));
                        let (path, bytes) = member.map_or(("", &[][..]), |(p, b)| (p, b));
                        MinBtfFile {
                            kernel: m.kernel.clone().unwrap_or_else(|| {
                                path.strip_suffix(".btf").unwrap_or(path).to_string()
                            }),
                            file: m.file.clone().unwrap_or_else(|| "btf/k.btf".into()),
                            sha256: m.digest.of(bytes),
                        }
                    })
                    .collect(),
            })
            .collect(),
        programs: Vec::new(),
        maps: Vec::new(),
    };
    let config = pkg.to_json();
    let mut blobs: Vec<Vec<u8>> = vec![config.clone(), c.object.clone()];
    let mut config_desc = Descriptor::of(&c.config_media.get(artifact::MEDIA_TYPE_CONFIG), &config);
    config_desc.digest = c.config_digest.of(&config);
    let mut layer = Descriptor::of(&c.layer_media.get(artifact::MEDIA_TYPE_OBJECT), &c.object);
    layer.digest = c.layer_digest.of(&c.object);
    let mut layers = vec![layer];
    if let Some(b) = &btf_bytes {
        layers.push(Descriptor::of(artifact::MEDIA_TYPE_MIN_BTF, b));
        blobs.push(b.clone());
    }
    for (media, bytes) in &c.extra_layers {
        layers.push(Descriptor::of(
            &media.get("application/octet-stream"),
            bytes,
        ));
        blobs.push(bytes.clone());
    }
    let image = ImageManifest {
        schema_version: if c.schema_1 { 1 } else { 2 },
        media_type: Some(oci::MEDIA_TYPE_MANIFEST.into()),
        artifact_type: c
            .artifact_type
            .as_ref()
            .map(|m| m.get(artifact::ARTIFACT_TYPE)),
        config: config_desc,
        layers,
        subject: None,
        annotations: Default::default(),
    };
    let image_bytes = oci::to_json(&image);
    let root = match &c.index {
        None => {
            blobs.push(image_bytes.clone());
            Descriptor::of(oci::MEDIA_TYPE_MANIFEST, &image_bytes)
        }
        Some((platform, others, media)) => {
            let mut entry = Descriptor::of(&media.get(oci::MEDIA_TYPE_MANIFEST), &image_bytes);
            entry.platform = Some(platform.get());
            let mut manifests = vec![entry];
            for o in others {
                let mut d = Descriptor::of(oci::MEDIA_TYPE_MANIFEST, b"{}");
                d.platform = Some(o.get());
                manifests.push(d);
            }
            let index = ImageIndex {
                schema_version: 2,
                media_type: Some(oci::MEDIA_TYPE_INDEX.into()),
                artifact_type: None,
                manifests,
                subject: None,
                annotations: Default::default(),
            };
            let index_bytes = oci::to_json(&index);
            blobs.push(image_bytes);
            blobs.push(index_bytes.clone());
            Descriptor::of(oci::MEDIA_TYPE_INDEX, &index_bytes)
        }
    };
    if let Some(i) = c.missing {
        let n = blobs.len();
        blobs.remove(usize::from(i) % n);
    }
    let mut src = Mem(blobs
        .into_iter()
        .map(|b| (Sha256Digest::of(&b), b))
        .collect());
    open_and_check(&mut src, &root, arch);
}
