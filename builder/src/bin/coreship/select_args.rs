//! Which built probes `export` and `push` package, and the signing key they use.

use super::color::Paint;
use coreship_builder::BuildOpts;
use coreship_registry::{Arch, Package, SecretKey, PACKAGE_FILE};
use std::path::{Path, PathBuf};

/// Probes to package: names (built first, incrementally) or package directories.
#[derive(clap::Args)]
pub struct Selection {
    /// Path to the workspace's Cargo.toml
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Only probes declared by this package (repeatable)
    #[arg(short, long = "package", value_name = "NAME")]
    pub packages: Vec<String>,
    /// Architectures to build (comma-separated: x86_64, aarch64) [default: all declared]
    #[arg(long = "arch", value_name = "ARCH,…", value_delimiter = ',')]
    pub arches: Vec<Arch>,
    /// Build output directory [default: coreship/ in cargo's target dir]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Signing options.
#[derive(clap::Args)]
pub struct Signing {
    /// Sign each artifact with this minisign secret key (see `coreship keygen`)
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// File holding the secret key's password [default: $CORESHIP_KEY_PASSWORD; none]
    #[arg(long, value_name = "FILE", requires = "sign")]
    pub password_file: Option<PathBuf>,
}

impl Signing {
    /// Loads the key, if one was given (before any build or upload, so a wrong password fails
    /// fast).
    pub fn key(&self) -> anyhow::Result<Option<SecretKey>> {
        let Some(path) = &self.sign else {
            return Ok(None);
        };
        let password = read_password(self.password_file.as_deref())?;
        Ok(Some(SecretKey::from_file(path, password.as_deref())?))
    }
}

/// The password from `file` (first line), else `$CORESHIP_KEY_PASSWORD`, else none.
pub fn read_password(file: Option<&Path>) -> anyhow::Result<Option<String>> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("cannot read password file {}: {e}", f.display()))?;
        let password = text.lines().next().unwrap_or("");
        if password.is_empty() {
            anyhow::bail!("password file {} is empty", f.display());
        }
        return Ok(Some(password.to_string()));
    }
    Ok(std::env::var("CORESHIP_KEY_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty()))
}

/// The package directories for `items` (probe names or package directories; every
/// probe when empty), building named probes first.
pub fn package_dirs(
    items: &[String],
    sel: &Selection,
    paint: Paint,
) -> anyhow::Result<Vec<(PathBuf, Package)>> {
    let mut dirs = Vec::new();
    let mut names = Vec::new();
    for item in items {
        let p = Path::new(item);
        if p.join(PACKAGE_FILE).is_file() {
            dirs.push((p.to_path_buf(), Package::read_dir(p)?));
        } else if p.exists() {
            anyhow::bail!("{item} is not a package directory (no {PACKAGE_FILE}); give a probe name or run `coreship build` first");
        } else {
            names.push(item.clone());
        }
    }
    if !names.is_empty() || items.is_empty() {
        let opts = BuildOpts {
            files: Vec::new(),
            version: None,
            manifest_path: sel.manifest_path.clone(),
            probes: names,
            packages: sel.packages.clone(),
            arches: (!sel.arches.is_empty()).then(|| sel.arches.clone()),
            jobs: None,
            out_dir: sel.out.clone(),
            btf: None,
            clang: None,
            min_btf: None,
        };
        let report = coreship_builder::build(&opts)?;
        for p in &report.probes {
            let fresh = p
                .objects
                .iter()
                .all(|o| o.status == coreship_builder::Freshness::Fresh);
            if !fresh {
                eprintln!("{} {}", paint.status("compiled"), p.name);
            }
            dirs.push((p.package_dir.clone(), p.package.clone()));
        }
    }
    Ok(dirs)
}
