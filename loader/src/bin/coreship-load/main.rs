//! `coreship-load`: load a CO-RE probe and print its events — no clang, no per-probe code.

use std::process::ExitCode;

use cli::{Arg, Parser, Stop};

mod cache;
mod check;
mod cli;
mod duration;
mod import;
mod pin;
mod ps;
mod pull;
mod run;
mod signals;
mod source_args;
mod stop;

const HELP: &str = "Load CO-RE BPF probes and print their output

Usage: coreship-load COMMAND [OPTIONS]

Commands:
  run     Load a probe, attach every program and print its events until stopped
  check   Report whether this kernel has what each program needs (program type, helpers,
          attach target, CO-RE relocations, the verifier's verdict); loads nothing
          permanently. Exit status 1 when the probe cannot run here
  ps      List the probes pinned in bpffs by `run --pin` (name, digest, programs, since)
  stop    Unpin a probe pinned by `run --pin`, which detaches its programs
  pull    Fetch an artifact from its registry into the local cache (verified), for later
          `run … --offline`
  import  Copy the artifacts of an exported OCI layout (.tar or directory) into the local
          cache, with no network at all
  cache   List, forget or garbage-collect what the local cache holds
  help    Print this message or the help of the given command

Options:
  -h, --help     Print help (`coreship-load COMMAND --help` for a command's)
  -V, --version  Print version
";

enum Command {
    Run(Box<run::Args>),
    Check(check::Args),
    Ps(ps::Args),
    Stop(stop::Args),
    Pull(pull::Args),
    Import(import::Args),
    Cache(cache::Args),
}

/// The command and its help text, for `help COMMAND` and usage errors.
const COMMANDS: &[(&str, &str)] = &[
    ("run", run::HELP),
    ("check", check::HELP),
    ("ps", ps::HELP),
    ("stop", stop::HELP),
    ("pull", pull::HELP),
    ("import", import::HELP),
    ("cache", cache::HELP),
];

/// Reads the command line; on a usage error, also which command it was for.
fn parse(p: &mut Parser) -> Result<Command, (Stop, Option<&'static str>)> {
    let name = match Arg::next(p).map_err(|e| (e, None))? {
        Some(Arg::Value(v)) => v.to_string_lossy().into_owned(),
        Some(Arg::Flag(f)) if f == "-V" || f == "--version" => return Err((Stop::Version, None)),
        Some(arg) => return Err((arg.unexpected(HELP), None)),
        None => {
            return Err((
                Stop::Usage(
                    "a command is required (run, check, ps, stop, pull, import, cache)".into(),
                ),
                None,
            ))
        }
    };
    let Some(&(cmd, _)) = COMMANDS.iter().find(|(c, _)| *c == name) else {
        if name == "help" {
            return Err((help_for(p), None));
        }
        return Err((Stop::Usage(format!("unknown command `{name}`")), None));
    };
    let command = match cmd {
        "run" => run::Args::parse(p).map(|a| Command::Run(Box::new(a))),
        "check" => check::Args::parse(p).map(Command::Check),
        "ps" => ps::Args::parse(p).map(Command::Ps),
        "stop" => stop::Args::parse(p).map(Command::Stop),
        "pull" => pull::Args::parse(p).map(Command::Pull),
        "import" => import::Args::parse(p).map(Command::Import),
        _ => cache::Args::parse(p).map(Command::Cache),
    };
    command.map_err(|e| (e, Some(cmd)))
}

/// `help [COMMAND]`.
fn help_for(p: &mut Parser) -> Stop {
    match Arg::next(p) {
        Ok(Some(Arg::Value(v))) => match COMMANDS.iter().find(|(c, _)| *c == v) {
            Some((_, text)) => Stop::Help(text),
            None => Stop::Usage(format!("unknown command `{}`", v.to_string_lossy())),
        },
        Ok(None) => Stop::Help(HELP),
        Ok(Some(arg)) => arg.unexpected(HELP),
        Err(e) => e,
    }
}

fn main() -> ExitCode {
    let command = match parse(&mut Parser::from_env()) {
        Ok(c) => c,
        Err((Stop::Help(text), _)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err((Stop::Version, _)) => {
            println!("coreship-load {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err((Stop::Usage(e), cmd)) => {
            let help = cmd.map_or("coreship-load --help".into(), |c| {
                format!("coreship-load {c} --help")
            });
            eprintln!("coreship-load: error: {e} (see `{help}`)");
            return ExitCode::from(2);
        }
    };
    let result = match command {
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
