//! `coreship`: build, inspect and package CO-RE BPF probes.
//!
//! The same program is installed as `cargo-coreship`, so `cargo coreship build -p app` works
//! like a cargo command. Exit status: 0 on success, 1 on an error (printed as one
//! `coreship: error: …` chain), 2 on bad arguments. cargo's own 101 is not used: it marks
//! cargo's internal failures, and third-party subcommands (cargo-fmt, cargo-expand) exit 1.

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use std::process::ExitCode;

mod build;
mod color;
mod export;
mod inspect;
mod keygen;
mod push;
mod select_args;
mod sign;
mod vmlinux;

#[derive(Parser)]
#[command(
    name = "coreship",
    version,
    about = "Compile BPF probes once, ship them everywhere"
)]
struct Cli {
    /// Coloring of status lines: auto, always, never [default: $CARGO_TERM_COLOR, else auto]
    #[arg(long, value_enum, global = true, value_name = "WHEN")]
    color: Option<color::ColorChoice>,
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
    /// Make a minisign-compatible key pair for signing artifacts
    Keygen(keygen::Args),
    /// Write probes as an OCI image layout (directory or .tar), optionally signed
    Export(export::Args),
    /// Push probes to an OCI registry, optionally signed
    Push(push::Args),
    /// Sign an artifact already in a registry (with a key, or attach a minisign signature)
    Sign(sign::Args),
}

/// Parses the arguments (with or without cargo's leading `coreship`), runs the command and
/// prints its error.
pub fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut cmd = Cli::command();
    // `cargo coreship …` passes "coreship" as the first argument.
    if args.get(1).is_some_and(|a| a == "coreship") {
        args.remove(1);
        cmd = cmd.bin_name("cargo coreship");
    }
    let cli = match Cli::from_arg_matches(&cmd.get_matches_from(args)) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let paint = color::Paint(color::ColorChoice::resolve(cli.color).on_stderr());
    let result = match cli.command {
        Command::Vmlinux(a) => vmlinux::exec(a),
        Command::Build(a) => build::exec(a, paint),
        Command::Inspect(a) => inspect::exec(a),
        Command::Keygen(a) => keygen::exec(a),
        Command::Export(a) => export::exec(a, paint),
        Command::Push(a) => push::exec(a, paint),
        Command::Sign(a) => sign::exec(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coreship: {}: {e:#}", paint.error());
            ExitCode::FAILURE
        }
    }
}
