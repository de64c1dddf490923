//! Retry delays: exponential with full jitter and a cap. *Whether* to retry is the
//! caller's classification; this only says *how long* to wait.

use std::time::Duration;

use rand::Rng;

/// The ceiling for attempt `attempt` (1-based): `min(cap, base * 2^(attempt-1))`.
pub fn backoff_ceiling(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).min(32);
    base.checked_mul(1u32 << exp.min(31)).map_or(cap, |d| d.min(cap))
}

/// A delay drawn uniformly from `[0, ceiling]` ("full jitter"), so a burst of failures
/// does not retry in lockstep.
pub fn backoff(attempt: u32, base: Duration, cap: Duration, rng: &mut impl Rng) -> Duration {
    let ceiling = backoff_ceiling(attempt, base, cap);
    let ms = ceiling.as_millis() as u64;
    Duration::from_millis(if ms == 0 { 0 } else { rng.random_range(0..=ms) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn ceiling_doubles_then_caps() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_millis(1000);
        let c: Vec<u128> = (1..=6).map(|a| backoff_ceiling(a, base, cap).as_millis()).collect();
        assert_eq!(c, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff_ceiling(500, base, cap), cap);
    }

    #[test]
    fn jitter_stays_within_the_ceiling_and_spreads() {
        let mut rng = StdRng::seed_from_u64(3);
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(10);
        let draws: Vec<Duration> = (0..1000).map(|_| backoff(4, base, cap, &mut rng)).collect();
        assert!(draws.iter().all(|d| *d <= Duration::from_millis(800)));
        let mean = draws.iter().map(|d| d.as_millis()).sum::<u128>() / 1000;
        assert!((300..500).contains(&mean), "mean {mean} ms for a ceiling of 800 ms");
    }
}
