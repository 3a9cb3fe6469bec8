//! One job: one probe for one arch, from C to the shipped object (or "fresh" without work).

use crate::depfile;
use crate::fingerprint::{hash_inputs, FileDigests, Record};
use crate::flags::{compile_flags, Arg};
use crate::link;
use crate::paths::{Loc, PathMapper};
use crate::{BuildError, Clang, Freshness, ProbeSpec};
use coreship_registry::{Arch, Sha256Digest};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the build needs to know about one finished object.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    /// The arch.
    pub arch: Arch,
    /// `<out>/<name>/<arch>/<name>.bpf.o`.
    pub object: PathBuf,
    /// Whether clang ran.
    pub status: Freshness,
    /// The input hash.
    pub inputs: Sha256Digest,
    /// Source and headers clang read.
    pub files: Vec<Loc>,
    /// clang's warnings (stderr of a successful compile), empty when none or fresh.
    pub warnings: String,
    /// Minimal BTF made for it (`--min-btf`).
    pub min_btf: Vec<coreship_registry::MinBtfFile>,
}

/// Shared, read-only state of a build.
pub(crate) struct JobEnv<'a> {
    pub clang: &'a Clang,
    pub mapper: &'a PathMapper,
    pub digests: &'a FileDigests,
}

/// Builds `probe` for `arch` with headers from `include_dirs` (search order), unless the
/// recorded inputs are unchanged.
pub(crate) fn build_object(
    env: &JobEnv<'_>,
    probe: &ProbeSpec,
    include_dirs: &[PathBuf],
    arch: Arch,
) -> Result<Compiled, BuildError> {
    let m = env.mapper;
    let dir = m.out().join(&probe.name).join(arch.as_str());
    fs::create_dir_all(&dir).map_err(BuildError::io("create directory", &dir))?;
    let object = dir.join(format!("{}.bpf.o", probe.name));
    let flags = compile_flags(arch, include_dirs, m);
    let stable_flags: Vec<String> = flags.iter().map(|a| a.stable(m)).collect();

    if let Some(rec) = Record::read(&dir) {
        let same_source = rec.files.first() == Some(&m.locate(&probe.source));
        if same_source && rec.is_fresh(&env.clang.version, &stable_flags, &object, m, env.digests) {
            return Ok(Compiled {
                arch,
                object,
                status: Freshness::Fresh,
                inputs: rec.inputs,
                files: rec.files,
                warnings: String::new(),
                min_btf: Vec::new(),
            });
        }
    }

    let clang_out = dir.join(format!(".{}.clang.o", probe.name));
    let dep = dir.join(format!(".{}.d", probe.name));
    let result = compile(env, probe, arch, &flags, &clang_out, &dep).and_then(|warnings| {
        finish(env, probe, arch, &stable_flags, &clang_out, &dep, &object).map(|(inputs, files)| {
            Compiled {
                arch,
                object: object.clone(),
                status: Freshness::Compiled,
                inputs,
                files,
                warnings,
                min_btf: Vec::new(),
            }
        })
    });
    let _ = fs::remove_file(&clang_out);
    let _ = fs::remove_file(&dep);
    result
}

/// Runs clang; returns its stderr (warnings) on success.
fn compile(
    env: &JobEnv<'_>,
    probe: &ProbeSpec,
    arch: Arch,
    flags: &[Arg],
    out: &Path,
    dep: &Path,
) -> Result<String, BuildError> {
    let m = env.mapper;
    let mut args: Vec<OsString> = flags.iter().map(|a| a.command(m).into()).collect();
    args.extend(["-MD".into(), "-MF".into()]);
    args.push(m.command(dep).into());
    args.extend(["-MT".into(), depfile::TARGET.into(), "-c".into()]);
    args.push(m.command(&probe.source).into());
    args.push("-o".into());
    args.push(m.command(out).into());

    let command = shell_words(&env.clang.path, &args);
    let output = Command::new(&env.clang.path)
        .args(&args)
        .current_dir(m.root())
        // __DATE__/__TIME__ from a fixed epoch, for reproducible objects.
        .env("SOURCE_DATE_EPOCH", "0")
        .output()
        .map_err(|source| BuildError::ClangSpawn {
            command: command.clone(),
            source,
        })?;
    let stderr = String::from_utf8_lossy(&output.stderr)
        .trim_end()
        .to_string();
    if !output.status.success() {
        return Err(BuildError::Compile {
            probe: probe.name.clone(),
            arch,
            command,
            dir: m.root().to_path_buf(),
            stderr,
        });
    }
    Ok(stderr)
}

/// Reads the depfile, hashes the inputs, links the final object and records the inputs.
fn finish(
    env: &JobEnv<'_>,
    probe: &ProbeSpec,
    arch: Arch,
    stable_flags: &[String],
    clang_out: &Path,
    dep: &Path,
    object: &Path,
) -> Result<(Sha256Digest, Vec<Loc>), BuildError> {
    let m = env.mapper;
    let text = fs::read_to_string(dep).map_err(BuildError::io("read", dep))?;
    let deps = depfile::parse(&text).ok_or_else(|| BuildError::Depfile {
        path: dep.to_path_buf(),
    })?;
    let source = m.locate(&probe.source);
    let headers = deps
        .iter()
        .map(|p| m.locate(p))
        .filter(|loc| *loc != source);
    let files: Vec<Loc> = std::iter::once(source.clone()).chain(headers).collect();
    let inputs = hash_inputs(&env.clang.version, stable_flags, &files, m, env.digests)
        .map_err(BuildError::io("read an input of", &probe.source))?;

    let dir = object.parent().unwrap_or(Path::new("."));
    let name = &probe.name;
    let staged = dir.join(format!(".{name}.bpf.o.tmp"));
    let scratch = dir.join(format!(".{name}.link.o"));
    link::finalize(clang_out, &staged, &scratch).map_err(|source| BuildError::Link {
        probe: name.clone(),
        arch,
        source,
    })?;
    let bytes = fs::read(&staged).map_err(BuildError::io("read", &staged))?;
    fs::rename(&staged, object).map_err(BuildError::io("write", object))?;
    Record::new(inputs, Sha256Digest::of(&bytes), files.clone())
        .write(dir)
        .map_err(BuildError::io("write the input record in", dir))?;
    Ok((inputs, files))
}

/// `cmd args…` as a shell would need it typed.
fn shell_words(cmd: &Path, args: &[OsString]) -> String {
    std::iter::once(cmd.as_os_str())
        .chain(args.iter().map(|a| a.as_os_str()))
        .map(|w| {
            let w = w.to_string_lossy();
            let plain = !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=,:+@%".contains(&b));
            if plain {
                w.into_owned()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_quoted_for_the_shell() {
        let args: Vec<OsString> = ["-Ia dir", "-DX='y'", "-O2"]
            .iter()
            .map(Into::into)
            .collect();
        assert_eq!(
            shell_words(Path::new("/usr/bin/clang-19"), &args),
            r"/usr/bin/clang-19 '-Ia dir' '-DX='\''y'\''' -O2"
        );
    }
}
