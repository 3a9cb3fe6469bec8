//! `coreship build`: compile probes into CO-RE objects and package descriptions.

use super::color::Paint;
use coreship_builder::{BuildOpts, BuildReport, Freshness};
use coreship_registry::Arch;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// `--message-format` values.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MessageFormat {
    /// Status lines on stderr only.
    Human,
    /// Also one JSON object per object on stdout, then `build-finished` (like cargo's).
    Json,
}

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
    /// Build the probes declared by this package (repeatable)
    #[arg(short, long = "package", value_name = "NAME", conflicts_with = "files")]
    packages: Vec<String>,
    /// Build every probe of the workspace (the default)
    #[arg(long, visible_alias = "all", conflicts_with = "packages")]
    workspace: bool,
    /// human: status lines; json: also one JSON message per object on stdout
    #[arg(long, value_enum, value_name = "FMT", default_value = "human")]
    message_format: MessageFormat,
    /// Build only this probe (repeatable)
    #[arg(long = "probe", value_name = "NAME")]
    probes: Vec<String>,
    /// Version of probes given as files [default: 0.0.0]
    #[arg(long = "version", value_name = "VERSION", requires = "files")]
    probe_version: Option<String>,
    /// Also ship minimal BTF for each kernel BTF in DIR (laid out ID/VERSION_ID/ARCH/RELEASE.btf,
    /// as BTFHub does), for kernels without /sys/kernel/btf/vmlinux; needs bpftool
    #[arg(long, value_name = "DIR")]
    min_btf: Option<PathBuf>,
    /// BTF to generate vmlinux.h from when no include dir has one [default: kernel BTF]
    #[arg(long, value_name = "FILE")]
    btf: Option<PathBuf>,
}

/// Runs `coreship build`.
pub fn exec(args: Args, paint: Paint) -> anyhow::Result<()> {
    let json = args.message_format == MessageFormat::Json;
    let result = build(args, paint);
    if json {
        let end = serde_json::json!({"reason": "build-finished", "success": result.is_ok()});
        writeln!(std::io::stdout().lock(), "{end}")?;
    }
    result
}

fn build(args: Args, paint: Paint) -> anyhow::Result<()> {
    let json = args.message_format == MessageFormat::Json;
    let opts = BuildOpts {
        files: args.files,
        version: args.probe_version,
        manifest_path: args.manifest_path,
        probes: args.probes,
        packages: args.packages,
        arches: (!args.arches.is_empty()).then_some(args.arches),
        jobs: args.jobs,
        out_dir: args.out,
        btf: args.btf,
        clang: None,
        min_btf: args.min_btf,
    };
    let report = coreship_builder::build(&opts)?;
    print_report(&report, paint)?;
    if json {
        artifacts(&report)?;
    }
    Ok(())
}

/// One `coreship-artifact` message per object on stdout, cargo's `compiler-artifact` shape.
fn artifacts(report: &BuildReport) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for probe in &report.probes {
        for o in &probe.objects {
            let msg = serde_json::json!({
                "reason": "coreship-artifact",
                "probe": probe.name,
                "arch": o.arch.as_str(),
                "object": o.object,
                "package_dir": probe.package_dir,
                "fresh": o.status == Freshness::Fresh,
            });
            writeln!(out, "{msg}")?;
        }
    }
    out.flush()
}

/// Cargo-style status lines on stderr, one per object.
fn print_report(report: &BuildReport, paint: Paint) -> std::io::Result<()> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut err = std::io::stderr().lock();
    for (name, arches) in &report.skipped {
        let arches: Vec<&str> = arches.iter().map(|a| a.as_str()).collect();
        writeln!(
            err,
            "{} {name} (declares {})",
            paint.status("skipping"),
            arches.join(", ")
        )?;
    }
    for probe in &report.probes {
        for o in &probe.objects {
            if !o.warnings.is_empty() {
                writeln!(err, "{}", o.warnings)?;
            }
            writeln!(
                err,
                "{} {} {} -> {}",
                paint.status(&o.status.to_string()),
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
