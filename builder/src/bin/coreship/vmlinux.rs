//! `coreship vmlinux` (scaffold: replaced by its implementation).

/// Arguments of `coreship vmlinux`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `coreship vmlinux`.
pub fn exec(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("coreship vmlinux is not built yet")
}
