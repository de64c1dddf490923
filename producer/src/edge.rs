//! The public listener, hardened: what `axum::serve` does, plus the limits a listener facing
//! the internet needs and axum does not set.
//!
//! - **Header read timeout** ([`EdgeLimits::header_timeout`], 10 s): a connection that has not
//!   sent a whole request head by then (a half-open or slowloris client, or an idle
//!   keep-alive) is closed, so its file descriptor and buffers come back.
//! - **Request timeout** ([`EdgeLimits::body_timeout`], 10 s): a request whose body trickles
//!   in (or whose answer takes longer) is cut with 408; a webhook's own Redis wait is 5 s.
//! - **Connection limit** ([`EdgeLimits::max_connections`], 1,024): beyond it, new
//!   connections wait in the kernel's accept backlog until one ends.
//!
//! - **Memory back after a burst**: glibc's allocator keeps what a burst of connections freed
//!   in its arenas (1,000 half-open connections left the process 13 MiB above its baseline
//!   after they were closed). When many connections have ended since the peak, the listener
//!   asks glibc to hand the free pages back (`malloc_trim`), on a blocking thread; with it the
//!   process returns to within a few per cent of its baseline (the `serve` edge test checks
//!   10 %). Steady traffic never triggers it. Written here because no allocator crate offers
//!   it on the system allocator, and switching allocators (mimalloc was tried) did worse.
//!
//! hyper's HTTP/1 server does the timing (`header_read_timeout` with a Tokio timer); our own
//! loop around it exists only because `axum::serve` exposes neither setting. Stopping waits
//! for requests in flight (hyper's graceful shutdown), as `axum::serve` does.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The public listener's limits.
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        EdgeLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// Serves `router` on `listener` with `limits` until `shutdown` resolves, then lets the
/// requests in flight finish (at most `drain`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: EdgeLimits,
    shutdown: impl Future<Output = ()> + Send,
    drain: Duration,
) -> std::io::Result<()> {
    // The whole request (its body and the answer) within the limit, else 408 — as JSON, like
    // every other error.
    let router = router
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.body_timeout,
        ))
        .layer(axum::middleware::map_response(crate::admin::json_errors));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let live = Arc::new(Live::default());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        // A slot first: at the limit, connections wait in the backlog, not in our memory.
        let slot = tokio::select! {
            _ = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => break,
            },
        };
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        live.opened();
        let live = live.clone();
        tokio::spawn(async move {
            // A dropped or timed-out connection is the client's doing, not an error of ours.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(slot);
            live.closed();
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
        tracing::warn!(?drain, "requests still in flight at the end of the shutdown deadline");
    }
    Ok(())
}

/// Live connections and the most there were since memory was last handed back.
#[derive(Debug, Default)]
struct Live {
    now: AtomicUsize,
    peak: AtomicUsize,
    closed_since_trim: AtomicUsize,
}

/// Connections that must have ended since the peak before memory is handed back mid-burst.
const TRIM_AFTER: usize = 64;
/// At zero live connections, hand memory back once this many have ended since the last time.
const TRIM_IDLE_AFTER: usize = 16;

impl Live {
    fn opened(&self) {
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn closed(&self) {
        let now = self.now.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
        let closed = self.closed_since_trim.fetch_add(1, Ordering::Relaxed) + 1;
        let peak = self.peak.load(Ordering::Relaxed);
        let burst_over = peak >= now + TRIM_AFTER;
        let idle = now == 0 && closed >= TRIM_IDLE_AFTER;
        if (burst_over || idle) && self.peak.compare_exchange(peak, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            self.closed_since_trim.store(0, Ordering::Relaxed);
            tokio::task::spawn_blocking(release_freed_memory);
        }
    }
}

/// Hands the allocator's free pages back to the system (glibc only; elsewhere nothing to do).
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}
