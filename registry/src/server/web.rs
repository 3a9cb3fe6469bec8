//! The read-only web page at `/`: repositories, tags, arches, programs and attach points, and
//! whether each artifact is signed. Server-rendered HTML, no scripts.

use super::error::ApiResult;
use super::State;
use crate::artifact::{self, MEDIA_TYPE_CONFIG, SIGNATURE_ARTIFACT_TYPE};
use crate::oci::{Manifest, MEDIA_TYPE_INDEX};
use crate::{Package, Sha256Digest};
use axum::extract::State as AxState;
use axum::response::{Html, IntoResponse, Response};
use std::fmt::Write as _;
use std::path::Path;

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

/// What the page shows of one tag.
struct TagView {
    tag: String,
    digest: Sha256Digest,
    kind: String,
    arches: Vec<String>,
    package: Option<Package>,
    signed: bool,
}

fn view(state: &State, repo: &str, tag: String, digest: Sha256Digest) -> TagView {
    let blobs = state.storage.blobs();
    let media_type = state
        .storage
        .manifest_media_type(repo, &digest)
        .ok()
        .flatten();
    let mut v = TagView {
        tag,
        digest,
        kind: media_type.clone().unwrap_or_default(),
        arches: Vec::new(),
        package: None,
        signed: false,
    };
    let Ok(bytes) = blobs.read(&digest) else {
        return v;
    };
    let Ok(m) = Manifest::parse(&bytes, media_type.as_deref()) else {
        return v;
    };
    let image = match &m {
        Manifest::Index(index) => {
            v.arches = index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .map(|p| format!("{}/{}", p.os, p.architecture))
                .collect();
            v.kind = index
                .artifact_type
                .clone()
                .unwrap_or_else(|| MEDIA_TYPE_INDEX.to_string());
            index
                .manifests
                .first()
                .and_then(|d| blobs.read(&d.digest).ok())
                .and_then(|b| Manifest::parse(&b, None).ok())
        }
        other => Some(other.clone()),
    };
    if let Some(Manifest::Image(image)) = image {
        if v.kind.is_empty() || v.kind == MEDIA_TYPE_INDEX {
            v.kind = image
                .artifact_type
                .clone()
                .unwrap_or_else(|| image.config.media_type.clone());
        }
        if image.config.media_type == MEDIA_TYPE_CONFIG {
            v.package = blobs
                .read(&image.config.digest)
                .ok()
                .and_then(|c| Package::from_json(&c, Path::new("config")).ok());
            if v.arches.is_empty() {
                if let Some(p) = &v.package {
                    v.arches = p
                        .objects
                        .iter()
                        .map(|o| format!("linux/{}", o.arch.oci_name()))
                        .collect();
                }
            }
        }
    }
    let by_api = state
        .storage
        .referrers(repo, &digest)
        .map(|r| {
            r.iter()
                .any(|d| d.artifact_type.as_deref() == Some(SIGNATURE_ARTIFACT_TYPE))
        })
        .unwrap_or(false);
    let by_tag = state
        .storage
        .tag(repo, &artifact::referrers_tag(&digest))
        .ok()
        .flatten()
        .is_some();
    v.signed = by_api || by_tag;
    v
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:80em}\
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.4em .6em;vertical-align:top;border-bottom:1px solid #eee}\
th{background:#f4f4f4}code{font-size:.9em}.signed{color:#06612a;font-weight:600}.unsigned{color:#a33}\
ul{margin:0;padding-left:1.1em}.muted{color:#777}";

/// `GET /`.
pub async fn index(AxState(state): AxState<State>) -> Response {
    match render(&state) {
        Ok(html) => Html(html).into_response(),
        Err(e) => e.into_response(),
    }
}

fn render(state: &State) -> ApiResult<String> {
    let mut html = String::new();
    let repos = state.storage.repositories()?;
    let _ = write!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>coreship-registry</title>\
         <style>{STYLE}</style></head><body><h1>coreship-registry</h1>\
         <p class=\"muted\">{} {}. Pull with <code>coreship-load run HOST/REPOSITORY:TAG</code>.</p>",
        repos.len(),
        if repos.len() == 1 { "repository" } else { "repositories" }
    );
    for repo in &repos {
        let tags: Vec<_> = state
            .storage
            .tags(repo)?
            .into_iter()
            .filter(|(t, _)| !t.starts_with("sha256-"))
            .collect();
        let _ = write!(html, "<h2>{}</h2>", esc(repo));
        if tags.is_empty() {
            html.push_str("<p class=\"muted\">no tags</p>");
            continue;
        }
        html.push_str("<table><tr><th>tag</th><th>digest</th><th>arches</th><th>programs (attach point)</th><th>signature</th></tr>");
        for (tag, digest) in tags {
            let v = view(state, repo, tag, digest);
            let programs = match &v.package {
                Some(p) => {
                    let mut s = String::new();
                    if let Some(d) = &p.description {
                        let _ = write!(s, "<div class=\"muted\">{}</div>", esc(d));
                    }
                    s.push_str("<ul>");
                    for prog in &p.programs {
                        let _ = write!(
                            s,
                            "<li><code>{}</code> {} <span class=\"muted\">({})</span></li>",
                            esc(&prog.name),
                            esc(&prog.prog_type),
                            esc(prog.attach.as_deref().unwrap_or(&prog.section))
                        );
                    }
                    s.push_str("</ul>");
                    s
                }
                None => format!("<span class=\"muted\">{}</span>", esc(&v.kind)),
            };
            let _ = write!(
                html,
                "<tr><td>{}</td><td><code title=\"{}\">{}…</code></td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                esc(&v.tag),
                v.digest,
                &v.digest.to_string()[..19],
                esc(&v.arches.join(", ")),
                programs,
                if v.signed { "signed" } else { "unsigned" },
                if v.signed { "signed" } else { "unsigned" },
            );
        }
        html.push_str("</table>");
    }
    html.push_str("</body></html>");
    Ok(html)
}
