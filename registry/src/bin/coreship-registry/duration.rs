//! Durations on the command line: a number and a unit (s, m, h, d).

use std::time::Duration;

/// `30s`, `5m`, `1h`, `2d`, or a bare number of seconds.
pub fn parse(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}`: expected a number and a unit (s, m, h, d)"))?;
    let secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (s, m, h, d)")),
    };
    Ok(Duration::from_secs(n * secs))
}
