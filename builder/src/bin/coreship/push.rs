//! `coreship push`: build (if needed), pack, sign and upload probes to an OCI registry, with a
//! progress bar per artifact.

use super::color::Paint;
use super::select_args::{package_dirs, Connect, Selection, Shape, Signing};
use coreship_builder::{default_name, Published};
use coreship_registry::client::Progress;
use coreship_registry::{Reference, Sha256Digest};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// Arguments of `coreship push`.
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["probe", "all"]))]
pub struct Args {
    /// The probe to push: a probe name (built first) or a package directory
    #[arg(value_name = "PROBE")]
    probe: Option<String>,
    /// Where: HOST:PORT/REPO:TAG (port optional; the tag defaults to the probe's version)
    #[arg(value_name = "REF", requires = "probe")]
    reference: Option<String>,
    /// Push every probe of the workspace (or of -p packages) to REGISTRY/REPO/PROBE:VERSION
    #[arg(long, value_name = "REGISTRY/REPO", conflicts_with_all = ["probe", "reference"])]
    all: Option<String>,
    #[command(flatten)]
    shape: Shape,
    #[command(flatten)]
    connect: Connect,
    #[command(flatten)]
    signing: Signing,
    #[command(flatten)]
    selection: Selection,
}

/// One byte-count progress bar over all blobs of an artifact.
struct Bar {
    bar: ProgressBar,
    blobs: Mutex<HashMap<Sha256Digest, (u64, u64)>>,
}

impl Progress for Bar {
    fn update(&self, digest: &Sha256Digest, done: u64, total: u64) {
        let mut blobs = self.blobs.lock().expect("progress lock");
        blobs.insert(*digest, (done, total));
        let (done, total) = blobs
            .values()
            .fold((0, 0), |(d, t), (bd, bt)| (d + bd, t + bt));
        self.bar.set_length(total);
        self.bar.set_position(done);
    }
}

/// Runs `coreship push`.
pub fn exec(args: Args, paint: Paint) -> anyhow::Result<()> {
    let key = args.signing.key()?;
    let items: Vec<String> = args.probe.iter().cloned().collect();
    let dirs = package_dirs(&items, &args.selection, paint)?;
    let targets: Vec<(PathBuf, Reference)> = dirs
        .iter()
        .map(|(dir, pkg)| {
            let r = match (&args.reference, &args.all) {
                (Some(r), _) => r.parse::<Reference>()?,
                (None, Some(prefix)) => default_name(pkg, Some(prefix)).parse()?,
                (None, None) => anyhow::bail!(
                    "give a reference to push {} to, e.g. localhost:5000/probes/{}",
                    pkg.name,
                    pkg.name
                ),
            };
            // No tag and no digest: the probe's version is the tag.
            let r = if r.tag.is_none() && r.digest.is_none() {
                r.with_tag(&pkg.version)
            } else {
                r
            };
            Ok((dir.clone(), r))
        })
        .collect::<anyhow::Result<_>>()?;
    let opts = args.shape.options()?;
    let client = args.connect.client();
    let flavor = args.shape.flavor();
    let style = ProgressStyle::with_template("{prefix:>12} {msg} [{bar:30}] {bytes}/{total_bytes}")
        .expect("template")
        .progress_chars("=> ");
    for (dir, reference) in &targets {
        let bar = Bar {
            bar: ProgressBar::new(0)
                .with_style(style.clone())
                .with_prefix("pushing")
                .with_message(reference.to_string()),
            blobs: Mutex::new(HashMap::new()),
        };
        let result =
            coreship_builder::push(&client, reference, dir, &opts, flavor, key.as_ref(), &bar);
        bar.bar.finish_and_clear();
        let (published, pushed) = result?;
        report(&published, pushed.compat, paint);
    }
    Ok(())
}

fn report(p: &Published, compat: bool, paint: Paint) {
    println!("{}@{}", p.name, p.digest);
    eprintln!(
        "{} {} to {}{}{}",
        paint.status("pushed"),
        p.probe,
        p.name,
        match &p.signed_by {
            Some(k) => format!(", signed by {k}"),
            None => String::new(),
        },
        if compat {
            " (compat form: the registry refused OCI 1.1 fields)"
        } else {
            ""
        }
    );
}
