//! Which probes a build covers: files from the command line, or the workspace's declarations
//! narrowed by probe name and by package.

use crate::manifest::{read_workspace, valid_name, ProbeLang, ProbeSpec};
use crate::{BuildError, BuildOpts};
use coreship_registry::Arch;
use std::path::{Path, PathBuf};

/// The probes of one build and where they live.
#[derive(Debug)]
pub(crate) struct Selection {
    /// The project root (clang's working directory).
    pub root: PathBuf,
    /// Cargo's target directory (the default output is `<target_dir>/coreship`).
    pub target_dir: PathBuf,
    /// The probes, sources canonical.
    pub probes: Vec<ProbeSpec>,
}

/// The probes of the files given, or of the workspace manifest.
pub(crate) fn select_probes(opts: &BuildOpts) -> Result<Selection, BuildError> {
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
        return Ok(Selection {
            target_dir: root.join("target"),
            root,
            probes,
        });
    }
    let ws = read_workspace(opts.manifest_path.as_deref())?;
    let root = absolute_dir(&ws.root)?;
    if ws.probes.is_empty() {
        return Err(BuildError::NoProbes {
            manifest: root.join("Cargo.toml"),
        });
    }
    let probes = filter_by_package(ws.probes, &ws.packages, &opts.packages)?;
    let mut probes = filter_by_name(probes, &opts.probes)?;
    for p in &mut probes {
        p.source =
            std::fs::canonicalize(&p.source).map_err(|source| BuildError::MissingSource {
                probe: p.name.clone(),
                path: p.source.clone(),
                source,
            })?;
    }
    Ok(Selection {
        root,
        target_dir: ws.target_dir,
        probes,
    })
}

/// The probes declared by `packages` (all when empty); every name must be a member.
pub(crate) fn filter_by_package(
    probes: Vec<ProbeSpec>,
    members: &[String],
    packages: &[String],
) -> Result<Vec<ProbeSpec>, BuildError> {
    if packages.is_empty() {
        return Ok(probes);
    }
    if let Some(missing) = packages.iter().find(|n| !members.contains(n)) {
        return Err(BuildError::NoSuchPackage {
            name: missing.clone(),
            available: members.join(", "),
        });
    }
    Ok(probes
        .into_iter()
        .filter(|p| p.package.as_ref().is_some_and(|n| packages.contains(n)))
        .collect())
}

pub(crate) fn filter_by_name(
    probes: Vec<ProbeSpec>,
    names: &[String],
) -> Result<Vec<ProbeSpec>, BuildError> {
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
        lang: ProbeLang::C,
        version: version.unwrap_or("0.0.0").to_string(),
        description: None,
        arches: Arch::ALL.to_vec(),
        include: Vec::new(),
        manifest: None,
        package: None,
    })
}

/// Creates `dir` and returns its canonical path.
pub(crate) fn absolute_dir(dir: &Path) -> Result<PathBuf, BuildError> {
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

    #[test]
    fn packages_select_their_own_probes() {
        let mut a = ProbeSpec {
            name: "a".into(),
            source: PathBuf::from("/ws/a.bpf.c"),
            lang: ProbeLang::C,
            version: "1".into(),
            description: None,
            arches: Arch::ALL.to_vec(),
            include: Vec::new(),
            manifest: None,
            package: None,
        };
        let ws_probe = a.clone();
        a.package = Some("app".into());
        let members = ["app".to_string(), "lib".to_string()];
        let all = vec![ws_probe, a];
        assert_eq!(
            filter_by_package(all.clone(), &members, &[]).unwrap().len(),
            2
        );
        let only = filter_by_package(all.clone(), &members, &["app".into()]).unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].package.as_deref(), Some("app"));
        assert!(filter_by_package(all.clone(), &members, &["lib".into()])
            .unwrap()
            .is_empty());
        let err = filter_by_package(all, &members, &["nope".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no package named `nope` in the workspace (members: app, lib)"
        );
    }
}
