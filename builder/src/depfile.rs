//! Make-style dependency files (`clang -MD -MF file -MT target`).
//!
//! Clang writes `target: prereq prereq \` lines, escaping spaces as `\ `, `#` as `\#` and `$`
//! as `$$`. We pass a fixed target name ([`TARGET`]) so that the first `:` is never part of a
//! path.

use std::path::PathBuf;

/// The `-MT` target coreship asks clang to write.
pub(crate) const TARGET: &str = "coreship-object";

/// The prerequisites of [`TARGET`] in `text`, in order (the source first), or `None` when
/// `text` is not a depfile for it.
pub(crate) fn parse(text: &str) -> Option<Vec<PathBuf>> {
    let rest = text.trim_start().strip_prefix(TARGET)?.strip_prefix(':')?;
    let mut deps = Vec::new();
    let mut cur = String::new();
    let mut chars = rest.chars().peekable();
    let flush = |cur: &mut String, deps: &mut Vec<PathBuf>| {
        if !cur.is_empty() {
            deps.push(PathBuf::from(std::mem::take(cur)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some('\n') => {
                    chars.next();
                    flush(&mut cur, &mut deps);
                }
                Some('\r') => {
                    chars.next();
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    flush(&mut cur, &mut deps);
                }
                Some(&e @ (' ' | '#' | '\\')) => {
                    chars.next();
                    cur.push(e);
                }
                _ => cur.push('\\'),
            },
            '$' if chars.peek() == Some(&'$') => {
                chars.next();
                cur.push('$');
            }
            c if c.is_whitespace() => {
                flush(&mut cur, &mut deps);
                // An unescaped newline ends the rule (phony targets follow only with -MP).
                if c == '\n' {
                    break;
                }
            }
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut deps);
    Some(deps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn clang_style_depfile_with_continuations_and_escapes() {
        let text = "coreship-object: bpf/execsnoop.bpf.c \\\n  /out/include/vmlinux.h \
                    bpf/include/coreship.h \\\n  /a\\ dir/x\\#1.h /m/$$HOME.h\n";
        let deps = parse(text).unwrap();
        assert_eq!(
            deps,
            [
                Path::new("bpf/execsnoop.bpf.c"),
                Path::new("/out/include/vmlinux.h"),
                Path::new("bpf/include/coreship.h"),
                Path::new("/a dir/x#1.h"),
                Path::new("/m/$HOME.h"),
            ]
        );
    }

    #[test]
    fn other_targets_and_garbage_are_rejected() {
        assert_eq!(parse("x.o: a.c\n"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("coreship-object:\n").unwrap(), Vec::<PathBuf>::new());
    }

    #[test]
    fn windows_line_endings_continue_lines() {
        let deps = parse("coreship-object: a.c \\\r\n b.h\r\n").unwrap();
        assert_eq!(deps, [Path::new("a.c"), Path::new("b.h")]);
    }
}
