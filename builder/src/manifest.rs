//! Probe declarations in Cargo manifests.
//!
//! ```toml
//! [workspace.metadata.coreship.probes.execsnoop]   # paths relative to the workspace root
//! source = "bpf/execsnoop.bpf.c"                   # the C source, or instead:
//! # rust = "bpf/execsnoop-ebpf"                    # a BPF crate (aya-ebpf) to build with
//!                                                  # nightly cargo and bpf-linker
//! version = "0.1.0"                                # default: [workspace.package] version
//! description = "every exec"
//! arches = ["x86_64", "aarch64"]                   # default: both
//! include = ["bpf/vendor"]                         # extra include dirs
//!
//! [package.metadata.coreship.probes.<name>]        # same keys, relative to the package dir,
//!                                                  # version defaults to the package's
//! ```
//!
//! `cargo metadata --no-deps` hands both tables over as JSON; parsing them is pure and
//! unit-tested here. Unknown keys are errors, so a typo never silently drops a setting.

use coreship_registry::{Arch, UnknownArch};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Keys a C probe's table may have.
const PROBE_KEYS: &str = "source, version, description, arches, include";

/// Keys a Rust probe's table may have (`include` is for clang).
const RUST_PROBE_KEYS: &str = "rust, version, description, arches";

/// What a probe is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeLang {
    /// A `.bpf.c` file compiled with clang.
    C,
    /// A BPF crate built with nightly cargo for `bpfel-unknown-none` and linked by bpf-linker.
    Rust,
}

/// One probe to build.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpec {
    /// Probe name: the package name and the output directory name.
    pub name: String,
    /// The C source, or the BPF crate's directory for [`ProbeLang::Rust`] (absolute).
    pub source: PathBuf,
    /// C or Rust.
    pub lang: ProbeLang,
    /// Probe version.
    pub version: String,
    /// One-line description.
    pub description: Option<String>,
    /// Architectures to compile for.
    pub arches: Vec<Arch>,
    /// Extra include directories (absolute), searched before the generated one.
    pub include: Vec<PathBuf>,
    /// The Cargo.toml that declared it (None for probes given on the command line).
    pub manifest: Option<PathBuf>,
    /// The package whose `[package.metadata]` declared it (None for workspace-level probes
    /// and files).
    pub package: Option<String>,
}

/// The probes of a Cargo workspace and where it builds.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Workspace root directory.
    pub root: PathBuf,
    /// Cargo's target directory.
    pub target_dir: PathBuf,
    /// Probes declared in the workspace and in its members, workspace ones first.
    pub probes: Vec<ProbeSpec>,
    /// Names of the workspace's packages (members), in cargo's order.
    pub packages: Vec<String>,
}

/// Errors reading probe declarations.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// `cargo metadata` failed.
    #[error("cannot read the workspace of {}", manifest.display())]
    Metadata {
        /// The manifest given (or `Cargo.toml` in the current directory).
        manifest: PathBuf,
        /// What cargo_metadata reported (includes cargo's stderr).
        #[source]
        source: cargo_metadata::Error,
    },
    /// A key coreship does not know.
    #[error("unknown key `{key}` in [{table}] of {} (known: {known})", manifest.display())]
    UnknownKey {
        /// The Cargo.toml.
        manifest: PathBuf,
        /// The table, e.g. `workspace.metadata.coreship.probes.execsnoop`.
        table: String,
        /// The unknown key.
        key: String,
        /// The keys allowed there.
        known: &'static str,
    },
    /// A probe without `source` or `rust`.
    #[error("[{table}] of {} has no `source` (the probe's .bpf.c file) or `rust` (a BPF crate's directory)", manifest.display())]
    MissingSource {
        /// The Cargo.toml.
        manifest: PathBuf,
        /// The probe's table.
        table: String,
    },
    /// A probe with both `source` and `rust`.
    #[error("[{table}] of {} has both `source` and `rust`: a probe is C or Rust", manifest.display())]
    BothSources {
        /// The Cargo.toml.
        manifest: PathBuf,
        /// The probe's table.
        table: String,
    },
    /// A value of the wrong type.
    #[error("`{key}` in [{table}] of {} must be {expected}", manifest.display())]
    BadType {
        /// The Cargo.toml.
        manifest: PathBuf,
        /// The table.
        table: String,
        /// The key.
        key: String,
        /// What it must be.
        expected: &'static str,
    },
    /// An unknown architecture in `arches`.
    #[error("bad `arches` in [{table}] of {}", manifest.display())]
    BadArch {
        /// The Cargo.toml.
        manifest: PathBuf,
        /// The table.
        table: String,
        /// The unknown name.
        #[source]
        source: UnknownArch,
    },
    /// A probe name that cannot be a directory name.
    #[error("probe name `{name}` in {} must be non-empty ASCII letters, digits, `_` or `-`", manifest.display())]
    BadName {
        /// The Cargo.toml.
        manifest: PathBuf,
        /// The name.
        name: String,
    },
    /// No version given and none to default to.
    #[error("[{table}] of {} has no `version` and the workspace has no [workspace.package] version", manifest.display())]
    NoVersion {
        /// The Cargo.toml.
        manifest: PathBuf,
        /// The table.
        table: String,
    },
    /// Two probes with one name.
    #[error("probe `{name}` is declared twice: in {} and in {}", first.display(), second.display())]
    Duplicate {
        /// The name.
        name: String,
        /// First declaring manifest.
        first: PathBuf,
        /// Second declaring manifest.
        second: PathBuf,
    },
}

/// Where a set of probe tables lives, for resolving paths, defaults and error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableOrigin<'a> {
    /// The Cargo.toml.
    pub manifest: &'a Path,
    /// `workspace.metadata` or `package.metadata`.
    pub prefix: &'static str,
    /// Directory relative paths are resolved against.
    pub base_dir: &'a Path,
    /// Version when a probe has none.
    pub default_version: Option<&'a str>,
    /// The declaring package, for `package.metadata` tables.
    pub package: Option<&'a str>,
}

/// Reads the workspace of `manifest_path` (default: the one cargo finds from the current
/// directory) with `cargo metadata --no-deps`.
pub fn read_workspace(manifest_path: Option<&Path>) -> Result<Workspace, ManifestError> {
    let mut cmd = cargo_metadata::MetadataCommand::new();
    cmd.no_deps();
    if let Some(p) = manifest_path {
        cmd.manifest_path(p);
    }
    let meta = cmd.exec().map_err(|source| ManifestError::Metadata {
        manifest: manifest_path
            .unwrap_or(Path::new("Cargo.toml"))
            .to_path_buf(),
        source,
    })?;
    let root = meta.workspace_root.clone().into_std_path_buf();
    let root_manifest = root.join("Cargo.toml");
    let ws_version = std::fs::read_to_string(&root_manifest)
        .ok()
        .and_then(|t| workspace_package_version(&t))
        .or_else(|| meta.root_package().map(|p| p.version.to_string()));

    let mut probes = probes_in(
        &meta.workspace_metadata,
        TableOrigin {
            manifest: &root_manifest,
            prefix: "workspace.metadata",
            base_dir: &root,
            default_version: ws_version.as_deref(),
            package: None,
        },
    )?;
    for pkg in meta.workspace_packages() {
        let manifest = pkg.manifest_path.clone().into_std_path_buf();
        let version = pkg.version.to_string();
        let dir = manifest.parent().unwrap_or(&root).to_path_buf();
        probes.extend(probes_in(
            &pkg.metadata,
            TableOrigin {
                manifest: &manifest,
                prefix: "package.metadata",
                base_dir: &dir,
                default_version: Some(&version),
                package: Some(&pkg.name),
            },
        )?);
    }
    check_unique(&probes)?;
    Ok(Workspace {
        root,
        target_dir: meta.target_directory.clone().into_std_path_buf(),
        probes,
        packages: meta
            .workspace_packages()
            .iter()
            .map(|p| p.name.to_string())
            .collect(),
    })
}

fn check_unique(probes: &[ProbeSpec]) -> Result<(), ManifestError> {
    for (i, p) in probes.iter().enumerate() {
        if let Some(q) = probes[..i].iter().find(|q| q.name == p.name) {
            let m = |s: &ProbeSpec| s.manifest.clone().unwrap_or_default();
            return Err(ManifestError::Duplicate {
                name: p.name.clone(),
                first: m(q),
                second: m(p),
            });
        }
    }
    Ok(())
}

/// The probes under `coreship.probes` of a `[*.metadata]` table (JSON `null` when absent).
pub(crate) fn probes_in(
    metadata: &Value,
    origin: TableOrigin<'_>,
) -> Result<Vec<ProbeSpec>, ManifestError> {
    let Some(coreship) = metadata.get("coreship") else {
        return Ok(Vec::new());
    };
    let table = format!("{}.coreship", origin.prefix);
    let coreship = as_table(coreship, &origin, &table, "coreship")?;
    if let Some(key) = coreship.keys().find(|k| *k != "probes") {
        return Err(ManifestError::UnknownKey {
            manifest: origin.manifest.to_path_buf(),
            table,
            key: key.clone(),
            known: "probes",
        });
    }
    let Some(probes) = coreship.get("probes") else {
        return Ok(Vec::new());
    };
    let probes = as_table(probes, &origin, &table, "probes")?;
    probes
        .iter()
        .map(|(name, t)| probe(name, t, &origin))
        .collect()
}

fn probe(name: &str, value: &Value, origin: &TableOrigin<'_>) -> Result<ProbeSpec, ManifestError> {
    let table = format!("{}.coreship.probes.{name}", origin.prefix);
    let parent = format!("{}.coreship.probes", origin.prefix);
    let t = as_table(value, origin, &parent, name)?;
    if !valid_name(name) {
        return Err(ManifestError::BadName {
            manifest: origin.manifest.to_path_buf(),
            name: name.to_string(),
        });
    }
    let (lang, known) = if t.contains_key("rust") {
        (ProbeLang::Rust, RUST_PROBE_KEYS)
    } else {
        (ProbeLang::C, PROBE_KEYS)
    };
    if lang == ProbeLang::Rust && t.contains_key("source") {
        return Err(ManifestError::BothSources {
            manifest: origin.manifest.to_path_buf(),
            table,
        });
    }
    if let Some(key) = t
        .keys()
        .find(|k| !known.split(", ").any(|n| n == k.as_str()))
    {
        return Err(ManifestError::UnknownKey {
            manifest: origin.manifest.to_path_buf(),
            table,
            key: key.clone(),
            known,
        });
    }
    let string = |key: &str| -> Result<Option<String>, ManifestError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad_type(origin, &table, key, "a string")),
        }
    };
    let strings = |key: &str| -> Result<Option<Vec<String>>, ManifestError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| bad_type(origin, &table, key, "an array of strings")),
            Some(_) => Err(bad_type(origin, &table, key, "an array of strings")),
        }
    };
    let source_key = match lang {
        ProbeLang::C => "source",
        ProbeLang::Rust => "rust",
    };
    let source = string(source_key)?.ok_or_else(|| ManifestError::MissingSource {
        manifest: origin.manifest.to_path_buf(),
        table: table.clone(),
    })?;
    let version = match (string("version")?, origin.default_version) {
        (Some(v), _) => v,
        (None, Some(v)) => v.to_string(),
        (None, None) => {
            return Err(ManifestError::NoVersion {
                manifest: origin.manifest.to_path_buf(),
                table,
            })
        }
    };
    let arches = match strings("arches")? {
        None => Arch::ALL.to_vec(),
        Some(names) => {
            let mut arches = Vec::new();
            for n in names {
                let a = n.parse::<Arch>().map_err(|source| ManifestError::BadArch {
                    manifest: origin.manifest.to_path_buf(),
                    table: table.clone(),
                    source,
                })?;
                if !arches.contains(&a) {
                    arches.push(a);
                }
            }
            arches
        }
    };
    Ok(ProbeSpec {
        name: name.to_string(),
        source: origin.base_dir.join(source),
        lang,
        version,
        description: string("description")?,
        arches,
        include: strings("include")?
            .unwrap_or_default()
            .into_iter()
            .map(|d| origin.base_dir.join(d))
            .collect(),
        manifest: Some(origin.manifest.to_path_buf()),
        package: origin.package.map(str::to_string),
    })
}

fn as_table<'v>(
    v: &'v Value,
    origin: &TableOrigin<'_>,
    table: &str,
    key: &str,
) -> Result<&'v Map<String, Value>, ManifestError> {
    v.as_object()
        .ok_or_else(|| bad_type(origin, table, key, "a table"))
}

fn bad_type(
    origin: &TableOrigin<'_>,
    table: &str,
    key: &str,
    expected: &'static str,
) -> ManifestError {
    ManifestError::BadType {
        manifest: origin.manifest.to_path_buf(),
        table: table.to_string(),
        key: key.to_string(),
        expected,
    }
}

/// Whether `name` can be a probe (and directory) name.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `version` of `[workspace.package]`, which `cargo metadata` does not report.
///
/// A line scan, not a TOML parser: it reads the `version = "…"` line of a `[workspace.package]`
/// table, the form `cargo new` and nearly every workspace use. Other spellings (dotted keys,
/// inline tables) fall back to the root package's version or an explicit `version`.
pub(crate) fn workspace_package_version(toml: &str) -> Option<String> {
    let mut in_table = false;
    for line in toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            let header: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            in_table = header == "[workspace.package]";
            continue;
        }
        if !in_table {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "version" {
            continue;
        }
        let value = value.trim();
        let value = value.split_once(" #").map_or(value, |(v, _)| v).trim();
        return value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .map(str::to_string);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn origin<'a>(default_version: Option<&'a str>) -> TableOrigin<'a> {
        TableOrigin {
            manifest: Path::new("/ws/Cargo.toml"),
            prefix: "workspace.metadata",
            base_dir: Path::new("/ws"),
            default_version,
            package: None,
        }
    }

    #[test]
    fn good_table_with_defaults_and_overrides() {
        let meta = json!({"coreship": {"probes": {
            "execsnoop": {"source": "bpf/execsnoop.bpf.c", "description": "execs"},
            "lat": {"source": "bpf/lat.bpf.c", "version": "2.0.0", "arches": ["arm64"],
                    "include": ["bpf/vendor"]},
        }}});
        let probes = probes_in(&meta, origin(Some("0.1.0"))).unwrap();
        assert_eq!(probes.len(), 2);
        let exec = probes.iter().find(|p| p.name == "execsnoop").unwrap();
        assert_eq!(exec.source, Path::new("/ws/bpf/execsnoop.bpf.c"));
        assert_eq!(exec.version, "0.1.0");
        assert_eq!(exec.description.as_deref(), Some("execs"));
        assert_eq!(exec.arches, Arch::ALL);
        assert!(exec.include.is_empty());
        let lat = probes.iter().find(|p| p.name == "lat").unwrap();
        assert_eq!(lat.version, "2.0.0");
        assert_eq!(lat.arches, [Arch::Aarch64]);
        assert_eq!(lat.include, [Path::new("/ws/bpf/vendor")]);
    }

    #[test]
    fn no_coreship_table_means_no_probes() {
        assert!(probes_in(&Value::Null, origin(None)).unwrap().is_empty());
        assert!(probes_in(&json!({"other": 1}), origin(None))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn unknown_key_names_key_table_and_manifest() {
        let meta = json!({"coreship": {"probes": {"x": {"source": "x.bpf.c", "sources": []}}}});
        let err = probes_in(&meta, origin(Some("1.0.0"))).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ManifestError::UnknownKey { ref key, .. } if key == "sources"));
        assert!(msg.contains("`sources`"), "{msg}");
        assert!(
            msg.contains("[workspace.metadata.coreship.probes.x]"),
            "{msg}"
        );
        assert!(msg.contains("/ws/Cargo.toml"), "{msg}");

        let meta = json!({"coreship": {"probe": {}}});
        let err = probes_in(&meta, origin(None)).unwrap_err();
        assert!(err.to_string().contains("unknown key `probe`"), "{err}");
    }

    #[test]
    fn missing_source_is_an_error() {
        let meta = json!({"coreship": {"probes": {"x": {"version": "1.0.0"}}}});
        let err = probes_in(&meta, origin(None)).unwrap_err();
        assert!(matches!(err, ManifestError::MissingSource { .. }), "{err}");
        assert!(err.to_string().contains("no `source`"), "{err}");
    }

    #[test]
    fn rust_probes_name_a_crate_and_take_no_include() {
        let meta = json!({"coreship": {"probes": {"r": {"rust": "bpf/r-ebpf"}}}});
        let p = &probes_in(&meta, origin(Some("1.0.0"))).unwrap()[0];
        assert_eq!(
            (p.lang, p.source.as_path()),
            (ProbeLang::Rust, Path::new("/ws/bpf/r-ebpf"))
        );
        let both = json!({"coreship": {"probes": {"r": {"rust": "r", "source": "r.c"}}}});
        let err = probes_in(&both, origin(Some("1.0.0"))).unwrap_err();
        assert!(matches!(err, ManifestError::BothSources { .. }), "{err}");
        let inc = json!({"coreship": {"probes": {"r": {"rust": "r", "include": []}}}});
        let err = probes_in(&inc, origin(Some("1.0.0"))).unwrap_err();
        assert!(err.to_string().contains("known: rust, version"), "{err}");
    }

    #[test]
    fn bad_values_are_errors() {
        let bad = [
            json!({"x": {"source": 1}}),
            json!({"x": {"source": "x.c", "arches": "x86_64"}}),
            json!({"x": {"source": "x.c", "arches": ["sparc"]}}),
            json!({"x": "x.c"}),
            json!({"../x": {"source": "x.c"}}),
            json!({"x": {"source": "x.c"}}),
        ];
        for probes in bad {
            let meta = json!({"coreship": {"probes": probes}});
            assert!(probes_in(&meta, origin(None)).is_err(), "{meta}");
        }
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let meta = json!({"coreship": {"probes": {"x": {"source": "x.c"}}}});
        let mut probes = probes_in(&meta, origin(Some("1.0.0"))).unwrap();
        probes.push(probes[0].clone());
        assert!(matches!(
            check_unique(&probes),
            Err(ManifestError::Duplicate { .. })
        ));
    }

    #[test]
    fn workspace_package_version_is_found() {
        let toml = "[workspace]\nmembers = []\nversion = \"9\"\n\n[ workspace.package ]\n\
                    edition = \"2021\"\nversion = \"0.3.1\" # comment\n[other]\nversion = \"1\"\n";
        assert_eq!(workspace_package_version(toml).as_deref(), Some("0.3.1"));
        assert_eq!(
            workspace_package_version("[workspace]\nversion = \"1\"\n"),
            None
        );
    }
}
