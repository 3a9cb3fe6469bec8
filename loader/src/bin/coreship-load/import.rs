//! `coreship-load import`: copy exported artifacts into the local cache, offline.

use std::path::PathBuf;

use coreship_registry::client::Cache;
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
    let cache = Cache::open_default()?;
    let imported = if args.layout.is_dir() {
        // A layout directory goes through the same verified tar import.
        let mut tar = Vec::new();
        Layout::open(&args.layout)?.write_tar(None, &mut tar)?;
        cache.layout().import_tar(&args.layout, &tar[..])?
    } else {
        cache.import_tar(&args.layout)?
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
        cache.dir().display()
    );
    Ok(())
}
