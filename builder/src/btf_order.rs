//! A canonical order for the forward declarations in an object's BTF.
//!
//! clang's BTF writer (LLVM 19 `BTFDebug::endModule`) emits one `FWD` type per struct that is
//! only reached through pointers, iterating a `std::map` keyed by the *address* of the debug
//! info node. Heap layout shifts with the length of the working directory and of every path
//! on the command line, so two checkouts of one probe can get the same BTF with its `FWD`
//! types in different orders (and type ids and string offsets to match). We sort them by name
//! with libbpf's `btf__permute`, which also renumbers references in `.BTF.ext`; a second pass
//! through the linker then rebuilds the string table in the new type order.

use std::ffi::CStr;
use std::io;

use crate::libbpf_log::{self, LibbpfError};

/// Kind number of `BTF_KIND_FWD`.
const KIND_FWD: u32 = libbpf_sys::BTF_KIND_FWD;

/// One type as far as ordering is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeKey {
    /// BTF kind.
    pub kind: u32,
    /// Name.
    pub name: String,
    /// The kind flag (for FWD: union rather than struct).
    pub kflag: bool,
}

/// `id_map[old_id] = new_id` (index 0 is void) placing the FWD types, in the slots they
/// occupy, in (name, kflag) order; `None` when they already are.
pub(crate) fn fwd_permutation(types: &[TypeKey]) -> Option<Vec<u32>> {
    // types[i] is type id i + 1.
    let slots: Vec<usize> = (0..types.len())
        .filter(|&i| types[i].kind == KIND_FWD)
        .collect();
    let mut sorted = slots.clone();
    sorted.sort_by(|&a, &b| {
        (&types[a].name, types[a].kflag, a).cmp(&(&types[b].name, types[b].kflag, b))
    });
    if sorted == slots {
        return None;
    }
    let mut id_map: Vec<u32> = (0..=types.len() as u32).collect();
    for (&slot, &old) in slots.iter().zip(&sorted) {
        id_map[old + 1] = slot as u32 + 1;
    }
    Some(id_map)
}

/// Errors reordering BTF.
#[derive(Debug, thiserror::Error)]
pub enum BtfOrderError {
    /// The object's `.BTF` or `.BTF.ext` could not be parsed or permuted.
    #[error("cannot {what}")]
    Libbpf {
        /// What failed.
        what: &'static str,
        /// libbpf's error.
        #[source]
        source: LibbpfError,
    },
    /// The permuted section no longer fits where the original was.
    #[error("permuting BTF changed the size of {section} ({before} -> {after} bytes)")]
    Size {
        /// `.BTF` or `.BTF.ext`.
        section: &'static str,
        /// Original size.
        before: usize,
        /// New size.
        after: usize,
    },
}

/// Reorders FWD types of the BTF in `btf` (and renumbers `ext`) in place. Returns whether
/// anything changed. Both slices keep their size: permuting equally sized types and renaming
/// ids moves no string.
pub(crate) fn canonicalize(btf: &mut [u8], ext: Option<&mut [u8]>) -> Result<bool, BtfOrderError> {
    let fail = |what, errno: i32, log| BtfOrderError::Libbpf {
        what,
        source: LibbpfError::from_errno(errno, log),
    };
    let (b, log) = libbpf_log::capture(|| {
        // SAFETY: btf is a valid buffer of btf.len() bytes; libbpf copies it.
        unsafe { libbpf_sys::btf__new(btf.as_ptr().cast(), btf.len() as u32) }
    });
    if b.is_null() {
        return Err(fail("parse .BTF", last_errno(), log));
    }
    let b = OwnedBtf(b);
    let mut e = None;
    if let Some(ext) = ext.as_deref() {
        let (p, log) = libbpf_log::capture(|| {
            // SAFETY: ext is a valid buffer of ext.len() bytes; libbpf copies it.
            unsafe { libbpf_sys::btf_ext__new(ext.as_ptr(), ext.len() as u32) }
        });
        if p.is_null() {
            return Err(fail("parse .BTF.ext", last_errno(), log));
        }
        e = Some(OwnedExt(p));
    }

    let Some(mut id_map) = fwd_permutation(&b.keys()) else {
        return Ok(false);
    };
    let opts = libbpf_sys::btf_permute_opts {
        sz: std::mem::size_of::<libbpf_sys::btf_permute_opts>() as _,
        btf_ext: e.as_ref().map_or(std::ptr::null_mut(), |e| e.0),
    };
    let (rc, log) = libbpf_log::capture(|| {
        // SAFETY: b is a valid btf, id_map has btf__type_cnt entries as required, opts is
        // initialized with its size and a valid (or null) btf_ext.
        unsafe { libbpf_sys::btf__permute(b.0, id_map.as_mut_ptr(), id_map.len() as u32, &opts) }
    });
    if rc < 0 {
        return Err(fail("permute BTF types", rc, log));
    }

    let mut size = 0u32;
    // SAFETY: b is valid; libbpf returns a buffer it owns, of `size` bytes.
    let raw = unsafe { libbpf_sys::btf__raw_data(b.0, &mut size) };
    copy_back(btf, raw.cast(), size, ".BTF")?;
    if let (Some(ext), Some(e)) = (ext, &e) {
        let mut size = 0u32;
        // SAFETY: e is valid; libbpf returns a buffer it owns, of `size` bytes.
        let raw = unsafe { libbpf_sys::btf_ext__raw_data(e.0, &mut size) };
        copy_back(ext, raw.cast(), size, ".BTF.ext")?;
    }
    Ok(true)
}

fn copy_back(
    dst: &mut [u8],
    raw: *const u8,
    size: u32,
    section: &'static str,
) -> Result<(), BtfOrderError> {
    if raw.is_null() || size as usize != dst.len() {
        return Err(BtfOrderError::Size {
            section,
            before: dst.len(),
            after: size as usize,
        });
    }
    // SAFETY: raw points to `size` bytes owned by the live btf/btf_ext object.
    dst.copy_from_slice(unsafe { std::slice::from_raw_parts(raw, size as usize) });
    Ok(())
}

fn last_errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

struct OwnedBtf(*mut libbpf_sys::btf);

impl OwnedBtf {
    fn keys(&self) -> Vec<TypeKey> {
        // SAFETY: self.0 is a valid btf.
        let n = unsafe { libbpf_sys::btf__type_cnt(self.0) };
        (1..n)
            .map(|id| {
                // SAFETY: 0 < id < btf__type_cnt, so the type exists.
                let t = unsafe { &*libbpf_sys::btf__type_by_id(self.0, id) };
                // SAFETY: name_off is an offset into this btf's strings.
                let name = unsafe { libbpf_sys::btf__name_by_offset(self.0, t.name_off) };
                let name = if name.is_null() {
                    String::new()
                } else {
                    // SAFETY: libbpf returns a NUL-terminated string inside the btf.
                    unsafe { CStr::from_ptr(name) }
                        .to_string_lossy()
                        .into_owned()
                };
                TypeKey {
                    kind: (t.info >> 24) & 0x1f,
                    name,
                    kflag: t.info >> 31 == 1,
                }
            })
            .collect()
    }
}

impl Drop for OwnedBtf {
    fn drop(&mut self) {
        // SAFETY: created by btf__new, freed once.
        unsafe { libbpf_sys::btf__free(self.0) };
    }
}

struct OwnedExt(*mut libbpf_sys::btf_ext);

impl Drop for OwnedExt {
    fn drop(&mut self) {
        // SAFETY: created by btf_ext__new, freed once.
        unsafe { libbpf_sys::btf_ext__free(self.0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: u32, name: &str) -> TypeKey {
        TypeKey {
            kind,
            name: name.into(),
            kflag: false,
        }
    }

    #[test]
    fn fwd_types_are_sorted_into_their_own_slots() {
        let s = libbpf_sys::BTF_KIND_STRUCT;
        // ids:        1            2              3            4               5
        let types = [
            key(s, "a"),
            key(KIND_FWD, "rt_rq"),
            key(s, "b"),
            key(KIND_FWD, "cfs_rq"),
            key(KIND_FWD, "mm"),
        ];
        let map = fwd_permutation(&types).unwrap();
        // cfs_rq (4) -> slot 2, mm (5) -> slot 4, rt_rq (2) -> slot 5; others stay.
        assert_eq!(map, [0, 1, 5, 3, 2, 4]);
    }

    #[test]
    fn canonicalize_renumbers_references_in_place() {
        // SAFETY: test-only use of libbpf's BTF writer with valid strings; b is freed below.
        let mut raw = unsafe {
            let b = libbpf_sys::btf__new_empty();
            let zeta = libbpf_sys::btf__add_fwd(b, c"zeta".as_ptr(), libbpf_sys::BTF_FWD_STRUCT);
            assert_eq!(libbpf_sys::btf__add_ptr(b, zeta), 2);
            let alpha = libbpf_sys::btf__add_fwd(b, c"alpha".as_ptr(), libbpf_sys::BTF_FWD_STRUCT);
            assert_eq!(libbpf_sys::btf__add_ptr(b, alpha), 4);
            let mut size = 0u32;
            let data = libbpf_sys::btf__raw_data(b, &mut size);
            let raw = std::slice::from_raw_parts(data.cast::<u8>(), size as usize).to_vec();
            libbpf_sys::btf__free(b);
            raw
        };
        let len = raw.len();
        assert!(canonicalize(&mut raw, None).unwrap());
        assert_eq!(raw.len(), len);
        // SAFETY: raw is valid BTF; b is freed below.
        let b = OwnedBtf(unsafe { libbpf_sys::btf__new(raw.as_ptr().cast(), raw.len() as u32) });
        assert!(!b.0.is_null());
        let keys = b.keys();
        assert_eq!((keys[0].kind, keys[0].name.as_str()), (KIND_FWD, "alpha"));
        assert_eq!((keys[2].kind, keys[2].name.as_str()), (KIND_FWD, "zeta"));
        // Pointers kept their slots and follow their targets: 2 -> zeta (now 3), 4 -> alpha (1).
        // SAFETY: ids 2 and 4 exist; for PTR the union field holds the referenced type id.
        let target = |id| unsafe {
            (*libbpf_sys::btf__type_by_id(b.0, id))
                .__bindgen_anon_1
                .type_
        };
        assert_eq!((target(2), target(4)), (3, 1));
        // Already canonical: nothing to do.
        assert!(!canonicalize(&mut raw, None).unwrap());
    }

    #[test]
    fn sorted_fwd_types_need_no_permutation() {
        let types = [key(KIND_FWD, "a"), key(1, "z"), key(KIND_FWD, "b")];
        assert_eq!(fwd_permutation(&types), None);
    }

    #[test]
    fn struct_and_union_forwards_of_one_name_order_by_kind_flag() {
        let mut union = key(KIND_FWD, "x");
        union.kflag = true;
        let types = [union, key(KIND_FWD, "x")];
        assert_eq!(fwd_permutation(&types).unwrap(), [0, 2, 1]);
    }
}
