//! The web page as a person sees it: headless Chromium renders `/` and the visible text is
//! checked; a screenshot is written for humans (`CORESHIP_SCREENSHOT`, default in the target's
//! temp dir).
#![cfg(feature = "server")]

mod common;

use common::{
    agent, options, push_blob, push_manifest, push_packed, skip_or_fail, ChildGuard, TempDir,
    ThreadServer,
};
use coreship_registry::artifact;
use coreship_registry::oci::{
    self, Descriptor, ImageManifest, MEDIA_TYPE_EMPTY, MEDIA_TYPE_MANIFEST,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs chromium headless with `args`, killed after 60 s; returns stdout.
fn chromium(args: &[String], profile: &Path) -> String {
    let out_file = profile.join("stdout.html");
    let child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(Some(child));
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let done = guard.0.as_mut().unwrap().try_wait().unwrap();
        if let Some(status) = done {
            assert!(status.success(), "chromium {args:?}: {status}");
            break;
        }
        assert!(Instant::now() < end, "chromium did not finish within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    guard.0 = None;
    std::fs::read_to_string(out_file).unwrap()
}

/// The text of an HTML document: tags dropped, entities of the escaper decoded, spaces folded.
fn visible_text(html: &str) -> String {
    let body = html.split("<body>").nth(1).unwrap_or(html);
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn screenshot_path() -> PathBuf {
    match std::env::var_os("CORESHIP_SCREENSHOT") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_TARGET_TMPDIR")).join("registry-web.png"),
    }
}

#[test]
fn the_page_shows_repositories_tags_arches_programs_and_signatures() {
    if !Path::new(CHROMIUM).is_file() {
        return skip_or_fail("chromium is not installed at /usr/bin/chromium");
    }
    let dir = TempDir::new("web");
    let srv = ThreadServer::start(options(&dir.path().join("root")));
    let base = srv.url("");
    let a = agent();
    let exec = common::packed(dir.path(), "execsnoop");
    push_packed(&a, &base, "probes/execsnoop", "0.1.0", &exec);
    let (sig_blobs, sig) = artifact::signature(
        &exec.root.descriptor,
        b"untrusted comment: test\nRWQ...",
        false,
    );
    for b in &sig_blobs {
        push_blob(&a, &base, "probes/execsnoop", &b.bytes);
    }
    let r = push_manifest(
        &a,
        &base,
        "probes/execsnoop",
        &sig.descriptor.digest.to_string(),
        MEDIA_TYPE_MANIFEST,
        &sig.bytes,
    );
    assert_eq!(r.status(), 201);
    let open = common::packed(dir.path(), "opensnoop");
    push_packed(&a, &base, "probes/opensnoop", "latest", &open);
    // A non-coreship artifact, with a name that needs escaping in its annotations' stead.
    push_blob(&a, &base, "misc/notes", b"{}");
    push_blob(&a, &base, "misc/notes", b"hello");
    let notes = oci::to_json(&ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.into()),
        artifact_type: Some("application/vnd.example.notes+<b>".into()),
        config: Descriptor::of(MEDIA_TYPE_EMPTY, b"{}"),
        layers: vec![Descriptor::of("text/plain", b"hello")],
        subject: None,
        annotations: Default::default(),
    });
    assert_eq!(
        push_manifest(&a, &base, "misc/notes", "v1", MEDIA_TYPE_MANIFEST, &notes).status(),
        201
    );

    let profile = dir.path().join("chromium");
    std::fs::create_dir_all(&profile).unwrap();
    let dom = chromium(&["--dump-dom".to_string(), srv.url("/")], &profile);
    assert!(!dom.contains("<b>\""), "the artifact type is escaped");
    let text = visible_text(&dom);
    for want in [
        "coreship registry",
        "probes/execsnoop",
        "probes/opensnoop",
        "misc/notes",
        "0.1.0",
        "latest",
        "linux/amd64",
        "linux/arm64",
        "handle_execsnoop tracepoint sched/sched_process_exec",
        "handle_opensnoop",
        "application/vnd.example.notes+<b>",
        "signed",
        "unsigned",
        &exec.root.descriptor.digest.to_string()[..19],
    ] {
        assert!(text.contains(want), "the page lacks `{want}`:\n{text}");
    }
    let exec_row = text.split("probes/execsnoop").nth(1).unwrap();
    let exec_row = exec_row.split("probes/opensnoop").next().unwrap();
    assert!(
        exec_row.contains(" signed") && !exec_row.contains("unsigned"),
        "{exec_row}"
    );
    assert!(
        !text.contains("sha256-"),
        "fallback referrer tags are not listed"
    );

    let shot = screenshot_path();
    if let Some(parent) = shot.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    let _ = std::fs::remove_file(&shot);
    chromium(
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,800".to_string(),
            srv.url("/"),
        ],
        &profile,
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{} is a PNG", shot.display());
    eprintln!("screenshot: {}", shot.display());
}
