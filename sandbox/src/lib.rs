//! # snapsync-sandbox: RingCentral and Snapshots stand-ins
//!
//! Two HTTP servers that behave like the APIs described in `docs/ringcentral-sandbox.md`
//! and `docs/snapshots-api.md`, close enough that RingCentral's own SDKs work against the
//! first. Tests, the demo and benchmarks use them; production code never does.
//!
//! # Layout
//! - [`credentials`]: the sandbox's default client id/secret, JWT and Snapshots API key.
//! - [`faults`]: per-route fault injection (forced status sequences, error rate, latency,
//!   429 storms), shared by both servers and driven by their `/sandbox/faults` routes.
//! - [`ringcentral`]: the RingCentral stand-in (OAuth, rate limits, read endpoints,
//!   address-book sync, subscriptions and webhook delivery, `/sandbox/` control API).
//! - [`snapshots`]: the Snapshots stand-in (in-memory records, idempotency, versions).
//!
//! [`Sandbox::start`] binds both on loopback port 0 and returns their URLs, so tests never
//! pick fixed ports; the binary (`src/main.rs`) is a thin shell around [`Sandbox::bind`].

pub mod credentials;
pub mod faults;
pub mod ringcentral;
pub mod snapshots;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use credentials::Credentials;
pub use ringcentral::rate_limit::RcLimits;

/// How to build the sandbox's world.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Seed for the deterministic fixture.
    pub seed: u64,
    /// Personal contacts to generate; `None` = the default realistic company (200).
    pub contacts: Option<usize>,
    /// RingCentral rate-limit window (RingCentral's is 60 s; tests compress it).
    pub window: Duration,
    /// RingCentral's per-group limits at start (default: Light 50, Medium 40, Heavy 10,
    /// Auth 5); `PUT /sandbox/config` on the RingCentral stand-in changes them later.
    pub rc_limits: RcLimits,
    /// Snapshots' requests per API key and window at start (default 6000).
    pub snapshots_rate_limit: u32,
    /// Snapshots' fixed rate-limit window at start (default 60 s).
    pub snapshots_window: Duration,
    pub credentials: Credentials,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: 1,
            contacts: None,
            window: Duration::from_secs(60),
            rc_limits: RcLimits::default(),
            snapshots_rate_limit: snapshots::rate_limit::DEFAULT_LIMIT,
            snapshots_window: snapshots::rate_limit::DEFAULT_WINDOW,
            credentials: Credentials::default(),
        }
    }
}

impl SandboxConfig {
    /// Refuses limits of 0 or above the stand-ins' maxima and empty or overlong windows.
    pub fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if let Err(e) = self.rc_limits.check(self.window) {
            problems.push(format!("RingCentral: {e}"));
        }
        if self.snapshots_rate_limit == 0 {
            problems.push("Snapshots: the rate limit must be at least 1 request per window".to_string());
        }
        if self.snapshots_window.is_zero() || self.snapshots_window > snapshots::rate_limit::MAX_WINDOW {
            problems.push(format!(
                "Snapshots: the window must be above 0 and at most {} s, got {:?}",
                snapshots::rate_limit::MAX_WINDOW.as_secs(),
                self.snapshots_window
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// Both stand-ins, running. Dropping it stops them.
pub struct Sandbox {
    rc_addr: SocketAddr,
    snapshots_addr: SocketAddr,
    rc: Arc<ringcentral::RcState>,
    snapshots: Arc<snapshots::SnapshotsState>,
    credentials: Credentials,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Sandbox {
    /// Starts both servers on free loopback ports.
    pub async fn start(config: SandboxConfig) -> std::io::Result<Sandbox> {
        let rc = TcpListener::bind("127.0.0.1:0").await?;
        let snap = TcpListener::bind("127.0.0.1:0").await?;
        Self::serve(config, rc, snap).await
    }

    /// Starts both servers on the given addresses (port 0 = any free port).
    pub async fn bind(config: SandboxConfig, rc: SocketAddr, snapshots: SocketAddr) -> std::io::Result<Sandbox> {
        let rc = TcpListener::bind(rc).await?;
        let snap = TcpListener::bind(snapshots).await?;
        Self::serve(config, rc, snap).await
    }

    /// Serves on listeners the caller bound. A config [`SandboxConfig::check`] refuses is
    /// an `InvalidInput` error.
    pub async fn serve(config: SandboxConfig, rc: TcpListener, snap: TcpListener) -> std::io::Result<Sandbox> {
        config.check().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let rc_addr = rc.local_addr()?;
        let snapshots_addr = snap.local_addr()?;
        let rc_state = ringcentral::RcState::new(&config, format!("http://{rc_addr}"));
        let snap_state = snapshots::SnapshotsState::new(&config);
        let (shutdown, rx) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(serve_until(rc, ringcentral::router(rc_state.clone()), rx.clone())),
            tokio::spawn(serve_until(snap, snapshots::router(snap_state.clone()), rx)),
        ];
        Ok(Sandbox {
            rc_addr,
            snapshots_addr,
            rc: rc_state,
            snapshots: snap_state,
            credentials: config.credentials,
            shutdown,
            tasks,
        })
    }

    /// Base URL of the RingCentral stand-in, e.g. `http://127.0.0.1:41234`.
    pub fn rc_url(&self) -> String {
        format!("http://{}", self.rc_addr)
    }

    /// Base URL of the Snapshots stand-in.
    pub fn snapshots_url(&self) -> String {
        format!("http://{}", self.snapshots_addr)
    }

    pub fn rc_addr(&self) -> SocketAddr {
        self.rc_addr
    }

    pub fn snapshots_addr(&self) -> SocketAddr {
        self.snapshots_addr
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The RingCentral stand-in's state, for in-process inspection in tests.
    pub fn rc_state(&self) -> &Arc<ringcentral::RcState> {
        &self.rc
    }

    /// The Snapshots stand-in's state, for in-process inspection in tests.
    pub fn snapshots_state(&self) -> &Arc<snapshots::SnapshotsState> {
        &self.snapshots
    }

    /// Stops accepting, lets in-flight requests finish, and waits for both servers.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

async fn serve_until(listener: TcpListener, app: axum::Router, mut stop: watch::Receiver<bool>) {
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        tracing::error!(error = %e, "sandbox server stopped with an error");
    }
}
