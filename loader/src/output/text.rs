//! Text rendering of records: one row per record under a header, columns two spaces
//! apart and aligned to the header's widths, like bcc's execsnoop or opensnoop.

use super::fmt::{
    pad_from, push_f64, push_hex, push_hex_bytes, push_i128, push_rel_secs, push_text_str,
    push_u128,
};
use super::walk::{push_node, Style};
use super::FormatCtx;
use crate::btf::plan::{Field, Raw};
use crate::btf::{DecodeError, Layout};

/// Separator between columns.
const GAP: &str = "  ";

impl Layout {
    /// Appends the header row matching [`Layout::write_text`]: column names upper-cased,
    /// padded to the column widths, no newline.
    pub fn write_header(&self, out: &mut String) {
        let last = self.columns.len().saturating_sub(1);
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push_str(GAP);
            }
            let start = out.len();
            out.push_str(&c.header);
            pad_from(out, start, c.width, c.right, i == last);
        }
    }

    /// Appends one record as a text row, no newline. Numbers are right-aligned, strings
    /// left-aligned and unquoted; values wider than their column push the rest right.
    pub fn write_text(
        &self,
        data: &[u8],
        ctx: &FormatCtx,
        out: &mut String,
    ) -> Result<(), DecodeError> {
        self.check(data)?;
        let last = self.columns.len().saturating_sub(1);
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push_str(GAP);
            }
            let start = out.len();
            push_node::<Text>(out, &c.node, data, 0, self.endian, ctx);
            pad_from(out, start, c.width, c.right, i == last);
        }
        Ok(())
    }

    /// Appends one record compactly, columns joined by `, ` without padding: the form map
    /// keys take in `@map[key]` lines and histogram titles.
    pub fn write_key(
        &self,
        data: &[u8],
        ctx: &FormatCtx,
        out: &mut String,
    ) -> Result<(), DecodeError> {
        self.check(data)?;
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_node::<Text>(out, &c.node, data, 0, self.endian, ctx);
        }
        Ok(())
    }
}

/// Text leaves and `{a=1, b=x}` records (only reached inside arrays, as columns flatten
/// structs).
struct Text;

impl Style for Text {
    const FIELD_SEP: &'static str = ", ";

    fn field_prefix(out: &mut String, field: &Field) {
        out.push_str(&field.text_key);
    }

    fn raw(out: &mut String, raw: Raw<'_>, ctx: &FormatCtx) {
        match raw {
            Raw::Uint(v) => push_u128(out, v),
            Raw::Int(v) => push_i128(out, v),
            Raw::Bool(v) => out.push_str(if v { "true" } else { "false" }),
            Raw::Float(v) => push_f64(out, v, false),
            Raw::Ptr(v) => push_hex(out, v),
            Raw::Enum(Some(name), _) => out.push_str(name),
            Raw::Enum(None, v) => push_i128(out, v),
            Raw::Str(b) => push_text_str(out, b),
            Raw::Bytes(b) => push_hex_bytes(out, b),
            Raw::Timestamp(ns) => push_rel_secs(out, ns, ctx.start_mono_ns, 6),
            Raw::Dev(dev) => ctx.devices.push(out, dev),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::btf::testutil::{every_kind, exec_event, BtfWriter, INT_CHAR};
    use crate::{FormatCtx, ObjectBtf};

    const CTX: FormatCtx = FormatCtx {
        start_mono_ns: 1_000_000_000,
        devices: crate::DeviceNames::EMPTY,
    };

    #[test]
    fn rows_align_under_the_header_like_execsnoop() {
        let (btf, id, data) = exec_event();
        let layout = ObjectBtf::from_bytes(&btf).unwrap().layout(id).unwrap();
        let mut header = String::new();
        layout.write_header(&mut header);
        let mut row = String::new();
        layout.write_text(&data, &CTX, &mut row).unwrap();
        assert_eq!(
            header,
            format!(
                "{:>11}  {:>7}  {:>7}  {:>7}  {:<16}  FILENAME",
                "TS", "PID", "PPID", "UID", "COMM"
            )
        );
        assert_eq!(
            row,
            format!(
                "{:>11}  {:>7}  {:>7}  {:>7}  {:<16}  /usr/bin/ls",
                "1.234567", 4242, 1, 1000, "bash"
            )
        );
    }

    #[test]
    fn every_kind_renders_as_text() {
        let (btf, id, data) = every_kind();
        let layout = ObjectBtf::from_bytes(&btf).unwrap().layout(id).unwrap();
        let mut row = String::new();
        layout.write_text(&data, &CTX, &mut row).unwrap();
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cells,
            [
                "2.500000",
                "4242",
                "-2",
                "bash",
                "8080",
                "-5",
                "RUNNING",
                "5",
                "-3",
                "true",
                "true",
                "[1,-1,7]",
                "0xffff888012345678",
                "77",
                "[1,2,3,4]",
                "1.5"
            ]
        );
        let mut key = String::new();
        layout.write_key(&data[..88], &CTX, &mut key).unwrap();
        assert!(
            key.starts_with("2.500000, 4242, -2, bash, 8080, -5, RUNNING"),
            "{key}"
        );
        assert!(layout.write_text(&data[..87], &CTX, &mut row).is_err());
    }

    /// Fuzzing (fuzz/corpus/decoder/member-name-newline): member names went into the header
    /// and into `name=` of array elements unescaped, so a name with a newline (or a
    /// terminal escape) from an object's BTF broke the one-line-per-record output.
    #[test]
    fn member_names_are_escaped_like_values() {
        let mut w = BtfWriter::new();
        let u32_ = w.int("unsigned int", 4, false);
        let elem = w.structure("e", 4, &[("x\ty", u32_, 0, 0)]);
        let arr = w.array(elem, 1);
        let id = w.structure("s", 8, &[("a\nb", u32_, 0, 0), ("c\x1b", arr, 32, 0)]);
        let layout = ObjectBtf::from_bytes(&w.finish())
            .unwrap()
            .layout(id)
            .unwrap();
        let mut header = String::new();
        layout.write_header(&mut header);
        assert_eq!(header, "   A\\nB  C\\x1b");
        let mut row = String::new();
        layout
            .write_text(&[7, 0, 0, 0, 9, 0, 0, 0], &CTX, &mut row)
            .unwrap();
        assert_eq!(row, "      7  [{x\\ty=9}]");
        assert_eq!(
            layout.columns()[0].name(),
            "a\nb",
            "names themselves stay raw"
        );
    }

    #[test]
    fn control_characters_and_bad_utf8_stay_on_one_line() {
        let mut w = BtfWriter::new();
        let ch = w.int_enc("u8char", 1, INT_CHAR);
        let s_ty = w.array(ch, 8);
        let id = w.structure("s", 8, &[("s", s_ty, 0, 0)]);
        let layout = ObjectBtf::from_bytes(&w.finish())
            .unwrap()
            .layout(id)
            .unwrap();
        let mut row = String::new();
        layout.write_text(b"a\nb\xff\0zzz", &CTX, &mut row).unwrap();
        assert_eq!(row, "a\\nb\\xff");
    }
}
