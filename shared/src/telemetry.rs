//! Prometheus metrics (`docs/metrics.md`). Libraries record through the `metrics` macros,
//! which do nothing until a binary calls [`install`]; the binaries serve [`Metrics::render`]
//! on their own HTTP listener (`GET /metrics`).
//!
//! Label values come from fixed sets only (kinds, states, rate-limit groups, status codes,
//! budget names): never a secret, a payload or anything a caller wrote.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Bucket bounds (seconds) of the duration histograms: 5 ms to 10 min.
const SECONDS_BUCKETS: [f64; 16] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];

/// The installed recorder: renders what was recorded so far.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl Metrics {
    /// Everything recorded, in the Prometheus text format.
    pub fn render(&self) -> String {
        // Histograms keep samples until upkeep folds them in; a scrape is a fine time for it.
        self.handle.run_upkeep();
        self.handle.render()
    }
}

static INSTALLED: OnceLock<Metrics> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; later calls return the same one).
pub fn install() -> Result<Metrics, BuildError> {
    if let Some(m) = INSTALLED.get() {
        return Ok(m.clone());
    }
    let handle = PrometheusBuilder::new().set_buckets(&SECONDS_BUCKETS)?.install_recorder()?;
    Ok(INSTALLED.get_or_init(|| Metrics { handle }).clone())
}

/// One HTTP request to an API answered with `status` (`None`: no answer, a transport error):
/// `snapsync_api_requests_total{api,group,status}`.
pub fn api_request(api: &'static str, group: &'static str, status: Option<u16>) {
    let status = match status {
        Some(code) => code.to_string(),
        None => "error".to_string(),
    };
    metrics::counter!("snapsync_api_requests_total", "api" => api, "group" => group, "status" => status).increment(1);
}
