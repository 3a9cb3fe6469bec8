//! From clang's object to the shipped one: libbpf's static linker drops the DWARF sections
//! (keeping `.BTF` and `.BTF.ext`), then BTF gets a canonical type order
//! ([`crate::btf_order`]) and a second link rebuilds its string table in that order.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use object::{Object as _, ObjectSection as _};

use crate::btf_order::{self, BtfOrderError};
use crate::libbpf_log::{self, LibbpfError};

/// Errors turning clang's object into the shipped one.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// libbpf's static linker failed.
    #[error("libbpf's linker failed on {}", path.display())]
    Libbpf {
        /// The input object.
        path: PathBuf,
        /// libbpf's error and log.
        #[source]
        source: LibbpfError,
    },
    /// An intermediate file could not be read or removed.
    #[error("cannot access {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The linked object is not ELF as expected.
    #[error("{} is not a readable ELF object", path.display())]
    Elf {
        /// The file.
        path: PathBuf,
        /// What the ELF reader said.
        #[source]
        source: object::Error,
    },
    /// The BTF could not be put in canonical order.
    #[error("cannot put the BTF of {} in canonical order", path.display())]
    Order {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: BtfOrderError,
    },
}

/// Links `input` into `output` without DWARF and with canonical BTF; `scratch` is a temporary
/// file next to `output` (removed on return).
pub(crate) fn finalize(input: &Path, output: &Path, scratch: &Path) -> Result<(), LinkError> {
    let result = finalize_inner(input, output, scratch);
    let _ = fs::remove_file(scratch);
    result
}

fn finalize_inner(input: &Path, output: &Path, scratch: &Path) -> Result<(), LinkError> {
    link(input, scratch, |l| l.add_file(input))?;
    let mut bytes = fs::read(scratch).map_err(|source| LinkError::Io {
        path: scratch.to_path_buf(),
        source,
    })?;
    let (btf, ext) = {
        let elf = object::File::parse(&*bytes).map_err(|source| LinkError::Elf {
            path: scratch.to_path_buf(),
            source,
        })?;
        let range = |name| elf.section_by_name(name).and_then(|s| s.file_range());
        (range(".BTF"), range(".BTF.ext"))
    };
    if let Some((btf_off, btf_len)) = btf {
        let order = |source| LinkError::Order {
            path: input.to_path_buf(),
            source,
        };
        let (lo, hi) = (btf_off as usize, (btf_off + btf_len) as usize);
        match ext {
            Some((ext_off, ext_len)) => {
                let (e_lo, e_hi) = (ext_off as usize, (ext_off + ext_len) as usize);
                let (btf, ext) = two_ranges(&mut bytes, (lo, hi), (e_lo, e_hi));
                btf_order::canonicalize(btf, Some(ext)).map_err(order)?;
            }
            None => {
                btf_order::canonicalize(&mut bytes[lo..hi], None).map_err(order)?;
            }
        }
    }
    link(input, output, |l| l.add_buf(&bytes))
}

/// Two disjoint mutable ranges of one buffer.
fn two_ranges(buf: &mut [u8], a: (usize, usize), b: (usize, usize)) -> (&mut [u8], &mut [u8]) {
    if a.0 < b.0 {
        let (x, y) = buf.split_at_mut(b.0);
        (&mut x[a.0..a.1], &mut y[..b.1 - b.0])
    } else {
        let (x, y) = buf.split_at_mut(a.0);
        (&mut y[..a.1 - a.0], &mut x[b.0..b.1])
    }
}

fn link(
    input: &Path,
    output: &Path,
    add: impl FnOnce(&mut libbpf_rs::Linker) -> libbpf_rs::Result<()>,
) -> Result<(), LinkError> {
    let (result, log) = libbpf_log::capture(|| {
        let mut linker = libbpf_rs::Linker::new(output)?;
        add(&mut linker)?;
        linker.link()
    });
    result.map_err(|e| LinkError::Libbpf {
        path: input.to_path_buf(),
        source: LibbpfError::from_libbpf_rs(&e, log),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_ranges_in_either_order() {
        let mut buf: Vec<u8> = (0..10).collect();
        let (a, b) = two_ranges(&mut buf, (1, 3), (5, 8));
        assert_eq!((&a[..], &b[..]), (&[1, 2][..], &[5, 6, 7][..]));
        let (a, b) = two_ranges(&mut buf, (5, 8), (1, 3));
        assert_eq!((&a[..], &b[..]), (&[5, 6, 7][..], &[1, 2][..]));
    }
}
