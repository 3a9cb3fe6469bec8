//! `coreship inspect`: what a compiled BPF object holds, read without loading it.
//!
//! Phases, each with its own error: the ELF is checked to be a BPF object with BTF (the
//! loader's [`coreship_loader::BpfElf`], the same check `coreship-load` makes); `.BTF.ext` is parsed for CO-RE relocations (`btf_ext`) and each access
//! string is resolved to a field path through the object's BTF (`core_spec`); programs,
//! maps, output declarations and license come from libbpf via
//! [`coreship_loader::ObjectSummary`], so `inspect` and the package description agree.
//! [`Inspection`] renders as text (`render`) or JSON.

mod btf_ext;
mod core_spec;
mod error;
mod maps;
mod relo_kind;
mod render;
mod report;

pub use btf_ext::{BtfExt, BtfExtError, CoreReloGroup, CoreReloRecord};
use core_spec::{resolve_access, type_name};
pub use error::InspectError;
pub use relo_kind::CoreReloKind;
pub use report::{CoreRelocation, InspectedMap, InspectedSetting, Inspection, SectionRelocations};

use btf_rs::{Btf, BtfType};
use std::path::Path;

/// Reads and inspects the object at `path`.
pub fn inspect_file(path: &Path) -> Result<Inspection, InspectError> {
    let bytes = std::fs::read(path).map_err(|source| InspectError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    inspect_bytes(path, &bytes)
}

/// Inspects object `bytes`; `path` names the object in the report and in errors.
pub fn inspect_bytes(path: &Path, bytes: &[u8]) -> Result<Inspection, InspectError> {
    let sections = coreship_loader::BpfElf::parse(bytes).map_err(|problem| InspectError::Elf {
        path: path.to_path_buf(),
        problem,
    })?;
    let btf = Btf::from_bytes(sections.btf).map_err(|source| InspectError::Btf {
        path: path.to_path_buf(),
        source,
    })?;
    let core_relocations = match sections.btf_ext {
        None => Vec::new(),
        Some(ext) => {
            let ext = BtfExt::parse(ext).map_err(|source| InspectError::BtfExt {
                path: path.to_path_buf(),
                source,
            })?;
            relocations(path, &btf, &ext)?
        }
    };
    let name = path.display().to_string();
    // libbpf warns on stderr about sections it skips (`.coreship`); keep the library quiet.
    let ((summary, settings), _log) = crate::libbpf_log::capture(|| {
        (
            coreship_loader::ObjectSummary::from_bytes(&name, bytes),
            coreship_loader::object_settings(&name, bytes),
        )
    });
    let summary = summary.map_err(|source| InspectError::Summary {
        path: path.to_path_buf(),
        source,
    })?;
    let settings = settings.map_err(|source| InspectError::Settings {
        path: path.to_path_buf(),
        source,
    })?;
    let sizes = maps::max_entries(&btf);
    let maps = summary
        .maps
        .into_iter()
        .map(|info| InspectedMap {
            max_entries: sizes.get(&info.name).copied(),
            info,
        })
        .collect();
    Ok(Inspection {
        object: name,
        license: summary.license,
        programs: summary.programs,
        maps,
        core_relocations,
        settings: settings
            .iter()
            .filter(|s| s.settable)
            .map(setting)
            .collect(),
    })
}

/// A loader setting as `inspect` reports it: the default as a JSON value.
fn setting(s: &coreship_loader::SettingInfo) -> InspectedSetting {
    use coreship_loader::SettingValue as V;
    let default = match &s.default {
        None => serde_json::Value::Null,
        Some(V::Int(v)) => i64::try_from(*v)
            .map(Into::into)
            .or_else(|_| u64::try_from(*v).map(Into::into))
            .unwrap_or_else(|_| v.to_string().into()),
        Some(V::Bool(b)) => (*b).into(),
        Some(V::Enum { name: Some(n), .. }) => n.clone().into(),
        Some(V::Enum { name: None, value }) => i64::try_from(*value)
            .map(Into::into)
            .unwrap_or_else(|_| value.to_string().into()),
        Some(V::Str(s)) => s.clone().into(),
        Some(other) => other.to_string().into(),
    };
    InspectedSetting {
        name: s.name.clone(),
        section: s.section.clone(),
        type_name: s.type_name.clone(),
        default,
    }
}

/// A `.BTF` string offset as a [`BtfType`], so btf-rs can look it up.
struct StrOff(u32);

impl BtfType for StrOff {
    fn get_name_offset(&self) -> Option<u32> {
        Some(self.0)
    }
}

fn relocations(
    path: &Path,
    btf: &Btf,
    ext: &BtfExt,
) -> Result<Vec<SectionRelocations>, InspectError> {
    let string = |offset: u32, what| {
        btf.resolve_name(&StrOff(offset))
            .map_err(|_| InspectError::BadString {
                path: path.to_path_buf(),
                what,
                offset,
            })
    };
    ext.core_relos
        .iter()
        .map(|group| {
            let relocations = group
                .relos
                .iter()
                .map(|r| {
                    let access = string(r.access_str_off, "access string")?;
                    let kind = CoreReloKind::from_raw(r.kind);
                    let resolved = resolve_access(btf, r.type_id, &access, kind);
                    Ok(CoreRelocation {
                        insn: r.insn_off / 8,
                        insn_off: r.insn_off,
                        kind,
                        type_id: r.type_id,
                        root_type: type_name(btf, r.type_id)
                            .unwrap_or_else(|_| format!("type {}", r.type_id)),
                        unresolved: resolved.as_ref().err().map(ToString::to_string),
                        path: resolved.ok(),
                        access,
                    })
                })
                .collect::<Result<_, InspectError>>()?;
            Ok(SectionRelocations {
                section: string(group.sec_name_off, "section name")?,
                relocations,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::core_spec::tests::{btf, s};
    use super::*;

    fn ext(access_str_off: u32) -> BtfExt {
        BtfExt {
            version: 1,
            flags: 0,
            func_info_count: 0,
            line_info_count: 0,
            core_relos: vec![CoreReloGroup {
                sec_name_off: s("tp/x"),
                relos: vec![CoreReloRecord {
                    insn_off: 24,
                    type_id: 2,
                    access_str_off,
                    kind: 0,
                }],
            }],
        }
    }

    #[test]
    fn relocations_are_named_and_resolved() {
        let secs = relocations(Path::new("p.o"), &btf(), &ext(s("0:1"))).unwrap();
        assert_eq!(secs[0].section, "tp/x");
        let r = &secs[0].relocations[0];
        assert_eq!((r.insn, r.insn_off, r.type_id), (3, 24, 2));
        assert_eq!(r.root_type, "struct task_struct");
        assert_eq!(r.access, "0:1");
        assert_eq!(r.path.as_deref(), Some("task_struct.real_parent"));
        assert_eq!(r.unresolved, None);
    }

    #[test]
    fn unresolvable_paths_say_why_instead_of_failing() {
        // A real string, but not an access string.
        let secs = relocations(Path::new("p.o"), &btf(), &ext(s("tgid"))).unwrap();
        let r = &secs[0].relocations[0];
        assert_eq!(r.path, None);
        assert!(r
            .unresolved
            .as_deref()
            .unwrap()
            .contains("not a list of indices"));
    }

    #[test]
    fn string_offsets_inside_a_string_are_corrupt() {
        let err = relocations(Path::new("p.o"), &btf(), &ext(s("0:1") + 1)).unwrap_err();
        assert!(
            matches!(
                err,
                InspectError::BadString {
                    what: "access string",
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("p.o has a corrupt .BTF.ext section"),
            "{err}"
        );
    }
}
