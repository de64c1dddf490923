//! Counters behind `GET /sandbox/stats` on the RingCentral stand-in.
//!
//! Each (app, user, group) bucket counts `requests` (every call that reached the limiter),
//! `admitted`, `limited` (its 429 CMN-301 answers) and `max_in_window`: over every admitted
//! request at `t`, the most admitted requests of the bucket in `(t - window, t]`. The
//! limiter's hit list after pruning is exactly that set, so the maximum is taken from its
//! length on each admission: exact, and no extra memory. Per group the counts are summed
//! over the buckets and `max_in_window` is the largest of any one bucket.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::{BucketKey, Group, RcLimits};

/// What one bucket (or one group, summed) saw since the last reset.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub requests: u64,
    pub admitted: u64,
    pub limited: u64,
    pub max_in_window: u64,
}

impl Counters {
    /// A request was admitted; `in_window` admitted requests of the bucket (this one
    /// included) now lie in the window ending at it.
    pub fn admitted(&mut self, in_window: u64) {
        self.requests += 1;
        self.admitted += 1;
        self.max_in_window = self.max_in_window.max(in_window);
    }

    /// A request was refused with 429.
    pub fn limited(&mut self) {
        self.requests += 1;
        self.limited += 1;
    }

    /// Folds a bucket into a group's totals: counts add up, the maximum is the largest.
    fn add(&mut self, other: &Counters) {
        self.requests += other.requests;
        self.admitted += other.admitted;
        self.limited += other.limited;
        self.max_in_window = self.max_in_window.max(other.max_in_window);
    }

    fn to_json(self) -> Value {
        json!({
            "requests": self.requests,
            "admitted": self.admitted,
            "limited": self.limited,
            "max_in_window": self.max_in_window,
        })
    }
}

/// The `GET /sandbox/stats` body: every group (also those without requests) with its
/// current limit, and every bucket that saw a request, ordered by app, user and group.
pub fn to_json<'a>(
    buckets: impl Iterator<Item = (&'a BucketKey, &'a Counters)>,
    limits: RcLimits,
    window: Duration,
) -> Value {
    let window_ms = window.as_millis() as u64;
    let mut groups: BTreeMap<usize, Counters> = BTreeMap::new();
    let mut rows: Vec<(&BucketKey, &Counters)> = buckets.collect();
    rows.sort_by_key(|((app, user, group), _)| (app.clone(), *user, rank(*group)));
    for ((_, _, group), c) in &rows {
        groups.entry(rank(*group)).or_default().add(c);
    }
    let mut total = Counters::default();
    let mut by_group = serde_json::Map::new();
    for (i, group) in Group::ALL.into_iter().enumerate() {
        let c = groups.get(&i).copied().unwrap_or_default();
        total.add(&c);
        let mut g = c.to_json();
        g["limit"] = json!(limits.of(group));
        g["window_ms"] = json!(window_ms);
        by_group.insert(group.name().into(), g);
    }
    let buckets: Vec<Value> = rows
        .iter()
        .map(|((app, user, group), c)| {
            let mut b = c.to_json();
            b["client_id"] = json!(app);
            b["user"] = json!(user);
            b["group"] = json!(group.name());
            b["limit"] = json!(limits.of(*group));
            b
        })
        .collect();
    json!({
        "window_ms": window_ms,
        "requests_total": total.requests,
        "admitted_total": total.admitted,
        "limited_total": total.limited,
        "groups": by_group,
        "buckets": buckets,
    })
}

fn rank(group: Group) -> usize {
    Group::ALL.iter().position(|g| *g == group).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::{RateLimiter, Verdict};
    use super::*;

    /// Brute force: the most admitted requests in any `(t - window, t]`, `t` an admission.
    fn sliding_max(admitted: &[Instant], window: Duration) -> u64 {
        admitted
            .iter()
            .map(|t| admitted.iter().filter(|s| *s <= t && t.saturating_duration_since(**s) < window).count() as u64)
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn max_in_window_is_the_exact_sliding_maximum() {
        let window = Duration::from_millis(1000);
        let mut rl = RateLimiter::new(RcLimits { heavy: 4, ..RcLimits::default() }, window);
        let t0 = Instant::now();
        // Bursts and gaps on a made-up clock (ms), some landing in penalties.
        let times = [0, 10, 20, 990, 1000, 1005, 1500, 2100, 2150, 2990, 3000, 3100, 3101, 5000, 5999, 6000, 6998];
        let mut admitted = Vec::new();
        for ms in times {
            let now = t0 + Duration::from_millis(ms);
            if let Verdict::Admitted { .. } = rl.hit("app", 1, Group::Heavy, now) {
                admitted.push(now);
            }
        }
        let c = *rl.counters().next().expect("one bucket").1;
        assert_eq!(c.requests, times.len() as u64);
        assert_eq!(c.admitted, admitted.len() as u64);
        assert_eq!(c.limited, c.requests - c.admitted);
        assert!(c.limited > 0, "the sequence hits the limit");
        assert_eq!(c.max_in_window, sliding_max(&admitted, window));
        assert_eq!(c.max_in_window, 4);
    }

    #[test]
    fn spread_out_requests_never_fill_the_window() {
        let mut rl = RateLimiter::new(RcLimits { light: 5, ..RcLimits::default() }, Duration::from_millis(1000));
        let t0 = Instant::now();
        // One request every 300 ms: at most 4 in any 1 s window ((t-1000, t] holds t, t-300, t-600, t-900).
        for i in 0..40 {
            assert!(matches!(
                rl.hit("app", 1, Group::Light, t0 + Duration::from_millis(i * 300)),
                Verdict::Admitted { .. }
            ));
        }
        let c = *rl.counters().next().expect("one bucket").1;
        assert_eq!(c, Counters { requests: 40, admitted: 40, limited: 0, max_in_window: 4 });
    }

    #[test]
    fn groups_sum_counts_and_take_the_largest_maximum() {
        let key = |app: &str, user, group| (app.to_string(), user, group);
        let (a, b, c) = (key("app", 2, Group::Light), key("app", 1, Group::Light), key("app", 1, Group::Auth));
        let ca = Counters { requests: 5, admitted: 4, limited: 1, max_in_window: 4 };
        let cb = Counters { requests: 3, admitted: 3, limited: 0, max_in_window: 2 };
        let cc = Counters { requests: 1, admitted: 1, limited: 0, max_in_window: 1 };
        let limits = RcLimits { light: 7, ..RcLimits::default() };
        let j = to_json([(&a, &ca), (&b, &cb), (&c, &cc)].into_iter(), limits, Duration::from_millis(2500));
        assert_eq!(j["window_ms"], 2500);
        assert_eq!(
            j["groups"]["light"],
            json!({"requests": 8, "admitted": 7, "limited": 1, "max_in_window": 4, "limit": 7, "window_ms": 2500})
        );
        assert_eq!(j["groups"]["heavy"]["requests"], 0);
        assert_eq!(j["groups"]["heavy"]["limit"], 10);
        assert_eq!((j["requests_total"].as_u64(), j["limited_total"].as_u64()), (Some(9), Some(1)));
        // Buckets by app, user, then group in Light/Medium/Heavy/Auth order.
        let order: Vec<(u64, &str)> = j["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["user"].as_u64().unwrap(), b["group"].as_str().unwrap()))
            .collect();
        assert_eq!(order, [(1, "light"), (1, "auth"), (2, "light")]);
        assert_eq!(j["buckets"][2]["client_id"], "app");
        assert_eq!(j["buckets"][2]["max_in_window"], 4);
    }
}
