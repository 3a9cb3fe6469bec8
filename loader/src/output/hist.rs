//! Log2 histograms, printed as bpftrace prints `hist()` and as one JSON object per
//! histogram. Slots follow coreship.h: slot 0 counts zeros, slot N values in
//! `[2^(N-1), 2^N)`.

use super::fmt::{push_json_str, push_spaces, push_u64};

/// Width of the widest bar, as in bpftrace.
const BAR_WIDTH: u64 = 52;

/// The inclusive value range slot `slot` counts: `(0, 0)`, `(1, 1)`, `(2, 3)`, `(4, 7)`...
pub fn log2_slot_bounds(slot: usize) -> (u64, u64) {
    match slot {
        0 => (0, 0),
        1..=64 => {
            let min = 1u64 << (slot - 1);
            (min, min.wrapping_shl(1).wrapping_sub(1))
        }
        _ => (u64::MAX, u64::MAX),
    }
}

/// Appends `title:` and one row per slot from the first to the last non-empty one:
///
/// ```text
/// @lat:
/// [0]                    1 |@@@@@@@@@@@@@                                       |
/// [1K, 2K)               4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
/// ```
///
/// Only the title line when every slot is empty. Each line ends with a newline.
pub fn render_log2_hist(out: &mut String, title: &str, slots: &[u64]) {
    out.push_str(title);
    out.push_str(":\n");
    let Some((first, last)) = nonempty_range(slots) else {
        return;
    };
    let max = slots.iter().copied().max().unwrap_or(1).max(1);
    for (slot, &count) in slots.iter().enumerate().take(last + 1).skip(first) {
        let start = out.len();
        push_slot_label(out, slot);
        let len = out.len() - start;
        push_spaces(out, 16usize.saturating_sub(len));
        let start = out.len();
        push_u64(out, count);
        let digits = out.len() - start;
        if digits < 8 {
            out.insert_str(start, &"        "[..8 - digits]);
        }
        out.push_str(" |");
        let bar = (u128::from(count) * u128::from(BAR_WIDTH) / u128::from(max)) as usize;
        for _ in 0..bar {
            out.push('@');
        }
        push_spaces(out, BAR_WIDTH as usize - bar);
        out.push_str("|\n");
    }
}

/// Appends one JSON object for a histogram, no newline:
/// `{"map":"lat","key":{...},"hist":[{"min":1024,"max":2047,"count":4}]}`. `key` is the
/// user key already rendered as JSON (`Layout::write_json`), or `None` for a histogram
/// without key (then omitted).
pub fn hist_json(out: &mut String, map: &str, key: Option<&str>, slots: &[u64]) {
    out.push_str("{\"map\":");
    push_json_str(out, map.as_bytes());
    if let Some(key) = key {
        out.push_str(",\"key\":");
        out.push_str(key);
    }
    out.push_str(",\"hist\":[");
    if let Some((first, last)) = nonempty_range(slots) {
        for (slot, &count) in slots.iter().enumerate().take(last + 1).skip(first) {
            if slot > first {
                out.push(',');
            }
            let (min, max) = log2_slot_bounds(slot);
            out.push_str("{\"min\":");
            push_u64(out, min);
            out.push_str(",\"max\":");
            push_u64(out, max);
            out.push_str(",\"count\":");
            push_u64(out, count);
            out.push('}');
        }
    }
    out.push_str("]}");
}

fn nonempty_range(slots: &[u64]) -> Option<(usize, usize)> {
    let first = slots.iter().position(|&c| c > 0)?;
    let last = slots.iter().rposition(|&c| c > 0)?;
    Some((first, last))
}

/// `[0]`, `[1]`, `[2, 4)`, `[1K, 2K)`, `[8E, 16E)`.
fn push_slot_label(out: &mut String, slot: usize) {
    match slot {
        0 => out.push_str("[0]"),
        1 => out.push_str("[1]"),
        _ => {
            out.push('[');
            push_power_label(out, slot as u32 - 1);
            out.push_str(", ");
            push_power_label(out, slot as u32);
            out.push(')');
        }
    }
}

/// 2^power with bpftrace's binary suffixes: `512`, `1K`, `16M`, `8E`.
fn push_power_label(out: &mut String, power: u32) {
    const SUFFIXES: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    let decade = (power / 10).min(6);
    push_u64(out, 1u64 << (power - decade * 10).min(63));
    out.push_str(SUFFIXES[decade as usize]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_bpftrace() {
        // Values 0 (x1), 3 (x2), 1500 (x4): slots 0, 2 and 11.
        let mut slots = vec![0u64; 65];
        slots[0] = 1;
        slots[2] = 2;
        slots[11] = 4;
        let mut out = String::new();
        render_log2_hist(&mut out, "@lat", &slots);
        let expected = "\
@lat:
[0]                    1 |@@@@@@@@@@@@@                                       |
[1]                    0 |                                                    |
[2, 4)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[4, 8)                 0 |                                                    |
[8, 16)                0 |                                                    |
[16, 32)               0 |                                                    |
[32, 64)               0 |                                                    |
[64, 128)              0 |                                                    |
[128, 256)             0 |                                                    |
[256, 512)             0 |                                                    |
[512, 1K)              0 |                                                    |
[1K, 2K)               4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
";
        assert_eq!(out, expected);
    }

    #[test]
    fn trims_to_nonempty_slots_and_labels_large_ranges() {
        let mut slots = vec![0u64; 65];
        slots[21] = 3;
        slots[22] = 1;
        slots[64] = 123_456_789;
        let mut out = String::new();
        render_log2_hist(&mut out, "@x", &slots);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[1],
            "[1M, 2M)               3 |                                                    |"
        );
        assert_eq!(
            lines[2],
            "[2M, 4M)               1 |                                                    |"
        );
        assert_eq!(lines.len(), 1 + 44);
        assert_eq!(
            lines[44],
            "[8E, 16E)       123456789 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
        );
    }

    #[test]
    fn empty_histogram_is_just_the_title() {
        let mut out = String::new();
        render_log2_hist(&mut out, "@x", &[0; 65]);
        assert_eq!(out, "@x:\n");
    }

    #[test]
    fn json_lists_bounds() {
        let mut slots = vec![0u64; 65];
        slots[0] = 1;
        slots[11] = 4;
        slots[64] = 1;
        let mut out = String::new();
        hist_json(&mut out, "lat", Some(r#"{"pid":1}"#), &slots[..12]);
        assert_eq!(
            out,
            r#"{"map":"lat","key":{"pid":1},"hist":[{"min":0,"max":0,"count":1},{"min":1,"max":1,"count":0},{"min":2,"max":3,"count":0},{"min":4,"max":7,"count":0},{"min":8,"max":15,"count":0},{"min":16,"max":31,"count":0},{"min":32,"max":63,"count":0},{"min":64,"max":127,"count":0},{"min":128,"max":255,"count":0},{"min":256,"max":511,"count":0},{"min":512,"max":1023,"count":0},{"min":1024,"max":2047,"count":4}]}"#
        );
        let mut out = String::new();
        hist_json(&mut out, "lat", None, &slots);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v.get("key").is_none());
        let last = &v["hist"].as_array().unwrap()[64];
        assert_eq!(last["min"], 1u64 << 63);
        assert_eq!(last["max"], u64::MAX);
        assert_eq!(log2_slot_bounds(3), (4, 7));
    }
}
