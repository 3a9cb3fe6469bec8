//! Building probes from a crate's `build.rs`: [`Builder`], its typestates and the cargo
//! directives it prints.

mod directives;
mod error;
#[cfg(feature = "skeleton")]
mod skeleton;

pub use error::BuildScriptError;

use crate::build::build_selected;
use crate::fs::write_if_changed;
use crate::select::{absolute_dir, filter_by_name, Selection};
use crate::{read_workspace, BuildOpts, BuildReport};
use coreship_registry::Arch;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Builds a package's probes from its build script.
///
/// ```toml
/// # Cargo.toml
/// [package.metadata.coreship.probes.myprobe]
/// source = "src/bpf/myprobe.bpf.c"
///
/// [build-dependencies]
/// coreship-builder = "0.1"
/// ```
///
/// ```no_run
/// // build.rs
/// fn main() -> Result<(), coreship_builder::BuildScriptError> {
///     coreship_builder::Builder::from_env()?.probe("myprobe").build()?;
///     Ok(())
/// }
/// ```
///
/// ```ignore
/// // src/main.rs
/// static MYPROBE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/myprobe.bpf.o"));
/// ```
///
/// The probe is compiled for the crate's target arch (`CARGO_CFG_TARGET_ARCH`, as
/// `-D__TARGET_ARCH_x86`/`arm64`) with the same clang flags, headers and incremental record
/// as `coreship build`, from the package's directory. `OUT_DIR` then holds:
///
/// ```text
/// <name>.bpf.o                     the object, to include_bytes!
/// <name>/package.json              its package description (load with coreship-load run)
/// <name>/<arch>/<name>.bpf.o       the object the description pins
/// include/                         libbpf's headers, coreship.h, a generated vmlinux.h
/// ```
///
/// Probes are read from the package's own `[package.metadata.coreship.probes]`, through
/// `cargo metadata --no-deps` (no dependency resolution, no network) so workspace
/// inheritance such as `version.workspace = true` resolves as cargo does it.
///
/// [`Builder::build`] writes cargo directives to stdout, as build-script APIs do:
/// `cargo:rerun-if-changed=` for the Cargo.toml, each source and every header clang's
/// depfile lists (generated headers in `OUT_DIR` excluded), `cargo:rerun-if-env-changed=CLANG`,
/// and clang's warnings as `cargo:warning=`. [`Builder::build_with`] takes another writer.
///
/// The type parameter records whether probes were chosen: [`Builder::build`] exists once
/// [`Builder::probe`] or [`Builder::all`] was called.
#[derive(Debug, Clone)]
pub struct Builder<S = Unselected> {
    manifest_dir: PathBuf,
    out_dir: Option<PathBuf>,
    arch: Arch,
    clang: Option<PathBuf>,
    btf: Option<PathBuf>,
    skeleton: bool,
    selection: S,
}

/// [`Builder`] state: no probe chosen yet.
#[derive(Debug, Clone)]
pub struct Unselected;

/// [`Builder`] state: the probes named with [`Builder::probe`].
#[derive(Debug, Clone)]
pub struct Named(Vec<String>);

/// [`Builder`] state: every probe of the package ([`Builder::all`]).
#[derive(Debug, Clone)]
pub struct All;

mod sealed {
    /// Which probes a [`super::Builder`] builds: `None` for all.
    pub trait Selection {
        fn names(&self) -> Option<&[String]>;
    }
}

/// A [`Builder`] state with probes chosen.
pub trait Selected: sealed::Selection {}

impl sealed::Selection for Named {
    fn names(&self) -> Option<&[String]> {
        Some(&self.0)
    }
}
impl sealed::Selection for All {
    fn names(&self) -> Option<&[String]> {
        None
    }
}
impl Selected for Named {}
impl Selected for All {}

/// What a build script's build did.
#[derive(Debug, Clone)]
pub struct BuildScriptReport {
    /// `OUT_DIR/<name>.bpf.o` of each probe, in declaration order.
    pub objects: Vec<PathBuf>,
    /// The files the build depends on, as printed in `cargo:rerun-if-changed=` lines.
    pub rerun_if_changed: Vec<PathBuf>,
    /// The underlying build (package directories, freshness, warnings).
    pub report: BuildReport,
}

impl Builder<Unselected> {
    /// Reads `CARGO_MANIFEST_DIR`, `CARGO_CFG_TARGET_ARCH` and `OUT_DIR` (the last may be
    /// replaced with [`Builder::out_dir`]).
    pub fn from_env() -> Result<Builder<Unselected>, BuildScriptError> {
        let var =
            |var: &'static str| std::env::var_os(var).ok_or(BuildScriptError::MissingEnv { var });
        let manifest_dir = PathBuf::from(var("CARGO_MANIFEST_DIR")?);
        let arch = var("CARGO_CFG_TARGET_ARCH")?;
        let arch = target_arch(&arch.to_string_lossy())?;
        Ok(Builder {
            manifest_dir,
            out_dir: std::env::var_os("OUT_DIR").map(PathBuf::from),
            arch,
            clang: None,
            btf: None,
            skeleton: false,
            selection: Unselected,
        })
    }

    /// Builds the probe `name` (repeatable).
    pub fn probe(self, name: impl Into<String>) -> Builder<Named> {
        self.with_selection(Named(vec![name.into()]))
    }

    /// Builds every probe the package declares for the target's arch.
    pub fn all(self) -> Builder<All> {
        self.with_selection(All)
    }
}

impl Builder<Named> {
    /// Builds the probe `name` too.
    pub fn probe(mut self, name: impl Into<String>) -> Builder<Named> {
        self.selection.0.push(name.into());
        self
    }
}

impl<S> Builder<S> {
    /// Writes into `dir` instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Uses this clang instead of `$CLANG`, `clang-19` … `clang-14`, `clang`.
    pub fn clang(mut self, path: impl Into<PathBuf>) -> Self {
        self.clang = Some(path.into());
        self
    }

    /// Generates `vmlinux.h` from this BTF file when the package has none (default: the
    /// running kernel's `/sys/kernel/btf/vmlinux`).
    pub fn btf(mut self, path: impl Into<PathBuf>) -> Self {
        self.btf = Some(path.into());
        self
    }

    /// Also generates a typed libbpf-rs skeleton `OUT_DIR/<name>.skel.rs` per probe with
    /// libbpf-cargo (feature `skeleton`); include it with
    /// `include!(concat!(env!("OUT_DIR"), "/<name>.skel.rs"))`. The skeleton embeds the object
    /// coreship built, so both ways of loading see the same bytes.
    #[cfg(feature = "skeleton")]
    pub fn skeleton(mut self, on: bool) -> Self {
        self.skeleton = on;
        self
    }

    fn with_selection<T>(self, selection: T) -> Builder<T> {
        Builder {
            manifest_dir: self.manifest_dir,
            out_dir: self.out_dir,
            arch: self.arch,
            clang: self.clang,
            btf: self.btf,
            skeleton: self.skeleton,
            selection,
        }
    }
}

impl<S: Selected> Builder<S> {
    /// Builds, copies each object to `OUT_DIR/<name>.bpf.o` and prints cargo directives to
    /// stdout.
    pub fn build(self) -> Result<BuildScriptReport, BuildScriptError> {
        self.build_with(&mut std::io::stdout().lock())
    }

    /// Like [`Builder::build`], writing the cargo directives to `out`.
    pub fn build_with(self, out: &mut dyn Write) -> Result<BuildScriptReport, BuildScriptError> {
        let out_dir = self
            .out_dir
            .clone()
            .ok_or(BuildScriptError::MissingEnv { var: "OUT_DIR" })?;
        let manifest = self.manifest_dir.join("Cargo.toml");
        let emit_err = |source| BuildScriptError::Io {
            path: PathBuf::from("-"),
            source,
        };
        // First, so that cargo reruns on a fixed manifest even when reading it fails.
        directives::write(out, std::slice::from_ref(&manifest), &[], &[]).map_err(emit_err)?;

        let sel = self.select(&manifest)?;
        let opts = BuildOpts {
            out_dir: Some(out_dir.clone()),
            clang: self.clang.clone(),
            btf: self.btf.clone(),
            ..BuildOpts::default()
        };
        let report = build_selected(sel, &opts)?;
        let out_dir = report.out_dir.clone();
        let mut objects = Vec::new();
        for p in &report.probes {
            for o in &p.objects {
                let bytes = std::fs::read(&o.object).map_err(|source| io(&o.object, source))?;
                let to = out_dir.join(format!("{}.bpf.o", p.name));
                write_if_changed(&to, &bytes).map_err(|source| io(&to, source))?;
                #[cfg(feature = "skeleton")]
                if self.skeleton {
                    skeleton::generate(&p.name, &to, &out_dir)?;
                }
                objects.push(to);
            }
        }
        let inputs = directives::inputs(&report, &out_dir);
        let warnings: Vec<&str> = report
            .probes
            .iter()
            .flat_map(|p| &p.objects)
            .map(|o| o.warnings.as_str())
            .collect();
        let mut rerun = inputs.clone();
        rerun.extend(self.btf.iter().cloned());
        directives::write(out, &rerun, &["CLANG"], &warnings).map_err(emit_err)?;
        let mut rerun_if_changed = vec![manifest];
        rerun_if_changed.extend(rerun);
        Ok(BuildScriptReport {
            objects,
            rerun_if_changed,
            report,
        })
    }

    /// The package's probes chosen by the selection, for the target's arch only.
    fn select(&self, manifest: &Path) -> Result<Selection, BuildScriptError> {
        let ws = read_workspace(Some(manifest)).map_err(crate::BuildError::from)?;
        let own = std::fs::canonicalize(manifest).map_err(|source| io(manifest, source))?;
        let mut probes: Vec<_> = ws
            .probes
            .into_iter()
            .filter(|p| p.package.is_some())
            .filter(|p| {
                p.manifest
                    .as_deref()
                    .and_then(|m| std::fs::canonicalize(m).ok())
                    .is_some_and(|m| m == own)
            })
            .collect();
        if probes.is_empty() {
            return Err(BuildScriptError::NoProbes {
                manifest: manifest.to_path_buf(),
            });
        }
        if let Some(names) = self.selection.names() {
            probes = filter_by_name(probes, names)?;
            if let Some(p) = probes.iter().find(|p| !p.arches.contains(&self.arch)) {
                return Err(BuildScriptError::ProbeArch {
                    probe: p.name.clone(),
                    arch: self.arch,
                    declared: p
                        .arches
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        probes.retain(|p| p.arches.contains(&self.arch));
        for p in &mut probes {
            p.arches = vec![self.arch];
            p.source = std::fs::canonicalize(&p.source).map_err(|source| {
                crate::BuildError::MissingSource {
                    probe: p.name.clone(),
                    path: p.source.clone(),
                    source,
                }
            })?;
        }
        let root = absolute_dir(&self.manifest_dir)?;
        Ok(Selection {
            target_dir: root.join("target"),
            root,
            probes,
        })
    }
}

fn io(path: &Path, source: std::io::Error) -> BuildScriptError {
    BuildScriptError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The coreship arch of a `CARGO_CFG_TARGET_ARCH` value (exact names only: `x86` is i686).
fn target_arch(cfg: &str) -> Result<Arch, BuildScriptError> {
    match cfg {
        "x86_64" => Ok(Arch::X86_64),
        "aarch64" => Ok(Arch::Aarch64),
        other => Err(BuildScriptError::UnsupportedArch {
            arch: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_arches_map_exactly() {
        assert_eq!(target_arch("x86_64").unwrap(), Arch::X86_64);
        assert_eq!(target_arch("aarch64").unwrap(), Arch::Aarch64);
        for other in ["x86", "arm", "riscv64"] {
            let e = target_arch(other).unwrap_err();
            assert!(e.to_string().contains(&format!("`{other}`")), "{e}");
        }
    }

    #[test]
    fn probes_accumulate_across_states() {
        let b = Builder {
            manifest_dir: PathBuf::from("/c"),
            out_dir: None,
            arch: Arch::X86_64,
            clang: None,
            btf: None,
            skeleton: false,
            selection: Unselected,
        };
        let b = b
            .probe("a")
            .out_dir("/o")
            .probe("b")
            .clang("/usr/bin/clang-19");
        assert_eq!(b.selection.0, ["a", "b"]);
        assert_eq!(b.out_dir.as_deref(), Some(Path::new("/o")));
        assert_eq!(b.clang.as_deref(), Some(Path::new("/usr/bin/clang-19")));
    }
}
