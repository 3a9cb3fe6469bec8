//! Command-line arguments: `--duration SECS` and `--top N`, parsed by hand (two options do
//! not need an argument parser).

use std::time::Duration;

/// Printed after an argument error.
pub const USAGE: &str = "usage: execcount [--duration SECS] [--top N]";

/// What to do.
#[derive(Debug, PartialEq)]
pub struct Args {
    /// How long to count.
    pub duration: Duration,
    /// How many commands to print.
    pub top: usize,
}

impl Args {
    /// Parses the arguments after the program name.
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut parsed = Args {
            duration: Duration::from_secs(5),
            top: 5,
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--duration" => {
                    let v = value()?;
                    let secs: f64 = v
                        .parse()
                        .ok()
                        .filter(|s: &f64| s.is_finite() && *s > 0.0)
                        .ok_or_else(|| {
                            format!("--duration {v}: not a positive number of seconds")
                        })?;
                    parsed.duration = Duration::from_secs_f64(secs);
                }
                "--top" => {
                    let v = value()?;
                    parsed.top = v.parse().map_err(|_| format!("--top {v}: not a count"))?;
                }
                _ => return Err(format!("unknown argument {arg}")),
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        Args::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_options() {
        assert_eq!(
            parse(&[]).unwrap(),
            Args {
                duration: Duration::from_secs(5),
                top: 5
            }
        );
        let a = parse(&["--duration", "0.5", "--top", "3"]).unwrap();
        assert_eq!((a.duration, a.top), (Duration::from_millis(500), 3));
    }

    #[test]
    fn bad_arguments_say_which() {
        assert!(parse(&["--duration"])
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse(&["--duration", "-1"])
            .unwrap_err()
            .contains("positive"));
        assert!(parse(&["--top", "x"]).unwrap_err().contains("--top x"));
        assert!(parse(&["-v"]).unwrap_err().contains("unknown argument -v"));
    }
}
