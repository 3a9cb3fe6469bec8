//! `coreship-load import`: copy exported artifacts into the local cache, offline.

use std::path::PathBuf;

use anyhow::Context as _;
use coreship_registry::layout::Layout;

/// Arguments of `coreship-load import`.
#[derive(clap::Args)]
pub struct Args {
    /// An OCI image layout as `coreship export` writes it: a .tar file or a directory
    #[arg(value_name = "LAYOUT")]
    layout: PathBuf,
}

/// Runs `coreship-load import`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    let cache_dir = coreship_registry::cache_dir();
    let cache = Layout::open_or_create(&cache_dir)
        .with_context(|| format!("cannot open the cache at {}", cache_dir.display()))?;
    let imported = if args.layout.is_dir() {
        let src = Layout::open(&args.layout)?;
        let mut out = Vec::new();
        let mut tar = Vec::new();
        src.write_tar(None, &mut tar)?;
        out.extend(cache.import_tar(&args.layout, &tar[..])?);
        out
    } else {
        let file = std::fs::File::open(&args.layout)
            .with_context(|| format!("cannot read {}", args.layout.display()))?;
        cache.import_tar(&args.layout, std::io::BufReader::new(file))?
    };
    if imported.is_empty() {
        anyhow::bail!("{} holds no named artifacts", args.layout.display());
    }
    for (name, d) in &imported {
        println!("{name} {}", d.digest);
    }
    eprintln!(
        "coreship-load: imported {} artifact(s) into {}; run them with `coreship-load run NAME --offline`",
        imported.len(),
        cache_dir.display()
    );
    Ok(())
}
