//! [`Frame`]s and [`Sample`]s, and the three ways they are printed: bpftrace-like text,
//! JSON, and Brendan Gregg's folded stacks (`comm;outer;…;inner N`). Pure: symbolization
//! happened before.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::output::push_json_str;

/// One resolved stack frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A function and the offset into it.
    Symbol {
        /// Function name.
        name: String,
        /// Bytes from its start.
        offset: u64,
    },
    /// Inside a known file with no symbol there (stripped): its name and the file offset.
    Module {
        /// File name without directories.
        module: String,
        /// Offset in the file.
        offset: u64,
    },
    /// Nothing known: the process is gone, or kernel addresses are hidden.
    Unknown {
        /// The address.
        addr: u64,
    },
}

impl Frame {
    /// `name+off` (decimal, as bpftrace prints), `[module+0xoff]` or `0xaddr`.
    pub(crate) fn push_text(&self, out: &mut String) {
        let _ = match self {
            Frame::Symbol { name, offset } => write!(out, "{name}+{offset}"),
            Frame::Module { module, offset } => write!(out, "[{module}+{offset:#x}]"),
            Frame::Unknown { addr } => write!(out, "{addr:#x}"),
        };
    }

    /// The frame in a folded stack: the function name, `[module]` or `[unknown]`, with
    /// perf's `_[k]` suffix on kernel frames. `;` (the separator) becomes `:`.
    pub(crate) fn push_folded(&self, out: &mut String, kernel: bool) {
        match self {
            Frame::Symbol { name, .. } => push_clean(out, name),
            Frame::Module { module, .. } => {
                out.push('[');
                push_clean(out, module);
                out.push(']');
            }
            Frame::Unknown { .. } => out.push_str("[unknown]"),
        }
        if kernel {
            out.push_str("_[k]");
        }
    }
}

/// Appends `s` without the folded format's separators (`;`, newlines).
fn push_clean(out: &mut String, s: &str) {
    out.extend(s.chars().map(|c| match c {
        ';' => ':',
        '\n' | '\r' => ' ',
        c => c,
    }));
}

/// One counted key of a stack profile, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sample {
    /// The key's other members as text (`4242, bash`), empty when there are none.
    pub(crate) key_text: String,
    /// The key's other members as a JSON object (`{"pid":4242,"comm":"bash"}`).
    pub(crate) key_json: String,
    /// The command name (first frame of the folded stack), when the key has one.
    pub(crate) comm: Option<String>,
    /// Kernel frames, innermost first; `None` when the key has no `kstack` member.
    pub(crate) kernel: Option<Vec<Frame>>,
    /// User frames, innermost first; `None` when the key has no `ustack` member.
    pub(crate) user: Option<Vec<Frame>>,
    /// Times the key was counted.
    pub(crate) count: u64,
}

/// Sorts samples as counters are sorted: ascending by count, so the hottest is last.
fn sorted(samples: &mut [Sample]) {
    samples.sort_by(|a, b| {
        a.count
            .cmp(&b.count)
            .then_with(|| a.key_text.cmp(&b.key_text))
    });
}

/// `@map[key]: count` then the frames, kernel (innermost first) then user, one per line
/// indented, a blank line after each stack.
pub(crate) fn render_text(out: &mut String, map: &str, samples: &mut [Sample]) {
    sorted(samples);
    for s in samples.iter() {
        out.push('@');
        out.push_str(map);
        if !s.key_text.is_empty() {
            let _ = write!(out, "[{}]", s.key_text);
        }
        let _ = writeln!(out, ": {}", s.count);
        let frames = s.kernel.iter().chain(s.user.iter()).flatten();
        for f in frames {
            out.push_str("    ");
            f.push_text(out);
            out.push('\n');
        }
        out.push('\n');
    }
}

/// One JSON object, as counters print but with frame arrays in each key:
/// `{"map":"samples","counts":[{"key":{"pid":1,"comm":"x","kstack":[…],"ustack":[…]},"count":N}]}`.
pub(crate) fn render_json(out: &mut String, map: &str, samples: &mut [Sample]) {
    sorted(samples);
    out.push_str("{\"map\":");
    push_json_str(out, map.as_bytes());
    out.push_str(",\"counts\":[");
    for (i, s) in samples.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"key\":");
        let key = s.key_json.strip_suffix('}').unwrap_or("{");
        out.push_str(key);
        let mut first = key.ends_with('{');
        for (name, frames) in [("kstack", &s.kernel), ("ustack", &s.user)] {
            let Some(frames) = frames else { continue };
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, "\"{name}\":[");
            for (j, f) in frames.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                let mut t = String::new();
                f.push_text(&mut t);
                push_json_str(out, t.as_bytes());
            }
            out.push(']');
        }
        let _ = write!(out, "}},\"count\":{}}}", s.count);
    }
    out.push_str("]}");
}

/// Folded stacks: `comm;user outermost…innermost;kernel outermost…innermost_[k]` with the
/// summed count of every identical line, sorted by stack. Samples with no frame at all are
/// left out unless they have a comm.
pub(crate) fn folded(samples: &[Sample]) -> Vec<(String, u64)> {
    let mut lines: BTreeMap<String, u64> = BTreeMap::new();
    for s in samples {
        let mut line = String::new();
        if let Some(comm) = &s.comm {
            push_clean(&mut line, if comm.is_empty() { "[unknown]" } else { comm });
        }
        let user = s.user.iter().flatten().rev().map(|f| (f, false));
        let kernel = s.kernel.iter().flatten().rev().map(|f| (f, true));
        for (f, k) in user.chain(kernel) {
            if !line.is_empty() {
                line.push(';');
            }
            f.push_folded(&mut line, k);
        }
        if !line.is_empty() {
            *lines.entry(line).or_default() += s.count;
        }
    }
    lines.into_iter().collect()
}

/// Appends folded lines, one `stack count` per line.
pub(crate) fn render_folded(out: &mut String, lines: &[(String, u64)]) {
    for (stack, count) in lines {
        let _ = writeln!(out, "{stack} {count}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(name: &str, offset: u64) -> Frame {
        Frame::Symbol {
            name: name.into(),
            offset,
        }
    }

    fn sample(pid: u32, comm: &str, count: u64) -> Sample {
        Sample {
            key_text: format!("{pid}, {comm}"),
            key_json: format!(r#"{{"pid":{pid},"comm":"{comm}"}}"#),
            comm: Some(comm.into()),
            kernel: Some(vec![
                sym("do_syscall_64", 114),
                sym("entry_SYSCALL_64", 118),
            ]),
            user: Some(vec![
                sym("coreship_hot_spin", 20),
                sym("main", 30),
                Frame::Module {
                    module: "libc.so.6".into(),
                    offset: 0x2a1ca,
                },
                Frame::Unknown { addr: 0x7ffd1234 },
            ]),
            count,
        }
    }

    #[test]
    fn folded_puts_comm_then_user_then_kernel_outermost_first() {
        let a = sample(1, "demo", 3);
        let b = sample(2, "demo", 4); // same comm and stacks, another pid: merged
        let mut c = sample(3, "idle;x", 1);
        c.kernel = Some(vec![]);
        c.user = Some(vec![Frame::Unknown { addr: 1 }]);
        let mut d = sample(4, "demo", 5);
        d.kernel = None;
        let lines = folded(&[a, b, c, d]);
        assert_eq!(
            lines,
            vec![
                (
                    "demo;[unknown];[libc.so.6];main;coreship_hot_spin".to_string(),
                    5
                ),
                (
                    "demo;[unknown];[libc.so.6];main;coreship_hot_spin;\
                     entry_SYSCALL_64_[k];do_syscall_64_[k]"
                        .to_string(),
                    7
                ),
                ("idle:x;[unknown]".to_string(), 1),
            ]
        );
        let mut out = String::new();
        render_folded(&mut out, &lines[2..]);
        assert_eq!(out, "idle:x;[unknown] 1\n");
    }

    #[test]
    fn text_lists_kernel_then_user_frames_under_the_key() {
        let mut samples = vec![sample(7, "big", 9), sample(8, "small", 2)];
        samples[1].kernel = None;
        samples[1].user.as_mut().unwrap().truncate(1);
        let mut out = String::new();
        render_text(&mut out, "samples", &mut samples);
        assert_eq!(
            out,
            "@samples[8, small]: 2\n    coreship_hot_spin+20\n\n\
             @samples[7, big]: 9\n    do_syscall_64+114\n    entry_SYSCALL_64+118\n    \
             coreship_hot_spin+20\n    main+30\n    [libc.so.6+0x2a1ca]\n    0x7ffd1234\n\n"
        );
    }

    #[test]
    fn json_puts_frames_in_the_key() {
        let mut samples = vec![sample(7, "a", 1)];
        samples[0].kernel = None;
        samples[0].user.as_mut().unwrap().truncate(2);
        let mut out = String::new();
        render_json(&mut out, "samples", &mut samples);
        assert_eq!(
            out,
            r#"{"map":"samples","counts":[{"key":{"pid":7,"comm":"a","ustack":["coreship_hot_spin+20","main+30"]},"count":1}]}"#
        );
        serde_json::from_str::<serde_json::Value>(&out).unwrap();

        let mut bare = vec![sample(1, "a", 1)];
        bare[0].key_json = "{}".into();
        bare[0].user = Some(vec![]);
        let mut out = String::new();
        render_json(&mut out, "m", &mut bare);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["counts"][0]["key"]["ustack"], serde_json::json!([]));
        assert_eq!(v["counts"][0]["key"]["kstack"][0], "do_syscall_64+114");
    }
}
