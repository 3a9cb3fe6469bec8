//! Counter maps, printed as bpftrace prints count maps (`@calls[key]: N`, ascending so
//! the largest ends up last, next to the prompt) and as one JSON object.

use super::fmt::{push_json_str, push_u64};

fn sort(rows: &mut [(String, u64)]) {
    rows.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
}

/// Sorts `rows` (key already rendered, e.g. with `Layout::write_key`; count) by count,
/// ascending, then appends one `title[key]: count` line per row.
pub fn render_counters(out: &mut String, title: &str, rows: &mut [(String, u64)]) {
    sort(rows);
    for (key, count) in rows.iter() {
        out.push_str(title);
        out.push('[');
        out.push_str(key);
        out.push_str("]: ");
        push_u64(out, *count);
        out.push('\n');
    }
}

/// Sorts `rows` (key already rendered as JSON, e.g. with `Layout::write_json`; count) as
/// [`render_counters`] does and appends one JSON object, no newline:
/// `{"map":"calls","counts":[{"key":…,"count":N},…]}`.
pub fn counters_json(out: &mut String, map: &str, rows: &mut [(String, u64)]) {
    sort(rows);
    out.push_str("{\"map\":");
    push_json_str(out, map.as_bytes());
    out.push_str(",\"counts\":[");
    for (i, (key, count)) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"key\":");
        out.push_str(key);
        out.push_str(",\"count\":");
        push_u64(out, *count);
        out.push('}');
    }
    out.push_str("]}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_ascending_by_count_then_key() {
        let mut rows = vec![
            ("bash".to_string(), 10),
            ("sshd".into(), 2),
            ("cat".into(), 10),
            ("ls".into(), 5),
        ];
        let mut out = String::new();
        render_counters(&mut out, "@calls", &mut rows);
        assert_eq!(
            out,
            "@calls[sshd]: 2\n@calls[ls]: 5\n@calls[bash]: 10\n@calls[cat]: 10\n"
        );
    }

    #[test]
    fn json_is_valid_and_sorted() {
        let mut rows = vec![(r#"{"pid":2}"#.to_string(), 7), (r#"{"pid":1}"#.into(), 3)];
        let mut out = String::new();
        counters_json(&mut out, "calls", &mut rows);
        assert_eq!(
            out,
            r#"{"map":"calls","counts":[{"key":{"pid":1},"count":3},{"key":{"pid":2},"count":7}]}"#
        );
        serde_json::from_str::<serde_json::Value>(&out).unwrap();
    }
}
