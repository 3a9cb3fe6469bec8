//! `coreship vmlinux`: write `vmlinux.h` generated from kernel BTF.

use anyhow::Context as _;
use std::io::Write as _;
use std::path::PathBuf;

/// Arguments of `coreship vmlinux`.
#[derive(clap::Args)]
pub struct Args {
    /// Output file (written atomically); stdout when absent
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// BTF to read: raw BTF or an ELF file with a .BTF section
    #[arg(long, value_name = "FILE", default_value = coreship_builder::KERNEL_BTF)]
    btf: PathBuf,
}

/// Runs `coreship vmlinux`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    let v = coreship_builder::generate_vmlinux(&coreship_builder::VmlinuxOpts {
        btf: Some(args.btf),
    })?;
    match args.output {
        Some(path) => coreship_builder::write_atomic(&path, &v.header)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout()
            .lock()
            .write_all(&v.header)
            .context("cannot write to stdout")?,
    }
    Ok(())
}
