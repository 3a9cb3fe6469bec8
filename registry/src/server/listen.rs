//! The accept loop. Connections are HTTP/1.1 served by hyper, at most [`max_connections`] at
//! once, so that clients cannot take the file descriptors the storage needs. When the cap is
//! reached and one more client connects, an idle connection is closed to make room: the
//! oldest of those that never completed a request head (a slowloris), else the one idle the
//! longest between requests (keep-alive). A connection whose request head takes longer than
//! the read timeout is closed too. A request in flight, its response body included, is
//! never cut.

use super::{app, AppState};
use axum::body::{Body, Bytes, HttpBody};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify, Semaphore};

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
    /// Asks it to close; heeded only while idle.
    evict: Notify,
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
            evict: Notify::new(),
        });
        self.lock().insert(id, conn.clone());
        (id, conn)
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Asks an idle connection to close: the oldest that never sent a whole request head,
    /// else the one idle the longest.
    fn evict_one(&self) {
        let open = self.lock();
        let idle = open
            .values()
            .filter(|c| c.in_flight.load(Ordering::SeqCst) == 0)
            .min_by_key(|c| {
                let since = *c.idle_since.lock().expect("idle time");
                (c.served.load(Ordering::SeqCst), since)
            });
        if let Some(c) = idle {
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
            let mut http = pin!(builder.serve_connection(TokioIo::new(stream), service));
            loop {
                tokio::select! {
                    _ = http.as_mut() => break,
                    () = conn.evict.notified() => {
                        if conn.in_flight.load(Ordering::SeqCst) == 0 {
                            break; // dropped: the socket closes
                        }
                    }
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
