//! The command line, read with lexopt: each command's options are one `match` over flag names
//! and one help text. clap cost the static loader ~150 KiB (parser, help renderer, derive
//! code) — a seventh of the `--no-default-features` binary; lexopt costs ~3 KiB.

use std::ffi::OsString;
use std::fmt::Display;
use std::path::PathBuf;

pub use lexopt::Parser;

/// Why parsing stopped before a command was ready to run.
pub enum Stop {
    /// `-h`/`--help`: print this text, exit 0.
    Help(&'static str),
    /// `-V`/`--version`.
    Version,
    /// A usage error: one line, exit status 2.
    Usage(String),
}

impl From<lexopt::Error> for Stop {
    fn from(e: lexopt::Error) -> Self {
        Stop::Usage(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Stop>;

/// One command-line argument: a flag as typed (`--name` or `-c`) or a positional value.
pub enum Arg {
    Flag(String),
    Value(OsString),
}

impl Arg {
    /// The next argument, `None` at the end.
    pub fn next(p: &mut Parser) -> Result<Option<Arg>> {
        Ok(p.next()?.map(|a| match a {
            lexopt::Arg::Short(c) => Arg::Flag(format!("-{c}")),
            lexopt::Arg::Long(l) => Arg::Flag(format!("--{l}")),
            lexopt::Arg::Value(v) => Arg::Value(v),
        }))
    }

    /// What to say when no option of the command takes this argument: the help for
    /// `-h`/`--help`, else "unexpected …".
    pub fn unexpected(self, help: &'static str) -> Stop {
        match self {
            Arg::Flag(f) if f == "-h" || f == "--help" => Stop::Help(help),
            Arg::Flag(f) => Stop::Usage(format!("unexpected option {f}")),
            Arg::Value(v) => Stop::Usage(format!("unexpected argument `{}`", v.to_string_lossy())),
        }
    }
}

/// Hands every argument to `take`, which reads it (and its value) and returns `None`, or gives
/// it back: an argument given back is a usage error (or the help, for `-h`/`--help`).
pub fn each(
    p: &mut Parser,
    help: &'static str,
    mut take: impl FnMut(Arg, &mut Parser) -> Result<Option<Arg>>,
) -> Result<()> {
    while let Some(arg) = Arg::next(p)? {
        if let Some(arg) = take(arg, p)? {
            return Err(arg.unexpected(help));
        }
    }
    Ok(())
}

/// The one positional argument (`what`) of a command that takes nothing else.
pub fn sole_value(p: &mut Parser, help: &'static str, what: &str) -> Result<OsString> {
    let mut value = None;
    each(p, help, |arg, _| match arg {
        Arg::Value(v) if value.is_none() => {
            value = Some(v);
            Ok(None)
        }
        arg => Ok(Some(arg)),
    })?;
    required(value, what)
}

/// The value of `flag` (`--flag V` or `--flag=V`) as UTF-8.
pub fn string(p: &mut Parser, flag: &str) -> Result<String> {
    utf8(p.value()?, flag)
}

/// The value of `flag`, parsed by `parse`; the error names the flag and the value.
pub fn value<T, E: Display>(
    p: &mut Parser,
    flag: &str,
    parse: impl FnOnce(&str) -> std::result::Result<T, E>,
) -> Result<T> {
    let s = string(p, flag)?;
    parse(&s).map_err(|e| Stop::Usage(format!("invalid value `{s}` for {flag}: {e}")))
}

/// The value of `flag` as a path (any bytes).
pub fn path(p: &mut Parser) -> Result<PathBuf> {
    Ok(p.value()?.into())
}

/// An optional value: `--flag=V`, or `--flag V` when V does not start with `-`; `""` when
/// absent (`--flag` alone).
pub fn optional_string(p: &mut Parser, flag: &str) -> Result<String> {
    let v = match p.optional_value() {
        Some(v) => Some(v),
        None => p
            .raw_args()?
            .next_if(|v| !v.to_string_lossy().starts_with('-')),
    };
    v.map_or(Ok(String::new()), |v| utf8(v, flag))
}

/// One of `choices` (the value of `flag`).
pub fn choice<T: Copy>(p: &mut Parser, flag: &str, choices: &[(&str, T)]) -> Result<T> {
    value(p, flag, |s| {
        choices
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                format!("possible values: {}", names.join(", "))
            })
    })
}

/// A positional argument as UTF-8 (`what` names it in the error).
pub fn positional(v: OsString, what: &str) -> Result<String> {
    utf8(v, what)
}

/// The positional `what` when it was given, else a usage error saying it is required.
pub fn required<T>(v: Option<T>, what: &str) -> Result<T> {
    v.ok_or_else(|| Stop::Usage(format!("{what} is required")))
}

fn utf8(v: OsString, what: &str) -> Result<String> {
    v.into_string()
        .map_err(|v| Stop::Usage(format!("{what}: `{}` is not UTF-8", v.to_string_lossy())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(args: &[&str]) -> Parser {
        Parser::from_args(args.iter().copied())
    }

    #[test]
    fn optional_values_take_the_next_word_unless_it_is_a_flag() {
        let mut p = parser(&["--pin", "/sys/fs/bpf/x", "--detach"]);
        assert!(matches!(Arg::next(&mut p), Ok(Some(Arg::Flag(f))) if f == "--pin"));
        assert_eq!(
            optional_string(&mut p, "--pin").ok(),
            Some("/sys/fs/bpf/x".into())
        );
        let mut p = parser(&["--pin", "--detach"]);
        Arg::next(&mut p).ok();
        assert_eq!(optional_string(&mut p, "--pin").ok(), Some(String::new()));
        let mut p = parser(&["--pin=/d"]);
        Arg::next(&mut p).ok();
        assert_eq!(optional_string(&mut p, "--pin").ok(), Some("/d".into()));
        let mut p = parser(&["--pin"]);
        Arg::next(&mut p).ok();
        assert_eq!(optional_string(&mut p, "--pin").ok(), Some(String::new()));
    }

    #[test]
    fn bad_values_name_the_flag_and_the_choices() {
        let mut p = parser(&["--format", "xml"]);
        Arg::next(&mut p).ok();
        let Err(Stop::Usage(e)) = choice(&mut p, "--format", &[("text", 0), ("json", 1)]) else {
            panic!("xml accepted");
        };
        assert_eq!(
            e,
            "invalid value `xml` for --format: possible values: text, json"
        );
        let mut p = parser(&["--freq"]);
        Arg::next(&mut p).ok();
        assert!(matches!(
            value(&mut p, "--freq", str::parse::<u64>),
            Err(Stop::Usage(_))
        ));
    }
}
