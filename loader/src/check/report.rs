//! A [`CheckReport`] as an aligned table or one JSON document (pure).

use std::fmt::Write as _;

use super::{CheckReport, ProgramCheck, Status};
use crate::attach::alternatives::split_name;
use crate::session::OPTIONAL_SUFFIX;

const HEADER: [&str; 7] = [
    "PROGRAM",
    "TYPE",
    "HELPERS",
    "ATTACH TARGET",
    "CO-RE",
    "VERIFIER",
    "VERDICT",
];

fn mark(s: &Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Missing { .. } => "MISSING",
        Status::Unknown(_) => "?",
    }
}

fn helpers_cell(p: &ProgramCheck) -> String {
    let missing: Vec<&str> = p
        .helpers
        .iter()
        .filter(|h| h.status.is_missing())
        .map(|h| h.name.as_str())
        .collect();
    if !missing.is_empty() {
        return format!("MISSING {}", missing.join(","));
    }
    let unknown = p
        .helpers
        .iter()
        .filter(|h| matches!(h.status, Status::Unknown(_)))
        .count();
    match unknown {
        0 => format!("{} ok", p.helpers.len()),
        n => format!("{} ok, {n} ?", p.helpers.len() - n),
    }
}

/// The verdict for `p`, with what its group or `__optional` mark makes of a failure.
fn verdict(report: &CheckReport, groups: &[(String, Option<String>)], p: &ProgramCheck) -> String {
    let Some(refusal) = p.refusal() else {
        return "ok".into();
    };
    let why = refusal.full();
    if let Some((base, _)) = split_name(&p.program) {
        let runs = groups
            .iter()
            .find(|(b, _)| b == base)
            .and_then(|(_, c)| c.as_deref());
        return match runs {
            Some(other) => format!("no (group {base} runs {other}): {why}"),
            None => format!("no (group {base}: no alternative left): {why}"),
        };
    }
    if p.program.ends_with(OPTIONAL_SUFFIX) {
        return format!("no (optional, skipped): {why}");
    }
    let _ = report;
    format!("no: {why}")
}

/// The report as a table, one row per program, then one line saying whether `run` starts.
pub fn render_text(report: &CheckReport) -> String {
    let groups = report.groups();
    let rows: Vec<[String; 7]> = report
        .programs
        .iter()
        .map(|p| {
            [
                p.program.clone(),
                format!("{} {}", p.prog_type, mark(&p.type_status)),
                helpers_cell(p),
                format!("{} {}", p.target, mark(&p.target_status)),
                match &p.core {
                    Status::Ok => "ok".into(),
                    s => mark(s).into(),
                },
                p.verifier
                    .as_ref()
                    .map_or_else(|| "-".into(), |s| mark(s).to_string()),
                verdict(report, &groups, p),
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&HEADER);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    for p in &report.programs {
        for (what, s) in [("CO-RE", &p.core), ("attach target", &p.target_status)] {
            if let Status::Unknown(why) = s {
                let _ = writeln!(out, "note: {} {what}: {why}", p.program);
            }
        }
    }
    let blocking = report.blocking();
    if report.ok() {
        let _ = writeln!(out, "{}: this kernel can run it", report.probe);
    } else if blocking.is_empty() {
        let _ = writeln!(out, "{}: no program can run on this kernel", report.probe);
    } else {
        let _ = writeln!(out, "{}: cannot run on this kernel:", report.probe);
        for f in blocking {
            let _ = writeln!(out, "  {f}");
        }
    }
    out
}

fn json_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn json_status(out: &mut String, s: &Status) {
    out.push_str("{\"status\":");
    json_str(out, s.word());
    if let Some(why) = s.reason() {
        out.push_str(",\"reason\":");
        json_str(out, why);
    }
    out.push('}');
}

/// The report as one JSON document: `{"probe", "ok", "programs": [...], "groups": [...]}`.
pub fn render_json(report: &CheckReport) -> String {
    let groups = report.groups();
    let mut out = String::from("{\"probe\":");
    json_str(&mut out, &report.probe);
    let _ = write!(
        out,
        ",\"ok\":{},\"verified\":{},\"programs\":[",
        report.ok(),
        report.verified
    );
    for (i, p) in report.programs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"program\":");
        json_str(&mut out, &p.program);
        out.push_str(",\"type\":");
        json_str(&mut out, &p.prog_type);
        out.push_str(",\"type_check\":");
        json_status(&mut out, &p.type_status);
        out.push_str(",\"helpers\":[");
        for (j, h) in p.helpers.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"name\":");
            json_str(&mut out, &h.name);
            let _ = write!(out, ",\"id\":{},\"check\":", h.id);
            json_status(&mut out, &h.status);
            out.push('}');
        }
        out.push_str("],\"target\":");
        json_str(&mut out, &p.target);
        out.push_str(",\"target_check\":");
        json_status(&mut out, &p.target_status);
        out.push_str(",\"core\":");
        json_status(&mut out, &p.core);
        out.push_str(",\"verifier\":");
        match &p.verifier {
            Some(s) => json_status(&mut out, s),
            None => out.push_str("null"),
        }
        let _ = write!(out, ",\"ok\":{},\"verdict\":", p.ok());
        json_str(&mut out, &verdict(report, &groups, p));
        out.push('}');
    }
    out.push_str("],\"groups\":[");
    for (i, (base, runs)) in groups.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"group\":");
        json_str(&mut out, base);
        out.push_str(",\"runs\":");
        match runs {
            Some(r) => json_str(&mut out, r),
            None => out.push_str("null"),
        }
        out.push('}');
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::HelperCheck;

    fn prog(name: &str, target: Status) -> ProgramCheck {
        ProgramCheck {
            program: name.into(),
            target: "kprobe do_nanosleep".into(),
            prog_type: "kprobe".into(),
            type_status: Status::Ok,
            helpers: vec![HelperCheck {
                name: "bpf_ktime_get_ns".into(),
                id: 5,
                status: Status::Ok,
            }],
            target_status: target,
            core: Status::Ok,
            verifier: None,
        }
    }

    #[test]
    fn a_group_with_one_working_alternative_is_fine_and_says_which_runs() {
        let report = CheckReport {
            probe: "p".into(),
            programs: vec![
                prog("enter__fentry", Status::missing("trampolines refused")),
                prog("enter__kprobe", Status::Ok),
                prog("maybe__optional", Status::missing("no such tracepoint")),
            ],
            verified: false,
        };
        assert!(report.ok());
        let text = render_text(&report);
        assert!(
            text.contains("no (group enter runs enter__kprobe): trampolines refused"),
            "{text}"
        );
        assert!(text.contains("no (optional, skipped)"), "{text}");
        assert!(text.ends_with("p: this kernel can run it\n"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&render_json(&report)).unwrap();
        assert_eq!(json["ok"], true);
        assert_eq!(json["groups"][0]["runs"], "enter__kprobe");
        assert_eq!(json["programs"][0]["target_check"]["status"], "missing");
        assert_eq!(
            json["programs"][1]["helpers"][0]["name"],
            "bpf_ktime_get_ns"
        );
    }

    #[test]
    fn a_required_failure_blocks_and_is_named_with_what_is_missing() {
        let report = CheckReport {
            probe: "p".into(),
            programs: vec![
                prog(
                    "on_kprobe",
                    Status::missing("CONFIG_KPROBES is off in this kernel"),
                ),
                prog("a__fentry", Status::missing("refused")),
                prog("a__kprobe", Status::missing("no kprobes")),
            ],
            verified: false,
        };
        assert!(!report.ok());
        let blocking: Vec<String> = report.blocking().iter().map(|f| f.to_string()).collect();
        assert_eq!(
            blocking,
            [
                "program on_kprobe (kprobe do_nanosleep): CONFIG_KPROBES is off in this kernel",
                "program group a: not available on this kernel (fentry: refused; kprobe: no kprobes)"
            ]
        );
        let text = render_text(&report);
        assert!(
            text.contains("p: cannot run on this kernel:\n  program on_kprobe"),
            "{text}"
        );
    }
}
