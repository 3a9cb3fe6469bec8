//! Blobs: existence checks, verified and resumable downloads into a [`BlobStore`], and
//! uploads (cross-repository mount, monolithic POST+PUT, chunked PATCH).

use super::error::ClientError;
use super::progress::Progress;
use super::transport::{header_str, pull_scope, push_scope, status_error, Call, Client, Response};
use crate::oci::Descriptor;
use crate::store::{BlobStore, BlobWriter, StoreError};
use crate::{Reference, Sha256Digest};
use std::io::{self, Read, Write};

/// What [`Client::push_blob`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobPush {
    /// The repository already had it.
    Exists,
    /// Mounted from another repository of the same registry.
    Mounted,
    /// Uploaded.
    Uploaded,
}

/// Why a body copy stopped.
enum CopyError {
    /// Reading from the network failed (resumable).
    Read(io::Error),
    /// Writing to the store failed.
    Write(io::Error),
    /// More bytes than the descriptor allows.
    TooLong(u64),
}

fn copy_limited(
    from: &mut dyn Read,
    to: &mut BlobWriter,
    desc: &Descriptor,
    progress: &dyn Progress,
) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; 64 << 10];
    let mut moved = 0;
    loop {
        // One byte past the limit is enough to know the blob is too long; it is never written.
        let room = (desc.size + 1)
            .saturating_sub(to.len())
            .min(buf.len() as u64) as usize;
        let n = match from.read(&mut buf[..room.max(1)]) {
            Ok(0) => return Ok(moved),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        if to.len() + n as u64 > desc.size {
            return Err(CopyError::TooLong(to.len() + n as u64));
        }
        to.write_all(&buf[..n]).map_err(CopyError::Write)?;
        moved += n as u64;
        progress.update(&desc.digest, to.len(), desc.size);
    }
}

/// `url` with `param` added to its query.
pub(crate) fn with_query(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// Whether a 206 answer's `Content-Range: bytes <start>-<end>/<len>` starts at `offset`.
fn range_starts_at(content_range: Option<&str>, offset: u64) -> bool {
    content_range
        .and_then(|v| v.trim().strip_prefix("bytes "))
        .and_then(|v| v.split('-').next())
        .and_then(|s| s.trim().parse::<u64>().ok())
        == Some(offset)
}

impl Client {
    /// Whether the repository has the blob (`HEAD`).
    pub fn blob_exists(&self, r: &Reference, digest: &Sha256Digest) -> Result<bool, ClientError> {
        self.blob_exists_for(r, digest, &pull_scope(r))
    }

    /// [`Client::blob_exists`] under `scope` (a push asks with its push token).
    fn blob_exists_for(
        &self,
        r: &Reference,
        digest: &Sha256Digest,
        scope: &str,
    ) -> Result<bool, ClientError> {
        let url = self.url(r, &format!("blobs/{digest}"));
        let mut resp = self.send(r, scope, &Call::new("HEAD", url.clone()))?;
        match resp.status() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(status_error("HEAD", &url, &mut resp)),
        }
    }

    /// Downloads the blob `desc` into `store`, streaming: a descriptor over the cap for its
    /// media type ([`artifact::size_cap`](crate::artifact::size_cap)) is refused before any
    /// request, no more than the declared size is ever written, and the digest is checked
    /// before the blob becomes visible (a mismatch stores nothing). A transfer that breaks off
    /// resumes with `Range` if the server honours it and starts over otherwise, up to
    /// [`ClientOptions::download_attempts`](super::ClientOptions) attempts.
    pub fn fetch_blob(
        &self,
        r: &Reference,
        desc: &Descriptor,
        store: &BlobStore,
        progress: &dyn Progress,
    ) -> Result<(), ClientError> {
        crate::artifact::check_size(desc)?;
        let url = self.url(r, &format!("blobs/{}", desc.digest));
        let scope = pull_scope(r);
        let attempts = self.options().download_attempts.max(1);
        let mut writer = store.writer()?;
        progress.update(&desc.digest, 0, desc.size);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let offset = writer.len();
            let mut call = Call::new("GET", url.clone());
            if offset > 0 {
                call = call.header("Range", format!("bytes={offset}-"));
            }
            let mut resp = match self.send(r, &scope, &call) {
                Ok(resp) => resp,
                // A connection refused or reset before the answer: try again.
                Err(ClientError::Transport { .. }) if attempt < attempts => continue,
                Err(e) => return Err(e),
            };
            match resp.status() {
                200 if offset > 0 => writer = store.writer()?,
                200 => {}
                206 if range_starts_at(header_str(&resp, "content-range").as_deref(), offset) => {}
                206 => writer = store.writer()?,
                _ => return Err(status_error("GET", &url, &mut resp)),
            }
            let mut body = resp.into_body();
            let result = copy_limited(&mut body, &mut writer, desc, progress);
            match result {
                Ok(n) => {
                    self.count_blob_bytes(n);
                    break;
                }
                Err(CopyError::Read(source)) => {
                    if attempt >= attempts {
                        return Err(ClientError::Interrupted {
                            url,
                            attempts: attempt,
                            source,
                        });
                    }
                }
                Err(CopyError::Write(source)) => {
                    return Err(StoreError::Io {
                        path: store.path(&desc.digest),
                        source,
                    }
                    .into())
                }
                Err(CopyError::TooLong(actual)) => {
                    return Err(ClientError::Size {
                        url,
                        expected: desc.size,
                        actual,
                    })
                }
            }
        }
        if writer.len() != desc.size {
            return Err(ClientError::Size {
                url,
                expected: desc.size,
                actual: writer.len(),
            });
        }
        match writer.commit(Some(&desc.digest)) {
            Ok(_) => Ok(()),
            Err(StoreError::DigestMismatch { expected, actual }) => Err(ClientError::Digest {
                url,
                expected,
                actual,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Uploads `bytes` (described by `desc`) unless the repository has it: mounted from the
    /// repository `mount_from` of the same registry when given, else one POST and one PUT up to
    /// [`ClientOptions::chunk_size`](super::ClientOptions) bytes, PATCH chunks beyond.
    pub fn push_blob(
        &self,
        r: &Reference,
        desc: &Descriptor,
        bytes: &[u8],
        mount_from: Option<&str>,
        progress: &dyn Progress,
    ) -> Result<BlobPush, ClientError> {
        let scope = push_scope(r);
        let total = bytes.len() as u64;
        if self.blob_exists_for(r, &desc.digest, &scope)? {
            progress.update(&desc.digest, total, total);
            return Ok(BlobPush::Exists);
        }
        progress.update(&desc.digest, 0, total);
        let uploads = self.url(r, "blobs/uploads/");
        let post_url = match mount_from {
            Some(from) => format!("{uploads}?mount={}&from={from}", desc.digest),
            None => uploads,
        };
        let mut resp = self.send(r, &scope, &Call::new("POST", post_url.clone()))?;
        match resp.status() {
            201 => {
                progress.update(&desc.digest, total, total);
                return Ok(BlobPush::Mounted);
            }
            202 => {}
            _ => return Err(status_error("POST", &post_url, &mut resp)),
        }
        let mut location = location(&post_url, &resp)?;
        let chunk = self.options().chunk_size.max(1) as usize;
        let last: &[u8] = if bytes.len() <= chunk {
            bytes
        } else {
            let mut start = 0;
            while start < bytes.len() {
                let end = (start + chunk).min(bytes.len());
                let call = Call::new("PATCH", location.clone())
                    .header("Content-Type", "application/octet-stream")
                    .header("Content-Range", format!("{start}-{}", end - 1))
                    .body(&bytes[start..end]);
                let mut resp = self.send(r, &scope, &call)?;
                if resp.status() != 202 {
                    return Err(status_error("PATCH", &location, &mut resp));
                }
                location = self::location(&location, &resp)?;
                start = end;
                progress.update(&desc.digest, end as u64, total);
            }
            &[]
        };
        let put_url = with_query(&location, &format!("digest={}", desc.digest));
        let call = Call::new("PUT", put_url.clone())
            .header("Content-Type", "application/octet-stream")
            .body(last);
        let mut resp = self.send(r, &scope, &call)?;
        if !matches!(resp.status(), 201 | 204) {
            return Err(status_error("PUT", &put_url, &mut resp));
        }
        progress.update(&desc.digest, total, total);
        Ok(BlobPush::Uploaded)
    }
}

fn location(url: &str, resp: &Response) -> Result<String, ClientError> {
    header_str(resp, "location")
        .filter(|l| !l.is_empty())
        .map(|l| Client::resolve_location(url, &l))
        .ok_or_else(|| ClientError::MissingHeader {
            url: url.to_string(),
            header: "Location",
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::NoProgress;

    #[test]
    fn a_copy_never_writes_past_the_declared_size() {
        let dir = std::env::temp_dir().join(format!("coreship-copy-{}", std::process::id()));
        let store = BlobStore::open(&dir).unwrap();
        let mut writer = store.writer().unwrap();
        let desc = Descriptor::of("application/octet-stream", b"01234");
        let result = copy_limited(&mut &b"0123456789"[..], &mut writer, &desc, &NoProgress);
        assert!(matches!(result, Err(CopyError::TooLong(_))));
        assert!(writer.len() <= 5, "{} bytes written", writer.len());
        drop(writer);
        assert!(store.list().unwrap().is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn upload_urls_and_ranges() {
        assert_eq!(with_query("http://h/u", "digest=d"), "http://h/u?digest=d");
        assert_eq!(
            with_query("http://h/u?_state=x", "digest=d"),
            "http://h/u?_state=x&digest=d"
        );
        assert!(range_starts_at(Some("bytes 100-199/200"), 100));
        assert!(!range_starts_at(Some("bytes 0-199/200"), 100));
        assert!(!range_starts_at(None, 100));
    }
}
