//! Running straight from an OCI image layout: a directory, or a tar of one (unpacked into a
//! temporary layout in a new private directory, removed afterwards: never a predictable name
//! in /tmp, where a symlink or directory planted first would receive or feed the unpacking).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use coreship_registry::artifact::{self, BlobSource, OpenError, Opened};
use coreship_registry::layout::{Layout, LayoutError};
use coreship_registry::oci::Descriptor;
use coreship_registry::Arch;

use super::FetchError;
use crate::private_dir::PrivateDir;

/// An image layout on disk, and which of its entries to use (the only one if `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutRef {
    /// Directory or `.tar` file.
    pub path: PathBuf,
    /// Entry name (its `org.opencontainers.image.ref.name`).
    pub name: Option<String>,
}

impl fmt::Display for LayoutRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(n) = &self.name {
            write!(f, ":{n}")?;
        }
        Ok(())
    }
}

/// Whether `path` is an image layout directory or a tar file (by its `ustar` magic).
pub fn is_layout_path(path: &Path) -> bool {
    if path.is_dir() {
        return path.join("oci-layout").is_file();
    }
    let mut magic = [0u8; 262];
    use std::io::Read as _;
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|_| &magic[257..262] == b"ustar")
}

/// Reads blobs from a layout (each read re-verifies the digest).
pub(super) struct LayoutBlobs<'a>(pub(super) &'a Layout);

impl BlobSource for LayoutBlobs<'_> {
    type Error = LayoutError;
    fn fetch(&mut self, desc: &Descriptor) -> Result<Vec<u8>, LayoutError> {
        Ok(self.0.blobs().read(&desc.digest)?)
    }
}

/// Opens `entry` of `layout` for `arch`, with its signatures.
pub(super) fn open_entry(
    layout: &Layout,
    entry: &Descriptor,
    arch: Arch,
) -> Result<(Opened, Vec<Vec<u8>>), FetchError> {
    let opened = artifact::open(&mut LayoutBlobs(layout), entry, arch).map_err(|e| match e {
        OpenError::Source(e) => FetchError::Layout(e),
        OpenError::Artifact(e) => FetchError::Artifact(e),
    })?;
    let sigs = artifact::layout_signatures(layout, &entry.digest)?;
    Ok((opened, sigs))
}

/// Opens the entry `lref` names (or the layout's only one) for `arch`: the artifact, its
/// signatures, and the entry's full name.
pub(super) fn open(
    lref: &LayoutRef,
    arch: Arch,
) -> Result<(Opened, Vec<Vec<u8>>, String), FetchError> {
    if lref.path.is_dir() {
        return open_in(&Layout::open(&lref.path)?, lref.name.as_deref(), arch);
    }
    let tmp = PrivateDir::new("coreship-layout").map_err(|source| LayoutError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let layout = Layout::open_or_create(tmp.path())?;
    let file = fs::File::open(&lref.path).map_err(|source| LayoutError::Io {
        path: lref.path.clone(),
        source,
    })?;
    layout.import_tar(&lref.path, std::io::BufReader::new(file))?;
    // Name the archive, not the temporary directory, in errors.
    open_in(&layout, lref.name.as_deref(), arch).map_err(|e| match e {
        FetchError::Layout(LayoutError::UnknownName {
            name, available, ..
        }) => FetchError::Layout(LayoutError::UnknownName {
            layout: lref.path.clone(),
            name,
            available,
        }),
        FetchError::Layout(LayoutError::Ambiguous { available, .. }) => {
            FetchError::Layout(LayoutError::Ambiguous {
                layout: lref.path.clone(),
                available,
            })
        }
        other => other,
    })
}

fn open_in(
    layout: &Layout,
    name: Option<&str>,
    arch: Arch,
) -> Result<(Opened, Vec<Vec<u8>>, String), FetchError> {
    let (name, entry) = match name {
        Some(n) => (n.to_string(), layout.resolve(n)?),
        None => layout.single()?,
    };
    let (opened, signatures) = open_entry(layout, &entry, arch)?;
    Ok((opened, signatures, name))
}
