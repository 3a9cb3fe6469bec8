//! Every command the documentation shows runs here: the `sh` blocks of README.md and of
//! examples/*/README.md, in document order, in one bash session per document, and the outcome of
//! each command is checked. A document that drifts from the code (a renamed flag, a PROBE form
//! that no longer resolves, a script waiting for a log line the server stopped printing) fails
//! this test instead of the next newcomer.
//!
//! Commands run as written, except in the ways listed in this file, each with its reason:
//! - [`rewrite`], for every line: `sudo` dropped (the suite runs as root); `localhost:5000` and
//!   `127.0.0.1:5000` become the test registry's port (`$PORT`, bound by the registry itself on
//!   port 0); `/var/lib/coreship` becomes a directory of the test; a `coreship-load run` the
//!   docs leave running until Ctrl-C gets `--duration 2s`;
//! - a [`Rule`] per line that cannot run as written, matched against the line exactly, so that
//!   editing the line makes the rule fail until someone looks at it again.
//!
//! A line that still holds a placeholder (`…`) after that fails the test, and so does a rule
//! whose line is no longer in its document. Every command must exit 0 unless a [`Check`] says
//! otherwise; a `coreship-load run` must say it attached; [`Check`]s add what its output must
//! show.
//!
//! README.md runs in a scratch directory whose entries link to the checkout, so the files the
//! commands make in the current directory (keys, tokens, tarballs, `target/coreship`, vmlinux.h)
//! stay out of the checkout; the other documents write nothing there and run in the checkout.
//! While a document runs, a bounded background loop execs and opens files, so probes have
//! something to show.

mod common;

use common::{bin, bpf_available, root, TempDir};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A document and how its commands run here.
struct Doc {
    path: &'static str,
    /// Run in a scratch directory mirroring the checkout (the document makes files in its
    /// current directory), or in the checkout itself.
    scratch: bool,
    rules: &'static [Rule],
    checks: &'static [Check],
    /// Variables set to the directory of the workspace binaries under test, for scripts that
    /// would otherwise build them again (with other features, replacing the ones the suite
    /// runs).
    bin_dir_vars: &'static [&'static str],
}

/// How one documented line runs here, and why it does not run as written.
struct Rule {
    /// The documented line, exactly (its comment removed, continuations joined).
    line: &'static str,
    why: &'static str,
    action: Action,
}

enum Action {
    /// Run this instead.
    Instead(&'static str),
    /// Run this first (making what the docs assume exists), then the line itself.
    Before(&'static str),
    /// `.ci/run` runs this command (the line's short form) after or around the suite; the test
    /// checks `.ci/run` still holds it.
    RunByCi(&'static str),
    /// Not run by the suite at all, for the reason the rule gives.
    NotRun,
}

/// What one command must show, found by a part of its documented line.
struct Check {
    /// Part of the documented line; it must name exactly one command of the document.
    line: &'static str,
    status: i32,
    stdout: &'static [&'static str],
    stderr: &'static [&'static str],
    /// A shell check run right after the command, in the same session (exit 0 = pass).
    then: Option<&'static str>,
}

const fn check(line: &'static str) -> Check {
    Check {
        line,
        status: 0,
        stdout: &[],
        stderr: &[],
        then: None,
    }
}

const README: Doc = Doc {
    path: "README.md",
    scratch: true,
    bin_dir_vars: &[],
    rules: &[
        Rule {
            line: "examples/quickstart.sh",
            why: "the registry it starts takes a free port: tests run beside other servers",
            action: Action::Instead("CORESHIP_QUICKSTART_PORT=0 examples/quickstart.sh"),
        },
        Rule {
            line: "examples/setup-host.sh --tests && cargo test --workspace --all-targets \
                   --features coreship-builder/skeleton",
            why: "it is this suite; .ci/run runs it (with --locked --no-fail-fast)",
            action: Action::RunByCi(
                "examples/setup-host.sh --tests\n\
                 cargo test --workspace --all-targets --features coreship-builder/skeleton",
            ),
        },
        Rule {
            line: ".ci/fresh-machine",
            why: "a rehearsal of a whole CI run on empty tool state (it installs toolchains): \
                  it runs the suite, the suite cannot run it; run it by hand before a change \
                  to setup lands",
            action: Action::NotRun,
        },
        Rule {
            line: ".ci/fresh-machine --race",
            why: "installs the musl targets into an empty RUSTUP_HOME (a download while tests \
                  run); run it by hand with the rehearsal",
            action: Action::NotRun,
        },
        Rule {
            line: "coreship build --min-btf kernels/",
            why: "kernels/ holds BTF the user collected: here, this machine's own, where \
                  coreship-load looks for it",
            action: Action::Before(
                ". /etc/os-release && mkdir -p \"kernels/$ID/$VERSION_ID/$(uname -m)\" && \
                 cp /sys/kernel/btf/vmlinux \"kernels/$ID/$VERSION_ID/$(uname -m)/$(uname -r).btf\"",
            ),
        },
        Rule {
            line: "coreship-registry serve --root /var/lib/coreship --listen 127.0.0.1:5000 \
                   --push-token-file tokens.txt",
            why: "a server: started in the background on a port it picks (127.0.0.1:0), which \
                  the later lines use as $PORT",
            action: Action::Instead(
                "coreship-registry serve --root store --listen 127.0.0.1:0 --push-token-file \
                 tokens.txt 2>registry.log & wait_for_port registry.log",
            ),
        },
        Rule {
            line: "minisign -Sm msg -s offline.key -t \"$(cat comment)\" && coreship sign \
                   localhost:5000/probes/execsnoop:0.1.0 --signature msg.minisig",
            why: "offline.key is a minisign key kept elsewhere: made here, without a password",
            action: Action::Before("minisign -GW -p offline.pub -s offline.key >/dev/null"),
        },
        Rule {
            line: "docker login ghcr.io",
            why: "no Docker engine and no ghcr.io here: the other way the line gives, against \
                  the test registry (its push token as the password); CORESHIP_REGISTRY_HOST \
                  stays unset, as the test registry is on this machine, where the \
                  environment's credentials go while it is unset",
            action: Action::Instead(
                "export CORESHIP_REGISTRY_USER=ci CORESHIP_REGISTRY_PASSWORD=$(cat tokens.txt); \
                 unset CORESHIP_REGISTRY_TOKEN",
            ),
        },
        Rule {
            line: "coreship push execsnoop ghcr.io/acme/probes/execsnoop:0.1.0 --sign release.key",
            why: "no ghcr.io here: the same push to the test registry",
            action: Action::Instead(
                "coreship push execsnoop localhost:$PORT/acme/probes/execsnoop:0.1.0 --sign \
                 release.key",
            ),
        },
        Rule {
            line: "coreship-load run ghcr.io/acme/probes/execsnoop:0.1.0 --trust release.pub",
            why: "no ghcr.io here: the same run from the test registry",
            action: Action::Instead(
                "coreship-load run localhost:$PORT/acme/probes/execsnoop:0.1.0 --trust \
                 release.pub --duration 2s",
            ),
        },
        Rule {
            line: "coreship push execsnoop registry.lan:5000/probes/execsnoop:0.1.0 --insecure",
            why: "no registry.lan here: the same push to the test registry",
            action: Action::Instead(
                "coreship push execsnoop 127.0.0.1:$PORT/lan/execsnoop:0.1.0 --insecure",
            ),
        },
        Rule {
            line: "sudo python3 examples/bench/bench.py --quick",
            why: "the bench runs once per CI run, after the suite (it measures: alone)",
            action: Action::RunByCi("python3 examples/bench/bench.py --quick"),
        },
    ],
    checks: &[
        Check {
            stdout: &["FILENAME", "/usr/bin/uname"],
            ..check("examples/quickstart.sh")
        },
        Check {
            then: Some("grep -q '^struct task_struct {' bpf/include/vmlinux.h"),
            ..check("coreship vmlinux -o bpf/include/vmlinux.h")
        },
        Check {
            stderr: &["compiled execsnoop aarch64", "compiled usdtargs x86_64"],
            then: Some("test -s target/coreship/execsnoop/package.json"),
            ..check("coreship build  ")
        },
        // "compiled" or, when the manifest's build made it already, "fresh".
        Check {
            stderr: &["opensnoop x86_64 ->", "opensnoop aarch64 ->"],
            ..check("coreship build bpf/opensnoop.bpf.c")
        },
        Check {
            stdout: &["handle_openat"],
            ..check("coreship inspect target/coreship/opensnoop")
        },
        Check {
            stdout: &["\"filename\":"],
            ..check("--duration 5s --format json")
        },
        Check {
            stdout: &["LATENCY_NS", "@latency_ns:"],
            ..check("--uprobe ./ustate_demo:print_curr_state_one")
        },
        Check {
            stderr: &["execsnoop x86_64 ->"],
            then: Some("grep -q '\"min_btf\"' target/coreship/execsnoop/package.json"),
            ..check("coreship build --min-btf kernels/")
        },
        Check {
            stdout: &["FILENAME"],
            stderr: &["minimal BTF"],
            ..check("--ignore-kernel-btf")
        },
        // This host refuses fentry and has no kprobes: check says run would not start.
        Check {
            status: 1,
            stdout: &["PROGRAM", "VERDICT", "nanosleep_enter__fentry"],
            ..check("coreship-load check target/coreship/ksleep")
        },
        Check {
            then: Some("test -d /sys/fs/bpf/coreship/execsnoop/links"),
            ..check("--pin --detach")
        },
        Check {
            stdout: &["execsnoop", "/sys/fs/bpf/coreship/execsnoop"],
            ..check("coreship-load ps")
        },
        Check {
            stdout: &["FILENAME"],
            stderr: &["re-attached"],
            then: Some("test -d /sys/fs/bpf/coreship/execsnoop/links"),
            ..check("target/coreship/execsnoop --pin  ")
        },
        Check {
            then: Some("test ! -e /sys/fs/bpf/coreship/execsnoop"),
            ..check("coreship-load stop execsnoop")
        },
        Check {
            then: Some("test -s release.key && test -s release.pub"),
            ..check("coreship keygen -o release.key")
        },
        Check {
            stderr: &["pushed execsnoop"],
            ..check("coreship push execsnoop localhost:5000/probes/execsnoop:0.1.0")
        },
        Check {
            stderr: &["pushed usdtargs"],
            ..check("cargo coreship push --all")
        },
        Check {
            then: Some("grep -qx 'sha256:[0-9a-f]\\{64\\}' msg"),
            ..check("--print-digest > msg")
        },
        Check {
            stderr: &["signed by"],
            ..check("execsnoop@$(cat msg)")
        },
        Check {
            then: Some("test -s probes.tar"),
            ..check("coreship export execsnoop opensnoop")
        },
        Check {
            stdout: &["registry.lan:5000/probes/execsnoop:0.1.0"],
            ..check("coreship-load cache ls ;")
        },
    ],
};

const EMBEDDED_VM: Doc = Doc {
    path: "examples/embedded-vm/README.md",
    scratch: false,
    bin_dir_vars: &["CORESHIP_BIN_DIR"],
    rules: &[],
    checks: &[
        Check {
            stdout: &["@@ coreship-vm: end tcpsend rc=0", "coreship-workload"],
            stderr: &["the x86_64 guest ran execsnoop opensnoop ustate ksleep tcpsend"],
            ..check("examples/embedded-vm/run.sh  ")
        },
        Check {
            stdout: &["6.1.0", "aarch64", "/bin/coreship-workload"],
            stderr: &["the aarch64 guest ran execsnoop: each exited 0"],
            ..check("run.sh aarch64 execsnoop")
        },
        Check {
            stdout: &["\"mode\":"],
            stderr: &["the x86_64 guest ran ksleep: each exited 0"],
            ..check("CORESHIP_VM_FORMAT=json")
        },
    ],
};

const CARGO_APP: Doc = Doc {
    path: "examples/cargo-app/README.md",
    scratch: false,
    bin_dir_vars: &[],
    rules: &[],
    checks: &[Check {
        stdout: &["execs of", "COMMAND", "EXECS"],
        ..check("execcount --duration 5 --top 5")
    }],
};

/// One command line of a document: where it is, as documented, and as it runs here.
#[derive(Debug)]
struct Line {
    number: usize,
    documented: String,
    run: String,
}

/// The command lines of the `sh` blocks of `text`: continuations joined, comments dropped.
fn command_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if let Some(info) = line.strip_prefix("```") {
            in_block = !in_block && info.trim() == "sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let code = strip_comment(line);
        let (start, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        joined.push_str(code.trim_end_matches('\\').trim_end());
        if code.ends_with('\\') {
            joined.push(' ');
            pending = Some((start, joined));
        } else if !joined.trim().is_empty() {
            out.push((start, joined.trim().to_string()));
        }
    }
    out
}

/// `line` without a trailing `# comment` (a `#` that starts the line or follows whitespace,
/// outside quotes).
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return line[..i].trim_end(),
            _ => {}
        }
        prev = c;
    }
    line.trim_end()
}

/// The short forms every line gets (see the module doc).
fn rewrite(line: &str) -> String {
    let mut s = line.strip_prefix("sudo ").unwrap_or(line).to_string();
    s = s
        .replace("localhost:5000", "localhost:$PORT")
        .replace("127.0.0.1:5000", "127.0.0.1:$PORT")
        .replace("/var/lib/coreship", "store");
    let runs_until_stopped = s.split(';').any(|part| {
        let part = part.trim();
        part.starts_with("coreship-load run ")
            && !part.contains("--duration")
            && !part.contains("--detach")
    });
    if runs_until_stopped {
        s = s
            .split(';')
            .map(|part| {
                let p = part.trim();
                if p.starts_with("coreship-load run ") && !p.contains("--duration") {
                    format!("{p} --duration 2s")
                } else {
                    p.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ; ");
    }
    s
}

/// The document's lines as they run here; panics on a placeholder left or a stale rule.
fn plan(doc: &Doc, text: &str) -> Vec<Line> {
    let lines = command_lines(text);
    let mut failures = Vec::new();
    for rule in doc.rules {
        if !lines.iter().any(|(_, l)| l == rule.line) {
            failures.push(format!(
                "{}: no line `{}` any more (rule: {}); update loader/tests/docs.rs",
                doc.path, rule.line, rule.why
            ));
        }
    }
    let mut planned = Vec::new();
    for (number, documented) in lines {
        let rule = doc.rules.iter().find(|r| r.line == documented);
        let run = match rule.map(|r| &r.action) {
            Some(Action::Instead(run)) => run.to_string(),
            Some(Action::Before(first)) => format!("{first} && {}", rewrite(&documented)),
            Some(Action::RunByCi(_) | Action::NotRun) => continue,
            None => rewrite(&documented),
        };
        if run.contains('…') {
            failures.push(format!(
                "{}:{number}: `{documented}` has a placeholder (…): write a runnable command, \
                 or give it a rule in loader/tests/docs.rs",
                doc.path
            ));
        }
        planned.push(Line {
            number,
            documented,
            run,
        });
    }
    for c in doc.checks {
        let n = planned
            .iter()
            .filter(|l| format!("{}  ", l.documented).contains(c.line))
            .count();
        if n != 1 {
            failures.push(format!(
                "{}: the check for `{}` matches {n} commands, not one",
                doc.path, c.line
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    planned
}

/// The bash script that runs `lines` in order, each command's stdout, stderr and status (and
/// its check's status) going to files under `log`.
fn script(lines: &[Line], doc: &Doc, log: &Path) -> String {
    let mut s = String::new();
    let log = log.display();
    writeln!(
        s,
        r#"
# Something for probes to see: bounded (at most ~10 min), stopped with the session.
( for _ in $(seq 3000); do /bin/true; : </etc/hostname; sleep 0.2; done ) >/dev/null 2>&1 &
cleanup() {{
    [ -d /sys/fs/bpf/coreship/execsnoop ] && coreship-load stop execsnoop >/dev/null 2>&1
    kill $(jobs -p) 2>/dev/null
    wait
}}
trap cleanup EXIT
# Waits (at most 10 s) until the server logging to $1 says where it listens; exports PORT.
wait_for_port() {{
    for _ in $(seq 100); do
        PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$1")
        [ -n "$PORT" ] && export PORT && return 0
        sleep 0.1
    done
    cat "$1" >&2
    return 1
}}"#
    )
    .unwrap();
    for (i, line) in lines.iter().enumerate() {
        let quoted = shell_quote(&line.run);
        writeln!(
            s,
            "{{ eval {quoted}; }} >{log}/{i}.out 2>{log}/{i}.err </dev/null; echo $? >{log}/{i}.rc"
        )
        .unwrap();
        if let Some(then) = check_for(doc, line).and_then(|c| c.then) {
            writeln!(
                s,
                "{{ {then}; }} >>{log}/{i}.err 2>&1; echo $? >{log}/{i}.then"
            )
            .unwrap();
        }
    }
    s
}

fn check_for<'a>(doc: &'a Doc, line: &Line) -> Option<&'a Check> {
    let padded = format!("{}  ", line.documented);
    doc.checks.iter().find(|c| padded.contains(c.line))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A directory whose entries link to the checkout's, except `target` (absent: the commands
/// make their own) and `bpf/include` (real directories, so a generated vmlinux.h stays here).
fn scratch_mirror(dir: &Path) {
    let root = root();
    for entry in std::fs::read_dir(&root).unwrap().flatten() {
        let name = entry.file_name();
        if name == "target" || name == "bpf" {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), dir.join(&name)).unwrap();
    }
    let link_entries = |from: &Path, to: &Path, except: &str| {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap().flatten() {
            if entry.file_name() != except {
                std::os::unix::fs::symlink(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
    };
    link_entries(&root.join("bpf"), &dir.join("bpf"), "include");
    link_entries(
        &root.join("bpf/include"),
        &dir.join("bpf/include"),
        "vmlinux.h",
    );
}

/// Runs `doc`'s commands and checks each; panics listing every failure.
fn run_doc(doc: &Doc) {
    let text = std::fs::read_to_string(root().join(doc.path)).unwrap();
    let lines = plan(doc, &text);
    check_run_by_ci(doc);
    let work = TempDir::new("docs");
    let log = work.0.join("log");
    std::fs::create_dir_all(&log).unwrap();
    let cwd = if doc.scratch {
        let cwd = work.0.join("checkout");
        std::fs::create_dir_all(&cwd).unwrap();
        scratch_mirror(&cwd);
        cwd
    } else {
        root()
    };
    let script_path = work.0.join("doc.sh");
    std::fs::write(&script_path, script(&lines, doc, &log)).unwrap();

    // The workspace's binaries first on PATH (cargo coreship finds cargo-coreship there).
    let bins = bin("coreship-load").parent().unwrap().to_path_buf();
    for name in ["coreship", "cargo-coreship", "coreship-registry"] {
        bin(name);
    }
    let path = std::env::join_paths(
        std::iter::once(bins.clone())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let mut cmd = Command::new("bash");
    for var in doc.bin_dir_vars {
        cmd.env(var, &bins);
    }
    let mut child = cmd
        .arg(&script_path)
        .current_dir(&cwd)
        .env("PATH", path)
        // Nothing installs while tests run; caches and pin records stay in the test's dir.
        .env("CORESHIP_NO_INSTALL", "1")
        .env("CORESHIP_CACHE_DIR", work.0.join("cache"))
        .env("CORESHIP_RUN_DIR", work.0.join("run"))
        .env_remove("CARGO_TARGET_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(40 * 60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{}: the commands did not finish within 40 minutes",
                doc.path
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success() || status.code().is_some(), "{status}");

    let mut failures = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let read = |ext: &str| std::fs::read_to_string(log.join(format!("{i}.{ext}")));
        let stdout = read("out").unwrap_or_default();
        let stderr = read("err").unwrap_or_default();
        let code: Option<i32> = read("rc").ok().and_then(|s| s.trim().parse().ok());
        let check = check_for(doc, line);
        let mut wrong = Vec::new();
        let want = check.map_or(0, |c| c.status);
        if code != Some(want) {
            wrong.push(format!("exit status {code:?}, want {want}"));
        }
        let is_run = line.run.starts_with("coreship-load run ") && !line.run.contains("--detach");
        if is_run && !stderr.contains(": attached ") {
            wrong.push("no `attached` on stderr".into());
        }
        if let Some(c) = check {
            for s in c.stdout {
                if !stdout.contains(s) {
                    wrong.push(format!("stdout lacks `{s}`"));
                }
            }
            for s in c.stderr {
                if !stderr.contains(s) {
                    wrong.push(format!("stderr lacks `{s}`"));
                }
            }
            if let Some(then) = c.then {
                if read("then").ok().as_deref().map(str::trim) != Some("0") {
                    wrong.push(format!("`{then}` failed afterwards"));
                }
            }
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}:{}: `{}`{}: {}\n--- stdout (tail)\n{}\n--- stderr (tail)\n{}",
                doc.path,
                line.number,
                line.documented,
                if line.run == line.documented {
                    String::new()
                } else {
                    format!(" (run as `{}`)", line.run)
                },
                wrong.join("; "),
                tail(&stdout, 15),
                tail(&stderr, 25),
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!(
        "{}: {} commands ran and showed what the docs say",
        doc.path,
        lines.len()
    );
}

/// The commands `.ci/run` must run for the rules that leave a line to it: each line of the
/// rule's text starts a line of `.ci/run` (which may add arguments after it).
fn check_run_by_ci(doc: &Doc) {
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    for rule in doc.rules {
        let Action::RunByCi(commands) = rule.action else {
            continue;
        };
        for want in commands.lines() {
            assert!(
                ci.lines().any(|l| l.trim_start().starts_with(want)),
                "{}: `{}` is left to .ci/run ({}), but .ci/run no longer runs `{want}`",
                doc.path,
                rule.line,
                rule.why,
            );
        }
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One document at a time: the README's static loader builds and the guests' share cargo's
/// target directory, and every document runs probes (CPU for the TCG guests too).
static ONE_DOC_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn readme_commands_run_and_show_what_it_says() {
    if !bpf_available() {
        return;
    }
    let _turn = ONE_DOC_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    run_doc(&README);
}

#[test]
fn embedded_vm_readme_commands_boot_guests_that_show_events() {
    if !bpf_available() || !common::vm::vm_available("x86_64") {
        return;
    }
    if !common::vm::vm_available("aarch64") {
        return;
    }
    let _turn = ONE_DOC_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    run_doc(&EMBEDDED_VM);
}

#[test]
fn cargo_app_readme_commands_build_and_run_it() {
    if !bpf_available() {
        return;
    }
    let _turn = ONE_DOC_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    run_doc(&CARGO_APP);
}

#[test]
fn command_lines_join_continuations_and_drop_comments() {
    let text = "intro\n```sh\n# a comment\nfoo --a \\\n  --b   # why\necho '#not' \"#no\" x#y\n\
                ```\n```toml\nkey = 1\n```\n  ```sh\n  indented\n  ```\n";
    let lines: Vec<String> = command_lines(text).into_iter().map(|(_, l)| l).collect();
    assert_eq!(
        lines,
        ["foo --a --b", "echo '#not' \"#no\" x#y", "indented"],
        "{text}"
    );
}

#[test]
fn rewrites_give_ports_directories_and_durations() {
    assert_eq!(
        rewrite("sudo coreship-load run localhost:5000/p/x:1 --trust k.pub"),
        "coreship-load run localhost:$PORT/p/x:1 --trust k.pub --duration 2s"
    );
    assert_eq!(
        rewrite("coreship-load run a --pin --detach"),
        "coreship-load run a --pin --detach"
    );
    assert_eq!(
        rewrite("coreship-load cache ls ; coreship-load run t.tar:x --offline"),
        "coreship-load cache ls ; coreship-load run t.tar:x --offline --duration 2s"
    );
    assert_eq!(
        rewrite("coreship-registry serve --root /var/lib/coreship --listen 127.0.0.1:5000"),
        "coreship-registry serve --root store --listen 127.0.0.1:$PORT"
    );
}

#[test]
fn a_placeholder_or_a_stale_rule_fails_the_plan() {
    const DOC: Doc = Doc {
        path: "test.md",
        scratch: false,
        bin_dir_vars: &[],
        rules: &[Rule {
            line: "gone --flag",
            why: "test",
            action: Action::Instead("true"),
        }],
        checks: &[],
    };
    let err =
        std::panic::catch_unwind(|| plan(&DOC, "```sh\ncoreship-load run …\n```\n")).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("no line `gone --flag` any more"), "{msg}");
    assert!(
        msg.contains("test.md:2: `coreship-load run …` has a placeholder"),
        "{msg}"
    );
}
