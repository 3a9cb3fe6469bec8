//! `--attach PROG=KIND:TARGET`: targets given at attach time instead of in the section.

use crate::LoadError;

/// One `--attach` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachSpec {
    /// Program name.
    pub program: String,
    /// Kind given explicitly (`uprobe`, `kprobe`, `tracepoint`, `usdt`, …), or `None` to use the
    /// program's section kind.
    pub kind: Option<String>,
    /// Target in that kind's syntax: `/path:func[+off]`, `func`, `cat/name`,
    /// `/path:provider:name`.
    pub target: String,
}

const KINDS: &[&str] = &[
    "uprobe",
    "uretprobe",
    "kprobe",
    "kretprobe",
    "tracepoint",
    "tp",
    "raw_tp",
    "usdt",
    "fentry",
    "fexit",
];

impl std::str::FromStr for AttachSpec {
    type Err = LoadError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| LoadError::AttachSpec {
            spec: s.to_string(),
            why: why.to_string(),
        };
        let (program, rest) = s.split_once('=').ok_or_else(|| {
            bad("expected PROG=KIND:TARGET, e.g. handle=uprobe:/bin/bash:readline")
        })?;
        if program.is_empty() || rest.is_empty() {
            return Err(bad(
                "expected PROG=KIND:TARGET, e.g. handle=uprobe:/bin/bash:readline",
            ));
        }
        let (kind, target) = match rest.split_once(':') {
            Some((k, t)) if KINDS.contains(&k) => (Some(k.to_string()), t.to_string()),
            _ => (None, rest.to_string()),
        };
        if target.is_empty() {
            return Err(bad("the target is empty"));
        }
        Ok(AttachSpec {
            program: program.to_string(),
            kind,
            target,
        })
    }
}

/// A user-space location: `/path:func[+off]` or `/path:0xADDR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserLocation {
    /// Binary or library path.
    pub path: String,
    /// Function symbol, if given by name.
    pub func: Option<String>,
    /// Offset from the function, or absolute file offset when `func` is `None`.
    pub offset: usize,
}

impl UserLocation {
    /// Parses `/path:func[+off]`; the path may itself contain ':' only before the last one.
    pub fn parse(target: &str) -> Option<UserLocation> {
        let (path, sym) = target.rsplit_once(':')?;
        if path.is_empty() || sym.is_empty() {
            return None;
        }
        if let Some(hex) = sym.strip_prefix("0x") {
            return Some(UserLocation {
                path: path.to_string(),
                func: None,
                offset: usize::from_str_radix(hex, 16).ok()?,
            });
        }
        let (func, offset) = match sym.split_once('+') {
            Some((f, off)) => (f, parse_offset(off)?),
            None => (sym, 0),
        };
        Some(UserLocation {
            path: path.to_string(),
            func: Some(func.to_string()),
            offset,
        })
    }
}

fn parse_offset(s: &str) -> Option<usize> {
    match s.strip_prefix("0x") {
        Some(h) => usize::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_and_without_kind() {
        let s: AttachSpec = "enter=uprobe:/bin/x:main".parse().unwrap();
        assert_eq!(s.program, "enter");
        assert_eq!(s.kind.as_deref(), Some("uprobe"));
        assert_eq!(s.target, "/bin/x:main");
        let s: AttachSpec = "enter=/bin/x:main".parse().unwrap();
        assert_eq!(s.kind, None);
        assert_eq!(s.target, "/bin/x:main");
        assert!("noequals".parse::<AttachSpec>().is_err());
        assert!("p=uprobe:".parse::<AttachSpec>().is_err());
    }

    #[test]
    fn user_locations_parse() {
        let l = UserLocation::parse("/lib/libc.so.6:fopen+4").unwrap();
        assert_eq!(l.path, "/lib/libc.so.6");
        assert_eq!(l.func.as_deref(), Some("fopen"));
        assert_eq!(l.offset, 4);
        let l = UserLocation::parse("/bin/a:0x1130").unwrap();
        assert_eq!(l.func, None);
        assert_eq!(l.offset, 0x1130);
        assert!(UserLocation::parse("nocolon").is_none());
    }
}
