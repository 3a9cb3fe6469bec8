//! The text form of an [`Inspection`]: aligned tables, one per kind of thing.

use super::Inspection;
use coreship_loader::attach::AttachKind;
use std::fmt::Write as _;

/// Shown for programs whose section names no attach point (`uprobe`, `xdp`, …).
const ATTACH_LATER: &str = "(target given at attach time)";

impl Inspection {
    /// The report as aligned, human-readable tables.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let license = if self.license.is_empty() {
            "(none)"
        } else {
            &self.license
        };
        let _ = writeln!(out, "object   {}", self.object);
        let _ = writeln!(out, "license  {license}");

        let programs = self.programs.iter().map(|p| {
            let attach = p.attach.as_deref().unwrap_or(ATTACH_LATER);
            // How it attaches (uprobe, kretprobe, …) says more than libbpf's program type
            // (a uprobe is a `kprobe` program); JSON keeps both.
            let kind = AttachKind::from_section(&p.section);
            let kind = match kind {
                AttachKind::Other { .. } => p.prog_type.clone(),
                k => k.name().to_string(),
            };
            vec![p.name.clone(), p.section.clone(), kind, attach.into()]
        });
        section(
            &mut out,
            "programs",
            &["NAME", "SECTION", "KIND", "ATTACH"],
            programs,
        );

        let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
        let maps = self.maps.iter().map(|m| {
            let max = m.max_entries.map_or("-".into(), |n| n.to_string());
            let i = &m.info;
            vec![
                i.name.clone(),
                i.map_type.clone(),
                max,
                dash(&i.key_type),
                dash(&i.value_type),
            ]
        });
        section(
            &mut out,
            "maps",
            &["NAME", "TYPE", "MAX_ENTRIES", "KEY", "VALUE"],
            maps,
        );

        let outputs = self.maps.iter().filter_map(|m| {
            let o = m.info.output.as_ref()?;
            let kind = serde_json::to_value(o.kind).ok()?;
            let kind = kind.as_str().unwrap_or("?").to_string();
            Some(vec![m.info.name.clone(), kind, o.type_name.clone()])
        });
        section(&mut out, "outputs", &["MAP", "KIND", "TYPE"], outputs);

        let settings = self.settings.iter().map(|s| {
            let default = match &s.default {
                serde_json::Value::Null => "-".into(),
                serde_json::Value::String(v) if s.type_name.ends_with(']') => format!("{v:?}"),
                serde_json::Value::String(v) => v.clone(),
                v => v.to_string(),
            };
            vec![
                s.name.clone(),
                s.type_name.clone(),
                s.section.clone(),
                default,
            ]
        });
        section(
            &mut out,
            "settings",
            &["NAME", "TYPE", "SECTION", "DEFAULT"],
            settings,
        );

        let count: usize = self
            .core_relocations
            .iter()
            .map(|s| s.relocations.len())
            .sum();
        let _ = write!(out, "\nCO-RE relocations ({count})");
        if count == 0 {
            out.push_str(": none\n");
        } else {
            out.push_str(":\n");
        }
        for sec in &self.core_relocations {
            let _ = writeln!(out, "  {}:", sec.section);
            let rows = sec.relocations.iter().map(|r| {
                let path = match (&r.path, &r.unresolved) {
                    (Some(p), _) => p.clone(),
                    (None, why) => format!("? ({})", why.as_deref().unwrap_or("unresolved")),
                };
                vec![
                    format!("#{}", r.insn),
                    r.kind.to_string(),
                    r.root_type.clone(),
                    r.access.clone(),
                    path,
                ]
            });
            table(
                &mut out,
                "    ",
                &["INSN", "KIND", "ROOT", "ACCESS", "PATH"],
                rows,
            );
        }
        out
    }
}

/// A titled table, or `title: none`.
fn section(
    out: &mut String,
    title: &str,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) {
    let rows: Vec<Vec<String>> = rows.collect();
    if rows.is_empty() {
        let _ = writeln!(out, "\n{title}: none");
        return;
    }
    let _ = writeln!(out, "\n{title}:");
    table(out, "  ", header, rows);
}

/// Left-aligned columns two spaces apart; the last column is not padded.
fn table(
    out: &mut String,
    indent: &str,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) {
    let mut all: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    all.extend(rows);
    let cols = header.len();
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            all.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &all {
        let mut line = String::from(indent);
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        CoreReloKind, CoreRelocation, InspectedMap, InspectedSetting, SectionRelocations,
    };
    use super::*;
    use coreship_registry::{MapInfo, MapOutput, OutputKind, ProgramInfo};

    fn sample() -> Inspection {
        Inspection {
            object: "x.bpf.o".into(),
            license: "GPL".into(),
            programs: vec![ProgramInfo {
                name: "probe".into(),
                section: "uprobe".into(),
                prog_type: "kprobe".into(),
                attach: None,
            }],
            maps: vec![InspectedMap {
                info: MapInfo {
                    name: "events".into(),
                    map_type: "ringbuf".into(),
                    key_type: None,
                    value_type: None,
                    output: Some(MapOutput {
                        kind: OutputKind::Events,
                        type_name: "struct exec_event".into(),
                    }),
                },
                max_entries: Some(262144),
            }],
            core_relocations: vec![SectionRelocations {
                section: "uprobe".into(),
                relocations: vec![CoreRelocation {
                    insn: 3,
                    insn_off: 24,
                    kind: CoreReloKind::FieldByteOffset,
                    type_id: 7,
                    root_type: "struct task_struct".into(),
                    access: "0:9".into(),
                    path: None,
                    unresolved: Some("index 9 is past the 3 entries".into()),
                }],
            }],
            settings: vec![
                InspectedSetting {
                    name: "per_disk".into(),
                    section: ".rodata".into(),
                    type_name: "bool".into(),
                    default: false.into(),
                },
                InspectedSetting {
                    name: "comm".into(),
                    section: ".rodata".into(),
                    type_name: "char[16]".into(),
                    default: "".into(),
                },
            ],
        }
    }

    #[test]
    fn text_has_every_table() {
        let text = sample().to_text();
        assert!(
            text.contains("  probe  uprobe   uprobe  (target given at attach time)\n"),
            "{text}"
        );
        assert!(
            text.contains("  events  ringbuf  262144       -    -\n"),
            "{text}"
        );
        assert!(
            text.contains("  events  events  struct exec_event\n"),
            "{text}"
        );
        assert!(
            text.contains("CO-RE relocations (1):\n  uprobe:\n"),
            "{text}"
        );
        assert!(
            text.contains(concat!(
                "settings:\n",
                "  NAME      TYPE      SECTION  DEFAULT\n",
                "  per_disk  bool      .rodata  false\n",
                "  comm      char[16]  .rodata  \"\"\n",
            )),
            "{text}"
        );
        assert!(
            text.contains("#3    field_byte_offset  struct task_struct  0:9     ? (index 9"),
            "{text}"
        );
        assert!(
            !text.lines().any(|l| l.ends_with(' ')),
            "trailing spaces:\n{text}"
        );
    }

    #[test]
    fn empty_tables_say_none() {
        let mut i = sample();
        i.maps.clear();
        i.core_relocations.clear();
        i.settings.clear();
        let text = i.to_text();
        assert!(text.contains("\nmaps: none\n"), "{text}");
        assert!(text.contains("\noutputs: none\n"), "{text}");
        assert!(text.contains("\nsettings: none\n"), "{text}");
        assert!(text.contains("CO-RE relocations (0): none"), "{text}");
    }

    #[test]
    fn json_is_one_document() {
        let v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(v["maps"][0]["max_entries"], 262144);
        assert_eq!(v["maps"][0]["output"]["kind"], "events");
        assert_eq!(
            v["settings"][0],
            serde_json::json!({"name": "per_disk", "section": ".rodata", "type": "bool", "default": false})
        );
        assert_eq!(
            v["core_relocations"][0]["relocations"][0]["kind"],
            "field_byte_offset"
        );
    }
}
