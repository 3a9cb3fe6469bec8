//! `coreship-load pull`: fetch an artifact into the local cache, verified, without loading it.

use crate::cli::{self, Parser};
use crate::source_args::{source_help, SourceArgs};

/// Arguments of `coreship-load pull`.
pub struct Args {
    source: SourceArgs,
}

pub const HELP: &str = concat!(
    "Fetch an artifact from its registry into the local cache (verified), for later
`run … --offline`

Usage: coreship-load pull [OPTIONS] PROBE

",
    source_help!(),
    "  -h, --help           Print help
"
);

impl Args {
    /// Reads `pull`'s arguments.
    pub fn parse(p: &mut Parser) -> cli::Result<Self> {
        let mut source = SourceArgs::default();
        cli::each(p, HELP, |arg, p| source.take(arg, p))?;
        Ok(Args {
            source: source.finish()?,
        })
    }
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
