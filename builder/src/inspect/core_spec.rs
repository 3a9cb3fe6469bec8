//! CO-RE relocation kinds and access-string resolution against the object's own BTF.
//!
//! An access string like `"0:57:0"` indexes from a root type: the first index is an array
//! index on the root pointer, each following one a member index (structs and unions) or an
//! element index (arrays). This mirrors libbpf's `bpf_core_parse_spec`, minus bit offsets:
//! the goal is a readable path such as `task_struct.real_parent.tgid`.

use super::CoreReloKind;
use btf_rs::{Btf, BtfType, Type};

/// Chains of typedefs, modifiers or pointers longer than this are treated as corrupt (a loop).
const MAX_CHAIN: usize = 64;

/// Why an access string could not be followed through the BTF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SpecError {
    /// Not a `:`-separated list of decimal indices.
    #[error("access string `{0}` is not a list of indices")]
    Syntax(String),
    /// A type id the BTF does not have.
    #[error("type id {0} is not in .BTF")]
    NoType(u32),
    /// Type-based relocations must use access string `"0"`.
    #[error("type relocation with access `{0}`, expected `0`")]
    TypeAccess(String),
    /// An index into something that has no members, elements or enumerators.
    #[error("index {index} into {type_name}, which cannot be indexed")]
    NotIndexable {
        /// The index.
        index: u32,
        /// The type indexed.
        type_name: String,
    },
    /// An index past the last member, element or enumerator.
    #[error("index {index} is past the {count} entries of {type_name}")]
    OutOfRange {
        /// The index.
        index: u32,
        /// How many entries there are.
        count: usize,
        /// The type indexed.
        type_name: String,
    },
    /// A type chain that does not end (corrupt BTF).
    #[error("type chain from id {0} does not end")]
    Loop(u32),
}

/// Resolves `access` from root type `type_id` into a readable path.
///
/// Field kinds give `root[.member|[index]]…` (`task_struct.real_parent.tgid`), enumerator
/// kinds `enum name::ENUMERATOR`, type kinds the root type's name.
pub(crate) fn resolve_access(
    btf: &Btf,
    type_id: u32,
    access: &str,
    kind: CoreReloKind,
) -> Result<String, SpecError> {
    let raw = parse_access(access)?;
    if !kind.is_field() && !kind.is_enumval() {
        if access != "0" {
            return Err(SpecError::TypeAccess(access.into()));
        }
        return type_name(btf, type_id);
    }
    let (mut id, mut ty) = skip_mods(btf, type_id)?;
    let first = raw[0];
    if kind.is_enumval() {
        let names = enumerators(btf, &ty);
        let enum_name = type_name(btf, id)?;
        return match (names, raw.len()) {
            (Some(names), 1) => match names.get(first as usize) {
                Some(n) => Ok(format!("{enum_name}::{n}")),
                None => Err(out_of_range(first, names.len(), enum_name)),
            },
            _ => Err(not_indexable(first, enum_name)),
        };
    }
    let mut path = bare_name(btf, type_id)?;
    if first != 0 {
        path.push_str(&format!("[{first}]"));
    }
    for &index in &raw[1..] {
        match &ty {
            Type::Struct(s) | Type::Union(s) => {
                let m = s
                    .members
                    .get(index as usize)
                    .ok_or_else(|| out_of_range(index, s.members.len(), name_or(btf, id)))?;
                let name = btf.resolve_name(m).unwrap_or_default();
                // Anonymous members (unnamed unions/structs) add no path component.
                if !name.is_empty() {
                    path.push('.');
                    path.push_str(&name);
                }
                (id, ty) = skip_mods(btf, m.get_type_id().unwrap_or(0))?;
            }
            Type::Array(a) => {
                // A flexible array (0 elements) may be indexed anywhere, as libbpf allows.
                if a.len() != 0 && index as usize >= a.len() {
                    return Err(out_of_range(index, a.len(), name_or(btf, id)));
                }
                path.push_str(&format!("[{index}]"));
                (id, ty) = skip_mods(btf, a.get_type_id().unwrap_or(0))?;
            }
            _ => return Err(not_indexable(index, name_or(btf, id))),
        }
    }
    Ok(path)
}

fn parse_access(access: &str) -> Result<Vec<u32>, SpecError> {
    let raw: Option<Vec<u32>> = access.split(':').map(|s| s.parse().ok()).collect();
    raw.filter(|r| !r.is_empty())
        .ok_or_else(|| SpecError::Syntax(access.into()))
}

fn out_of_range(index: u32, count: usize, type_name: String) -> SpecError {
    SpecError::OutOfRange {
        index,
        count,
        type_name,
    }
}

fn not_indexable(index: u32, type_name: String) -> SpecError {
    SpecError::NotIndexable { index, type_name }
}

fn name_or(btf: &Btf, id: u32) -> String {
    type_name(btf, id).unwrap_or_else(|_| format!("type {id}"))
}

fn enumerators(btf: &Btf, ty: &Type) -> Option<Vec<String>> {
    let name = |m: &dyn BtfType| btf.resolve_name(m).unwrap_or_default();
    match ty {
        Type::Enum(e) => Some(e.members.iter().map(|m| name(m)).collect()),
        Type::Enum64(e) => Some(e.members.iter().map(|m| name(m)).collect()),
        _ => None,
    }
}

fn resolve(btf: &Btf, id: u32) -> Result<Type, SpecError> {
    btf.resolve_type_by_id(id)
        .map_err(|_| SpecError::NoType(id))
}

/// Follows typedefs and qualifiers (libbpf's `skip_mods_and_typedefs`).
fn skip_mods(btf: &Btf, mut id: u32) -> Result<(u32, Type), SpecError> {
    for _ in 0..MAX_CHAIN {
        let ty = resolve(btf, id)?;
        match &ty {
            Type::Typedef(_)
            | Type::Volatile(_)
            | Type::Const(_)
            | Type::Restrict(_)
            | Type::TypeTag(_) => {
                id = ty.as_btf_type().and_then(|t| t.get_type_id()).unwrap_or(0);
            }
            _ => return Ok((id, ty)),
        }
    }
    Err(SpecError::Loop(id))
}

/// The type's own name without `struct`/`union`/`enum`, or its C spelling when unnamed.
fn bare_name(btf: &Btf, id: u32) -> Result<String, SpecError> {
    let ty = resolve(btf, id)?;
    let named = ty
        .as_btf_type()
        .filter(|t| t.get_name_offset().is_some())
        .and_then(|t| btf.resolve_name(t).ok())
        .filter(|n| !n.is_empty());
    match named {
        Some(n) => Ok(n),
        None => type_name(btf, id),
    }
}

/// The C spelling of a type: `struct task_struct`, `u32`, `char[16]`, `struct event *`.
pub(crate) fn type_name(btf: &Btf, id: u32) -> Result<String, SpecError> {
    spell(btf, id, MAX_CHAIN)
}

fn spell(btf: &Btf, id: u32, depth: usize) -> Result<String, SpecError> {
    let depth = depth.checked_sub(1).ok_or(SpecError::Loop(id))?;
    let ty = resolve(btf, id)?;
    let name = ty
        .as_btf_type()
        .filter(|t| t.get_name_offset().is_some())
        .and_then(|t| btf.resolve_name(t).ok())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "(anon)".into());
    let next = ty.as_btf_type().and_then(|t| t.get_type_id()).unwrap_or(0);
    Ok(match &ty {
        Type::Void => "void".into(),
        Type::Struct(_) => format!("struct {name}"),
        Type::Union(_) => format!("union {name}"),
        Type::Enum(_) | Type::Enum64(_) => format!("enum {name}"),
        Type::Fwd(f) if f.is_union() => format!("union {name}"),
        Type::Fwd(_) => format!("struct {name}"),
        Type::Ptr(_) => format!("{} *", spell(btf, next, depth)?),
        Type::Array(a) => format!("{}[{}]", spell(btf, next, depth)?, a.len()),
        Type::Const(_) | Type::Volatile(_) | Type::Restrict(_) => {
            format!("{} {}", ty.name(), spell(btf, next, depth)?)
        }
        Type::TypeTag(_) => spell(btf, next, depth)?,
        Type::FuncProto(_) => "(function)".into(),
        _ => name,
    })
}

#[cfg(test)]
pub(crate) mod tests;
