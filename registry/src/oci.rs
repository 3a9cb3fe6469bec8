//! The OCI image-spec documents coreship reads and writes: descriptors, image manifests and
//! image indexes, with the media types and annotation keys they use.
//!
//! Only the fields coreship needs are modelled. Digests are always taken over the exact bytes
//! received or stored, never over a re-serialization, so a peer's document is never rewritten.

use crate::Sha256Digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `application/vnd.oci.image.index.v1+json`.
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// `application/vnd.oci.image.manifest.v1+json`.
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker's manifest list, which registries and tools may hand back for an index.
pub const MEDIA_TYPE_DOCKER_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker's schema 2 image manifest.
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The OCI image config (used by bpfman-compatible artifacts).
pub const MEDIA_TYPE_IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// A gzip-compressed tar layer (used by bpfman-compatible artifacts).
pub const MEDIA_TYPE_LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The empty descriptor's media type (OCI 1.1), content `{}`.
pub const MEDIA_TYPE_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// `org.opencontainers.image.title`.
pub const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";
/// `org.opencontainers.image.version`.
pub const ANNOTATION_VERSION: &str = "org.opencontainers.image.version";
/// `org.opencontainers.image.description`.
pub const ANNOTATION_DESCRIPTION: &str = "org.opencontainers.image.description";
/// `org.opencontainers.image.licenses`.
pub const ANNOTATION_LICENSES: &str = "org.opencontainers.image.licenses";
/// `org.opencontainers.image.source`.
pub const ANNOTATION_SOURCE: &str = "org.opencontainers.image.source";
/// `org.opencontainers.image.revision`.
pub const ANNOTATION_REVISION: &str = "org.opencontainers.image.revision";
/// `org.opencontainers.image.created`.
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// `org.opencontainers.image.ref.name`: the tag of a manifest in an image layout's `index.json`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Largest manifest or index accepted (the distribution spec's recommended minimum is 4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// Annotations: string keys to string values, serialized in key order.
pub type Annotations = BTreeMap<String, String>;

/// A content descriptor: what a blob or manifest is, its digest and size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: Sha256Digest,
    /// Size in bytes of the referenced content.
    pub size: u64,
    /// For manifests in an index: the platform the manifest is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// For referrers: the artifact type of the referenced manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Annotations,
}

impl Descriptor {
    /// A descriptor of `bytes` with `media_type` and nothing else.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: Sha256Digest::of(bytes),
            size: bytes.len() as u64,
            platform: None,
            artifact_type: None,
            annotations: Annotations::new(),
        }
    }

    /// The annotation `key`, if present.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }
}

/// The platform of a manifest in an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture in GOARCH spelling (`amd64`, `arm64`).
    pub architecture: String,
    /// Operating system (`linux`).
    pub os: String,
    /// CPU variant (`v8` for arm64), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An OCI image manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`MEDIA_TYPE_MANIFEST`] (optional in the spec, always written by coreship).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// OCI 1.1 artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// OCI 1.1 subject: the manifest this one refers to (signatures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Annotations,
}

/// An OCI image index (or a Docker manifest list, which has the same shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// [`MEDIA_TYPE_INDEX`] (optional in the spec, always written by coreship).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// OCI 1.1 artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifests.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// OCI 1.1 subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Annotations,
}

/// A manifest document of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Manifest {
    /// An image manifest.
    Image(ImageManifest),
    /// An image index.
    Index(ImageIndex),
}

/// A manifest that is not one coreship can read.
#[derive(thiserror::Error)]
pub enum ManifestError {
    /// Larger than [`MAX_MANIFEST_BYTES`].
    #[error("manifest is {0} bytes, more than the 4 MiB limit")]
    TooLarge(usize),
    /// Not JSON of the expected shape.
    #[error("malformed {kind}")]
    Malformed {
        /// `image manifest` or `image index`.
        kind: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A media type that is neither an image manifest nor an index.
    #[error("unsupported manifest media type `{0}`")]
    MediaType(String),
    /// `schemaVersion` other than 2.
    #[error("unsupported manifest schemaVersion {0}")]
    SchemaVersion(u32),
}

/// Just the field that tells the two kinds apart.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    media_type: Option<String>,
    /// Present or not; never built (a `Value` tree would cost the loader its deserializer).
    #[serde(default)]
    manifests: Option<serde::de::IgnoredAny>,
}

impl Manifest {
    /// Parses manifest bytes. `content_type` is the media type the registry or the referring
    /// descriptor gave, used when the document itself does not say (both are optional in OCI).
    /// A `mediaType` the document declares must be one of the manifest and index types
    /// ([`is_manifest_media_type`]): whoever serves the document back serves that type.
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Manifest, ManifestError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge(bytes.len()));
        }
        let probe: Probe =
            serde_json::from_slice(bytes).map_err(|source| ManifestError::Malformed {
                kind: "manifest",
                source,
            })?;
        let declared = probe.media_type.filter(|m| !m.is_empty());
        if let Some(m) = declared.as_deref().filter(|m| !is_manifest_media_type(m)) {
            return Err(ManifestError::MediaType(m.to_string()));
        }
        let media_type = declared
            .or_else(|| content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_string()))
            .filter(|m| !m.is_empty());
        let is_index = match media_type.as_deref() {
            Some(MEDIA_TYPE_INDEX | MEDIA_TYPE_DOCKER_LIST) => true,
            Some(MEDIA_TYPE_MANIFEST | MEDIA_TYPE_DOCKER_MANIFEST) => false,
            Some(other) if probe.manifests.is_none() && other != "application/json" => {
                return Err(ManifestError::MediaType(other.to_string()))
            }
            _ => probe.manifests.is_some(),
        };
        let (schema, manifest) = if is_index {
            let index: ImageIndex =
                serde_json::from_slice(bytes).map_err(|source| ManifestError::Malformed {
                    kind: "image index",
                    source,
                })?;
            (index.schema_version, Manifest::Index(index))
        } else {
            let image: ImageManifest =
                serde_json::from_slice(bytes).map_err(|source| ManifestError::Malformed {
                    kind: "image manifest",
                    source,
                })?;
            (image.schema_version, Manifest::Image(image))
        };
        if schema != 2 {
            return Err(ManifestError::SchemaVersion(schema));
        }
        Ok(manifest)
    }

    /// The media type the document declares (one of the manifest types, by [`parse`]), or
    /// the OCI one for its kind.
    ///
    /// [`parse`]: Manifest::parse
    pub fn media_type(&self) -> &str {
        match self {
            Manifest::Image(m) => declared(&m.media_type).unwrap_or(MEDIA_TYPE_MANIFEST),
            Manifest::Index(i) => declared(&i.media_type).unwrap_or(MEDIA_TYPE_INDEX),
        }
    }

    /// The media type the document itself declares, if any (an empty one is none).
    pub fn declared_media_type(&self) -> Option<&str> {
        match self {
            Manifest::Image(m) => declared(&m.media_type),
            Manifest::Index(i) => declared(&i.media_type),
        }
    }

    /// The manifest's subject, if it refers to another manifest.
    pub fn subject(&self) -> Option<&Descriptor> {
        match self {
            Manifest::Image(m) => m.subject.as_ref(),
            Manifest::Index(i) => i.subject.as_ref(),
        }
    }

    /// The artifact type: `artifactType`, else the config's media type for an image manifest.
    pub fn artifact_type(&self) -> Option<&str> {
        match self {
            Manifest::Image(m) => m
                .artifact_type
                .as_deref()
                .or(Some(m.config.media_type.as_str())),
            Manifest::Index(i) => i.artifact_type.as_deref(),
        }
    }

    /// The annotations.
    pub fn annotations(&self) -> &Annotations {
        match self {
            Manifest::Image(m) => &m.annotations,
            Manifest::Index(i) => &i.annotations,
        }
    }

    /// Every descriptor this manifest references (config, layers, child manifests; not the
    /// subject, which a referrer may legally point at before it exists).
    pub fn references(&self) -> Vec<&Descriptor> {
        match self {
            Manifest::Image(m) => std::iter::once(&m.config).chain(&m.layers).collect(),
            Manifest::Index(i) => i.manifests.iter().collect(),
        }
    }
}

/// A `mediaType` field's value, an empty one counting as absent.
fn declared(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|m| !m.is_empty())
}

/// Whether `media_type` names a manifest (image manifest or index, OCI or Docker).
pub fn is_manifest_media_type(media_type: &str) -> bool {
    matches!(
        media_type,
        MEDIA_TYPE_INDEX
            | MEDIA_TYPE_MANIFEST
            | MEDIA_TYPE_DOCKER_LIST
            | MEDIA_TYPE_DOCKER_MANIFEST
    )
}

/// Serializes a manifest document compactly (field order fixed by the types, annotations in
/// key order), so that the same content always has the same digest.
pub fn to_json<T: Serialize>(doc: &T) -> Vec<u8> {
    serde_json::to_vec(doc).expect("OCI documents serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_and_a_manifest_are_told_apart_with_or_without_media_type() {
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            Manifest::parse(index, None).unwrap(),
            Manifest::Index(_)
        ));
        let manifest = br#"{"schemaVersion":2,"config":{"mediaType":"a","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[]}"#;
        let m =
            Manifest::parse(manifest, Some("application/vnd.oci.image.manifest.v1+json")).unwrap();
        assert!(matches!(m, Manifest::Image(_)));
        assert_eq!(m.artifact_type(), Some("a"));
    }

    #[test]
    fn bad_manifests_are_refused_with_the_reason() {
        let e = Manifest::parse(b"{", None).unwrap_err();
        assert!(e.to_string().starts_with("malformed"), "{e}");
        let e = Manifest::parse(br#"{"schemaVersion":1,"manifests":[]}"#, None).unwrap_err();
        assert_eq!(e.to_string(), "unsupported manifest schemaVersion 1");
        let e =
            Manifest::parse(br#"{"schemaVersion":2,"mediaType":"text/plain"}"#, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported manifest media type `text/plain`"
        );
        // Index-shaped or not, a document declaring a type outside the manifest set.
        for declared in [
            "text/html",
            "application/json",
            "application/vnd.oci.image.index.v1+json\u{7}",
        ] {
            let declared = serde_json::to_string(declared).unwrap();
            let doc = format!(r#"{{"schemaVersion":2,"mediaType":{declared},"manifests":[]}}"#);
            let e = Manifest::parse(doc.as_bytes(), Some(MEDIA_TYPE_INDEX)).unwrap_err();
            assert!(matches!(e, ManifestError::MediaType(_)), "{declared}: {e}");
        }
        let big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert!(matches!(
            Manifest::parse(&big, None),
            Err(ManifestError::TooLarge(_))
        ));
    }

    #[test]
    fn serialization_is_stable_and_round_trips() {
        let mut d = Descriptor::of(MEDIA_TYPE_EMPTY, b"{}");
        d.annotations.insert("z".into(), "1".into());
        d.annotations.insert("a".into(), "2".into());
        let index = ImageIndex {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_INDEX.into()),
            artifact_type: None,
            manifests: vec![d],
            subject: None,
            annotations: Annotations::new(),
        };
        let bytes = to_json(&index);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.find("\"a\"").unwrap() < text.find("\"z\"").unwrap(),
            "{text}"
        );
        match Manifest::parse(&bytes, None).unwrap() {
            Manifest::Index(back) => assert_eq!(back, index),
            other => panic!("{other:?}"),
        }
    }
}

crate::debug_as_display!(ManifestError);
