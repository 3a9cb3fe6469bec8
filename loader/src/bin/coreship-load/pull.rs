//! `coreship-load pull`: fetch an artifact into the local cache, verified, without loading it.

use crate::source_args::SourceArgs;

/// Arguments of `coreship-load pull`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: SourceArgs,
}

/// Runs `coreship-load pull`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    let fetched = args.source.fetch()?;
    let digest = fetched
        .digest
        .map(|d| d.to_string())
        .unwrap_or_else(|| "-".into());
    println!("{} {digest}", args.source.probe);
    eprintln!(
        "coreship-load: {} {} in {}",
        args.source.probe,
        if fetched.local {
            "was already cached"
        } else {
            "pulled"
        },
        coreship_registry::cache_dir().unwrap_or_default().display()
    );
    Ok(())
}
