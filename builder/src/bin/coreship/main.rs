//! `coreship`: build, inspect and package CO-RE BPF probes.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod build;
mod inspect;
mod vmlinux;

#[derive(Parser)]
#[command(
    name = "coreship",
    version,
    about = "Compile BPF probes once, ship them everywhere"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate vmlinux.h from kernel BTF
    Vmlinux(vmlinux::Args),
    /// Compile probes into relocatable CO-RE objects and package descriptions
    Build(build::Args),
    /// Show programs, attach points, maps, output types and CO-RE relocations of an object
    Inspect(inspect::Args),
}

fn main() -> ExitCode {
    // `cargo coreship …` passes "coreship" as the first argument.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "coreship") {
        args.remove(1);
    }
    let cli = Cli::parse_from(args);
    let result = match cli.command {
        Command::Vmlinux(a) => vmlinux::exec(a),
        Command::Build(a) => build::exec(a),
        Command::Inspect(a) => inspect::exec(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coreship: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
