//! The report `inspect` produces; `render` turns it into text.

use super::CoreReloKind;
use coreship_registry::{MapInfo, ProgramInfo};
use serde::Serialize;

/// Everything `inspect` reports about one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inspection {
    /// The object file as given.
    pub object: String,
    /// The `license` section, empty when absent.
    pub license: String,
    /// Programs in section order.
    pub programs: Vec<ProgramInfo>,
    /// Maps declared in `.maps`, with output declarations from `.coreship` markers.
    pub maps: Vec<InspectedMap>,
    /// CO-RE relocations grouped by program section.
    pub core_relocations: Vec<SectionRelocations>,
    /// Globals `coreship-load run --set NAME=VALUE` can change, with their defaults.
    pub settings: Vec<InspectedSetting>,
}

/// A global of `.rodata`, `.data` or `.bss` (a probe's `const volatile` option).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InspectedSetting {
    /// The variable's name.
    pub name: String,
    /// Its data section.
    pub section: String,
    /// Its C type without qualifiers, e.g. `bool`, `__u8`, `char[16]`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Its value in the object: a number, bool or string (an enum's variant name);
    /// `null` when unknown.
    pub default: serde_json::Value,
}

/// A map and its size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InspectedMap {
    /// Name, type, key/value types and output declaration.
    #[serde(flatten)]
    pub info: MapInfo,
    /// `max_entries` as declared in BTF, when the map declares it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<u32>,
}

/// The CO-RE relocations of one program section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SectionRelocations {
    /// ELF section, e.g. `tp/sched/sched_process_exec`.
    pub section: String,
    /// Relocations in instruction order as the compiler emitted them.
    pub relocations: Vec<CoreRelocation>,
}

/// One CO-RE relocation, resolved against the object's BTF.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoreRelocation {
    /// Instruction index within the section (`insn_off / 8`).
    pub insn: u32,
    /// Byte offset of the instruction within the section.
    pub insn_off: u32,
    /// What libbpf computes for it.
    pub kind: CoreReloKind,
    /// Local BTF id of the root type.
    pub type_id: u32,
    /// C name of the root type, e.g. `struct task_struct`.
    pub root_type: String,
    /// Raw access string, e.g. `0:57`.
    pub access: String,
    /// Readable path, e.g. `task_struct.real_parent`; absent when it could not be resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Why `path` could not be resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unresolved: Option<String>,
}

impl Inspection {
    /// The report as one pretty-printed JSON document with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut out = serde_json::to_string_pretty(self).expect("inspection serializes");
        out.push('\n');
        out
    }
}
