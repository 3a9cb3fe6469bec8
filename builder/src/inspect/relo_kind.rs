//! The kinds of CO-RE relocation (`enum bpf_core_relo_kind` in libbpf's `relo_core.h`).

use serde::{Serialize, Serializer};
use std::fmt;

/// What a CO-RE relocation asks libbpf to compute (`enum bpf_core_relo_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreReloKind {
    /// Byte offset of a field.
    FieldByteOffset,
    /// Byte size of a field.
    FieldByteSize,
    /// Whether a field exists.
    FieldExists,
    /// Whether a field is signed.
    FieldSigned,
    /// Left shift to extract a bitfield.
    FieldLshiftU64,
    /// Right shift to extract a bitfield.
    FieldRshiftU64,
    /// Type id in the object's BTF.
    TypeIdLocal,
    /// Type id in the kernel's BTF.
    TypeIdTarget,
    /// Whether a type exists.
    TypeExists,
    /// Size of a type.
    TypeSize,
    /// Whether an enumerator exists.
    EnumvalExists,
    /// Value of an enumerator.
    EnumvalValue,
    /// Whether a type matches (stricter than exists).
    TypeMatches,
    /// A kind this coreship does not know.
    Unknown(u32),
}

impl CoreReloKind {
    /// Decodes a `bpf_core_relo.kind` value.
    pub fn from_raw(kind: u32) -> CoreReloKind {
        use CoreReloKind::*;
        match kind {
            0 => FieldByteOffset,
            1 => FieldByteSize,
            2 => FieldExists,
            3 => FieldSigned,
            4 => FieldLshiftU64,
            5 => FieldRshiftU64,
            6 => TypeIdLocal,
            7 => TypeIdTarget,
            8 => TypeExists,
            9 => TypeSize,
            10 => EnumvalExists,
            11 => EnumvalValue,
            12 => TypeMatches,
            other => Unknown(other),
        }
    }

    pub(crate) fn is_field(self) -> bool {
        use CoreReloKind::*;
        matches!(
            self,
            FieldByteOffset
                | FieldByteSize
                | FieldExists
                | FieldSigned
                | FieldLshiftU64
                | FieldRshiftU64
        )
    }

    pub(crate) fn is_enumval(self) -> bool {
        matches!(
            self,
            CoreReloKind::EnumvalExists | CoreReloKind::EnumvalValue
        )
    }
}

impl fmt::Display for CoreReloKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CoreReloKind::*;
        let s = match self {
            FieldByteOffset => "field_byte_offset",
            FieldByteSize => "field_byte_size",
            FieldExists => "field_exists",
            FieldSigned => "field_signed",
            FieldLshiftU64 => "field_lshift_u64",
            FieldRshiftU64 => "field_rshift_u64",
            TypeIdLocal => "type_id_local",
            TypeIdTarget => "type_id_target",
            TypeExists => "type_exists",
            TypeSize => "type_size",
            EnumvalExists => "enumval_exists",
            EnumvalValue => "enumval_value",
            TypeMatches => "type_matches",
            Unknown(k) => return write!(f, "unknown({k})"),
        };
        f.write_str(s)
    }
}

impl Serialize for CoreReloKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
