//! `coreship build` as a library call: find clang and the probes, prepare headers, compile
//! every (probe, arch) on a pool of threads, then describe each probe's package.

use crate::compile::{build_object, Compiled, JobEnv};
use crate::fingerprint::FileDigests;
use crate::headers;
use crate::jobs::run_jobs;
use crate::min_btf;
use crate::package::{write_package, Toolchain};
use crate::paths::PathMapper;
use crate::rust_probe;
use crate::select::{absolute_dir, select_probes, Selection};
use crate::{BuildError, Clang, ProbeLang};
use coreship_registry::{Arch, Package};
use std::path::PathBuf;

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
    /// Only probes declared in these packages' `[package.metadata]` (cargo's `-p`); empty
    /// means every probe of the workspace.
    pub packages: Vec<String>,
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
    /// Kernel BTF files (`ID/VERSION_ID/ARCH/RELEASE.btf`) to ship minimal BTF for.
    pub min_btf: Option<PathBuf>,
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
    /// What the object was built from (absolute): the source then every header clang read,
    /// or a Rust probe's crate directory.
    pub inputs: Vec<PathBuf>,
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
    // `cargo metadata` and `clang --version` are two process runs: overlap them (a third of
    // a no-op rebuild otherwise).
    let (sel, clang) = std::thread::scope(|s| {
        let clang = s.spawn(|| find_clang(opts));
        let sel = select_probes(opts);
        (sel, clang.join())
    });
    let clang = clang.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    build_with(sel?, clang, opts)
}

/// Builds `sel` (its probes already chosen) with the rest of `opts`.
pub(crate) fn build_selected(sel: Selection, opts: &BuildOpts) -> Result<BuildReport, BuildError> {
    build_with(sel, find_clang(opts), opts)
}

/// The clang `opts` names, else the one found on the system.
fn find_clang(opts: &BuildOpts) -> Result<Clang, BuildError> {
    Ok(match &opts.clang {
        Some(p) => Clang::at(p)?,
        None => Clang::find()?,
    })
}

/// [`build_selected`] with clang already looked for (its error is reported after a missing
/// Rust toolchain's, as before).
fn build_with(
    sel: Selection,
    clang: Result<Clang, BuildError>,
    opts: &BuildOpts,
) -> Result<BuildReport, BuildError> {
    let Selection {
        root,
        target_dir,
        mut probes,
    } = sel;
    // Before clang: a Rust probe on a machine without nightly fails on that, in one line.
    let rust = match probes.iter().find(|p| p.lang == ProbeLang::Rust) {
        Some(p) => Some(
            rust_probe::detect().map_err(|missing| BuildError::RustToolchain {
                probe: p.name.clone(),
                missing,
            })?,
        ),
        None => None,
    };
    let clang = clang?;
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
        .filter(|(p, _)| p.lang == ProbeLang::C)
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
    let digests = FileDigests::default();
    let env = JobEnv {
        clang: &clang,
        mapper: &mapper,
        digests: &digests,
    };
    let threads = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // The kernel BTF files of `--min-btf DIR`, read once per arch and checked before clang runs.
    let min_btf_inputs = match &opts.min_btf {
        Some(dir) => {
            let per_arch = Arch::ALL
                .iter()
                .map(|a| Ok((*a, min_btf::inputs(dir, *a)?)))
                .collect::<Result<Vec<_>, BuildError>>()?;
            if per_arch.iter().all(|(_, inputs)| inputs.is_empty()) {
                return Err(BuildError::NoMinBtfInputs { dir: dir.clone() });
            }
            per_arch
        }
        None => Vec::new(),
    };
    let results = run_jobs(jobs.len(), threads, |j| {
        let (i, arch) = jobs[j];
        match probes[i].lang {
            ProbeLang::C => build_object(&env, &probes[i], &include_dirs[i], arch),
            ProbeLang::Rust => rust_probe::build_object(&probes[i], arch, &mapper),
        }
    });

    let mut per_probe: Vec<Vec<Compiled>> = vec![Vec::new(); probes.len()];
    for ((i, arch), r) in jobs.iter().zip(results) {
        match r {
            Some(Ok(mut c)) => {
                if let Some((_, inputs)) = min_btf_inputs.iter().find(|(a, _)| a == arch) {
                    c.min_btf =
                        min_btf::generate(inputs, &c.object, *arch, &out.join(&probes[*i].name))?;
                }
                per_probe[*i].push(c)
            }
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
        let toolchain = match (&rust, probe.lang) {
            (Some(r), ProbeLang::Rust) => Toolchain::rust(r),
            _ => Toolchain::clang(&clang),
        };
        let package = write_package(probe, &compiled, &toolchain, &mapper, &package_dir)?;
        reports.push(ProbeReport {
            name: probe.name.clone(),
            package_dir,
            objects: compiled
                .into_iter()
                .map(|c| ObjectReport {
                    inputs: c.files.iter().map(|f| mapper.resolve(f)).collect(),
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
