//! `coreship export`: write probes as an OCI image layout (directory or .tar) for copying to
//! machines without a registry (`coreship-load import`, or `coreship-load run LAYOUT`).

use super::color::Paint;
use super::select_args::{package_dirs, Selection, Shape, Signing};
use coreship_builder::default_name;
use std::path::PathBuf;

/// Arguments of `coreship export`.
#[derive(clap::Args)]
pub struct Args {
    /// Probes to export (names, built first, or package directories) [default: every probe]
    #[arg(value_name = "PROBE")]
    probes: Vec<String>,
    /// Where to write: a .tar file, or a directory (created, or added to)
    #[arg(short, long, value_name = "PATH")]
    output: PathBuf,
    /// Name entries REGISTRY/REPO/PROBE:VERSION (what `coreship-load run … --offline` will be
    /// given after import) instead of PROBE:VERSION
    #[arg(long, value_name = "REGISTRY/REPO")]
    prefix: Option<String>,
    #[command(flatten)]
    shape: Shape,
    #[command(flatten)]
    signing: Signing,
    #[command(flatten)]
    selection: Selection,
}

/// Runs `coreship export`.
pub fn exec(args: Args, paint: Paint) -> anyhow::Result<()> {
    let key = args.signing.key()?;
    let dirs = package_dirs(&args.probes, &args.selection, paint)?;
    let opts = args.shape.options()?;
    let named: Vec<(PathBuf, String)> = dirs
        .iter()
        .map(|(dir, pkg)| (dir.clone(), default_name(pkg, args.prefix.as_deref())))
        .collect();
    let flavor = args.shape.flavor();
    let done = coreship_builder::export(&named, &args.output, &opts, flavor, key.as_ref())?;
    for p in &done {
        println!("{} {}", p.name, p.digest);
        eprintln!(
            "{} {} as {}{}",
            paint.status("exported"),
            p.probe,
            p.name,
            match &p.signed_by {
                Some(k) => format!(", signed by {k}"),
                None => String::new(),
            }
        );
    }
    eprintln!("{} {}", paint.status("wrote"), args.output.display());
    Ok(())
}
