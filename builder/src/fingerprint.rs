//! Input hashes and the `.inputs` record that makes rebuilds incremental.
//!
//! The hash covers everything that can change the object: clang's version line, the full flag
//! list with checkout-independent paths, the source and every header clang's depfile named
//! (name and the sha256 of its bytes). It is recorded beside the object with the header list
//! and the object's own digest; the next build re-hashes the recorded headers and skips clang
//! when nothing changed and the object is intact. A build hashes each file once
//! ([`FileDigests`]): every object includes the same multi-megabyte `vmlinux.h`.

use crate::paths::{Loc, PathMapper};
use coreship_registry::Sha256Digest;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// File name of the record, beside the object.
pub(crate) const RECORD_FILE: &str = ".inputs";

/// Version of the record format; older or newer records mean "rebuild".
const RECORD_FORMAT: u32 = 2;

/// Incremental hasher whose fields cannot run into each other.
pub(crate) struct InputHasher(Sha256);

impl InputHasher {
    /// Starts a hash over `clang_version` and the flag list.
    pub(crate) fn new(clang_version: &str, flags: &[String]) -> InputHasher {
        let mut h = InputHasher(Sha256::new());
        h.field(b"coreship-inputs-v2");
        h.field(clang_version.as_bytes());
        h.field(&(flags.len() as u64).to_le_bytes());
        for f in flags {
            h.field(f.as_bytes());
        }
        h
    }

    fn field(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    /// Adds one input file: its checkout-independent name and the digest of its content.
    pub(crate) fn file(&mut self, name: &str, content: &Sha256Digest) {
        self.field(name.as_bytes());
        self.field(content.as_bytes());
    }

    /// The digest.
    pub(crate) fn finish(self) -> Sha256Digest {
        let bytes: [u8; 32] = self.0.finalize().into();
        // Sha256Digest is built from data (`of`) or text: go through its text form.
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
            .parse()
            .expect("64 lowercase hex digits")
    }
}

/// Content digests of input files for one build, each file read and hashed once (files are
/// taken not to change while a build runs).
#[derive(Debug, Default)]
pub(crate) struct FileDigests(Mutex<HashMap<PathBuf, Sha256Digest>>);

impl FileDigests {
    /// The digest of the file at `path`.
    pub(crate) fn of(&self, path: &Path) -> io::Result<Sha256Digest> {
        if let Some(d) = self.0.lock().expect("digests lock").get(path) {
            return Ok(*d);
        }
        // Hashed outside the lock: another job may hash the same file meanwhile, harmlessly.
        let d = Sha256Digest::of(&fs::read(path)?);
        self.0
            .lock()
            .expect("digests lock")
            .insert(path.to_path_buf(), d);
        Ok(d)
    }
}

/// Hashes the inputs named by `files` (source first, then headers) as they are now.
pub(crate) fn hash_inputs(
    clang_version: &str,
    flags: &[String],
    files: &[Loc],
    m: &PathMapper,
    digests: &FileDigests,
) -> io::Result<Sha256Digest> {
    let mut h = InputHasher::new(clang_version, flags);
    for loc in files {
        h.file(&loc.name(), &digests.of(&m.resolve(loc))?);
    }
    Ok(h.finish())
}

/// What the last successful compile of one (probe, arch) saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// [`RECORD_FORMAT`].
    pub format: u32,
    /// The input hash.
    pub inputs: Sha256Digest,
    /// Digest of the object written.
    pub object: Sha256Digest,
    /// Source and headers, in depfile order.
    pub files: Vec<Loc>,
}

impl Record {
    /// A record for a fresh compile.
    pub(crate) fn new(inputs: Sha256Digest, object: Sha256Digest, files: Vec<Loc>) -> Record {
        Record {
            format: RECORD_FORMAT,
            inputs,
            object,
            files,
        }
    }

    /// Reads the record in `dir`; `None` when missing, unreadable or of another format.
    pub(crate) fn read(dir: &Path) -> Option<Record> {
        let bytes = fs::read(dir.join(RECORD_FILE)).ok()?;
        let r: Record = serde_json::from_slice(&bytes).ok()?;
        (r.format == RECORD_FORMAT).then_some(r)
    }

    /// Writes the record into `dir` atomically.
    pub(crate) fn write(&self, dir: &Path) -> io::Result<()> {
        let mut json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        json.push(b'\n');
        crate::fs::write_atomic(&dir.join(RECORD_FILE), &json)
    }

    /// Whether the object at `object` is still what this record describes and its inputs
    /// (re-hashed with `clang_version` and `flags`) are unchanged.
    pub(crate) fn is_fresh(
        &self,
        clang_version: &str,
        flags: &[String],
        object: &Path,
        m: &PathMapper,
        digests: &FileDigests,
    ) -> bool {
        let intact = fs::read(object).is_ok_and(|b| Sha256Digest::of(&b) == self.object);
        intact
            && hash_inputs(clang_version, flags, &self.files, m, digests)
                .is_ok_and(|h| h == self.inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "coreship-fingerprint-unit-{}-{name}",
            std::process::id()
        ));
        fs::create_dir_all(d.join("bpf")).unwrap();
        d
    }

    #[test]
    fn hash_covers_clang_flags_names_and_bytes() {
        let file =
            |h: &mut InputHasher, name: &str, bytes: &[u8]| h.file(name, &Sha256Digest::of(bytes));
        let base = |h: &mut InputHasher| file(h, "a.c", b"int x;");
        let digest = |clang: &str, flags: &[&str], f: &dyn Fn(&mut InputHasher)| {
            let flags: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
            let mut h = InputHasher::new(clang, &flags);
            f(&mut h);
            h.finish()
        };
        let d0 = digest("clang 19", &["-O2"], &base);
        assert_eq!(d0, digest("clang 19", &["-O2"], &base));
        assert_ne!(d0, digest("clang 18", &["-O2"], &base));
        assert_ne!(d0, digest("clang 19", &["-O1"], &base));
        assert_ne!(
            d0,
            digest("clang 19", &["-O2"], &|h| file(h, "b.c", b"int x;"))
        );
        assert_ne!(
            d0,
            digest("clang 19", &["-O2"], &|h| file(h, "a.c", b"int y;"))
        );
        // Field boundaries matter: ["-O", "2"] is not ["-O2"].
        assert_ne!(d0, digest("clang 19", &["-O", "2"], &base));
        assert_ne!(
            digest("c", &[], &|h| file(h, "ab", b"c")),
            digest("c", &[], &|h| file(h, "a", b"bc"))
        );
    }

    #[test]
    fn a_build_hashes_each_file_once() {
        let root = scratch("digests");
        let f = root.join("bpf/vmlinux.h");
        fs::write(&f, "struct a;\n").unwrap();
        let digests = FileDigests::default();
        let first = digests.of(&f).unwrap();
        assert_eq!(first, Sha256Digest::of(b"struct a;\n"));
        // Within one build the first digest stands; the next build reads the file again.
        fs::write(&f, "struct b;\n").unwrap();
        assert_eq!(digests.of(&f).unwrap(), first);
        assert_ne!(FileDigests::default().of(&f).unwrap(), first);
        assert!(digests.of(&root.join("bpf/missing.h")).is_err());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn record_detects_changed_headers_and_tampered_objects() {
        let root = scratch("record");
        let m = PathMapper::new(&root, &root.join("target/coreship"));
        fs::write(root.join("bpf/x.bpf.c"), "#include \"x.h\"\n").unwrap();
        fs::write(root.join("bpf/x.h"), "int a;\n").unwrap();
        fs::write(root.join("x.o"), b"object").unwrap();
        let files = vec![Loc::Root("bpf/x.bpf.c".into()), Loc::Root("bpf/x.h".into())];
        let flags = vec!["-O2".to_string()];
        // A new FileDigests per check: each stands for one build, and files change between.
        let fresh = |rec: &Record, clang: &str| {
            rec.is_fresh(
                clang,
                &flags,
                &root.join("x.o"),
                &m,
                &FileDigests::default(),
            )
        };
        let h = hash_inputs("clang", &flags, &files, &m, &FileDigests::default()).unwrap();
        let rec = Record::new(h, Sha256Digest::of(b"object"), files);
        rec.write(&root).unwrap();
        let rec = Record::read(&root).unwrap();
        assert!(fresh(&rec, "clang"));
        assert!(!fresh(&rec, "clang 2"));

        fs::write(root.join("bpf/x.h"), "int b;\n").unwrap();
        assert!(!fresh(&rec, "clang"));
        fs::write(root.join("bpf/x.h"), "int a;\n").unwrap();
        assert!(fresh(&rec, "clang"));

        fs::write(root.join("x.o"), b"tampered").unwrap();
        assert!(!fresh(&rec, "clang"));
        fs::write(root.join("x.o"), b"object").unwrap();
        fs::remove_file(root.join("bpf/x.h")).unwrap();
        assert!(!fresh(&rec, "clang"));
        fs::remove_dir_all(root).unwrap();
    }
}
