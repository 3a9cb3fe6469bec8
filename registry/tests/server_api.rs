//! In-process tests of routing, status codes and error bodies (`tower::ServiceExt::oneshot`).
#![cfg(feature = "server")]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{options, TempDir, TOKEN};
use coreship_registry::oci::{
    self, Descriptor, ImageManifest, MEDIA_TYPE_EMPTY, MEDIA_TYPE_MANIFEST,
};
use coreship_registry::server::{app, AppState, ServerOptions};
use coreship_registry::Sha256Digest;
use tower::ServiceExt;

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn code(&self) -> String {
        common::error_code(&self.body)
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn call(state: &AppState, req: Request<Body>) -> Resp {
    rt().block_on(async {
        let resp = app(state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Resp {
            status,
            headers,
            body,
        }
    })
}

fn req(method: &str, uri: &str, auth: bool, body: Vec<u8>) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "reg.test:5000");
    if auth {
        b = b.header("authorization", format!("Bearer {TOKEN}"));
    }
    b.body(Body::from(body)).unwrap()
}

fn state(dir: &TempDir, f: impl FnOnce(&mut ServerOptions)) -> AppState {
    let mut o = options(dir.path());
    f(&mut o);
    AppState::new(o).unwrap()
}

fn manifest_with(config: &[u8], layers: &[&[u8]]) -> Vec<u8> {
    oci::to_json(&ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.into()),
        artifact_type: Some("application/vnd.test".into()),
        config: Descriptor::of(MEDIA_TYPE_EMPTY, config),
        layers: layers
            .iter()
            .map(|l| Descriptor::of("application/octet-stream", l))
            .collect(),
        subject: None,
        annotations: Default::default(),
    })
}

fn upload(state: &AppState, repo: &str, bytes: &[u8]) -> Sha256Digest {
    let d = Sha256Digest::of(bytes);
    let r = call(
        state,
        req(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
            true,
            bytes.to_vec(),
        ),
    );
    assert_eq!(r.status, StatusCode::CREATED);
    d
}

#[test]
fn base_endpoint_announces_the_api_version_and_where_to_get_tokens() {
    let dir = TempDir::new("api-base");
    let s = state(&dir, |_| {});
    let r = call(&s, req("GET", "/v2/", false, vec![]));
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("docker-distribution-api-version"), "registry/2.0");
    assert_eq!(
        r.header("www-authenticate"),
        "Bearer realm=\"http://reg.test:5000/token\",service=\"coreship-registry\""
    );
    let private = state(&TempDir::new("api-private"), |o| o.private = true);
    let r = call(&private, req("GET", "/v2/", false, vec![]));
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "UNAUTHORIZED");
    let r = call(&private, req("GET", "/v2/", true, vec![]));
    assert_eq!(r.status, StatusCode::OK);
}

#[test]
fn writes_without_a_valid_token_get_401_with_the_challenge() {
    let dir = TempDir::new("api-auth");
    let s = state(&dir, |_| {});
    let r = call(
        &s,
        req("POST", "/v2/probes/exec/blobs/uploads/", false, vec![]),
    );
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "UNAUTHORIZED");
    assert_eq!(
        r.header("www-authenticate"),
        "Bearer realm=\"http://reg.test:5000/token\",service=\"coreship-registry\",scope=\"repository:probes/exec:pull,push\""
    );
    let bad = Request::builder()
        .method("PUT")
        .uri("/v2/a/manifests/t")
        .header("authorization", "Bearer nope")
        .body(Body::empty())
        .unwrap();
    let r = call(&s, bad);
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!String::from_utf8_lossy(&r.body).contains("nope"));
    assert!(
        !dir.path().join("repositories/a").exists(),
        "nothing created"
    );
}

#[test]
fn unknown_things_get_the_spec_codes() {
    let dir = TempDir::new("api-unknown");
    let s = state(&dir, |_| {});
    let d = Sha256Digest::of(b"nothing");
    let cases = [
        ("GET", format!("/v2/a/blobs/{d}"), 404, "BLOB_UNKNOWN"),
        ("HEAD", format!("/v2/a/blobs/{d}"), 404, ""),
        (
            "GET",
            "/v2/a/blobs/sha256:12".to_string(),
            400,
            "DIGEST_INVALID",
        ),
        (
            "GET",
            "/v2/a/manifests/latest".to_string(),
            404,
            "NAME_UNKNOWN",
        ),
        (
            "GET",
            "/v2/A/manifests/latest".to_string(),
            400,
            "NAME_INVALID",
        ),
        ("GET", "/v2/a/tags/list".to_string(), 404, "NAME_UNKNOWN"),
        (
            "PATCH",
            "/v2/a/blobs/uploads/0123456789abcdef0123456789abcdef".to_string(),
            404,
            "BLOB_UPLOAD_UNKNOWN",
        ),
        (
            "GET",
            "/v2/a/blobs/uploads/../../etc".to_string(),
            404,
            "NAME_UNKNOWN",
        ),
        (
            "GET",
            "/v2/a/blobs/uploads/..".to_string(),
            404,
            "BLOB_UPLOAD_UNKNOWN",
        ),
        (
            "POST",
            "/v2/a/manifests/latest".to_string(),
            405,
            "UNSUPPORTED",
        ),
    ];
    for (method, uri, status, code) in cases {
        let r = call(&s, req(method, &uri, true, vec![]));
        assert_eq!(r.status.as_u16(), status, "{method} {uri}");
        if !code.is_empty() {
            assert_eq!(r.code(), code, "{method} {uri}");
            assert_eq!(r.header("content-type"), "application/json");
        }
    }
    upload(&s, "a", b"x");
    let r = call(&s, req("GET", "/v2/a/manifests/latest", false, vec![]));
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (404, "MANIFEST_UNKNOWN")
    );
}

#[test]
fn manifest_put_checks_blobs_digest_and_syntax_before_storing() {
    let dir = TempDir::new("api-manifest");
    let s = state(&dir, |_| {});
    let m = manifest_with(b"{}", &[b"layer"]);
    let put = |reference: &str, body: Vec<u8>| {
        call(
            &s,
            Request::builder()
                .method("PUT")
                .uri(format!("/v2/r/manifests/{reference}"))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("content-type", MEDIA_TYPE_MANIFEST)
                .body(Body::from(body))
                .unwrap(),
        )
    };
    let r = put("v1", m.clone());
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "MANIFEST_BLOB_UNKNOWN")
    );
    upload(&s, "r", b"{}");
    let r = put("v1", m.clone());
    assert_eq!(
        r.code(),
        "MANIFEST_BLOB_UNKNOWN",
        "the layer is still missing"
    );
    upload(&s, "r", b"layer");
    let r = put(&Sha256Digest::of(b"other").to_string(), m.clone());
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "DIGEST_INVALID")
    );
    let r = put("v1", b"{not json".to_vec());
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "MANIFEST_INVALID")
    );
    let r = put("-bad", m.clone());
    assert_eq!(r.code(), "MANIFEST_INVALID");
    let r = put("v1", vec![b' '; (4 << 20) + 1]);
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (413, "SIZE_INVALID")
    );
    assert!(!dir.path().join("repositories/r/_manifests").exists());
    assert!(!dir.path().join("repositories/r/_tags").exists());
    let r = put("v1", m.clone());
    assert_eq!(r.status, StatusCode::CREATED);
    let d = Sha256Digest::of(&m);
    assert_eq!(r.header("docker-content-digest"), d.to_string());
    assert_eq!(r.header("location"), format!("/v2/r/manifests/{d}"));
    for reference in ["v1".to_string(), d.to_string()] {
        let g = call(
            &s,
            req(
                "GET",
                &format!("/v2/r/manifests/{reference}"),
                false,
                vec![],
            ),
        );
        assert_eq!(g.status, StatusCode::OK);
        assert_eq!(g.body, m);
        assert_eq!(g.header("content-type"), MEDIA_TYPE_MANIFEST);
        assert_eq!(g.header("docker-content-digest"), d.to_string());
        let h = call(
            &s,
            req(
                "HEAD",
                &format!("/v2/r/manifests/{reference}"),
                false,
                vec![],
            ),
        );
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(h.header("content-length"), m.len().to_string());
        assert!(h.body.is_empty());
    }
}

#[test]
fn immutable_tags_refuse_to_move_but_accept_the_same_digest() {
    let dir = TempDir::new("api-immutable");
    let s = state(&dir, |o| o.immutable_tags = true);
    upload(&s, "r", b"{}");
    upload(&s, "r", b"one");
    upload(&s, "r", b"two");
    let put = |tag: &str, body: Vec<u8>| {
        call(
            &s,
            Request::builder()
                .method("PUT")
                .uri(format!("/v2/r/manifests/{tag}"))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("content-type", MEDIA_TYPE_MANIFEST)
                .body(Body::from(body))
                .unwrap(),
        )
    };
    let one = manifest_with(b"{}", &[b"one"]);
    let two = manifest_with(b"{}", &[b"two"]);
    assert_eq!(put("v1", one.clone()).status, StatusCode::CREATED);
    assert_eq!(
        put("v1", one.clone()).status,
        StatusCode::CREATED,
        "same digest again"
    );
    let r = put("v1", two.clone());
    assert_eq!((r.status.as_u16(), r.code().as_str()), (403, "DENIED"));
    let g = call(&s, req("GET", "/v2/r/manifests/v1", false, vec![]));
    assert_eq!(g.body, one);
    let r = call(&s, req("DELETE", "/v2/r/manifests/v1", true, vec![]));
    assert_eq!(r.code(), "DENIED");
    assert_eq!(put("v2", two).status, StatusCode::CREATED);
}

#[test]
fn referrers_list_subjects_with_filters_and_an_empty_list_otherwise() {
    let dir = TempDir::new("api-referrers");
    let s = state(&dir, |_| {});
    upload(&s, "r", b"{}");
    upload(&s, "r", b"sig");
    let subject_bytes = manifest_with(b"{}", &[]);
    let subject = Descriptor::of(MEDIA_TYPE_MANIFEST, &subject_bytes);
    let mut referrer: ImageManifest =
        serde_json::from_slice(&manifest_with(b"{}", &[b"sig"])).unwrap();
    referrer.artifact_type = Some("application/vnd.coreship.signature.v1".into());
    referrer.subject = Some(subject.clone());
    referrer.annotations.insert("k".into(), "v".into());
    let referrer = oci::to_json(&referrer);
    let rd = Sha256Digest::of(&referrer);
    let put = |reference: String, body: Vec<u8>| {
        call(
            &s,
            Request::builder()
                .method("PUT")
                .uri(format!("/v2/r/manifests/{reference}"))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("content-type", MEDIA_TYPE_MANIFEST)
                .body(Body::from(body))
                .unwrap(),
        )
    };
    // The subject need not exist yet.
    let r = put(rd.to_string(), referrer.clone());
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("oci-subject"), subject.digest.to_string());
    let list = |q: &str| {
        let r = call(
            &s,
            req(
                "GET",
                &format!("/v2/r/referrers/{}{q}", subject.digest),
                false,
                vec![],
            ),
        );
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), oci::MEDIA_TYPE_INDEX);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        (v, r.header("oci-filters-applied").to_string())
    };
    let (v, filters) = list("");
    assert_eq!(filters, "");
    assert_eq!(v["manifests"][0]["digest"], rd.to_string());
    assert_eq!(
        v["manifests"][0]["artifactType"],
        "application/vnd.coreship.signature.v1"
    );
    assert_eq!(v["manifests"][0]["annotations"]["k"], "v");
    let (v, filters) = list("?artifactType=application/vnd.other");
    assert_eq!(filters, "artifactType");
    assert_eq!(v["manifests"].as_array().unwrap().len(), 0);
    let (v, _) = list("?artifactType=application/vnd.coreship.signature.v1");
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    let r = call(
        &s,
        req("DELETE", &format!("/v2/r/manifests/{rd}"), true, vec![]),
    );
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let (v, _) = list("");
    assert_eq!(v["manifests"].as_array().unwrap().len(), 0);
    let other = Sha256Digest::of(b"none");
    let r = call(
        &s,
        req("GET", &format!("/v2/r/referrers/{other}"), false, vec![]),
    );
    assert_eq!(r.status, StatusCode::OK);
}

#[test]
fn token_endpoint_issues_pull_tokens_anonymously_and_push_tokens_for_push_credentials() {
    use base64::Engine as _;
    let dir = TempDir::new("api-token");
    let s = state(&dir, |_| {});
    let r = call(
        &s,
        req(
            "GET",
            "/token?service=coreship-registry&scope=repository:a:pull",
            false,
            vec![],
        ),
    );
    assert_eq!(r.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let pull = v["token"].as_str().unwrap().to_string();
    assert_eq!(v["access_token"], v["token"]);
    assert!(v["expires_in"].as_u64().unwrap() > 0);
    let with = |method: &str, uri: &str, auth: String| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", auth)
            .body(Body::empty())
            .unwrap()
    };
    let r = call(
        &s,
        with("POST", "/v2/a/blobs/uploads/", format!("Bearer {pull}")),
    );
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a pull token cannot push"
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("anyone:{TOKEN}"));
    let r = call(
        &s,
        with(
            "GET",
            "/token?scope=repository:a:pull,push",
            format!("Basic {basic}"),
        ),
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let push = v["token"].as_str().unwrap();
    assert_ne!(push, TOKEN, "an issued token, not the push token itself");
    let r = call(
        &s,
        with("POST", "/v2/a/blobs/uploads/", format!("Bearer {push}")),
    );
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let bad = base64::engine::general_purpose::STANDARD.encode("anyone:wrong");
    let r = call(&s, with("GET", "/token", format!("Basic {bad}")));
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (401, "UNAUTHORIZED")
    );
}

#[test]
fn an_anonymous_token_flood_does_not_keep_a_push_login_out() {
    use base64::Engine as _;
    let dir = TempDir::new("api-token-flood");
    let s = state(&dir, |_| {});
    // More anonymous token requests than the server ever kept issued tokens for (100,000),
    // as anyone may send them.
    let flood = 101_000;
    rt().block_on(async {
        let router = app(s.clone());
        for _ in 0..flood {
            let r = req(
                "GET",
                "/token?service=coreship-registry&scope=repository:a:pull",
                false,
                vec![],
            );
            router.clone().oneshot(r).await.unwrap();
        }
    });
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("ci:{TOKEN}"));
    let login = Request::builder()
        .uri("/token?service=coreship-registry&scope=repository:a:pull,push")
        .header("authorization", format!("Basic {basic}"))
        .body(Body::empty())
        .unwrap();
    let r = call(&s, login);
    assert_eq!(
        r.status,
        StatusCode::OK,
        "login after the flood: {}",
        String::from_utf8_lossy(&r.body)
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let push = v["token"].as_str().unwrap();
    let blob = b"pushed after the flood";
    let d = Sha256Digest::of(blob);
    let r = call(
        &s,
        Request::builder()
            .method("POST")
            .uri(format!("/v2/a/blobs/uploads/?digest={d}"))
            .header("authorization", format!("Bearer {push}"))
            .body(Body::from(blob.to_vec()))
            .unwrap(),
    );
    assert_eq!(r.status, StatusCode::CREATED, "push with the issued token");
}
