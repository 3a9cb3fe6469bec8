//! The coreship artifact: how a probe package is laid out as OCI content. This module is the
//! only place that knows it; the builder packs with [`pack`], the loader opens with [`open`],
//! the registry server reads it with [`open`] for its web page. See `registry/FORMAT.md`.
//!
//! ```text
//! image index   artifactType application/vnd.coreship.probe.v1
//!  ├─ image manifest  platform linux/amd64   artifactType application/vnd.coreship.probe.v1
//!  │    config  application/vnd.coreship.probe.config.v1+json   (package.json, shared)
//!  │    layer   application/vnd.coreship.bpf.object.v1          (<name>.bpf.o for x86_64)
//!  └─ image manifest  platform linux/arm64   (same config, the aarch64 object)
//! signature     image manifest, artifactType application/vnd.coreship.signature.v1,
//!               subject = the index, one layer: the minisign signature of the index digest
//! ```

use crate::oci::{
    self, Annotations, Descriptor, ImageIndex, ImageManifest, Manifest, Platform,
    ANNOTATION_CREATED, ANNOTATION_DESCRIPTION, ANNOTATION_LICENSES, ANNOTATION_REVISION,
    ANNOTATION_SOURCE, ANNOTATION_TITLE, ANNOTATION_VERSION, MEDIA_TYPE_EMPTY, MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST,
};
use crate::{Arch, Package, PackageError, Sha256Digest};
use std::path::Path;

/// `artifactType` of coreship probe indexes and manifests.
pub const ARTIFACT_TYPE: &str = "application/vnd.coreship.probe.v1";
/// Media type of the config blob: the package description (`package.json`).
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.coreship.probe.config.v1+json";
/// Media type of a layer holding one relocatable BPF object.
pub const MEDIA_TYPE_OBJECT: &str = "application/vnd.coreship.bpf.object.v1";
/// `artifactType` of a signature referrer.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.coreship.signature.v1";
/// Media type of a signature layer: a minisign signature file (`.minisig`).
pub const MEDIA_TYPE_SIGNATURE: &str = "application/vnd.coreship.signature.v1+minisign";
/// Media type of a layer of minimal BTF: a tar of `ID/VERSION_ID/ARCH/RELEASE.btf` files
/// (Inspektor Gadget's and BTFHub's layout), for kernels without `/sys/kernel/btf/vmlinux`.
pub const MEDIA_TYPE_MIN_BTF: &str = "application/vnd.coreship.btf.v1.tar";
/// Largest minimal-BTF layer a reader accepts (they are a few KiB per kernel).
pub const MAX_MIN_BTF_BYTES: u64 = 64 << 20;
/// Largest package description (config blob) a reader accepts (they are a few KiB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Largest BPF object layer a reader accepts (probes are tens to hundreds of KiB).
pub const MAX_OBJECT_BYTES: u64 = 64 << 20;
/// Largest signature layer a reader accepts (a minisign file is about 300 bytes).
pub const MAX_SIGNATURE_BYTES: u64 = 64 << 10;
/// Largest blob of any other media type a reader accepts.
pub const MAX_OTHER_BLOB_BYTES: u64 = 64 << 20;
/// Annotation on an object layer naming its architecture (coreship spelling, `x86_64`).
pub const ANNOTATION_ARCH: &str = "dev.coreship.arch";

/// A piece of content and its descriptor.
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// What it is.
    pub descriptor: Descriptor,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl Blob {
    fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        Blob {
            descriptor: Descriptor::of(media_type, &bytes),
            bytes,
        }
    }
}

/// Everything a push uploads, in upload order: [`Packed::blobs`], then [`Packed::manifests`],
/// then [`Packed::root`].
#[derive(Debug, Clone, PartialEq)]
pub struct Packed {
    /// Config and layers (deduplicated: arches with identical objects share a layer).
    pub blobs: Vec<Blob>,
    /// Per-arch image manifests.
    pub manifests: Vec<Blob>,
    /// The image index the tag points at; its digest is what a signature signs.
    pub root: Blob,
}

/// Options for [`pack`]. All fields end up in annotations, so they change the digest: leave
/// `created` unset (or from `SOURCE_DATE_EPOCH`) to keep pushes reproducible.
#[derive(Debug, Clone, Default)]
pub struct PackOptions {
    /// RFC 3339 creation time.
    pub created: Option<String>,
    /// Source repository URL.
    pub source: Option<String>,
    /// Source revision (commit).
    pub revision: Option<String>,
    /// Leave out OCI 1.1 `artifactType` fields, for registries that reject them.
    pub compat: bool,
}

/// Content that is not a coreship artifact, or not one for this machine.
#[derive(thiserror::Error)]
pub enum ArtifactError {
    /// The package directory could not be read.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// A manifest could not be parsed.
    #[error("manifest {digest}")]
    Manifest {
        /// Its digest.
        digest: Sha256Digest,
        /// Why.
        #[source]
        source: oci::ManifestError,
    },
    /// The content is an OCI artifact of another kind.
    #[error(
        "{digest} is not a coreship probe (artifact type `{found}`); push it with `coreship push`"
    )]
    NotAProbe {
        /// The manifest's digest.
        digest: Sha256Digest,
        /// Its artifact or config media type.
        found: String,
    },
    /// The index has no manifest for the requested architecture.
    #[error("the artifact has no object for {arch} (it has: {available}); rebuild with `coreship build --arch {arch}`")]
    NoArch {
        /// The architecture asked for.
        arch: Arch,
        /// What the index offers.
        available: String,
    },
    /// A manifest does not have the shape coreship writes.
    #[error("manifest {digest}: {what}")]
    Shape {
        /// The manifest's digest.
        digest: Sha256Digest,
        /// What is wrong.
        what: String,
    },
    /// Fetched content does not match its descriptor.
    #[error("{what} {expected}: content hashes to {actual}; it was corrupted or tampered with")]
    Digest {
        /// Which piece (config, object, manifest).
        what: &'static str,
        /// The descriptor's digest.
        expected: Sha256Digest,
        /// What the bytes hash to.
        actual: Sha256Digest,
    },
    /// A descriptor declares more bytes than its media type allows: refused before any of
    /// it is read, so a hostile registry or layout cannot fill memory or disk.
    #[error("{what} {digest} declares {size} bytes, more than the {cap} cap for it; refused before reading it")]
    TooLarge {
        /// What the blob is (`minimal BTF layer`, `manifest`, …).
        what: &'static str,
        /// Its digest.
        digest: Sha256Digest,
        /// The size its descriptor declares.
        size: u64,
        /// The cap for its media type, as said (`64 MiB`).
        cap: &'static str,
    },
    /// The config blob is not a valid package description.
    #[error("config blob {digest}")]
    Config {
        /// Its digest.
        digest: Sha256Digest,
        /// Why.
        #[source]
        source: PackageError,
    },
}

/// The most bytes a blob of `media_type` may have, what such a blob is called, and the cap
/// as errors say it. Every reader of coreship artifacts (registry client, cache, layouts)
/// holds these.
pub fn size_cap(media_type: &str) -> (u64, &'static str, &'static str) {
    match media_type {
        MEDIA_TYPE_CONFIG => (MAX_CONFIG_BYTES, "package description", "1 MiB"),
        MEDIA_TYPE_OBJECT => (MAX_OBJECT_BYTES, "BPF object layer", "64 MiB"),
        MEDIA_TYPE_MIN_BTF => (MAX_MIN_BTF_BYTES, "minimal BTF layer", "64 MiB"),
        MEDIA_TYPE_SIGNATURE => (MAX_SIGNATURE_BYTES, "signature layer", "64 KiB"),
        m if oci::is_manifest_media_type(m) => {
            (oci::MAX_MANIFEST_BYTES as u64, "manifest", "4 MiB")
        }
        _ => (MAX_OTHER_BLOB_BYTES, "blob", "64 MiB"),
    }
}

/// Refuses `desc` if it declares more bytes than [`size_cap`] allows its media type: checked
/// before fetching, so that what a descriptor claims is never downloaded or read first.
pub fn check_size(desc: &Descriptor) -> Result<(), ArtifactError> {
    let (max, what, cap) = size_cap(&desc.media_type);
    if desc.size > max {
        return Err(ArtifactError::TooLarge {
            what,
            digest: desc.digest,
            size: desc.size,
            cap,
        });
    }
    Ok(())
}

fn annotations(pkg: &Package, opts: &PackOptions) -> Annotations {
    let mut a = Annotations::new();
    a.insert(ANNOTATION_TITLE.into(), pkg.name.clone());
    a.insert(ANNOTATION_VERSION.into(), pkg.version.clone());
    a.insert(ANNOTATION_LICENSES.into(), pkg.license.clone());
    if let Some(d) = &pkg.description {
        a.insert(ANNOTATION_DESCRIPTION.into(), d.clone());
    }
    for (key, value) in [
        (ANNOTATION_CREATED, &opts.created),
        (ANNOTATION_SOURCE, &opts.source),
        (ANNOTATION_REVISION, &opts.revision),
    ] {
        if let Some(v) = value {
            a.insert(key.into(), v.clone());
        }
    }
    a
}

fn platform(arch: Arch) -> Platform {
    Platform {
        architecture: arch.oci_name().to_string(),
        os: "linux".to_string(),
        variant: (arch == Arch::Aarch64).then(|| "v8".to_string()),
    }
}

fn push_unique(blobs: &mut Vec<Blob>, blob: Blob) {
    if !blobs
        .iter()
        .any(|b| b.descriptor.digest == blob.descriptor.digest)
    {
        blobs.push(blob);
    }
}

/// Assembles per-arch image manifests (one config and one layer each) under an index.
struct Assembler {
    artifact_type: Option<String>,
    notes: Annotations,
    blobs: Vec<Blob>,
    manifests: Vec<Blob>,
    entries: Vec<Descriptor>,
}

impl Assembler {
    fn new(artifact_type: Option<String>, notes: Annotations) -> Assembler {
        Assembler {
            artifact_type,
            notes,
            blobs: Vec::new(),
            manifests: Vec::new(),
            entries: Vec::new(),
        }
    }

    fn add(&mut self, arch: Arch, config: Blob, layers: Vec<Blob>) {
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_MANIFEST.into()),
            artifact_type: self.artifact_type.clone(),
            config: config.descriptor.clone(),
            layers: layers.iter().map(|l| l.descriptor.clone()).collect(),
            subject: None,
            annotations: self.notes.clone(),
        };
        let manifest = Blob::new(MEDIA_TYPE_MANIFEST, oci::to_json(&manifest));
        let mut entry = manifest.descriptor.clone();
        entry.platform = Some(platform(arch));
        entry.artifact_type = self.artifact_type.clone();
        self.entries.push(entry);
        push_unique(&mut self.blobs, config);
        for layer in layers {
            push_unique(&mut self.blobs, layer);
        }
        self.manifests.push(manifest);
    }

    fn finish(self) -> Packed {
        let index = ImageIndex {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_INDEX.into()),
            artifact_type: self.artifact_type,
            manifests: self.entries,
            subject: None,
            annotations: self.notes,
        };
        Packed {
            blobs: self.blobs,
            manifests: self.manifests,
            root: Blob::new(MEDIA_TYPE_INDEX, oci::to_json(&index)),
        }
    }
}

/// Packs the package directory `dir` (as `coreship build` writes it) into a coreship artifact.
/// Every object is read and checked against its digest in `package.json`.
pub fn pack(dir: &Path, opts: &PackOptions) -> Result<Packed, ArtifactError> {
    let pkg = Package::read_dir(dir)?;
    let artifact_type = (!opts.compat).then(|| ARTIFACT_TYPE.to_string());
    let mut out = Assembler::new(artifact_type, annotations(&pkg, opts));
    let config = Blob::new(MEDIA_TYPE_CONFIG, pkg.to_json());
    for obj in &pkg.objects {
        let (_, bytes) = pkg.object_for(dir, obj.arch)?;
        let mut layer = Blob::new(MEDIA_TYPE_OBJECT, bytes);
        let notes = &mut layer.descriptor.annotations;
        notes.insert(ANNOTATION_TITLE.into(), format!("{}.bpf.o", pkg.name));
        notes.insert(ANNOTATION_ARCH.into(), obj.arch.as_str().into());
        let mut layers = vec![layer];
        let btfs = pkg.min_btf_for(dir, obj.arch)?;
        if !btfs.is_empty() {
            let members: Vec<(String, &[u8])> = btfs
                .iter()
                .map(|(k, b)| (format!("{k}.btf"), b.as_slice()))
                .collect();
            let mut btf = Blob::new(MEDIA_TYPE_MIN_BTF, crate::tarball::write(&members));
            let notes = &mut btf.descriptor.annotations;
            notes.insert(ANNOTATION_TITLE.into(), format!("{}-min-btf.tar", pkg.name));
            notes.insert(ANNOTATION_ARCH.into(), obj.arch.as_str().into());
            layers.push(btf);
        }
        out.add(obj.arch, config.clone(), layers);
    }
    Ok(out.finish())
}

/// Where [`open`] gets content from: a registry client, a cache, an image layout. Sources
/// verify digests themselves; [`open`] checks again.
pub trait BlobSource {
    /// The source's error.
    type Error;
    /// The bytes `desc` describes (a manifest or a blob).
    fn fetch(&mut self, desc: &Descriptor) -> Result<Vec<u8>, Self::Error>;
}

/// An error of [`open`]: the source failed, or the content is not what it must be.
#[derive(Debug, thiserror::Error)]
pub enum OpenError<E> {
    /// Fetching failed.
    #[error(transparent)]
    Source(E),
    /// The content is wrong.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
}

/// A probe artifact resolved for one architecture.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The top-level manifest (what the tag names and signatures sign).
    pub root: Descriptor,
    /// The manifest chosen for the architecture (the root itself for a single manifest).
    pub manifest: Descriptor,
    /// The package description.
    pub package: Package,
    /// The BPF object for the architecture, digest-checked against the package description.
    pub object: Vec<u8>,
    /// Minimal BTF for kernels without BTF: `(ID/VERSION_ID/ARCH/RELEASE, BTF bytes)`, each
    /// checked against the package description.
    pub min_btf: Vec<(String, Vec<u8>)>,
}

fn fetch_checked<S: BlobSource>(
    src: &mut S,
    what: &'static str,
    desc: &Descriptor,
) -> Result<Vec<u8>, OpenError<S::Error>> {
    check_size(desc)?;
    let bytes = src.fetch(desc).map_err(OpenError::Source)?;
    let actual = Sha256Digest::of(&bytes);
    if actual != desc.digest {
        return Err(ArtifactError::Digest {
            what,
            expected: desc.digest,
            actual,
        }
        .into());
    }
    Ok(bytes)
}

fn parse(desc: &Descriptor, bytes: &[u8]) -> Result<Manifest, ArtifactError> {
    Manifest::parse(bytes, Some(&desc.media_type)).map_err(|source| ArtifactError::Manifest {
        digest: desc.digest,
        source,
    })
}

/// Picks the manifest for `arch` from an index's entries (platform `linux/<oci arch>`).
pub fn pick_platform(index: &ImageIndex, arch: Arch) -> Result<&Descriptor, ArtifactError> {
    index
        .manifests
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == arch.oci_name())
        })
        .ok_or_else(|| ArtifactError::NoArch {
            arch,
            available: {
                let names: Vec<String> = index
                    .manifests
                    .iter()
                    .filter_map(|d| d.platform.as_ref())
                    // In the vocabulary `--arch` takes; other platforms as OCI spells them.
                    .map(|p| match p.architecture.parse::<Arch>() {
                        Ok(a) if p.os == "linux" => a.to_string(),
                        _ => format!("{}/{}", p.os, p.architecture),
                    })
                    .collect();
                if names.is_empty() {
                    "no platforms".to_string()
                } else {
                    names.join(", ")
                }
            },
        })
}

/// Resolves the artifact whose top-level manifest is `root` for `arch`: picks the platform's
/// manifest, reads the package description and the object, and checks every digest.
pub fn open<S: BlobSource>(
    src: &mut S,
    root: &Descriptor,
    arch: Arch,
) -> Result<Opened, OpenError<S::Error>> {
    let root_bytes = fetch_checked(src, "manifest", root)?;
    let (manifest_desc, manifest) = match parse(root, &root_bytes)? {
        Manifest::Index(index) => {
            let desc = pick_platform(&index, arch)?.clone();
            let bytes = fetch_checked(src, "manifest", &desc)?;
            let m = parse(&desc, &bytes)?;
            (desc, m)
        }
        m @ Manifest::Image(_) => (root.clone(), m),
    };
    let Manifest::Image(image) = manifest else {
        return Err(ArtifactError::Shape {
            digest: manifest_desc.digest,
            what: "a platform entry is an index, not an image manifest".into(),
        }
        .into());
    };
    if image.config.media_type != MEDIA_TYPE_CONFIG {
        return Err(ArtifactError::NotAProbe {
            digest: manifest_desc.digest,
            found: image
                .artifact_type
                .clone()
                .unwrap_or_else(|| image.config.media_type.clone()),
        }
        .into());
    }
    let config = fetch_checked(src, "config", &image.config)?;
    let package = Package::from_json(&config, Path::new("config")).map_err(|source| {
        ArtifactError::Config {
            digest: image.config.digest,
            source,
        }
    })?;
    let expected = package.object(arch).map_err(ArtifactError::Package)?;
    let layer = image
        .layers
        .iter()
        .find(|l| l.media_type == MEDIA_TYPE_OBJECT && l.digest == expected.sha256)
        .ok_or_else(|| ArtifactError::Shape {
            digest: manifest_desc.digest,
            what: format!(
                "no {MEDIA_TYPE_OBJECT} layer with the {arch} object's digest {}",
                expected.sha256
            ),
        })?
        .clone();
    let object = fetch_checked(src, "object", &layer)?;
    let mut min_btf = Vec::new();
    if let Some(btf_layer) = image
        .layers
        .iter()
        .find(|l| l.media_type == MEDIA_TYPE_MIN_BTF)
    {
        let bytes = fetch_checked(src, "minimal BTF", btf_layer)?;
        let bad = |what: String| ArtifactError::Shape {
            digest: manifest_desc.digest,
            what,
        };
        let members = crate::tarball::read(&bytes, MAX_MIN_BTF_BYTES)
            .map_err(|e| bad(format!("minimal BTF layer: {e}")))?;
        for (path, btf) in members {
            let kernel = path.strip_suffix(".btf").unwrap_or(&path).to_string();
            let listed = expected.min_btf.iter().find(|m| m.kernel == kernel);
            match listed {
                Some(m) if m.sha256 == Sha256Digest::of(&btf) => min_btf.push((kernel, btf)),
                _ => {
                    return Err(bad(format!(
                        "minimal BTF `{path}` is not the one package.json lists"
                    ))
                    .into())
                }
            }
        }
    }
    Ok(Opened {
        root: root.clone(),
        manifest: manifest_desc,
        package,
        object,
        min_btf,
    })
}

/// A signature referrer for the manifest `subject`: the manifest and the blobs it needs.
pub fn signature(subject: &Descriptor, minisig: &[u8], compat: bool) -> (Vec<Blob>, Blob) {
    let empty = Blob::new(
        if compat {
            SIGNATURE_ARTIFACT_TYPE
        } else {
            MEDIA_TYPE_EMPTY
        },
        b"{}".to_vec(),
    );
    let mut layer = Blob::new(MEDIA_TYPE_SIGNATURE, minisig.to_vec());
    layer.descriptor.annotations.insert(
        ANNOTATION_TITLE.into(),
        format!("{}.minisig", subject.digest.hex()),
    );
    let subject = Descriptor {
        media_type: subject.media_type.clone(),
        digest: subject.digest,
        size: subject.size,
        platform: None,
        artifact_type: None,
        annotations: Annotations::new(),
    };
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.into()),
        artifact_type: (!compat).then(|| SIGNATURE_ARTIFACT_TYPE.to_string()),
        config: empty.descriptor.clone(),
        layers: vec![layer.descriptor.clone()],
        subject: Some(subject),
        annotations: Annotations::new(),
    };
    let manifest = Blob::new(MEDIA_TYPE_MANIFEST, oci::to_json(&manifest));
    (vec![empty, layer], manifest)
}

/// Whether a referrer descriptor (from the referrers API or a fallback tag index) is a coreship
/// signature.
pub fn is_signature(referrer: &Descriptor) -> bool {
    referrer.artifact_type.as_deref() == Some(SIGNATURE_ARTIFACT_TYPE)
}

/// The signature layer of a signature manifest, if it is one.
pub fn signature_layer(manifest: &Manifest) -> Option<&Descriptor> {
    match manifest {
        Manifest::Image(m) if manifest.artifact_type() == Some(SIGNATURE_ARTIFACT_TYPE) => m
            .layers
            .iter()
            .find(|l| l.media_type == MEDIA_TYPE_SIGNATURE),
        _ => None,
    }
}

/// The signature files of the signature referrers of `root` recorded in `layout` (an export
/// or the cache), each read back with its digest checked.
pub fn layout_signatures(
    layout: &crate::layout::Layout,
    root: &Sha256Digest,
) -> Result<Vec<Vec<u8>>, crate::layout::LayoutError> {
    let mut out = Vec::new();
    for r in layout.referrers(root, Some(SIGNATURE_ARTIFACT_TYPE))? {
        let (_, manifest) = layout.manifest(&r)?;
        if let Some(layer) = signature_layer(&manifest) {
            out.push(layout.blobs().read(&layer.digest)?);
        }
    }
    Ok(out)
}

/// The fallback tag under which referrers of `subject` are listed on registries without the
/// referrers API (OCI distribution 1.1 "referrers tag schema").
pub fn referrers_tag(subject: &Sha256Digest) -> String {
    format!("sha256-{}", subject.hex())
}

#[cfg(feature = "bpfman")]
mod bpfman;
#[cfg(feature = "bpfman")]
pub use bpfman::{pack_bpfman, LABEL_MAPS, LABEL_PROGRAMS};

#[cfg(test)]
mod tests;

crate::debug_as_display!(ArtifactError);
