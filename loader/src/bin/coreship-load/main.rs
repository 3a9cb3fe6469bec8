//! `coreship-load`: load a CO-RE probe and print its events — no clang, no per-probe code.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cache;
mod check;
mod duration;
mod import;
mod pin;
mod ps;
mod pull;
mod run;
mod signals;
mod source_args;
mod stop;

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
    Run(Box<run::Args>),
    /// Report whether this kernel has what each program needs (program type, helpers, attach
    /// target, CO-RE relocations, the verifier's verdict); loads nothing permanently. Exit
    /// status 1 when the probe cannot run here
    Check(check::Args),
    /// List the probes pinned in bpffs by `run --pin` (name, digest, programs, since)
    Ps(ps::Args),
    /// Unpin a probe pinned by `run --pin`, which detaches its programs
    Stop(stop::Args),
    /// Fetch an artifact from its registry into the local cache (verified), for later
    /// `run … --offline`
    Pull(pull::Args),
    /// Copy the artifacts of an exported OCI layout (.tar or directory) into the local cache,
    /// with no network at all
    Import(import::Args),
    /// List, forget or garbage-collect what the local cache holds
    Cache(cache::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => run::exec(*a),
        Command::Check(a) => match check::exec(a) {
            Ok(true) => Ok(()),
            // The report says why; no error line.
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        Command::Ps(a) => ps::exec(a),
        Command::Stop(a) => stop::exec(a),
        Command::Pull(a) => pull::exec(a),
        Command::Import(a) => import::exec(a),
        Command::Cache(a) => cache::exec(a),
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
