//! `coreship build` (scaffold: replaced by its implementation).

/// Arguments of `coreship build`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `coreship build`.
pub fn exec(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("coreship build is not built yet")
}
