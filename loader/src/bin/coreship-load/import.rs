//! `coreship-load import`: copy exported artifacts into the local cache, offline.

use std::path::PathBuf;

use coreship_registry::client::Cache;

use crate::cli::{self, Parser};

/// Arguments of `coreship-load import`.
pub struct Args {
    layout: PathBuf,
}

pub const HELP: &str =
    "Copy the artifacts of an exported OCI layout (.tar or directory) into the local
cache, with no network at all

Usage: coreship-load import LAYOUT

Arguments:
  LAYOUT  An OCI image layout as `coreship export` writes it: a .tar file or a directory

Options:
  -h, --help  Print help
";

impl Args {
    /// Reads `import`'s argument.
    pub fn parse(p: &mut Parser) -> cli::Result<Self> {
        Ok(Args {
            layout: cli::sole_value(p, HELP, "LAYOUT")?.into(),
        })
    }
}

/// Runs `coreship-load import`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    let cache = Cache::open_default()?;
    let imported = if args.layout.is_dir() {
        cache.import_dir(&args.layout)?
    } else {
        cache.import_tar(&args.layout)?
    };
    if imported.is_empty() {
        anyhow::bail!("{} holds no named artifacts", args.layout.display());
    }
    for i in &imported {
        println!("{} {}", i.name, i.descriptor.digest);
    }
    // A name moved to other content is how an update arrives, and how a substitution would:
    // say so (--trust and signatures decide what runs).
    for i in &imported {
        if let Some(old) = &i.moved_from {
            eprintln!(
                "coreship-load: moved {}: {old} -> {}",
                i.name, i.descriptor.digest
            );
        }
    }
    eprintln!(
        "coreship-load: imported {} artifact(s) into {}; run them with `coreship-load run NAME --offline`",
        imported.len(),
        cache.dir().display()
    );
    Ok(())
}
