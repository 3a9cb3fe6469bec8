//! Reading histogram and counter maps from the kernel, as data ([`hist_values`],
//! [`counter_values`]) or rendered for printing; both read through [`read_hist`] and
//! [`read_counters`].

use std::collections::BTreeMap;

use libbpf_rs::{MapCore, MapFlags, MapType, Object};

use crate::plan::{CounterPlan, HistPlan};
use crate::stacks::StackTables;
use crate::{Format, FormatCtx, HistRow, LoadError, Value};

/// Sums a map value that is either one u64 or one u64 per CPU.
fn read_u64_sum(map: &dyn MapCore, key: &[u8]) -> u64 {
    let percpu = matches!(
        map.map_type(),
        MapType::PercpuHash | MapType::PercpuArray | MapType::LruPercpuHash
    );
    let le = |v: &[u8]| {
        v.get(..8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    if percpu {
        map.lookup_percpu(key, MapFlags::ANY)
            .ok()
            .flatten()
            .map_or(0, |vals| {
                vals.iter().map(|v| le(v)).fold(0u64, u64::wrapping_add)
            })
    } else {
        map.lookup(key, MapFlags::ANY)
            .ok()
            .flatten()
            .map_or(0, |v| le(&v))
    }
}

fn find_map<'o>(object: &'o Object, name: &str) -> Result<libbpf_rs::Map<'o>, LoadError> {
    object
        .maps()
        .find(|m| m.name() == name)
        .ok_or_else(|| LoadError::Output {
            map: name.to_string(),
            why: "declared in .coreship but not in the object's maps".into(),
        })
}

/// Reads histogram `plan` from the kernel: each user key's bytes (empty without a key) and
/// its slot counts, indexed by log2 slot up to the last slot seen. Keys whose slot does not
/// decode are skipped.
pub(crate) fn read_hist(
    object: &Object,
    plan: &HistPlan,
) -> Result<BTreeMap<Vec<u8>, Vec<u64>>, LoadError> {
    let map = find_map(object, &plan.map)?;
    let mut groups: BTreeMap<Vec<u8>, Vec<u64>> = BTreeMap::new();
    for key in map.keys() {
        let Ok(slot) = plan.key.slot(&key) else {
            continue;
        };
        let slot = slot as usize;
        let count = read_u64_sum(&map, &key);
        let user = plan.key.key_bytes(&key).to_vec();
        let slots = groups.entry(user).or_default();
        if slots.len() <= slot {
            slots.resize(slot + 1, 0);
        }
        slots[slot] += count;
    }
    Ok(groups)
}

/// Reads counter map `map`: every key's bytes and its count (summed over CPUs for per-CPU
/// maps), in the kernel's iteration order.
pub(crate) fn read_counters(object: &Object, map: &str) -> Result<Vec<(Vec<u8>, u64)>, LoadError> {
    let map = find_map(object, map)?;
    Ok(map
        .keys()
        .map(|k| {
            let count = read_u64_sum(&map, &k);
            (k, count)
        })
        .collect())
}

/// Histogram `plan` as data: each user key decoded (`None` for a histogram without key)
/// with its slot counts (see [`read_hist`]), in key byte order.
pub(crate) fn hist_values(object: &Object, plan: &HistPlan) -> Result<Vec<HistRow>, LoadError> {
    let groups = read_hist(object, plan)?;
    Ok(groups
        .into_iter()
        .filter_map(|(user, slots)| match &plan.key.key {
            None => Some((None, slots)),
            Some(l) => l.decode(&user).ok().map(|v| (Some(v), slots)),
        })
        .collect())
}

/// Counter `plan` as data: each key decoded with its count, largest count first (ties in
/// key byte order). Keys that do not decode are skipped, as when printing.
pub(crate) fn counter_values(
    object: &Object,
    plan: &CounterPlan,
) -> Result<Vec<(Value, u64)>, LoadError> {
    let mut rows = read_counters(object, &plan.map)?;
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(rows
        .into_iter()
        .filter_map(|(key, count)| Some((plan.key.decode(&key).ok()?, count)))
        .collect())
}

/// Renders every histogram of `plans` into `out`.
pub fn render_hists(
    object: &Object,
    plans: &[HistPlan],
    format: Format,
    ctx: &FormatCtx,
    out: &mut String,
) -> Result<(), LoadError> {
    for plan in plans {
        let groups = read_hist(object, plan)?;
        for (user, slots) in &groups {
            let key_text = plan.key.key.as_ref().map(|l| {
                let mut k = String::new();
                let _ = l.write_key(user, ctx, &mut k);
                k
            });
            match format {
                Format::Text | Format::Folded => {
                    let title = match &key_text {
                        Some(k) => format!("@{}[{k}]", plan.map),
                        None => format!("@{}", plan.map),
                    };
                    crate::render_log2_hist(out, &title, slots);
                    out.push('\n');
                }
                Format::Json => {
                    let key_json = plan.key.key.as_ref().map(|l| {
                        let mut k = String::new();
                        let _ = l.write_json(user, ctx, &mut k);
                        k
                    });
                    crate::hist_json(out, &plan.map, key_json.as_deref(), slots);
                    out.push('\n');
                }
            }
        }
    }
    Ok(())
}

/// Renders every counter map of `plans` into `out`; stack profiles through `stacks`.
pub fn render_counters(
    object: &Object,
    plans: &[CounterPlan],
    stacks: &StackTables,
    format: Format,
    ctx: &FormatCtx,
    out: &mut String,
) -> Result<(), LoadError> {
    for plan in plans {
        let rows = read_counters(object, &plan.map)?;
        if stacks.covers(&plan.map) {
            stacks.render(object, &plan.map, rows, format, ctx, out)?;
            continue;
        }
        let mut rows: Vec<(String, u64)> = rows
            .into_iter()
            .filter_map(|(key, count)| {
                let mut k = String::new();
                let r = match format {
                    Format::Text | Format::Folded => plan.key.write_key(&key, ctx, &mut k),
                    Format::Json => plan.key.write_json(&key, ctx, &mut k),
                };
                r.is_ok().then_some((k, count))
            })
            .collect();
        match format {
            Format::Text | Format::Folded => {
                crate::render_counters(out, &format!("@{}", plan.map), &mut rows);
                out.push('\n');
            }
            Format::Json => {
                crate::counters_json(out, &plan.map, &mut rows);
                out.push('\n');
            }
        }
    }
    Ok(())
}
