//! RingCentral's `X-Rate-Limit-*` headers, read from every answer (errors included) so the
//! worker's rate limiter can follow the server's view of each group's budget.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;

/// One answer's rate-limit headers. The group name is kept as sent (RingCentral sends it
/// lower-case, e.g. `light`; don't hard-code the set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateInfo {
    pub group: String,
    pub limit: u32,
    pub remaining: u32,
    pub window: Duration,
}

/// Called with every answer's [`RateInfo`]; set with [`super::RingCentral::on_rate_info`].
pub type RateObserver = Arc<dyn Fn(&RateInfo) + Send + Sync>;

impl RateInfo {
    /// `None` when the group header is missing (401s and the global limits carry none).
    pub fn from_headers(headers: &HeaderMap) -> Option<RateInfo> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let num = |name: &str| text(name).and_then(|v| v.parse::<u32>().ok());
        Some(RateInfo {
            group: text("x-rate-limit-group")?.to_owned(),
            limit: num("x-rate-limit-limit")?,
            remaining: num("x-rate-limit-remaining")?,
            window: Duration::from_secs(num("x-rate-limit-window")?.into()),
        })
    }
}

/// `Retry-After` in seconds (RingCentral sends delta-seconds, not HTTP dates).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get("retry-after")?.to_str().ok()?.trim();
    v.parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_all_four_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-rate-limit-group", "heavy".parse().unwrap());
        h.insert("x-rate-limit-limit", "10".parse().unwrap());
        h.insert("x-rate-limit-remaining", "7".parse().unwrap());
        h.insert("x-rate-limit-window", "60".parse().unwrap());
        let r = RateInfo::from_headers(&h).unwrap();
        assert_eq!(r, RateInfo { group: "heavy".into(), limit: 10, remaining: 7, window: Duration::from_secs(60) });
        h.remove("x-rate-limit-group");
        assert_eq!(RateInfo::from_headers(&h), None);
    }

    #[test]
    fn retry_after_seconds() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "12".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(12)));
    }
}
