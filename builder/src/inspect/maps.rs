//! Map sizes read from the `.maps` DATASEC in BTF.
//!
//! libbpf's `__uint(max_entries, N)` declares a member `int (*max_entries)[N]`, so the size is
//! the element count of the array the member points to.

use btf_rs::{Btf, BtfType, Type};
use std::collections::HashMap;

/// `max_entries` of each map in `.maps` that declares one, by map name.
pub(crate) fn max_entries(btf: &Btf) -> HashMap<String, u32> {
    let mut out = HashMap::new();
    let Ok(secs) = btf.resolve_types_by_name(".maps") else {
        return out;
    };
    for sec in secs {
        let Type::Datasec(sec) = sec else { continue };
        for var in &sec.variables {
            let Some((name, n)) = map_max_entries(btf, var) else {
                continue;
            };
            out.insert(name, n);
        }
    }
    out
}

fn map_max_entries(btf: &Btf, var: &dyn BtfType) -> Option<(String, u32)> {
    let Type::Var(var) = btf.resolve_chained_type(var).ok()? else {
        return None;
    };
    let name = btf.resolve_name(&var).ok()?;
    let Type::Struct(def) = btf.resolve_chained_type(&var).ok()? else {
        return None;
    };
    let member = def
        .members
        .iter()
        .find(|m| btf.resolve_name(*m).is_ok_and(|n| n == "max_entries"))?;
    let Type::Ptr(ptr) = btf.resolve_chained_type(member).ok()? else {
        return None;
    };
    let Type::Array(array) = btf.resolve_chained_type(&ptr).ok()? else {
        return None;
    };
    Some((name, u32::try_from(array.len()).ok()?))
}
