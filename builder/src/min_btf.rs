//! `coreship build --min-btf DIR`: for each kernel BTF in DIR (laid out like BTFHub and
//! Inspektor Gadget: `<ID>/<VERSION_ID>/<arch>/<uname -r>.btf`, e.g. a vendor kernel's BTF
//! copied off a lab device from `/sys/kernel/btf/vmlinux`), the minimal BTF this object's CO-RE
//! relocations need, made by `bpftool gen min_core_btf`. The loader uses it on a kernel whose
//! release matches and that has no `/sys/kernel/btf/vmlinux`.

use crate::BuildError;
use coreship_registry::{btfhub_arch, Arch, KernelKey, MinBtfFile, Sha256Digest};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The kernel BTF files under `dir` for `arch`, with their keys, sorted.
pub(crate) fn inputs(dir: &Path, arch: Arch) -> Result<Vec<(KernelKey, PathBuf)>, BuildError> {
    let mut out = Vec::new();
    let read = |d: &Path| -> Result<Vec<PathBuf>, BuildError> {
        let mut v: Vec<PathBuf> = fs::read_dir(d)
            .map_err(BuildError::io("read directory", d))?
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        Ok(v)
    };
    for id in read(dir)?.into_iter().filter(|p| p.is_dir()) {
        for ver in read(&id)?.into_iter().filter(|p| p.is_dir()) {
            let arch_dir = ver.join(btfhub_arch(arch));
            if !arch_dir.is_dir() {
                continue;
            }
            for file in read(&arch_dir)? {
                let rel = file
                    .strip_prefix(dir)
                    .unwrap_or(&file)
                    .to_string_lossy()
                    .into_owned();
                if let Some(key) = rel
                    .ends_with(".btf")
                    .then(|| KernelKey::parse(&rel))
                    .flatten()
                {
                    out.push((key, file));
                }
            }
        }
    }
    Ok(out)
}

/// Makes the minimal BTF of `object` (built for `arch`) for every kernel of `inputs` (what
/// [`inputs`] found for `arch`) into `<package_dir>/<arch>/btf/<key>.btf`.
pub(crate) fn generate(
    inputs: &[(KernelKey, PathBuf)],
    object: &Path,
    arch: Arch,
    package_dir: &Path,
) -> Result<Vec<MinBtfFile>, BuildError> {
    let mut out = Vec::new();
    for (key, input) in inputs {
        let rel = format!("{arch}/btf/{key}.btf");
        let dest = package_dir.join(&rel);
        let parent = dest.parent().expect("has a parent");
        fs::create_dir_all(parent).map_err(BuildError::io("create directory", parent))?;
        let output = Command::new("bpftool")
            .args(["gen", "min_core_btf"])
            .arg(input)
            .arg(&dest)
            .arg(object)
            .output()
            .map_err(|source| BuildError::ToolSpawn {
                command: "bpftool gen min_core_btf".into(),
                hint: "install bpftool (Debian: apt-get install bpftool)",
                source,
            })?;
        if !output.status.success() {
            return Err(BuildError::MinBtf {
                input: input.clone(),
                object: object.to_path_buf(),
                said: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        let bytes = fs::read(&dest).map_err(BuildError::io("read", &dest))?;
        out.push(MinBtfFile {
            kernel: key.to_string(),
            file: rel,
            sha256: Sha256Digest::of(&bytes),
        });
    }
    Ok(out)
}
