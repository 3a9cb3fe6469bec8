//! Packaging built probes as OCI artifacts: `coreship export` (an image layout directory or
//! tar) and `coreship push` (a registry). The artifact's shape is
//! `coreship_registry::artifact`'s business; this module only decides names, annotations
//! and signatures.

use coreship_registry::artifact::{self, PackOptions, Packed};
use coreship_registry::client;
use coreship_registry::layout::{Layout, LayoutError};
use coreship_registry::oci::Descriptor;
use coreship_registry::{Package, Reference, SecretKey, Sha256Digest, SignatureError, SignedName};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Errors packaging or exporting probes.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The package directory is not a valid package.
    #[error(transparent)]
    Artifact(#[from] artifact::ArtifactError),
    /// Writing the layout failed.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// Signing failed.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// A file could not be written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The registry refused or failed.
    #[error(transparent)]
    Client(#[from] coreship_registry::client::ClientError),
    /// `SOURCE_DATE_EPOCH` is not a number of seconds.
    #[error("SOURCE_DATE_EPOCH=`{0}` is not a Unix time in seconds")]
    SourceDateEpoch(String),
}

/// Which artifact shape to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// The coreship artifact (`registry/FORMAT.md`).
    #[default]
    Coreship,
    /// An image bpfman loads (`io.ebpf.*` labels, tar+gzip layer).
    Bpfman,
}

/// Packs the package directory `dir` in `flavor`.
pub fn pack(
    dir: &Path,
    opts: &PackOptions,
    flavor: Flavor,
) -> Result<Packed, artifact::ArtifactError> {
    match flavor {
        Flavor::Coreship => artifact::pack(dir, opts),
        Flavor::Bpfman => artifact::pack_bpfman(dir, opts),
    }
}

/// Annotations from the environment: `created` from `SOURCE_DATE_EPOCH` (never from the
/// clock, so the same sources push to the same digest), `revision` and `source` from git
/// when `root` is in a git checkout.
pub fn pack_options(root: &Path) -> Result<PackOptions, PublishError> {
    let created = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => Some(coreship_registry::rfc3339(
            v.trim()
                .parse()
                .map_err(|_| PublishError::SourceDateEpoch(v.clone()))?,
        )),
        Err(_) => None,
    };
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !text.is_empty()).then_some(text)
    };
    Ok(PackOptions {
        created,
        revision: git(&["rev-parse", "HEAD"]),
        // Credentials in a remote URL (https://user:token@host/…) must not be published.
        source: git(&["remote", "get-url", "origin"]).map(|u| strip_userinfo(&u)),
        compat: false,
    })
}

fn strip_userinfo(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s && !url[s + 3..at].contains('/') => {
            format!("{}{}", &url[..s + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// The name a probe is exported or pushed under: `<prefix>/<name>:<version>`, or
/// `<name>:<version>` without a prefix.
pub fn default_name(pkg: &Package, prefix: Option<&str>) -> String {
    match prefix {
        Some(p) => format!("{}/{}:{}", p.trim_end_matches('/'), pkg.name, pkg.version),
        None => format!("{}:{}", pkg.name, pkg.version),
    }
}

/// One exported or pushed artifact.
#[derive(Debug, Clone)]
pub struct Published {
    /// Probe name.
    pub probe: String,
    /// The name or reference it was stored under.
    pub name: String,
    /// Digest of its index (what `@sha256:` pins and signatures sign).
    pub digest: Sha256Digest,
    /// Key id of the signature added, if signed.
    pub signed_by: Option<String>,
}

/// The signature referrer for `root` under `name`, signed with `key`.
pub fn sign(
    key: &SecretKey,
    root: &Descriptor,
    name: &str,
    compat: bool,
) -> Result<(Vec<artifact::Blob>, artifact::Blob), PublishError> {
    let minisig = key.sign(&root.digest, &SignedName::parse(name))?;
    Ok(artifact::signature(root, minisig.as_bytes(), compat))
}

/// Writes `packed` (and its signature) into `layout` under `name`.
fn store(
    layout: &Layout,
    packed: &Packed,
    name: &str,
    key: Option<&SecretKey>,
    compat: bool,
) -> Result<Option<String>, PublishError> {
    for blob in packed
        .blobs
        .iter()
        .chain(&packed.manifests)
        .chain([&packed.root])
    {
        layout.blobs().put(&blob.bytes).map_err(LayoutError::from)?;
    }
    layout.set_name(name, &packed.root.descriptor)?;
    let Some(key) = key else { return Ok(None) };
    let (blobs, manifest) = sign(key, &packed.root.descriptor, name, compat)?;
    for blob in blobs.iter().chain([&manifest]) {
        layout.blobs().put(&blob.bytes).map_err(LayoutError::from)?;
    }
    layout.add_referrer(&manifest.descriptor)?;
    Ok(Some(key.key_id().to_string()))
}

/// Exports package directories into `dest`: an image layout directory (created or added to),
/// or, when `dest` ends in `.tar`, a tar of one (replaced atomically).
pub fn export(
    packages: &[(PathBuf, String)],
    dest: &Path,
    opts: &PackOptions,
    flavor: Flavor,
    key: Option<&SecretKey>,
) -> Result<Vec<Published>, PublishError> {
    let is_tar = dest.extension().is_some_and(|e| e == "tar");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PublishError::Io { path, source }
    };
    let staging = if is_tar {
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dir = parent.join(format!(".coreship-export-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        Some(dir)
    } else {
        None
    };
    let layout = Layout::open_or_create(staging.as_deref().unwrap_or(dest))?;
    let result = (|| {
        let mut out = Vec::new();
        for (dir, name) in packages {
            let packed = pack(dir, opts, flavor)?;
            let signed_by = store(&layout, &packed, name, key, opts.compat)?;
            out.push(Published {
                probe: Package::read_dir(dir)
                    .map_err(artifact::ArtifactError::from)?
                    .name,
                name: name.clone(),
                digest: packed.root.descriptor.digest,
                signed_by,
            });
        }
        if is_tar {
            let tmp = dest.with_extension("tar.partial");
            let file = fs::File::create(&tmp).map_err(io(&tmp))?;
            let mut w = std::io::BufWriter::new(file);
            let names: Vec<String> = packages.iter().map(|(_, n)| n.clone()).collect();
            layout.write_tar(Some(&names), &mut w)?;
            let file = w
                .into_inner()
                .map_err(|e| e.into_error())
                .map_err(io(&tmp))?;
            file.sync_all().map_err(io(&tmp))?;
            fs::rename(&tmp, dest).map_err(io(dest))?;
        }
        Ok(out)
    })();
    if let Some(dir) = staging {
        let _ = fs::remove_dir_all(dir);
    }
    result
}

/// What `coreship push` uploads for one probe: the package directory packed in `flavor`
/// (in compat form if the registry asks), signed by `key` under the reference's repository.
struct PushProbe<'a> {
    dir: &'a Path,
    opts: &'a PackOptions,
    flavor: Flavor,
    key: Option<&'a SecretKey>,
    signed_as: SignedName,
}

impl client::PushSource for PushProbe<'_> {
    fn pack(&mut self, compat: bool) -> Result<Packed, artifact::ArtifactError> {
        let opts = PackOptions {
            // `--compat` asks for the compatibility form from the start.
            compat: compat || self.opts.compat,
            ..self.opts.clone()
        };
        pack(self.dir, &opts, self.flavor)
    }

    fn sign(&mut self, root: &Descriptor) -> Result<Option<Vec<u8>>, client::SignError> {
        let Some(key) = self.key else { return Ok(None) };
        Ok(Some(key.sign(&root.digest, &self.signed_as)?.into_bytes()))
    }
}

/// Pushes the package directory `dir` to `reference` (signed with `key` if given), reporting
/// bytes moved to `progress`.
pub fn push(
    client: &client::Client,
    reference: &Reference,
    dir: &Path,
    opts: &PackOptions,
    flavor: Flavor,
    key: Option<&SecretKey>,
    progress: &dyn client::Progress,
) -> Result<(Published, client::Pushed), PublishError> {
    let probe = Package::read_dir(dir)
        .map_err(artifact::ArtifactError::from)?
        .name;
    let mut source = PushProbe {
        dir,
        opts,
        flavor,
        key,
        signed_as: SignedName::from(reference),
    };
    let pushed = client::push(client, reference, &mut source, progress)?;
    let published = Published {
        probe,
        name: reference.to_string(),
        digest: pushed.root.digest,
        signed_by: pushed
            .signature
            .as_ref()
            .and(key)
            .map(|k| k.key_id().to_string()),
    };
    Ok((published, pushed))
}

/// Adds a signature to an artifact already in a registry: `minisig` (a `.minisig` file's text,
/// made by `coreship` or the `minisign` CLI over the index digest) becomes a referrer of the
/// artifact `reference` names. Returns the signed root.
pub fn attach_signature(
    client: &client::Client,
    reference: &Reference,
    minisig: &[u8],
) -> Result<Descriptor, PublishError> {
    let root = client.get_manifest(reference)?.descriptor;
    let compat = false;
    let (blobs, manifest) = artifact::signature(&root, minisig, compat);
    client.push_referrer(
        reference,
        &root.digest,
        &blobs,
        &manifest,
        &client::NoProgress,
    )?;
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_remote_urls_are_not_published() {
        assert_eq!(
            strip_userinfo("https://me:tok@github.com/a/b"),
            "https://github.com/a/b"
        );
        assert_eq!(
            strip_userinfo("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
        assert_eq!(
            strip_userinfo("https://github.com/a/b@v1"),
            "https://github.com/a/b@v1"
        );
    }
}
