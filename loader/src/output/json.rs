//! JSON rendering of records: one object per record, written straight into the output
//! `String` (member keys are escaped once, when the plan is compiled).

use super::fmt::{
    push_f64, push_hex, push_hex_bytes, push_i128, push_json_str, push_rel_secs, push_u128,
};
use super::walk::{push_node, Style};
use super::FormatCtx;
use crate::btf::plan::{Field, Raw};
use crate::btf::{DecodeError, Layout};

impl Layout {
    /// Appends one record as a JSON value (an object for structs), no newline. Strings and
    /// known enum variants are JSON strings, pointers and byte blobs hex strings,
    /// timestamps seconds since `ctx.start_mono_ns` with nanosecond precision, NaN and
    /// infinities `null`.
    pub fn write_json(
        &self,
        data: &[u8],
        ctx: &FormatCtx,
        out: &mut String,
    ) -> Result<(), DecodeError> {
        self.check(data)?;
        push_node::<Json>(out, &self.root, data, 0, self.endian, ctx);
        Ok(())
    }
}

/// JSON leaves and `{"a":1}` records.
struct Json;

impl Style for Json {
    const FIELD_SEP: &'static str = ",";

    fn field_prefix(out: &mut String, field: &Field) {
        out.push_str(&field.json_key);
    }

    fn raw(out: &mut String, raw: Raw<'_>, ctx: &FormatCtx) {
        match raw {
            Raw::Uint(v) => push_u128(out, v),
            Raw::Int(v) => push_i128(out, v),
            Raw::Bool(v) => out.push_str(if v { "true" } else { "false" }),
            Raw::Float(v) => push_f64(out, v, true),
            Raw::Ptr(v) => {
                out.push('"');
                push_hex(out, v);
                out.push('"');
            }
            Raw::Enum(Some(name), _) => push_json_str(out, name.as_bytes()),
            Raw::Enum(None, v) => push_i128(out, v),
            Raw::Str(b) => push_json_str(out, b),
            Raw::Bytes(b) => {
                out.push('"');
                push_hex_bytes(out, b);
                out.push('"');
            }
            Raw::Timestamp(ns) => push_rel_secs(out, ns, ctx.start_mono_ns, 9),
            Raw::Dev(dev) => {
                let mut name = String::new();
                ctx.devices.push(&mut name, dev);
                push_json_str(out, name.as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value as Json};

    use crate::btf::testutil::{every_kind, exec_event};
    use crate::{FormatCtx, ObjectBtf};

    const CTX: FormatCtx = FormatCtx {
        start_mono_ns: 1_000_000_000,
        devices: crate::DeviceNames::EMPTY,
    };

    fn render(layout: &crate::Layout, data: &[u8]) -> Json {
        let mut out = String::new();
        layout.write_json(data, &CTX, &mut out).unwrap();
        assert!(!out.contains('\n'));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("invalid JSON {out}: {e}"))
    }

    #[test]
    fn every_kind_renders_as_json() {
        let (btf, id, data) = every_kind();
        let layout = ObjectBtf::from_bytes(&btf).unwrap().layout(id).unwrap();
        assert_eq!(
            render(&layout, &data),
            json!({
                "ts": 2.5, "pid": 4242, "ret": -2, "comm": "bash",
                "in": {"port": 8080, "delta": -5}, "st": "RUNNING",
                "a": 5, "b": -3, "c": true, "ok": true, "arr": [1, -1, 7],
                "ptr": "0xffff888012345678", "cv": 77, "raw": [1, 2, 3, 4], "d": 1.5
            })
        );
        let mut out = String::new();
        layout.write_json(&data, &CTX, &mut out).unwrap();
        assert!(out.starts_with(r#"{"ts":2.500000000,"pid":4242,"#), "{out}");
    }

    #[test]
    fn strings_are_escaped() {
        let (btf, id, mut data) = exec_event();
        let layout = ObjectBtf::from_bytes(&btf).unwrap().layout(id).unwrap();
        let nasty = b"a\"b\\c\nd\te\x01f\xffg";
        data[36..36 + nasty.len()].copy_from_slice(nasty);
        data[20..36].copy_from_slice(b"0123456789abcdef"); // no NUL: all 16 bytes
        let v = render(&layout, &data);
        assert_eq!(v["filename"], "a\"b\\c\nd\te\u{1}f\\xffg");
        assert_eq!(v["comm"], "0123456789abcdef");
        assert_eq!(v["ts"], 1.234567);
    }

    #[test]
    fn short_record_is_an_error() {
        let (btf, id, data) = exec_event();
        let layout = ObjectBtf::from_bytes(&btf).unwrap().layout(id).unwrap();
        let mut out = String::new();
        let err = layout.write_json(&data[..100], &CTX, &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "record for `struct exec_event` is 100 bytes, expected at least 296"
        );
        assert!(out.is_empty());
    }
}
