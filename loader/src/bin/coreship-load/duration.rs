//! Durations on the command line: `5s`, `500ms`, `2m`, `1h`, or bare seconds.

use std::time::Duration;

/// Parses `5s`, `250ms`, `2m`, `1h`, `1.5s` or `10` (seconds). Integer arithmetic only: a
/// float parser (`f64::from_str` and its tables) would add ~25 KiB to the static loader.
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let unit_ns: u128 = match unit {
        "" | "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "us" => 1_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use ms, s, m or h)")),
    };
    let bad = || format!("`{s}` is not a duration (try 5s, 500ms, 2m)");
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(bad());
    }
    let whole: u128 = match whole {
        "" => 0,
        w => w.parse().map_err(|_| bad())?,
    };
    // The fraction in units of 10^-18 of `unit` (exact for any unit above), digits beyond
    // the 18th dropped.
    let frac_digits = &frac[..frac.len().min(18)];
    let frac: u128 = match frac_digits {
        "" => 0,
        f => f.parse::<u128>().map_err(|_| bad())? * 10u128.pow(18 - f.len() as u32),
    };
    let nanos = whole
        .checked_mul(unit_ns)
        .and_then(|n| n.checked_add(frac * unit_ns / 10u128.pow(18)))
        .ok_or_else(bad)?;
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| bad())?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("0.25ms").unwrap(), Duration::from_micros(250));
        assert_eq!(parse(".5m").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("1.000000001").unwrap(), Duration::new(1, 1));
        assert!(parse("fast").is_err());
        assert!(parse(".").is_err());
        assert!(parse("1.2.3s").is_err());
        assert!(parse("99999999999999999999999h").is_err());
        assert!(parse("5d").is_err());
    }
}
