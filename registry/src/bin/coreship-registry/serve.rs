//! `coreship-registry serve`.

use anyhow::Context as _;
use coreship_registry::server::{self, AppState, ServerOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// Storage root (blobs, repositories, uploads).
    #[arg(long)]
    root: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5000")]
    listen: SocketAddr,
    /// File of push tokens, one per line (# starts a comment).
    #[arg(long)]
    push_token_file: PathBuf,
    /// Require a token for pulls too.
    #[arg(long)]
    private: bool,
    /// Refuse to move an existing tag to another digest or to delete it (403 DENIED).
    #[arg(long)]
    immutable_tags: bool,
}

pub fn exec(args: Args) -> anyhow::Result<()> {
    let push_tokens = server::read_token_file(&args.push_token_file)?;
    let state = AppState::new(ServerOptions {
        root: args.root.clone(),
        push_tokens,
        private: args.private,
        immutable_tags: args.immutable_tags,
        logger: Some(Arc::new(|line: &str| {
            eprintln!("coreship-registry: {line}")
        })),
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr().context("local address")?;
        // Tests and scripts read this line to learn the port of --listen 127.0.0.1:0.
        eprintln!(
            "coreship-registry: listening on http://{addr} (root {})",
            args.root.display()
        );
        server::serve(listener, state, shutdown_signal())
            .await
            .context("serving")
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
