//! libbpf's own messages, captured per call and attached to the error they explain.
//!
//! libbpf prints its diagnostics ("failed to get EHDR from …", linker complaints) through one
//! process-wide callback. A library must not print, and the errno libbpf returns alone rarely
//! says what was wrong, so each libbpf call runs under [`capture`] (the loader's thread-local
//! capture) and a failure becomes a [`LibbpfError`] carrying what libbpf logged.

use std::ffi::{c_char, CStr};
use std::fmt;

/// Per-call capture of libbpf's log, shared with the loader (one place knows libbpf's log).
pub(crate) use coreship_loader::libbpf_log::capture;

/// A failed libbpf call: the error it returned and what it logged.
#[derive(Debug)]
pub struct LibbpfError {
    message: String,
    log: Vec<String>,
}

impl LibbpfError {
    /// From a negative or positive errno (libbpf's own codes from 4000 included).
    pub(crate) fn from_errno(errno: i32, log: Vec<String>) -> LibbpfError {
        LibbpfError {
            message: strerror(errno.abs()),
            log,
        }
    }

    /// From an error libbpf-rs returned.
    pub(crate) fn from_libbpf_rs(err: &libbpf_rs::Error, log: Vec<String>) -> LibbpfError {
        LibbpfError {
            message: format!("{err:#}"),
            log,
        }
    }

    /// The errno's description.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What libbpf logged while failing, one entry per line.
    pub fn log(&self) -> &[String] {
        &self.log
    }
}

impl fmt::Display for LibbpfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.log.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{} ({})", self.log.join("; "), self.message)
        }
    }
}

impl std::error::Error for LibbpfError {}

/// `libbpf_strerror`, which also knows libbpf's private codes (4000 and up).
fn strerror(errno: i32) -> String {
    let mut buf = [0 as c_char; 128];
    // SAFETY: buf is writable for its length; libbpf NUL-terminates within it.
    let rc = unsafe {
        libbpf_sys::libbpf_strerror(errno, buf.as_mut_ptr(), buf.len() as libbpf_sys::size_t)
    };
    if rc < 0 {
        return format!("errno {errno}");
    }
    // SAFETY: libbpf_strerror succeeded, so buf holds a NUL-terminated string.
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
    format!("{}, errno {errno}", s.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libbpf_codes_are_described() {
        let e = LibbpfError::from_errno(-4001, vec!["failed to get EHDR from x".into()]);
        assert_eq!(
            e.to_string(),
            format!("failed to get EHDR from x ({})", strerror(4001))
        );
        assert!(!e.message().contains("Unknown error"), "{}", e.message());
        let e = LibbpfError::from_errno(2, vec![]);
        assert!(e.to_string().contains("No such file"), "{e}");
    }
}
