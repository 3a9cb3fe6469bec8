//! `coreship-load cache ls|rm|gc`: what the local cache holds, and making room on a small
//! device.

use coreship_registry::client::Cache;

use crate::cli::{self, Arg, Parser, Stop};

/// Arguments of `coreship-load cache`.
pub enum Args {
    /// List the cached names and their digests.
    Ls,
    /// Forget a name (its blobs go at the next gc).
    Rm(String),
    /// Remove every blob no name reaches.
    Gc,
}

pub const HELP: &str = "List, forget or garbage-collect what the local cache holds

Usage: coreship-load cache COMMAND

Commands:
  ls       List the cached names (references, imported names) and their digests
  rm NAME  Forget a name, as `ls` prints it without `#ARCH` (its blobs go at the next gc)
  gc       Remove every blob no name reaches

Options:
  -h, --help  Print help
";

impl Args {
    /// Reads `cache`'s action and its argument.
    pub fn parse(p: &mut Parser) -> cli::Result<Self> {
        let mut action = None;
        let mut name = None;
        while let Some(arg) = Arg::next(p)? {
            match arg {
                Arg::Value(v) if action.is_none() => action = Some(cli::positional(v, "COMMAND")?),
                Arg::Value(v) if action.as_deref() == Some("rm") && name.is_none() => {
                    name = Some(cli::positional(v, "NAME")?)
                }
                arg => return Err(arg.unexpected(HELP)),
            }
        }
        match action.as_deref() {
            Some("ls") => Ok(Args::Ls),
            Some("rm") => Ok(Args::Rm(cli::required(name, "NAME")?)),
            Some("gc") => Ok(Args::Gc),
            Some(other) => Err(Stop::Usage(format!(
                "unknown cache command `{other}` (ls, rm or gc)"
            ))),
            None => Err(Stop::Usage(
                "a cache command is required: ls, rm or gc".into(),
            )),
        }
    }
}

/// Runs `coreship-load cache`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    let cache = Cache::open_default()?;
    match args {
        Args::Ls => {
            for (name, d) in cache.layout().names()? {
                println!("{name} {}", d.digest);
            }
        }
        Args::Rm(name) => {
            if !cache.remove(&name)? {
                anyhow::bail!(
                    "{name} is not in the cache {} (see `coreship-load cache ls`)",
                    cache.dir().display()
                );
            }
        }
        Args::Gc => {
            let removed = cache.gc()?;
            eprintln!(
                "coreship-load: removed {removed} unreferenced blob(s) from {}",
                cache.dir().display()
            );
        }
    }
    Ok(())
}
