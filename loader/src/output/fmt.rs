//! Low-level writers shared by text and JSON output: numbers, addresses, relative
//! timestamps and escaped strings, appended to a `String` without intermediate allocation.

use std::fmt::Write;

/// Appends `v` in decimal.
pub(crate) fn push_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(char::from(b));
    }
}

/// Appends `v` in decimal.
pub(crate) fn push_u128(out: &mut String, v: u128) {
    match u64::try_from(v) {
        Ok(v) => push_u64(out, v),
        Err(_) => {
            let _ = write!(out, "{v}");
        }
    }
}

/// Appends `v` in decimal.
pub(crate) fn push_i128(out: &mut String, v: i128) {
    if v < 0 {
        out.push('-');
    }
    push_u128(out, v.unsigned_abs());
}

/// Appends `v` as `0x` and lowercase hex digits.
pub(crate) fn push_hex(out: &mut String, v: u64) {
    out.push_str("0x");
    let digits = (64 - v.leading_zeros()).div_ceil(4).max(1);
    for i in (0..digits).rev() {
        out.push(hex_digit((v >> (i * 4)) as u8));
    }
}

/// Appends bytes as pairs of hex digits.
pub(crate) fn push_hex_bytes(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b));
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble & 0xf)])
}

/// Appends `v` in Rust's shortest round-trip form; non-finite values as `null` for JSON
/// (which has no NaN or infinity) or as `NaN`/`inf` for text.
pub(crate) fn push_f64(out: &mut String, v: f64, json: bool) {
    match (v.is_finite(), json) {
        (false, true) => out.push_str("null"),
        _ => {
            let _ = write!(out, "{v}");
        }
    }
}

/// Appends the seconds from `start_ns` to `ns` with `decimals` (at most 9) digits after
/// the point, truncated: `1.234567`. Earlier timestamps are negative.
pub(crate) fn push_rel_secs(out: &mut String, ns: u64, start_ns: u64, decimals: u32) {
    let diff = i128::from(ns) - i128::from(start_ns);
    if diff < 0 {
        out.push('-');
    }
    let abs = diff.unsigned_abs();
    push_u128(out, abs / 1_000_000_000);
    out.push('.');
    let decimals = decimals.min(9);
    let frac = (abs % 1_000_000_000) as u64 / 10u64.pow(9 - decimals);
    let mut div = 10u64.pow(decimals);
    while div > 1 {
        div /= 10;
        out.push(char::from(b'0' + (frac / div % 10) as u8));
    }
}

/// Appends a string for text output: control characters as `\n`, `\t`, `\r` or `\xNN`
/// so one record stays one line, bytes that are not UTF-8 as `\xNN`.
pub(crate) fn push_text_str(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        let s = chunk.valid();
        let mut start = 0;
        for (i, &b) in s.as_bytes().iter().enumerate() {
            if b < 0x20 || b == 0x7f {
                out.push_str(&s[start..i]);
                push_escape(out, b);
                start = i + 1;
            }
        }
        out.push_str(&s[start..]);
        for &b in chunk.invalid() {
            push_byte_escape(out, b);
        }
    }
}

/// Appends a quoted JSON string. Quotes, backslashes and control characters are escaped;
/// bytes that are not UTF-8 become the four characters `\xNN` (escaped as `\\xNN`).
pub(crate) fn push_json_str(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        let s = chunk.valid();
        let mut start = 0;
        for (i, &b) in s.as_bytes().iter().enumerate() {
            if b < 0x20 || b == b'"' || b == b'\\' {
                out.push_str(&s[start..i]);
                match b {
                    b'"' => out.push_str("\\\""),
                    b'\\' => out.push_str("\\\\"),
                    b'\n' => out.push_str("\\n"),
                    b'\r' => out.push_str("\\r"),
                    b'\t' => out.push_str("\\t"),
                    _ => {
                        out.push_str("\\u00");
                        out.push(hex_digit(b >> 4));
                        out.push(hex_digit(b));
                    }
                }
                start = i + 1;
            }
        }
        out.push_str(&s[start..]);
        for &b in chunk.invalid() {
            out.push('\\');
            push_byte_escape(out, b);
        }
    }
    out.push('"');
}

fn push_escape(out: &mut String, b: u8) {
    match b {
        b'\n' => out.push_str("\\n"),
        b'\r' => out.push_str("\\r"),
        b'\t' => out.push_str("\\t"),
        _ => push_byte_escape(out, b),
    }
}

fn push_byte_escape(out: &mut String, b: u8) {
    out.push_str("\\x");
    out.push(hex_digit(b >> 4));
    out.push(hex_digit(b));
}

const SPACES: &str = "                                                                ";

/// Appends `n` spaces.
pub(crate) fn push_spaces(out: &mut String, mut n: usize) {
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

/// Pads what was written since `start` to `width` characters: spaces before it when
/// `right`, after it otherwise unless `last` (no trailing blanks at the end of a line).
/// Right-aligned columns hold numbers, whose characters are bytes.
pub(crate) fn pad_from(out: &mut String, start: usize, width: usize, right: bool, last: bool) {
    if last && !right {
        return;
    }
    let written = out.len() - start;
    if written >= width * 4 {
        return; // at least `width` characters whatever the encoding
    }
    // Only strings are counted: reading back bytes just written one by one stalls on store
    // forwarding, and that was most of the padding's cost per record.
    let chars = if right {
        written
    } else {
        out[start..].chars().count()
    };
    if chars >= width {
        return;
    }
    let mut n = width - chars;
    if right {
        // Inserting shifts only the value just written, a few bytes.
        while n > 0 {
            let k = n.min(SPACES.len());
            out.insert_str(start, &SPACES[..k]);
            n -= k;
        }
    } else if !last {
        push_spaces(out, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut String)) -> String {
        let mut s = String::new();
        f(&mut s);
        s
    }

    #[test]
    fn numbers() {
        assert_eq!(with(|s| push_u64(s, 0)), "0");
        assert_eq!(with(|s| push_u64(s, u64::MAX)), "18446744073709551615");
        assert_eq!(with(|s| push_i128(s, -42)), "-42");
        assert_eq!(with(|s| push_i128(s, i128::MIN)), i128::MIN.to_string());
        assert_eq!(with(|s| push_u128(s, u128::MAX)), u128::MAX.to_string());
        assert_eq!(with(|s| push_hex(s, 0)), "0x0");
        assert_eq!(
            with(|s| push_hex(s, 0xffff_8880_0012_3400)),
            "0xffff888000123400"
        );
        assert_eq!(with(|s| push_hex_bytes(s, &[0, 0xab])), "00ab");
        assert_eq!(with(|s| push_f64(s, f64::NAN, true)), "null");
        assert_eq!(with(|s| push_f64(s, 1.5, true)), "1.5");
    }

    #[test]
    fn relative_seconds() {
        assert_eq!(
            with(|s| push_rel_secs(s, 2_234_567_891, 1_000_000_000, 6)),
            "1.234567"
        );
        assert_eq!(
            with(|s| push_rel_secs(s, 2_234_567_891, 1_000_000_000, 9)),
            "1.234567891"
        );
        assert_eq!(with(|s| push_rel_secs(s, 5, 5, 6)), "0.000000");
        assert_eq!(with(|s| push_rel_secs(s, 0, 1_500_000, 6)), "-0.001500");
    }

    #[test]
    fn text_strings_stay_on_one_line() {
        assert_eq!(
            with(|s| push_text_str(s, b"a\nb\tc\x01\xff\\d")),
            "a\\nb\\tc\\x01\\xff\\d"
        );
        assert_eq!(with(|s| push_text_str(s, "héllo".as_bytes())), "héllo");
    }

    #[test]
    fn json_strings_are_valid_json() {
        let cases: [&[u8]; 4] = [
            b"plain",
            b"q\"b\\n\nc\x01",
            "ünï".as_bytes(),
            b"bad\xff\xfe",
        ];
        for c in cases {
            let s = with(|s| push_json_str(s, c));
            let back: String = serde_json::from_str(&s).unwrap();
            match std::str::from_utf8(c) {
                Ok(orig) => assert_eq!(back, orig),
                Err(_) => assert_eq!(back, "bad\\xff\\xfe"),
            }
        }
    }

    #[test]
    fn padding() {
        let mut s = "ab".to_string();
        pad_from(&mut s, 1, 4, true, false);
        assert_eq!(s, "a   b");
        let mut s = "é".to_string();
        pad_from(&mut s, 0, 3, false, false);
        assert_eq!(s, "é  ");
        let mut s = "x".to_string();
        pad_from(&mut s, 0, 3, false, true);
        assert_eq!(s, "x");
    }
}
