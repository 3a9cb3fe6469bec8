//! The read-only page at `/`: repositories, tags, digests, arches, programs with their attach
//! points (from the coreship config blob) and signature status. Server-rendered, no script,
//! every value HTML-escaped.
//!
//! Anyone may ask for the page, as often as they like, so what one visit costs is bounded:
//! a config over [`PAGE_CONFIG_BYTES`] is shown as "config too large to show" without being
//! read, a manifest is read only up to the size any stored manifest has, and at most
//! [`PAGE_RENDERS`] visits read the storage at once (the others wait their turn).

use super::error::ApiError;
use super::storage::{RepoName, Storage};
use super::{Access, AppState};
use crate::artifact::{self, MEDIA_TYPE_CONFIG, SIGNATURE_ARTIFACT_TYPE};
use crate::oci::{Descriptor, ImageIndex, Manifest, MAX_MANIFEST_BYTES};
use crate::{Package, Sha256Digest};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

/// Most bytes of a config the page reads (a package description is a few KiB).
pub(crate) const PAGE_CONFIG_BYTES: u64 = 64 << 10;

/// Most visits of the page that read the storage at once.
pub(crate) const PAGE_RENDERS: usize = 2;

/// What the page shows of one tag.
struct TagRow {
    tag: String,
    digest: Sha256Digest,
    what: Kind,
    signed: bool,
}

enum Kind {
    Probe {
        package: Box<Package>,
        arches: Vec<String>,
    },
    /// A probe whose config is larger than the page reads: its size.
    LargeProbe {
        size: u64,
        arches: Vec<String>,
    },
    Other(String),
}

/// What the page knows of a coreship config.
enum Config {
    Package(Box<Package>),
    TooLarge(u64),
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The blob `digest` if it has at most `limit` bytes (`None` if larger or unreadable).
fn read_at_most(storage: &Storage, digest: &Sha256Digest, limit: u64) -> Option<Vec<u8>> {
    let file = std::fs::File::open(storage.blobs().path(digest)).ok()?;
    if file.metadata().ok()?.len() > limit {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= limit).then_some(bytes)
}

fn read_manifest(storage: &Storage, digest: &Sha256Digest, media_type: &str) -> Option<Manifest> {
    let bytes = read_at_most(storage, digest, MAX_MANIFEST_BYTES as u64)?;
    Manifest::parse(&bytes, Some(media_type)).ok()
}

fn config_of(storage: &Storage, image: &Manifest) -> Option<Config> {
    let Manifest::Image(m) = image else {
        return None;
    };
    if m.config.media_type != MEDIA_TYPE_CONFIG {
        return None;
    }
    let stored = storage.blobs().size(&m.config.digest)?;
    if stored > PAGE_CONFIG_BYTES {
        return Some(Config::TooLarge(stored));
    }
    let bytes = read_at_most(storage, &m.config.digest, PAGE_CONFIG_BYTES)?;
    let package = Package::from_json(&bytes, Path::new("config")).ok()?;
    Some(Config::Package(Box::new(package)))
}

fn describe(storage: &Storage, root: &Manifest) -> Kind {
    let other = || {
        Kind::Other(
            root.artifact_type()
                .unwrap_or(root.media_type())
                .to_string(),
        )
    };
    match root {
        Manifest::Index(index) => {
            let first = index.manifests.first();
            let config = first
                .and_then(|d| read_manifest(storage, &d.digest, &d.media_type))
                .and_then(|m| config_of(storage, &m));
            match config {
                Some(Config::Package(package)) => Kind::Probe {
                    package,
                    arches: platforms(index),
                },
                Some(Config::TooLarge(size)) => Kind::LargeProbe {
                    size,
                    arches: platforms(index),
                },
                None => other(),
            }
        }
        Manifest::Image(_) => match config_of(storage, root) {
            Some(Config::Package(package)) => Kind::Probe {
                arches: package
                    .objects
                    .iter()
                    .map(|o| o.arch.oci_name().to_string())
                    .collect(),
                package,
            },
            Some(Config::TooLarge(size)) => Kind::LargeProbe {
                size,
                arches: Vec::new(),
            },
            None => other(),
        },
    }
}

fn platforms(index: &ImageIndex) -> Vec<String> {
    index
        .manifests
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .map(|p| format!("{}/{}", p.os, p.architecture))
        .collect()
}

/// Signed: a recorded referrer, or an entry of the fallback referrers tag, is a signature.
fn signed(storage: &Storage, repo: &RepoName, digest: &Sha256Digest) -> bool {
    let recorded = storage.referrers(repo, digest).unwrap_or_default();
    if recorded.iter().any(artifact::is_signature) {
        return true;
    }
    let fallback: Vec<Descriptor> = storage
        .tag(repo, &artifact::referrers_tag(digest))
        .ok()
        .flatten()
        .and_then(|d| read_manifest(storage, &d, crate::oci::MEDIA_TYPE_INDEX))
        .map(|m| match m {
            Manifest::Index(i) => i.manifests,
            Manifest::Image(_) => Vec::new(),
        })
        .unwrap_or_default();
    fallback
        .iter()
        .any(|d| d.artifact_type.as_deref() == Some(SIGNATURE_ARTIFACT_TYPE))
}

fn rows(storage: &Storage, repo: &RepoName) -> Vec<TagRow> {
    let mut out = Vec::new();
    for tag in storage.tags(repo).unwrap_or_default() {
        // Fallback referrer tags are bookkeeping, shown as the "signed" column instead.
        if tag.starts_with("sha256-") {
            continue;
        }
        let Some(digest) = storage.tag(repo, &tag).ok().flatten() else {
            continue;
        };
        let Some(media_type) = storage.manifest_media_type(repo, &digest).ok().flatten() else {
            continue;
        };
        let what = match read_manifest(storage, &digest, &media_type) {
            Some(m) => describe(storage, &m),
            None => Kind::Other(media_type),
        };
        out.push(TagRow {
            signed: signed(storage, repo, &digest),
            tag,
            digest,
            what,
        });
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1d2530}\
header{background:#1d2530;color:#fff;padding:14px 28px}header h1{margin:0;font-size:20px}\
header p{margin:4px 0 0;color:#aab4c0;font-size:13px}main{padding:20px 28px}\
section{background:#fff;border:1px solid #dde3ea;border-radius:8px;margin-bottom:18px;padding:12px 18px}\
h2{font-size:17px;margin:4px 0 10px;font-family:ui-monospace,monospace}\
table{border-collapse:collapse;width:100%;font-size:14px}th{text-align:left;color:#5b6775;font-weight:600;border-bottom:1px solid #dde3ea;padding:6px}\
td{padding:6px;border-bottom:1px solid #eef1f4;vertical-align:top}code{font-family:ui-monospace,monospace;font-size:12px}\
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600}\
.signed{background:#dff5e3;color:#17692b}.unsigned{background:#fdeaea;color:#9c2121}\
.arch{background:#e7eefc;color:#23479c;margin-right:4px}.muted{color:#6b7785}ul{margin:0;padding-left:16px}";

fn render(repos: &[(String, Vec<TagRow>)]) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>coreship registry</title>\
         <style>{STYLE}</style></head><body><header><h1>coreship registry</h1>\
         <p>{} repositories &middot; OCI distribution v1.1 at <code>/v2/</code></p></header><main>",
        repos.len()
    );
    if repos.is_empty() {
        h.push_str(
            "<p class=\"muted\">No repositories yet. Push one with <code>coreship push</code>.</p>",
        );
    }
    for (name, rows) in repos {
        let _ = write!(h, "<section><h2>{}</h2>", esc(name));
        if rows.is_empty() {
            h.push_str("<p class=\"muted\">no tags</p></section>");
            continue;
        }
        h.push_str("<table><tr><th>Tag</th><th>Digest</th><th>Content</th><th>Arches</th><th>Programs (attach point)</th><th>Signature</th></tr>");
        for r in rows {
            let digest = r.digest.to_string();
            let _ = write!(
                h,
                "<tr><td><b>{}</b></td><td><code title=\"{}\">{}…</code></td>",
                esc(&r.tag),
                esc(&digest),
                esc(&digest[..19])
            );
            match &r.what {
                Kind::Probe { package, arches } => {
                    let _ = write!(
                        h,
                        "<td>probe <b>{}</b> {}<br><span class=\"muted\">{}</span></td><td>",
                        esc(&package.name),
                        esc(&package.version),
                        esc(package.description.as_deref().unwrap_or(""))
                    );
                    for a in arches {
                        let _ = write!(h, "<span class=\"badge arch\">{}</span>", esc(a));
                    }
                    h.push_str("</td><td><ul>");
                    for p in &package.programs {
                        let attach = p.attach.as_deref().unwrap_or(&p.section);
                        let _ = write!(
                            h,
                            "<li><code>{}</code> {} <span class=\"muted\">{}</span></li>",
                            esc(&p.name),
                            esc(&p.prog_type),
                            esc(attach)
                        );
                    }
                    h.push_str("</ul></td>");
                }
                Kind::LargeProbe { size, arches } => {
                    let _ = write!(
                        h,
                        "<td>probe <span class=\"muted\">config too large to show ({size} bytes)</span></td><td>"
                    );
                    for a in arches {
                        let _ = write!(h, "<span class=\"badge arch\">{}</span>", esc(a));
                    }
                    h.push_str("</td><td class=\"muted\">–</td>");
                }
                Kind::Other(t) => {
                    let _ = write!(
                        h,
                        "<td>artifact <code>{}</code></td><td class=\"muted\">–</td><td class=\"muted\">–</td>",
                        esc(t)
                    );
                }
            }
            let (class, text) = if r.signed {
                ("signed", "signed")
            } else {
                ("unsigned", "unsigned")
            };
            let _ = write!(
                h,
                "<td><span class=\"badge {class}\">{text}</span></td></tr>"
            );
        }
        h.push_str("</table></section>");
    }
    h.push_str("</main></body></html>");
    h
}

/// `GET /`.
pub(crate) async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.auth().authorize(&headers, Access::Pull, None)?;
    let turn = state.page_turn().await;
    let st = state.clone();
    let html = tokio::task::spawn_blocking(move || -> Result<String, ApiError> {
        let _turn = turn;
        let storage = st.storage();
        let mut repos = Vec::new();
        for name in storage.catalog()? {
            let repo = RepoName::parse(&name)?;
            let rows = rows(storage, &repo);
            repos.push((name, rows));
        }
        Ok(render(&repos))
    })
    .await
    .expect("web page task")?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let html = render(&[(
            "r<x>".to_string(),
            vec![TagRow {
                tag: "t".into(),
                digest: Sha256Digest::of(b""),
                what: Kind::Other("<script>".into()),
                signed: false,
            }],
        )]);
        assert!(html.contains("r&lt;x&gt;") && html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"));
    }
}
