//! [`ObjectBtf`]: the parsed `.BTF` section of one BPF object, and the small helpers every
//! other module uses to walk it (resolving qualifiers, sizes, names).

use btf_rs::{Btf, BtfType, Type};

use super::BtfError;

/// How deep type chains and nested aggregates are followed before giving up. Real
/// objects stay far below this; it only stops malformed BTF (typedef loops) from recursing.
pub(crate) const MAX_DEPTH: usize = 32;

/// Byte order of the target the object was compiled for, from the BTF header's magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// Little-endian (x86_64, arm64, most targets).
    Little,
    /// Big-endian (s390x).
    Big,
}

/// The parsed BTF of one BPF object: entry point to markers, type lookup and decode plans.
pub struct ObjectBtf {
    pub(crate) btf: Btf,
    pub(crate) endian: Endian,
}

impl std::fmt::Debug for ObjectBtf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectBtf")
            .field("endian", &self.endian)
            .finish_non_exhaustive()
    }
}

impl ObjectBtf {
    /// Parses raw BTF bytes: the `.BTF` section of an object, as libbpf's
    /// `btf__raw_data` returns it.
    pub fn from_bytes(raw: &[u8]) -> Result<ObjectBtf, BtfError> {
        let btf = Btf::from_bytes(raw).map_err(BtfError::Parse)?;
        // btf-rs accepted the magic, so it is one of the two byte orders of 0xeB9F.
        let endian = match raw.get(..2) {
            Some([0x9f, 0xeb]) => Endian::Little,
            _ => Endian::Big,
        };
        Ok(ObjectBtf { btf, endian })
    }

    /// Byte order of the object's target; decode plans read integers in this order.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// The type with this id.
    pub(crate) fn ty(&self, id: u32) -> Result<Type, BtfError> {
        self.btf
            .resolve_type_by_id(id)
            .map_err(|source| BtfError::TypeId { id, source })
    }

    /// The name a type or member carries, `""` when anonymous or unnamed.
    pub(crate) fn name(&self, t: &dyn BtfType) -> String {
        self.btf.resolve_name(t).unwrap_or_default()
    }

    /// The enumerators of an enum (`BTF_KIND_ENUM` or `ENUM64`) as (value, name) in
    /// declaration order, values sign-extended when the enum is signed; `None` for any other
    /// type.
    pub(crate) fn enumerators(&self, t: &Type) -> Option<Vec<(i128, String)>> {
        Some(match t {
            Type::Enum(e) => e
                .members
                .iter()
                .map(|m| {
                    let v = match e.is_signed() {
                        true => i128::from(m.val() as i32),
                        false => i128::from(m.val()),
                    };
                    (v, self.name(m))
                })
                .collect(),
            Type::Enum64(e) => e
                .members
                .iter()
                .map(|m| {
                    let v = match e.is_signed() {
                        true => i128::from(m.val() as i64),
                        false => i128::from(m.val()),
                    };
                    (v, self.name(m))
                })
                .collect(),
            _ => return None,
        })
    }

    /// Follows typedefs, const, volatile, restrict and type tags down to the type they
    /// qualify, returning its id and the type.
    pub(crate) fn strip(&self, mut id: u32) -> Result<(u32, Type), BtfError> {
        for _ in 0..MAX_DEPTH {
            let t = self.ty(id)?;
            match &t {
                Type::Typedef(_)
                | Type::Const(_)
                | Type::Volatile(_)
                | Type::Restrict(_)
                | Type::TypeTag(_) => id = next_id(&t),
                _ => return Ok((id, t)),
            }
        }
        Err(BtfError::TooDeep {
            type_name: self.type_name(id),
            limit: MAX_DEPTH,
        })
    }

    /// Size in bytes of a type, as C's `sizeof` (0 for void and incomplete types).
    pub(crate) fn size_of(&self, id: u32) -> Result<usize, BtfError> {
        let mut mult = 1usize;
        let mut id = id;
        for _ in 0..MAX_DEPTH {
            let size = match self.strip(id)?.1 {
                Type::Int(t) => t.size(),
                Type::Float(t) => t.size(),
                Type::Enum(t) => t.size(),
                Type::Enum64(t) => t.size(),
                Type::Struct(t) | Type::Union(t) => t.size(),
                Type::Ptr(_) => 8,
                Type::Array(a) => {
                    mult = mult.saturating_mul(a.len());
                    id = next_id_of(&a);
                    continue;
                }
                _ => 0,
            };
            return Ok(mult.saturating_mul(size));
        }
        Err(BtfError::TooDeep {
            type_name: self.type_name(id),
            limit: MAX_DEPTH,
        })
    }

    /// Ids `1..=last` of every type in the object (0 is void).
    pub(crate) fn type_ids(&self) -> std::ops::RangeInclusive<u32> {
        let (_, end) = self.btf.base().type_id_range();
        1..=end
    }
}

/// The id a qualifier, typedef, pointer or array refers to (0, void, if none).
pub(crate) fn next_id(t: &Type) -> u32 {
    t.as_btf_type().and_then(|t| t.get_type_id()).unwrap_or(0)
}

/// The id a typed BTF record refers to (0, void, if none).
pub(crate) fn next_id_of(t: &dyn BtfType) -> u32 {
    t.get_type_id().unwrap_or(0)
}
