//! `coreship build`: compile probes into CO-RE objects and package descriptions.

use coreship_builder::{BuildOpts, BuildReport};
use coreship_registry::Arch;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Arguments of `coreship build`.
#[derive(clap::Args)]
pub struct Args {
    /// Build just these NAME.bpf.c files (no Cargo manifest needed)
    #[arg(value_name = "FILE.bpf.c")]
    files: Vec<PathBuf>,
    /// Architectures to build (comma-separated: x86_64, aarch64)
    #[arg(long = "arch", value_name = "ARCH,…", value_delimiter = ',')]
    arches: Vec<Arch>,
    /// Parallel compile jobs [default: available parallelism]
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    /// Output directory [default: coreship/ in cargo's target dir]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Path to the workspace's Cargo.toml
    #[arg(long, value_name = "PATH", conflicts_with = "files")]
    manifest_path: Option<PathBuf>,
    /// Build only this probe (repeatable)
    #[arg(long = "probe", value_name = "NAME")]
    probes: Vec<String>,
    /// Version of probes given as files [default: 0.0.0]
    #[arg(long = "version", value_name = "VERSION", requires = "files")]
    probe_version: Option<String>,
    /// BTF to generate vmlinux.h from when no include dir has one [default: kernel BTF]
    #[arg(long, value_name = "FILE")]
    btf: Option<PathBuf>,
}

/// Runs `coreship build`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    let opts = BuildOpts {
        files: args.files,
        version: args.probe_version,
        manifest_path: args.manifest_path,
        probes: args.probes,
        arches: (!args.arches.is_empty()).then_some(args.arches),
        jobs: args.jobs,
        out_dir: args.out,
        btf: args.btf,
        clang: None,
    };
    let report = coreship_builder::build(&opts)?;
    print_report(&report)?;
    Ok(())
}

/// Cargo-style status lines on stderr, one per object.
fn print_report(report: &BuildReport) -> std::io::Result<()> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut err = std::io::stderr().lock();
    for (name, arches) in &report.skipped {
        let arches: Vec<&str> = arches.iter().map(|a| a.as_str()).collect();
        writeln!(err, "    skipping {name} (declares {})", arches.join(", "))?;
    }
    for probe in &report.probes {
        for o in &probe.objects {
            if !o.warnings.is_empty() {
                writeln!(err, "{}", o.warnings)?;
            }
            writeln!(
                err,
                "{:>12} {} {} -> {}",
                o.status.to_string(),
                probe.name,
                o.arch,
                relative(&o.object, &cwd).display()
            )?;
        }
    }
    Ok(())
}

/// `p` relative to `base` when inside it, for shorter output.
fn relative<'a>(p: &'a Path, base: &Path) -> &'a Path {
    p.strip_prefix(base).unwrap_or(p)
}
