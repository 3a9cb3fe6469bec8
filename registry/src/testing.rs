//! Test support shared by this crate's unit and integration tests and by the other crates'
//! tests: a package directory as `coreship build` writes it, without clang.

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
