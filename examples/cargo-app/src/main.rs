//! execcount: counts execs per command for `--duration` seconds with a probe embedded in
//! this binary, then prints the busiest commands. The probe is compiled by build.rs; loading
//! it and reading its counter is coreship-loader's job, the summary is this app's.

use std::process::ExitCode;

use coreship_loader::Probe;

mod args;
mod summary;

/// The probe, compiled by build.rs for this target's arch.
static EXECCOUNT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/execcount.bpf.o"));

fn main() -> ExitCode {
    let args = match args::Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("execcount: {e}\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = format!("execcount: error: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &args::Args) -> Result<(), Box<dyn std::error::Error>> {
    let probe = Probe::from_bytes(EXECCOUNT)?.name("execcount").load()?;
    eprintln!(
        "execcount: attached {}; counting for {:?}",
        probe.attached().join(", "),
        args.duration
    );
    std::thread::sleep(args.duration);
    let counts = summary::by_command(probe.counters("execs")?);
    // Detach before printing: the summary is of the run, not of what follows.
    drop(probe);
    print!("{}", summary::render(&counts, args.top, args.duration));
    Ok(())
}
