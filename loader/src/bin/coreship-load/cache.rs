//! `coreship-load cache ls|rm|gc`: what the local cache holds, and making room on a small
//! device.

use coreship_registry::client::Cache;

/// Arguments of `coreship-load cache`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// List the cached names (references, imported names) and their digests
    Ls,
    /// Forget a name (its blobs go at the next gc)
    Rm {
        /// The name, as `ls` prints it (without `#ARCH`)
        name: String,
    },
    /// Remove every blob no name reaches
    Gc,
}

/// Runs `coreship-load cache`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    let cache = Cache::open_default()?;
    match args.action {
        Action::Ls => {
            for (name, d) in cache.layout().names()? {
                println!("{name} {}", d.digest);
            }
        }
        Action::Rm { name } => {
            if !cache.remove(&name)? {
                anyhow::bail!(
                    "{name} is not in the cache {} (see `coreship-load cache ls`)",
                    cache.dir().display()
                );
            }
        }
        Action::Gc => {
            let removed = cache.gc()?;
            eprintln!(
                "coreship-load: removed {removed} unreferenced blob(s) from {}",
                cache.dir().display()
            );
        }
    }
    Ok(())
}
