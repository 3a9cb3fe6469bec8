//! `coreship-load check`: per program, whether this kernel has its type, helpers, attach
//! target, CO-RE relocations and the verifier's consent; and `run` refusing up front with the
//! same findings. On the development host kprobes are off and fentry is refused (EPERM), so
//! ksleep gives real negative answers; elsewhere those parts only print why they skip.

mod common;

use common::{bpf_available, object, run_loader};

fn kernel_has_kprobes() -> bool {
    std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists()
}

fn check_json(probe: &str, extra: &[&str]) -> (bool, serde_json::Value) {
    let obj = object(probe);
    let mut args = vec!["check", obj.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let out = run_loader(&args);
    let json = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", out.stdout, out.stderr));
    (out.status.success(), json)
}

#[test]
fn a_probe_this_kernel_runs_passes_every_question() {
    if !bpf_available() {
        return;
    }
    let (ok, json) = check_json("execsnoop", &[]);
    assert!(ok, "{json}");
    assert_eq!(json["ok"], true);
    let p = &json["programs"][0];
    assert_eq!(p["program"], "handle_exec");
    assert_eq!(p["type"], "tracepoint");
    assert_eq!(p["type_check"]["status"], "ok");
    assert_eq!(p["target"], "tracepoint sched/sched_process_exec");
    assert_eq!(p["target_check"]["status"], "ok");
    assert_eq!(p["core"]["status"], "ok");
    assert_eq!(p["verifier"]["status"], "ok");
    let helpers: Vec<&str> = p["helpers"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|h| assert_eq!(h["check"]["status"], "ok", "{h}"))
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    for h in [
        "bpf_ringbuf_reserve",
        "bpf_ringbuf_submit",
        "bpf_get_current_comm",
    ] {
        assert!(helpers.contains(&h), "{h} not in {helpers:?}");
    }

    // The table: a header, one row, the verdict.
    let out = run_loader(&["check", object("opensnoop").to_str().unwrap()]);
    common::ok(&out);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("PROGRAM") && lines[0].contains("VERDICT"),
        "{}",
        out.stdout
    );
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert!(
        lines[1..3].iter().all(|l| l.ends_with(" ok")),
        "{}",
        out.stdout
    );
    assert_eq!(lines[3], "opensnoop: this kernel can run it");
}

#[test]
fn missing_targets_and_verifier_rejections_are_named() {
    if !bpf_available() {
        return;
    }
    // A uprobe with no target, then with a function that does not exist.
    let (ok, json) = check_json("ustate", &[]);
    assert!(!ok);
    assert!(
        json["programs"][0]["target_check"]["reason"]
            .as_str()
            .unwrap()
            .contains("--attach"),
        "{json}"
    );
    let (ok, json) = check_json("ustate", &["--uprobe", "/bin/true:no_such_function_here"]);
    assert!(!ok);
    let why = json["programs"][0]["target_check"]["reason"]
        .as_str()
        .unwrap();
    assert!(why.contains("no_such_function_here"), "{why}");

    // The verifier's verdict comes from a load that is dropped.
    let (ok, json) = check_json("verifier_reject", &[]);
    assert!(!ok);
    let p = &json["programs"][0];
    assert_eq!(p["type_check"]["status"], "ok");
    assert_eq!(p["verifier"]["status"], "missing");
    let why = p["verifier"]["reason"].as_str().unwrap();
    assert!(why.contains("invalid mem access"), "{why}");

    // An `__optional` program that cannot run does not fail the probe.
    let (ok, json) = check_json("optional", &[]);
    assert!(ok, "{json}");
    assert_eq!(json["programs"][1]["target_check"]["status"], "missing");
}

#[test]
fn kernel_function_probes_are_refused_up_front_naming_what_is_missing() {
    if !bpf_available() {
        return;
    }
    if kernel_has_kprobes() {
        eprintln!("this kernel has kprobes: ksleep may run; negative answers checked on hosts without them");
        return;
    }
    let (ok, json) = check_json("ksleep", &[]);
    assert!(!ok, "{json}");
    for p in json["programs"].as_array().unwrap() {
        let name = p["program"].as_str().unwrap();
        if name.ends_with("probe") {
            assert_eq!(p["type"], "kprobe");
            assert_eq!(p["target_check"]["status"], "missing", "{p}");
            assert_eq!(
                p["target_check"]["reason"],
                "CONFIG_KPROBES is off in this kernel"
            );
        } else {
            // fentry/fexit: the kernel may refuse trampolines (this host: EPERM).
            assert_eq!(p["type"], "tracing", "{p}");
        }
        assert_eq!(p["ok"], false, "{p}");
    }
    let groups = json["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{json}");
    assert!(groups.iter().all(|g| g["runs"].is_null()), "{json}");

    // `run` refuses before loading: a header, then one line per group naming each reason.
    let out = run_loader(&[
        "run",
        object("ksleep").to_str().unwrap(),
        "--duration",
        "1s",
    ]);
    assert!(!out.status.success());
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stderr);
    assert!(lines[0].starts_with("coreship-load: error: ksleep cannot run on this kernel"));
    for (line, group) in lines[1..].iter().zip(["nanosleep_enter", "nanosleep_exit"]) {
        assert!(
            line.starts_with(&format!("  program group {group}: ")),
            "{line}"
        );
        assert!(
            line.contains("CONFIG_KPROBES is off in this kernel"),
            "{line}"
        );
    }
}
