//! `coreship inspect` (scaffold: replaced by its implementation).

/// Arguments of `coreship inspect`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `coreship inspect`.
pub fn exec(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("coreship inspect is not built yet")
}
