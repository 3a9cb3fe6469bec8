//! `coreship-registry`: an OCI distribution server for coreship artifacts (and any other).
//! Arguments are parsed here; the work is in `coreship_registry::server`.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod duration;
mod gc;
mod serve;

#[derive(Parser)]
#[command(
    name = "coreship-registry",
    version,
    about = "OCI distribution server for coreship probes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the registry over HTTP.
    Serve(serve::Args),
    /// Delete blobs no manifest reaches and abandoned uploads.
    Gc(gc::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::exec(args),
        Command::Gc(args) => gc::exec(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coreship-registry: {e:#}");
            ExitCode::FAILURE
        }
    }
}
