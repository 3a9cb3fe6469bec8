//! The registry client's HTTP/1.1 response reader (`registry/src/client/http.rs`) over
//! arbitrary bytes from a server: status line, headers, interim answers, and bodies framed by
//! `Content-Length`, chunked encoding or the end of the connection, handed over in reads of
//! any size.
//!
//! Input: byte 0 picks the request method (GET, HEAD, PUT) and the body limit the caller
//! passes; byte 1 the size of each read from the "connection"; the rest is what the server
//! sends. Invariants: no panic; memory bounded by the reader's limits (libFuzzer's
//! `-rss_limit_mb` catches the rest); a body is never longer than the caller's limit, never
//! longer than a `Content-Length` framing declares and, when read whole, exactly that long;
//! a chunked body is never longer than what was sent.
#![no_main]

use coreship_registry::client::{read_response, HttpError};
use coreship_registry::testing::Trickle;
use libfuzzer_sys::fuzz_target;
use std::io::BufReader;

const METHODS: [&str; 3] = ["GET", "HEAD", "PUT"];
const LIMITS: [u64; 3] = [16, 4096, 1 << 20];

fuzz_target!(|data: &[u8]| {
    let [mode, step, raw @ ..] = data else {
        return;
    };
    let method = METHODS[usize::from(*mode) % 3];
    let limit = LIMITS[usize::from(*mode / 3) % 3];
    let step = usize::from(*step % 64) + 1;
    let conn = Trickle::new(raw.to_vec(), step);
    let Ok(resp) = read_response(
        method,
        Box::new(BufReader::with_capacity(step, conn)),
        limit,
    ) else {
        return;
    };
    assert!(
        (200..1000).contains(&resp.status) || resp.status < 100,
        "{}",
        resp.status
    );
    let values = |name: &str| -> Vec<String> {
        resp.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(',').map(|p| p.trim().to_string()))
            .collect()
    };
    let no_body = method == "HEAD" || resp.status == 204 || resp.status == 304;
    // The framing the answer declares when it is a plain Content-Length.
    let declared = if no_body {
        Some(0)
    } else if values("transfer-encoding").is_empty() {
        values("content-length")
            .first()
            .and_then(|v| v.parse::<u64>().ok())
    } else {
        None
    };
    match &resp.body {
        Ok(body) => {
            let len = body.len() as u64;
            assert!(len <= limit, "{len} bytes read past the limit {limit}");
            assert!(
                len as usize <= raw.len(),
                "{len} bytes from {} sent",
                raw.len()
            );
            if let Some(d) = declared {
                assert_eq!(len, d, "a body of {len} bytes where {d} were declared");
            }
        }
        Err(HttpError::TooLong(l)) => {
            assert_eq!(*l, limit);
            if let Some(d) = declared {
                assert!(
                    d > limit,
                    "refused as too long, but only {d} bytes were declared"
                );
            }
        }
        Err(_) => {}
    }
});
