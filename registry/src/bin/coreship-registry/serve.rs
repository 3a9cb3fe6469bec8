//! `coreship-registry serve`.

use anyhow::Context as _;
use coreship_registry::server::{self, AppState, ServerOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::duration;

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
    /// Close a connection whose request head takes longer than this to arrive, whose
    /// request body pauses longer than this, or whose client reads nothing of a response for
    /// this long (e.g. 30s, 2m)
    #[arg(long, default_value = "30s", value_parser = duration::parse)]
    read_timeout: Duration,
    /// The URL clients reach this registry at, e.g. https://registry.example.com behind a TLS
    /// proxy: token challenges send clients there. Without it, challenges name the request's
    /// Host (when it is a plain host[:port]) over http, else the listen address
    #[arg(long, value_name = "URL")]
    external_url: Option<String>,
}

pub fn exec(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.read_timeout.is_zero(),
        "--read-timeout 0s would close every connection: give a duration such as 30s"
    );
    let push_tokens = server::read_token_file(&args.push_token_file)?;
    raise_fd_limit();
    let state = AppState::new(ServerOptions {
        root: args.root.clone(),
        push_tokens,
        private: args.private,
        immutable_tags: args.immutable_tags,
        logger: Some(Arc::new(|line: &str| {
            eprintln!("coreship-registry: {line}")
        })),
        read_timeout: args.read_timeout,
        external_url: args.external_url.clone(),
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
            "coreship-registry: listening on http://{addr} (root {}, at most {} connections)",
            args.root.display(),
            server::max_connections()
        );
        server::serve(listener, state, shutdown_signal())
            .await
            .context("serving")
    })
}

/// Raises the soft limit on open files to the hard one, as Go servers do at start: the
/// connection cap is derived from it (`server::max_connections`), and the usual soft 1024
/// would cap a registry at a few hundred connections.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
