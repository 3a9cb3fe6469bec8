//! `coreship-registry`: serve an OCI registry for coreship artifacts (and any other OCI
//! content), or collect its garbage.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use coreship_registry::server::{self, Config, Tokens};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "coreship-registry",
    version,
    about = "An OCI registry for coreship probes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the registry until SIGINT/SIGTERM
    Serve {
        /// Storage directory (created if missing)
        #[arg(long, value_name = "DIR")]
        root: PathBuf,
        /// Address to listen on (port 0 picks a free one; the address is printed)
        #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:5000")]
        listen: String,
        /// File of push tokens, one per line; without it the registry is read-only
        #[arg(long, value_name = "FILE")]
        push_token_file: Option<PathBuf>,
        /// Require a token for pulls too
        #[arg(long)]
        private: bool,
        /// Refuse to move or delete a tag once pushed
        #[arg(long)]
        immutable_tags: bool,
    },
    /// Remove blobs no manifest references and abandoned uploads
    Gc {
        /// Storage directory
        #[arg(long, value_name = "DIR")]
        root: PathBuf,
        /// Keep unreferenced blobs and uploads younger than this many seconds
        #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
        grace: u64,
        /// Report what would be removed without removing it
        #[arg(long)]
        dry_run: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coreship-registry: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            root,
            listen,
            push_token_file,
            private,
            immutable_tags,
        } => {
            let tokens = match &push_token_file {
                Some(f) => {
                    let text = std::fs::read_to_string(f)
                        .with_context(|| format!("cannot read token file {}", f.display()))?;
                    let tokens = Tokens::parse(&text);
                    if tokens.is_empty() {
                        anyhow::bail!("token file {} has no tokens", f.display());
                    }
                    tokens
                }
                None => Tokens::default(),
            };
            let config = Config {
                root: root.clone(),
                tokens,
                private,
                immutable_tags,
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            rt.block_on(async {
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?;
                let addr = listener.local_addr()?;
                eprintln!(
                    "coreship-registry: serving {} on http://{addr}/{}",
                    root.display(),
                    if config.tokens.is_empty() {
                        " (read-only: no --push-token-file)"
                    } else {
                        ""
                    }
                );
                server::serve(&config, listener)
                    .await
                    .with_context(|| format!("serving {}", root.display()))
            })
        }
        Command::Gc {
            root,
            grace,
            dry_run,
        } => {
            let report = server::gc(&root, Duration::from_secs(grace), dry_run)
                .with_context(|| format!("gc of {}", root.display()))?;
            for d in &report.removed {
                println!("{} {d}", if dry_run { "would remove" } else { "removed" });
            }
            eprintln!(
                "coreship-registry: gc: {} blobs {} ({} bytes), {} kept, {} younger than {grace} s kept, {} stale uploads {}",
                report.removed.len(),
                if dry_run { "unreferenced" } else { "removed" },
                report.freed_bytes,
                report.kept,
                report.young,
                report.uploads_removed,
                if dry_run { "found" } else { "removed" },
            );
            Ok(())
        }
    }
}
