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
//! hyper's HTTP/1 server does the timing (`header_read_timeout` with a Tokio timer); our own
//! loop around it exists only because `axum::serve` exposes neither setting. Stopping waits
//! for requests in flight (hyper's graceful shutdown), as `axum::serve` does.

use std::future::Future;
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
        tokio::spawn(async move {
            // A dropped or timed-out connection is the client's doing, not an error of ours.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
        tracing::warn!(?drain, "requests still in flight at the end of the shutdown deadline");
    }
    Ok(())
}
