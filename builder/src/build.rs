//! `coreship build` as a library call: find clang and the probes, prepare headers, compile
//! every (probe, arch) on a pool of threads, then describe each probe's package.

use crate::compile::{build_object, Compiled, JobEnv};
use crate::headers;
use crate::jobs::run_jobs;
use crate::manifest::{read_workspace, valid_name, ProbeSpec};
use crate::package::write_package;
use crate::paths::PathMapper;
use crate::{BuildError, Clang};
use coreship_registry::{Arch, Package};
use std::path::{Path, PathBuf};

/// What to build and where.
#[derive(Debug, Clone, Default)]
pub struct BuildOpts {
    /// Build these `NAME.bpf.c` files instead of the manifest's probes (no Cargo needed; the
    /// current directory is the root).
    pub files: Vec<PathBuf>,
    /// Version for probes given as files (default `0.0.0`).
    pub version: Option<String>,
    /// The workspace's `Cargo.toml` (default: found by cargo from the current directory).
    pub manifest_path: Option<PathBuf>,
    /// Only these probes (by name).
    pub probes: Vec<String>,
    /// Only these arches (a probe declaring none of them is skipped).
    pub arches: Option<Vec<Arch>>,
    /// Parallel compile jobs (default: available parallelism).
    pub jobs: Option<usize>,
    /// Output directory (default: `<target dir>/coreship`).
    pub out_dir: Option<PathBuf>,
    /// BTF to generate `vmlinux.h` from, when no include dir has one (default: the kernel's).
    pub btf: Option<PathBuf>,
    /// clang to use (default: `$CLANG`, then `clang-19` … `clang-14`, then `clang`).
    pub clang: Option<PathBuf>,
}

/// Whether an object was compiled or its recorded inputs were unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// clang ran.
    Compiled,
    /// Inputs unchanged; the existing object was kept.
    Fresh,
}

impl std::fmt::Display for Freshness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Freshness::Compiled => "compiled",
            Freshness::Fresh => "fresh",
        })
    }
}

/// One object of a probe.
#[derive(Debug, Clone)]
pub struct ObjectReport {
    /// The arch.
    pub arch: Arch,
    /// `<out>/<name>/<arch>/<name>.bpf.o`.
    pub object: PathBuf,
    /// Compiled or fresh.
    pub status: Freshness,
    /// clang's warnings, empty when none (or fresh).
    pub warnings: String,
}

/// One built probe.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// Probe name.
    pub name: String,
    /// The package directory (`<out>/<name>`).
    pub package_dir: PathBuf,
    /// Objects in arch order.
    pub objects: Vec<ObjectReport>,
    /// The description written to `package_dir`.
    pub package: Package,
}

/// What a build did.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// The clang used.
    pub clang: Clang,
    /// The output directory.
    pub out_dir: PathBuf,
    /// `vmlinux.h` generated from BTF for this build, if none was found in include dirs.
    pub generated_vmlinux: Option<PathBuf>,
    /// Built probes, in declaration order.
    pub probes: Vec<ProbeReport>,
    /// Probes left out by the arch filter, with the arches they declare.
    pub skipped: Vec<(String, Vec<Arch>)>,
}

/// Builds the probes `opts` selects.
pub fn build(opts: &BuildOpts) -> Result<BuildReport, BuildError> {
    let clang = match &opts.clang {
        Some(p) => Clang::at(p)?,
        None => Clang::find()?,
    };
    let (root, target_dir, mut probes) = select_probes(opts)?;
    let mut skipped = Vec::new();
    if let Some(only) = &opts.arches {
        probes.retain_mut(|p| {
            let declared = p.arches.clone();
            p.arches = if p.manifest.is_none() {
                only.clone()
            } else {
                declared
                    .iter()
                    .copied()
                    .filter(|a| only.contains(a))
                    .collect()
            };
            if p.arches.is_empty() {
                skipped.push((p.name.clone(), declared));
            }
            !p.arches.is_empty()
        });
    }

    let out = opts
        .out_dir
        .clone()
        .unwrap_or_else(|| target_dir.join("coreship"));
    let out = absolute_dir(&out)?;
    let mapper = PathMapper::new(&root, &out);
    let generated = headers::include_dir(&out);
    headers::write_libbpf_headers(&generated)?;

    let bpf_include = root.join("bpf/include");
    let include_dirs: Vec<Vec<PathBuf>> = probes
        .iter()
        .map(|p| {
            let mut dirs = Vec::new();
            if bpf_include.is_dir() {
                dirs.push(bpf_include.clone());
            }
            dirs.extend(p.include.iter().cloned());
            dirs
        })
        .collect();
    let needs_vmlinux = probes
        .iter()
        .zip(&include_dirs)
        .any(|(p, dirs)| !headers::finds_vmlinux(p.source.parent().unwrap_or(&root), dirs));
    let generated_vmlinux = if needs_vmlinux {
        Some(headers::write_vmlinux(&generated, opts.btf.as_deref())?)
    } else {
        None
    };
    let include_dirs: Vec<Vec<PathBuf>> = include_dirs
        .into_iter()
        .map(|mut d| {
            d.push(generated.clone());
            d
        })
        .collect();

    let jobs: Vec<(usize, Arch)> = probes
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.arches.iter().map(move |&a| (i, a)))
        .collect();
    let env = JobEnv {
        clang: &clang,
        mapper: &mapper,
    };
    let threads = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let results = run_jobs(jobs.len(), threads, |j| {
        let (i, arch) = jobs[j];
        build_object(&env, &probes[i], &include_dirs[i], arch)
    });

    let mut per_probe: Vec<Vec<Compiled>> = vec![Vec::new(); probes.len()];
    for ((i, arch), r) in jobs.iter().zip(results) {
        match r {
            Some(Ok(c)) => per_probe[*i].push(c),
            Some(Err(e)) => return Err(e),
            None => {
                return Err(BuildError::Panic {
                    probe: probes[*i].name.clone(),
                    arch: *arch,
                })
            }
        }
    }
    let mut reports = Vec::new();
    for (probe, compiled) in probes.iter().zip(per_probe) {
        let package_dir = out.join(&probe.name);
        let package = write_package(probe, &compiled, &clang, &mapper, &package_dir)?;
        reports.push(ProbeReport {
            name: probe.name.clone(),
            package_dir,
            objects: compiled
                .into_iter()
                .map(|c| ObjectReport {
                    arch: c.arch,
                    object: c.object,
                    status: c.status,
                    warnings: c.warnings,
                })
                .collect(),
            package,
        });
    }
    Ok(BuildReport {
        clang,
        out_dir: out,
        generated_vmlinux,
        probes: reports,
        skipped,
    })
}

/// (root, target dir, probes) from the files given or the workspace manifest.
fn select_probes(opts: &BuildOpts) -> Result<(PathBuf, PathBuf, Vec<ProbeSpec>), BuildError> {
    if !opts.files.is_empty() {
        let probes = opts
            .files
            .iter()
            .map(|f| probe_from_file(f, opts.version.as_deref()))
            .collect::<Result<Vec<_>, _>>()?;
        // The project the files belong to, not the current directory: it decides which
        // `bpf/include` is used and how paths are recorded, so a file builds the same from
        // anywhere.
        let root = project_root(&probes[0].source);
        let probes = filter_by_name(probes, &opts.probes)?;
        return Ok((root.clone(), root.join("target"), probes));
    }
    let ws = read_workspace(opts.manifest_path.as_deref())?;
    let root = absolute_dir(&ws.root)?;
    if ws.probes.is_empty() {
        return Err(BuildError::NoProbes {
            manifest: root.join("Cargo.toml"),
        });
    }
    let mut probes = filter_by_name(ws.probes, &opts.probes)?;
    for p in &mut probes {
        p.source =
            std::fs::canonicalize(&p.source).map_err(|source| BuildError::MissingSource {
                probe: p.name.clone(),
                path: p.source.clone(),
                source,
            })?;
    }
    Ok((root, ws.target_dir, probes))
}

fn filter_by_name(probes: Vec<ProbeSpec>, names: &[String]) -> Result<Vec<ProbeSpec>, BuildError> {
    if names.is_empty() {
        return Ok(probes);
    }
    if let Some(missing) = names.iter().find(|n| !probes.iter().any(|p| &p.name == *n)) {
        return Err(BuildError::NoSuchProbe {
            name: missing.clone(),
            available: probes
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(probes
        .into_iter()
        .filter(|p| names.contains(&p.name))
        .collect())
}

/// The nearest ancestor of `source` holding a `Cargo.toml`, a `.git` or a `bpf/include`
/// directory; the source's own directory when there is none.
fn project_root(source: &Path) -> PathBuf {
    let dir = source.parent().unwrap_or(Path::new("/"));
    dir.ancestors()
        .find(|d| {
            d.join("Cargo.toml").is_file()
                || d.join(".git").exists()
                || d.join("bpf/include").is_dir()
        })
        .unwrap_or(dir)
        .to_path_buf()
}

/// A probe for a `NAME.bpf.c` given on the command line.
pub(crate) fn probe_from_file(file: &Path, version: Option<&str>) -> Result<ProbeSpec, BuildError> {
    let bad = || BuildError::BadSourceName {
        path: file.to_path_buf(),
    };
    let file_name = file.file_name().and_then(|n| n.to_str()).ok_or_else(bad)?;
    let stem = file_name.strip_suffix(".c").unwrap_or(file_name);
    let name = stem.strip_suffix(".bpf").unwrap_or(stem);
    if !valid_name(name) {
        return Err(bad());
    }
    let source = std::fs::canonicalize(file).map_err(|source| BuildError::MissingSource {
        probe: name.to_string(),
        path: file.to_path_buf(),
        source,
    })?;
    Ok(ProbeSpec {
        name: name.to_string(),
        source,
        version: version.unwrap_or("0.0.0").to_string(),
        description: None,
        arches: Arch::ALL.to_vec(),
        include: Vec::new(),
        manifest: None,
    })
}

/// Creates `dir` and returns its canonical path.
fn absolute_dir(dir: &Path) -> Result<PathBuf, BuildError> {
    std::fs::create_dir_all(dir).map_err(BuildError::io("create directory", dir))?;
    std::fs::canonicalize(dir).map_err(BuildError::io("read", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_make_probe_names() {
        let dir = std::env::temp_dir().join(format!("coreship-build-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("exec-snoop.bpf.c"), "").unwrap();
        let p = probe_from_file(&dir.join("exec-snoop.bpf.c"), None).unwrap();
        assert_eq!(
            (p.name.as_str(), p.version.as_str()),
            ("exec-snoop", "0.0.0")
        );
        assert_eq!(p.arches, Arch::ALL);
        let p = probe_from_file(&dir.join("exec-snoop.bpf.c"), Some("1.2.3")).unwrap();
        assert_eq!(p.version, "1.2.3");
        assert!(matches!(
            probe_from_file(&dir.join("missing.bpf.c"), None),
            Err(BuildError::MissingSource { .. })
        ));
        assert!(matches!(
            probe_from_file(&dir.join("a b.bpf.c"), None),
            Err(BuildError::BadSourceName { .. })
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
