//! Which built probes `export` and `push` package, the artifact shape and signing key they
//! use, and how `push` and `sign` reach a registry.

use super::color::Paint;
use coreship_builder::{pack_options, BuildOpts, Flavor};
use coreship_registry::artifact::PackOptions;
use coreship_registry::client::{Client, ClientOptions};
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

/// The artifact shape (`export`, `push`).
#[derive(clap::Args)]
pub struct Shape {
    /// Write bpfman-compatible images instead of coreship artifacts
    #[arg(long)]
    bpfman: bool,
    /// Write the compatibility form (no OCI 1.1 `artifactType`), e.g. for `skopeo copy
    /// --preserve-digests` or registries that reject OCI 1.1 fields
    #[arg(long, conflicts_with = "bpfman")]
    compat: bool,
}

impl Shape {
    /// coreship artifact or bpfman image.
    pub fn flavor(&self) -> Flavor {
        if self.bpfman {
            Flavor::Bpfman
        } else {
            Flavor::Coreship
        }
    }

    /// Annotations from the environment (git, `SOURCE_DATE_EPOCH`), in the form asked for.
    pub fn options(&self) -> anyhow::Result<PackOptions> {
        let mut opts = pack_options(&std::env::current_dir()?)?;
        opts.compat = self.compat;
        Ok(opts)
    }
}

/// How to reach a registry (`push`, `sign`).
#[derive(clap::Args)]
pub struct Connect {
    /// Trust this PEM CA certificate too for HTTPS registries (repeatable)
    #[arg(long, value_name = "PEM")]
    ca_file: Vec<PathBuf>,
    /// Allow plain HTTP to registries that are not on this machine
    #[arg(long)]
    insecure: bool,
}

impl Connect {
    /// A registry client with these settings.
    pub fn client(&self) -> Client {
        Client::new(ClientOptions {
            insecure: self.insecure,
            ca_files: self.ca_file.clone(),
            ..Default::default()
        })
    }
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
