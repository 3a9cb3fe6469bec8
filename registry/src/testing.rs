//! Test support shared by this crate's unit and integration tests, the other crates' tests and
//! the fuzz targets: a package directory as `coreship build` writes it, without clang, and a
//! reader that hands out bytes the way a slow connection does.

use crate::{
    Arch, ArchObject, BuildInfo, Package, ProgramInfo, Sha256Digest, SourceInfo, SCHEMA_VERSION,
};
use std::path::Path;

/// Writes a package directory at `dir` for probe `name` with these objects (any bytes) and one
/// tracepoint program `handle_<name>`; returns its description.
pub fn write_package(dir: &Path, name: &str, objects: &[(Arch, &[u8])]) -> Package {
    let mut entries = Vec::new();
    for (arch, bytes) in objects {
        let file = format!("{}/{name}.bpf.o", arch.as_str());
        std::fs::create_dir_all(dir.join(arch.as_str())).expect("package dir");
        std::fs::write(dir.join(&file), bytes).expect("object file");
        entries.push(ArchObject {
            arch: *arch,
            file,
            sha256: Sha256Digest::of(bytes),
            size: bytes.len() as u64,
            min_btf: Vec::new(),
        });
    }
    let pkg = Package {
        schema_version: SCHEMA_VERSION,
        name: name.into(),
        version: "0.1.0".into(),
        description: Some(format!("{name} test probe")),
        license: "GPL".into(),
        source: SourceInfo {
            file: format!("{name}.bpf.c"),
            sha256: Sha256Digest::of(name.as_bytes()),
        },
        build: BuildInfo {
            clang: "clang".into(),
            kernel_release: None,
            cflags: vec![],
        },
        objects: entries,
        programs: vec![ProgramInfo {
            name: format!("handle_{name}"),
            section: "tp/sched/sched_process_exec".into(),
            prog_type: "tracepoint".into(),
            attach: Some("sched/sched_process_exec".into()),
        }],
        maps: vec![],
    };
    pkg.write_dir(dir).expect("package.json");
    pkg
}

/// A reader over `data` that hands out at most `step` bytes per read, as a slow connection does
/// (parsers must not assume a whole line or head arrives in one read).
pub struct Trickle {
    data: Vec<u8>,
    at: usize,
    step: usize,
}

impl Trickle {
    /// `data`, at most `step` (at least 1) bytes per read.
    pub fn new(data: Vec<u8>, step: usize) -> Trickle {
        Trickle {
            data,
            at: 0,
            step: step.max(1),
        }
    }
}

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.step).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
