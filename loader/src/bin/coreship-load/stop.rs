//! `coreship-load stop`: unpin a probe pinned with `run --pin`, which detaches it.

use crate::cli::{self, Parser};

/// Arguments of `coreship-load stop`.
pub struct Args {
    name: String,
}

pub const HELP: &str = "Unpin a probe pinned by `run --pin`, which detaches its programs

Usage: coreship-load stop NAME|DIR

Arguments:
  NAME|DIR  The pin name `ps` shows, or the pin directory

Options:
  -h, --help  Print help
";

impl Args {
    /// Reads `stop`'s argument.
    pub fn parse(p: &mut Parser) -> cli::Result<Self> {
        let name = cli::sole_value(p, HELP, "NAME|DIR")?;
        Ok(Args {
            name: cli::positional(name, "NAME|DIR")?,
        })
    }
}

/// Runs `coreship-load stop`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    let done = coreship_loader::unpin(&args.name)?;
    eprintln!(
        "coreship-load: {}: unpinned {}{}; its programs are detached",
        done.name,
        done.dir.display(),
        if done.had_record {
            ""
        } else {
            " (it had no record)"
        }
    );
    Ok(())
}
