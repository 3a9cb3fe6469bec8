//! Interop with real peers: skopeo (OCI layout → coreship-registry → Debian's docker-registry
//! → coreship-registry, digests unchanged at every hop) and PyPI `oras` (push a file, pull it
//! back). Skipped with a reason when a tool is missing; `CORESHIP_REQUIRE_PEERS=1` makes that a
//! failure.
#![cfg(feature = "server")]

mod common;

use common::{agent, body, header, options, skip_or_fail, TempDir, ThreadServer, TOKEN};
use coreship_registry::layout::Layout;
use coreship_registry::oci::MEDIA_TYPE_INDEX;
use coreship_registry::Sha256Digest;
use std::path::{Path, PathBuf};
use std::process::Command;

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The digest of the manifest `reference` of `repo` as a registry serves it.
fn served_digest(base: &str, repo: &str, reference: &str) -> Sha256Digest {
    let mut r = agent()
        .get(&format!("{base}/v2/{repo}/manifests/{reference}"))
        .header(
            "Accept",
            "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json",
        )
        .call()
        .unwrap();
    assert_eq!(r.status(), 200, "{base}/v2/{repo}/manifests/{reference}");
    let ct = header(&r, "content-type");
    let bytes = body(&mut r);
    assert_eq!(ct, MEDIA_TYPE_INDEX);
    Sha256Digest::of(&bytes)
}

#[test]
fn skopeo_copies_through_coreship_registry_and_docker_registry_with_digests_unchanged() {
    for tool in ["skopeo", "docker-registry"] {
        if which(tool).is_none() {
            return skip_or_fail(&format!("{tool} is not installed"));
        }
    }
    let dir = TempDir::new("interop-skopeo");
    // skopeo 1.9 re-serializes an index with its own types, which lack OCI 1.1 artifactType;
    // with --preserve-digests it then refuses the copy, so this artifact is packed without.
    let compat = coreship_registry::artifact::PackOptions {
        compat: true,
        ..Default::default()
    };
    let packed = common::packed_with(dir.path(), "execsnoop", &compat);
    let layout = Layout::open_or_create(&dir.path().join("layout")).unwrap();
    for b in packed
        .blobs
        .iter()
        .chain(&packed.manifests)
        .chain([&packed.root])
    {
        layout.blobs().put(&b.bytes).unwrap();
    }
    layout.set_name("v1", &packed.root.descriptor).unwrap();
    let want = packed.root.descriptor.digest;

    let ours = ThreadServer::start(options(&dir.path().join("root")));
    let ours_host = ours.addr.to_string();
    let peer = common::DockerRegistry::start("skopeo interop").expect("checked above");
    let peer_base = format!("http://{}", peer.host());
    let peer_host = peer_base.trim_start_matches("http://").to_string();
    let creds = format!("x:{TOKEN}");
    let copy = |src: String, dst: String, dest_creds: bool| {
        let mut cmd = Command::new("skopeo");
        cmd.args([
            "copy",
            "--all",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ]);
        if dest_creds {
            cmd.args(["--dest-creds", &creds]);
        }
        cmd.arg(src).arg(dst);
        run(&mut cmd);
    };
    let layout_dir = dir.path().join("layout");
    copy(
        format!("oci:{}:v1", layout_dir.display()),
        format!("docker://{ours_host}/probes/execsnoop:v1"),
        true,
    );
    assert_eq!(served_digest(&ours.url(""), "probes/execsnoop", "v1"), want);
    copy(
        format!("docker://{ours_host}/probes/execsnoop:v1"),
        format!("docker://{peer_host}/probes/execsnoop:v1"),
        false,
    );
    assert_eq!(served_digest(&peer_base, "probes/execsnoop", "v1"), want);
    copy(
        format!("docker://{peer_host}/probes/execsnoop:v1"),
        format!("docker://{ours_host}/mirror/execsnoop:v1"),
        true,
    );
    assert_eq!(served_digest(&ours.url(""), "mirror/execsnoop", "v1"), want);
    // Without credentials the push is refused.
    let out = Command::new("skopeo")
        .args(["copy", "--all", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:v1", layout_dir.display()))
        .arg(format!("docker://{ours_host}/anon/execsnoop:v1"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "an anonymous push must fail");
}

fn oras_python() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("CORESHIP_ORAS_PYTHON").map(PathBuf::from),
        Some(PathBuf::from("/opt/coreship-venv/bin/python")),
        Some(PathBuf::from("/work/venv-oras/bin/python")),
    ];
    candidates.into_iter().flatten().find(|p| {
        p.is_file()
            && Command::new(p)
                .args(["-c", "import oras.client"])
                .output()
                .is_ok_and(|o| o.status.success())
    })
}

const ORAS_SCRIPT: &str = r#"
import os, sys
import oras.client
host, token, target, name, outdir = sys.argv[1:]
c = oras.client.OrasClient(hostname=host, insecure=True)
c.login(username="ci", password=token, hostname=host)
c.push(files=[name], target=target)
files = c.pull(target=target, outdir=outdir)
print("\n".join(files))
"#;

#[test]
fn oras_pushes_and_pulls_a_file_byte_identical() {
    let Some(python) = oras_python() else {
        return skip_or_fail(
            "no Python with `oras` (CORESHIP_ORAS_PYTHON, /opt/coreship-venv or /work/venv-oras)",
        );
    };
    let dir = TempDir::new("interop-oras");
    let ours = ThreadServer::start(options(&dir.path().join("root")));
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let content: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(work.join("notes.bin"), &content).unwrap();
    let host = ours.addr.to_string();
    let out = Command::new(python)
        .current_dir(&work)
        .args(["-c", ORAS_SCRIPT, &host, TOKEN])
        .arg(format!("{host}/oras/notes:v1"))
        .args(["notes.bin", "pulled"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "oras failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let pulled = std::fs::read(work.join("pulled/notes.bin")).unwrap();
    assert_eq!(pulled, content);
    let r = agent()
        .get(&ours.url("/v2/oras/notes/tags/list"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
}
