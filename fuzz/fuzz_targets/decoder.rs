//! The loader's BTF event decoder: parse a BTF blob, compile a decode plan for its types and
//! decode record bytes with it into values, text rows and JSON lines, as `coreship-load run`
//! prints ring-buffer records. Also markers, histogram keys, type lookup and `--set`
//! settings of the same BTF. No kernel involved.
//!
//! Input: byte 0 even: a structured BTF description (`coreship_fuzz::btf::Spec`) then the
//! record; odd: raw BTF (`[flags][len u16 le][len bytes of BTF][record]`, seeded with the
//! `.BTF` sections of the built probes).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use coreship_fuzz::btf::Spec;
use coreship_loader::{DeviceNames, Format, FormatCtx, Layout, ObjectBtf, Printer, Value};
use libfuzzer_sys::fuzz_target;

/// Types compiled per input (real probe BTF has a few hundred).
const MAX_TYPES: u32 = 512;
/// Records are padded to their type's size only up to this.
const MAX_FILL: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (btf, flags, record) = if mode % 2 == 0 {
        let mut u = Unstructured::new(rest);
        let Ok(spec) = Spec::arbitrary(&mut u) else {
            return;
        };
        let flags = u.arbitrary::<u8>().unwrap_or(0);
        (spec.to_bytes(), flags, u.take_rest().to_vec())
    } else {
        let [flags, lo, hi, rest @ ..] = rest else {
            return;
        };
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len());
        (rest[..len].to_vec(), *flags, rest[len..].to_vec())
    };
    decode_all(&btf, flags, &record);
});

fn decode_all(btf: &[u8], flags: u8, record: &[u8]) {
    let Ok(obj) = ObjectBtf::from_bytes(btf) else {
        return;
    };
    let ctx = FormatCtx {
        start_mono_ns: if flags & 2 != 0 {
            u64::MAX
        } else {
            1_000_000_000
        },
        devices: DeviceNames::new([(8, 0, "sda".to_string())]),
    };
    if let Ok(markers) = obj.markers() {
        for m in markers {
            let _ = obj.layout(m.type_id);
            let _ = obj.hist_key(m.type_id);
        }
    }
    if let Ok(settings) = obj.settings() {
        for s in settings {
            let _ = (s.name(), s.section(), s.type_name(), s.is_settable());
            if let Ok(bytes) = s.encode(&String::from_utf8_lossy(record)) {
                assert_eq!(bytes.len(), s.size(), "{}", s.name());
            }
            let _ = s.read(record);
        }
    }
    let mut bytes = Vec::new();
    for id in 1..=MAX_TYPES {
        // Lookups of names that miss rank every type for a suggestion: a few are enough.
        if id <= 4 {
            if let Ok(found) = obj.find_type(&obj.type_name(id)) {
                let _ = obj.type_name(found);
            }
        }
        if let Ok(key) = obj.hist_key(id) {
            let _ = key.slot(record);
            let k = key.key_bytes(record);
            if let Some(layout) = &key.key {
                check(layout, k, &ctx);
            }
        }
        let Ok(layout) = obj.layout(id) else {
            continue;
        };
        bytes.clear();
        bytes.extend_from_slice(record);
        if flags & 1 != 0 && layout.size() <= MAX_FILL && bytes.len() < layout.size() {
            let pad = layout.size() - bytes.len();
            bytes.extend(
                record
                    .iter()
                    .copied()
                    .cycle()
                    .chain(std::iter::repeat(0))
                    .take(pad),
            );
        }
        check(&layout, &bytes, &ctx);
    }
}

/// Decodes `data` every way the loader does; what it prints must stay one line, and JSON
/// must be JSON.
fn check(layout: &Layout, data: &[u8], ctx: &FormatCtx) {
    let long_enough = data.len() >= layout.size();
    let value = layout.decode(data);
    assert_eq!(value.is_ok(), long_enough);
    if let Ok(v @ Value::Struct(fields)) = &value {
        let _ = fields.first().map(|f| v.field(&f.0));
    }
    let mut header = String::new();
    layout.write_header(&mut header);
    assert!(!header.contains('\n'), "header {header:?}");
    let mut text = String::new();
    assert_eq!(layout.write_text(data, ctx, &mut text).is_ok(), long_enough);
    assert!(!text.contains('\n'), "text row {text:?}");
    let mut key = String::new();
    assert_eq!(layout.write_key(data, ctx, &mut key).is_ok(), long_enough);
    assert!(!key.contains('\n'), "key {key:?}");
    let mut json = String::new();
    assert_eq!(layout.write_json(data, ctx, &mut json).is_ok(), long_enough);
    if long_enough {
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&json) {
            panic!("invalid JSON ({e}): {json}");
        }
    }
    let mut out = Vec::new();
    let mut p = Printer::new(&mut out, Format::Json, ctx.clone());
    p.header(layout);
    p.record(layout, data);
    assert_eq!(
        (p.events, p.bad),
        (u64::from(long_enough), u64::from(!long_enough))
    );
}
