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
    describe();
    Ok(INSTALLED.get_or_init(|| Metrics { handle }).clone())
}

/// The `# HELP` lines (`docs/metrics.md` has the full story).
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!("snapsync_queue_jobs", "Jobs per state and kind (read from Redis at scrape time).");
    describe_gauge!("snapsync_queue_due_jobs", "Scheduled or snoozed jobs already due, not yet promoted to ready.");
    describe_gauge!("snapsync_queue_paused", "1 while the queue is paused.");
    describe_gauge!("snapsync_rate_limit_budget_limit", "Calls per window in force for the budget.");
    describe_gauge!("snapsync_rate_limit_budget_used", "Permits handed out in the budget's current window.");
    describe_gauge!("snapsync_rate_limit_budget_window_seconds", Unit::Seconds, "The budget's window.");
    describe_gauge!("snapsync_rate_limit_budget_paused_seconds", Unit::Seconds, "Left of the budget's 429 pause.");
    describe_counter!("snapsync_rate_limit_budget_granted_total", "Permits granted by the budget, all processes.");
    describe_counter!("snapsync_rate_limit_budget_waits_total", "Waits the budget imposed, all processes.");
    describe_counter!("snapsync_rate_limit_budget_pauses_total", "429 pauses of the budget, all processes.");
    describe_counter!("snapsync_webhook_requests_total", "Webhook answers by HTTP status.");
    describe_counter!("snapsync_metrics_refresh_errors_total", "Scrapes whose Redis reads failed.");
    describe_counter!("snapsync_jobs_processed_total", "Job runs that succeeded.");
    describe_counter!("snapsync_jobs_failed_total", "Job runs recorded as a failed attempt.");
    describe_counter!("snapsync_jobs_retried_total", "Failed job runs scheduled again.");
    describe_counter!("snapsync_jobs_snoozed_total", "Job runs that snoozed (uncharged waits).");
    describe_counter!("snapsync_jobs_dead_total", "Failed job runs that moved their job to dead.");
    describe_histogram!("snapsync_job_duration_seconds", Unit::Seconds, "Time a job run's handler ran.");
    describe_histogram!(
        "snapsync_job_queue_latency_seconds",
        Unit::Seconds,
        "From a job's enqueue to the start of its first run."
    );
    describe_counter!("snapsync_api_requests_total", "HTTP requests to RingCentral and Snapshots by group and status.");
    describe_counter!("snapsync_rate_limit_waits_total", "Times this process was told to wait by a budget.");
    describe_counter!("snapsync_rate_limit_pauses_total", "429s by which this process paused a budget.");
    describe_counter!("snapsync_token_refreshes_total", "RingCentral access tokens obtained by this process.");
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
