//! What an object holds, read without loading it: the package description's program and map
//! lists come from here, so the builder and the loader agree on them.

use std::ffi::CStr;
use std::path::Path;

use coreship_registry::{MapInfo, MapOutput, ProgramInfo};
use libbpf_rs::AsRawLibbpf as _;

use crate::attach::AttachKind;
use crate::{BpfElf, LoadError, ObjectBtf};

/// Programs, maps and license of one BPF object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectSummary {
    /// The `license` section ("GPL", "Dual BSD/GPL", …), empty if absent.
    pub license: String,
    /// Programs in section order.
    pub programs: Vec<ProgramInfo>,
    /// Maps declared in `.maps` (libbpf's internal `.rodata`/`.bss` maps excluded).
    pub maps: Vec<MapInfo>,
}

impl ObjectSummary {
    /// Summarizes the object in `bytes`; `name` names it in libbpf and in errors. Needs no
    /// privileges: the object is opened by libbpf but not loaded.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<ObjectSummary, LoadError> {
        let path = Path::new(name);
        let elf = BpfElf::parse(bytes).map_err(|problem| LoadError::Elf {
            path: path.to_path_buf(),
            problem,
        })?;
        let btf = ObjectBtf::from_bytes(elf.btf).map_err(|source| LoadError::Btf {
            path: path.to_path_buf(),
            source,
        })?;
        let markers = btf.markers().map_err(|source| LoadError::Btf {
            path: path.to_path_buf(),
            source,
        })?;
        let obj = crate::session::open(name, bytes, path, None)?;

        let programs = obj
            .progs()
            .map(|p| {
                let section = p.section().to_string_lossy().into_owned();
                let kind = AttachKind::from_section(&section);
                ProgramInfo {
                    name: p.name().to_string_lossy().into_owned(),
                    prog_type: prog_type_name(p.prog_type() as u32),
                    attach: kind.target().map(str::to_string),
                    section,
                }
            })
            .collect();

        let maps = obj
            .maps()
            .filter(|m| !is_internal_map(&m.name().to_string_lossy()))
            .map(|m| {
                let name = m.name().to_string_lossy().into_owned();
                let raw = m.as_libbpf_object();
                // SAFETY: `raw` points at a map owned by `obj`, which outlives these calls.
                let (key_id, value_id) = unsafe {
                    (
                        libbpf_sys::bpf_map__btf_key_type_id(raw.as_ptr()),
                        libbpf_sys::bpf_map__btf_value_type_id(raw.as_ptr()),
                    )
                };
                let type_name = |id: u32| (id != 0).then(|| btf.type_name(id));
                let output = markers
                    .iter()
                    .find(|mk| mk.map == name)
                    .map(|mk| MapOutput {
                        kind: mk.kind,
                        type_name: btf.type_name(mk.type_id),
                    });
                MapInfo {
                    map_type: map_type_name(m.map_type() as u32),
                    key_type: type_name(key_id),
                    value_type: type_name(value_id),
                    output,
                    name,
                }
            })
            .collect();

        Ok(ObjectSummary {
            license: elf.license.unwrap_or_default(),
            programs,
            maps,
        })
    }
}

/// libbpf names its maps for global data `<obj>.rodata`, `<obj>.bss`, `.kconfig`, ….
pub(crate) fn is_internal_map(name: &str) -> bool {
    name.contains('.')
}

/// libbpf's name for a program type (`tracepoint`, `kprobe`, …).
pub fn prog_type_name(t: u32) -> String {
    // SAFETY: libbpf returns a static string or NULL for unknown values.
    let p = unsafe { libbpf_sys::libbpf_bpf_prog_type_str(t) };
    static_str(p).unwrap_or_else(|| format!("prog_type_{t}"))
}

/// libbpf's name for a map type (`ringbuf`, `percpu_hash`, …).
pub fn map_type_name(t: u32) -> String {
    // SAFETY: libbpf returns a static string or NULL for unknown values.
    let p = unsafe { libbpf_sys::libbpf_bpf_map_type_str(t) };
    static_str(p).unwrap_or_else(|| format!("map_type_{t}"))
}

fn static_str(p: *const std::os::raw::c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null pointers from libbpf's type-name tables are NUL-terminated statics.
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_come_from_libbpf() {
        assert_eq!(
            prog_type_name(libbpf_sys::BPF_PROG_TYPE_TRACEPOINT),
            "tracepoint"
        );
        assert_eq!(map_type_name(libbpf_sys::BPF_MAP_TYPE_RINGBUF), "ringbuf");
        assert_eq!(map_type_name(9999), "map_type_9999");
    }

    #[test]
    fn internal_maps_are_recognized() {
        assert!(is_internal_map("execsnoo.rodata"));
        assert!(!is_internal_map("events"));
    }
}
