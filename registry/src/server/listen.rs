//! The accept loop. Connections are HTTP/1.1 served by hyper, at most [`max_connections`] at
//! once, so that clients cannot take the file descriptors the storage needs. When the cap is
//! reached and one more client connects, an idle connection is closed to make room: the
//! oldest of those that never completed a request head (a slowloris), else the one idle the
//! longest, where a connection is idle between requests (keep-alive) and also while its
//! response has been stuck for [`STALLED_WRITE`] on a client that reads nothing. A connection
//! whose request head takes longer than the read timeout is closed, and so is one whose
//! response makes no progress for the read timeout. A request whose response moves, however
//! slowly, is never cut.

use super::{app, AppState};
use axum::body::{Body, Bytes, HttpBody};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify, Semaphore};

/// How long a response must have been unable to write (the client's receive window closed)
/// before its connection counts as idle when room must be made. Long enough that a client
/// reading at any pace is never taken for a stalled one.
pub(crate) const STALLED_WRITE: Duration = Duration::from_secs(1);

/// File descriptors left to the process whatever the connections (runtime, listener, logs).
const RESERVED_FDS: u64 = 64;

/// How many connections may be open at once: half of the file descriptors the soft
/// `RLIMIT_NOFILE` leaves after `RESERVED_FDS`, so every connection can still open a file
/// or two (an upload session, a blob, a temp file).
pub fn max_connections() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur
    } else {
        1024
    };
    (soft.saturating_sub(RESERVED_FDS) / 2).clamp(8, 1 << 16) as usize
}

/// One open connection, as the accept loop sees it.
struct Conn {
    /// Requests in flight (until their response body is sent or dropped).
    in_flight: AtomicUsize,
    /// Whether a whole request head ever arrived.
    served: AtomicBool,
    /// When it last had no request in flight (accepted, or its last response sent).
    idle_since: Mutex<Instant>,
    /// Since when writes to the socket have found it full, if none has gone through since.
    write_blocked: Mutex<Option<Instant>>,
    /// Asks it to close; heeded only while idle.
    evict: Notify,
}

impl Conn {
    /// Notes a write attempt: refused for now (`blocked`), or gone through.
    fn note_write(&self, blocked: bool) {
        let mut since = self.write_blocked.lock().expect("write state");
        match (blocked, *since) {
            (true, None) => *since = Some(Instant::now()),
            (false, Some(_)) => *since = None,
            _ => {}
        }
    }

    /// How long its writes have made no progress.
    fn write_stalled_for(&self) -> Option<Duration> {
        let since = *self.write_blocked.lock().expect("write state");
        since.map(|t| t.elapsed())
    }

    /// If it may be closed to make room: whether it ever served a request, and since when it
    /// has been idle (no request in flight, or a response stuck for [`STALLED_WRITE`]).
    fn idle(&self) -> Option<(bool, Instant)> {
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            let since = *self.idle_since.lock().expect("idle time");
            return Some((self.served.load(Ordering::SeqCst), since));
        }
        let stalled = self.write_stalled_for()?;
        (stalled >= STALLED_WRITE).then(|| (true, Instant::now() - stalled))
    }
}

/// Completes once `conn`'s writes have made no progress for `limit`.
async fn write_stall(conn: &Conn, limit: Duration) {
    loop {
        let wait = match conn.write_stalled_for() {
            Some(stalled) if stalled >= limit => return,
            Some(stalled) => limit - stalled,
            None => limit,
        };
        tokio::time::sleep(wait).await;
    }
}

/// A connection's socket, telling its [`Conn`] whether writes go through.
struct Watched {
    io: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        this.conn.note_write(r.is_pending());
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.conn.note_write(r.is_pending());
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The open connections.
#[derive(Default)]
struct Conns {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Conns {
    fn add(&self) -> (u64, Arc<Conn>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            idle_since: Mutex::new(Instant::now()),
            write_blocked: Mutex::new(None),
            evict: Notify::new(),
        });
        self.lock().insert(id, conn.clone());
        (id, conn)
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Asks an idle connection to close: the oldest that never sent a whole request head,
    /// else the one idle the longest (a stalled response counting as idle).
    fn evict_one(&self) {
        let open = self.lock();
        let idle = open
            .values()
            .filter_map(|c| Some((c.idle()?, c)))
            .min_by_key(|(key, _)| *key);
        if let Some((_, c)) = idle {
            c.evict.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.open.lock().expect("connection table")
    }
}

/// Counts a request in flight on its connection until dropped.
struct InFlight(Arc<Conn>);

impl InFlight {
    fn start(conn: &Arc<Conn>) -> InFlight {
        conn.served.store(true, Ordering::SeqCst);
        conn.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(conn.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            *self.0.idle_since.lock().expect("idle time") = Instant::now();
        }
    }
}

/// A response body that keeps its request counted in flight until sent (or dropped).
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Serves `state` on `listener` until `shutdown` completes, then lets open connections finish.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let read_timeout = state.read_timeout();
    if let Ok(addr) = listener.local_addr() {
        state.auth().listening_on(addr);
    }
    let max = max_connections();
    let slots = Arc::new(Semaphore::new(max));
    let conns = Arc::new(Conns::default());
    let router = TowerToHyperService::new(app(state.clone()));
    let (stop_tx, stop_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors (files held meanwhile, other processes) or a
                // connection reset before it was accepted: try again shortly.
                state.log(&format!("cannot accept a connection: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let permit = loop {
            if let Ok(p) = slots.clone().try_acquire_owned() {
                break Some(p);
            }
            conns.evict_one();
            tokio::select! {
                p = slots.clone().acquire_owned() => break Some(p.expect("never closed")),
                // The one asked to go got a request meanwhile, or none was idle: ask again.
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                () = &mut shutdown => break None,
            }
        };
        let Some(permit) = permit else { break };
        let (id, conn) = conns.add();
        let (conns, router, mut stop_rx) = (conns.clone(), router.clone(), stop_rx.clone());
        tokio::spawn(async move {
            let tracked = conn.clone();
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let in_flight = InFlight::start(&tracked);
                let response = router.call(req);
                async move {
                    let response = response.await?;
                    Ok::<_, std::convert::Infallible>(response.map(|body| {
                        Body::new(Tracked {
                            body,
                            _in_flight: in_flight,
                        })
                    }))
                }
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(read_timeout);
            let io = Watched {
                io: stream,
                conn: conn.clone(),
            };
            let mut http = pin!(builder.serve_connection(TokioIo::new(io), service));
            loop {
                tokio::select! {
                    _ = http.as_mut() => break,
                    () = conn.evict.notified() => {
                        if conn.idle().is_some() {
                            break; // dropped: the socket closes
                        }
                    }
                    // The client has read nothing of the response for the read timeout.
                    () = write_stall(&conn, read_timeout) => break,
                    _ = stop_rx.changed() => {
                        http.as_mut().graceful_shutdown();
                        let _ = http.as_mut().await;
                        break;
                    }
                }
            }
            conns.remove(id);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(());
    // Every slot back: every connection has finished.
    let _ = slots.acquire_many(max as u32).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `conn` was asked to close.
    async fn asked(conn: &Conn) -> bool {
        tokio::time::timeout(Duration::ZERO, conn.evict.notified())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn room_is_made_by_closing_a_slow_head_first_then_the_longest_idle_never_a_busy_one() {
        let conns = Conns::default();
        let (_, busy) = conns.add();
        let _request = InFlight::start(&busy);
        let (_, keep_alive) = conns.add();
        drop(InFlight::start(&keep_alive));
        let (slow_id, slow_head) = conns.add();
        conns.evict_one();
        assert!(asked(&slow_head).await, "never sent a whole head");
        assert!(!asked(&keep_alive).await && !asked(&busy).await);
        conns.remove(slow_id);
        conns.evict_one();
        assert!(asked(&keep_alive).await, "idle between requests");
        assert!(!asked(&busy).await, "a request in flight is never cut");
    }
}
