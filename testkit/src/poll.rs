//! Waiting on a condition with a deadline. Tests never sleep as synchronisation: they poll
//! what they are waiting for and fail with a message when the deadline passes.

use std::future::Future;
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_millis(10);

/// Polls `cond` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_until<T>(what: &str, timeout: Duration, cond: impl FnMut() -> Option<T>) -> T {
    match poll_until(timeout, cond) {
        Some(v) => v,
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// Like [`wait_until`] but returns `None` on timeout, for callers whose failure message
/// needs more than a description (e.g. the server logs).
pub fn poll_until<T>(timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(STEP);
    }
}

/// Async form of [`wait_until`].
pub async fn wait_until_async<T, F, Fut>(what: &str, timeout: Duration, cond: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match poll_until_async(timeout, cond).await {
        Some(v) => v,
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// Async form of [`poll_until`]: `None` on timeout, for a caller that reports more.
pub async fn poll_until_async<T, F, Fut>(timeout: Duration, mut cond: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(STEP).await;
    }
}
