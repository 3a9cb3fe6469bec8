//! `coreship-load`: load a CO-RE probe and print its events — no clang, no per-probe code.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod duration;
mod run;
mod signals;

#[derive(Parser)]
#[command(
    name = "coreship-load",
    version,
    about = "Load CO-RE BPF probes and print their output"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load a probe, attach every program and print its events until stopped
    Run(run::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => run::exec(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the cause chain joined, as `{:#}` prints it.
            eprintln!("coreship-load: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
