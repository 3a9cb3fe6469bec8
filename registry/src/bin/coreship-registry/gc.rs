//! `coreship-registry gc`.

use crate::duration;
use coreship_registry::server::{collect_garbage, GcOptions};
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Storage root of the registry.
    #[arg(long)]
    root: PathBuf,
    /// Keep anything younger than this (e.g. 30m, 1h, 2d, 0s).
    #[arg(long, default_value = "1h", value_parser = duration::parse)]
    grace: Duration,
    /// Only print what would be removed.
    #[arg(long)]
    dry_run: bool,
}

pub fn exec(args: Args) -> anyhow::Result<()> {
    let report = collect_garbage(
        &args.root,
        &GcOptions {
            grace: args.grace,
            dry_run: args.dry_run,
        },
    )?;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for (digest, size) in &report.blobs {
        println!("{verb} blob {digest} ({size} bytes)");
    }
    for (id, size) in &report.uploads {
        println!("{verb} upload {id} ({size} bytes)");
    }
    println!(
        "{verb} {} blobs and {} uploads, {} bytes freed; {} reachable, {} unreachable kept (younger than the grace period)",
        report.blobs.len(),
        report.uploads.len(),
        report.freed_bytes,
        report.reachable,
        report.kept_young
    );
    Ok(())
}
