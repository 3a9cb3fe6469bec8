//! `coreship-registry gc`.

use coreship_registry::server::{collect_garbage, GcOptions};
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Storage root of the registry.
    #[arg(long)]
    root: PathBuf,
    /// Keep anything younger than this (e.g. 30m, 1h, 2d, 0s).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    grace: Duration,
    /// Only print what would be removed.
    #[arg(long)]
    dry_run: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}`: expected a number and a unit (s, m, h, d)"))?;
    let secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (s, m, h, d)")),
    };
    Ok(Duration::from_secs(n * secs))
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
