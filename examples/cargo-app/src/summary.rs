//! The app's own summary: counts per command, busiest first, as a small table.

use std::fmt::Write as _;
use std::time::Duration;

use coreship_loader::Value;

/// Exec counts per command name, busiest first (ties by name), from the probe's counter
/// rows (key `struct execcount_key { char comm[16]; }`).
pub fn by_command(rows: Vec<(Value, u64)>) -> Vec<(String, u64)> {
    let mut counts: Vec<(String, u64)> = rows
        .into_iter()
        .filter_map(|(key, n)| match key.field("comm") {
            Some(Value::Str(comm)) => Some((comm.clone(), n)),
            _ => None,
        })
        .collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

/// A header line with the totals, then the `top` busiest commands in two columns.
pub fn render(counts: &[(String, u64)], top: usize, duration: Duration) -> String {
    let total: u64 = counts.iter().map(|c| c.1).sum();
    let mut out = format!(
        "{total} execs of {} commands in {:.1} s\n{:<16} {:>7}\n",
        counts.len(),
        duration.as_secs_f64(),
        "COMMAND",
        "EXECS"
    );
    for (comm, n) in counts.iter().take(top) {
        let _ = writeln!(out, "{comm:<16} {n:>7}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(comm: &str) -> Value {
        Value::Struct(vec![("comm".into(), Value::Str(comm.into()))])
    }

    #[test]
    fn busiest_first_then_by_name() {
        let rows = vec![(key("sh"), 3), (key("true"), 20), (key("ls"), 3)];
        assert_eq!(
            by_command(rows),
            [("true".into(), 20), ("ls".into(), 3), ("sh".into(), 3)]
        );
    }

    #[test]
    fn renders_the_top_rows_only() {
        let counts = [("true".to_string(), 20), ("ls".into(), 3), ("sh".into(), 1)];
        let text = render(&counts, 2, Duration::from_secs(2));
        assert_eq!(
            text,
            "24 execs of 3 commands in 2.0 s\n\
             COMMAND            EXECS\n\
             true                  20\n\
             ls                     3\n"
        );
    }
}
