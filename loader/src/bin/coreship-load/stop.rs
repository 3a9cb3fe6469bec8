//! `coreship-load stop`: unpin a probe pinned with `run --pin`, which detaches it.

/// Arguments of `coreship-load stop`.
#[derive(clap::Args)]
pub struct Args {
    /// The pin name `ps` shows, or the pin directory
    #[arg(value_name = "NAME|DIR")]
    name: String,
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
