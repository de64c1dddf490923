//! Retry delays: exponential, capped, with "equal jitter" (half the step fixed, half random).
//! *Whether* to retry is the caller's classification; this only says *how long* to wait.
//!
//! Equal jitter rather than full jitter because the policy must carry a job through an outage
//! of a known length: with full jitter (`rand(0, step)`) the sum of all waits has no useful
//! lower bound, so a job could use up its attempts in seconds by bad luck. With equal jitter
//! every wait is at least half its step, so [`horizon`] gives a guaranteed minimum time span
//! that the attempts cover, while retries of a burst of failures still spread out.

use std::time::Duration;

use rand::Rng;

/// The step for the wait after failed attempt `attempt` (1-based): `min(cap, base * 2^(attempt-1))`.
pub fn backoff_ceiling(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).min(31);
    base.checked_mul(1u32 << exp).map_or(cap, |d| d.min(cap))
}

/// A wait drawn uniformly from `[step/2, step]` for failed attempt `attempt`.
pub fn backoff(attempt: u32, base: Duration, cap: Duration, rng: &mut impl Rng) -> Duration {
    let step = backoff_ceiling(attempt, base, cap).as_millis() as u64;
    let half = step / 2;
    Duration::from_millis(if step == 0 { 0 } else { rng.random_range(half..=step) })
}

/// The time span the retries of a job with `max_attempts` attempts cover, from its first
/// failure to its last attempt: at least `.0`, at most `.1` (the sum of the waits after
/// attempts `1..max_attempts`). An outage shorter than `.0` cannot use up a job's attempts.
pub fn horizon(max_attempts: u32, base: Duration, cap: Duration) -> (Duration, Duration) {
    let max: Duration = (1..max_attempts).map(|a| backoff_ceiling(a, base, cap)).sum();
    let min: Duration = (1..max_attempts).map(|a| backoff_ceiling(a, base, cap) / 2).sum();
    (min, max)
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
    fn jitter_stays_between_half_and_the_whole_step_and_spreads() {
        let mut rng = StdRng::seed_from_u64(3);
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(10);
        let draws: Vec<Duration> = (0..1000).map(|_| backoff(4, base, cap, &mut rng)).collect();
        assert!(draws.iter().all(|d| *d >= Duration::from_millis(400) && *d <= Duration::from_millis(800)));
        let mean = draws.iter().map(|d| d.as_millis()).sum::<u128>() / 1000;
        assert!((550..650).contains(&mean), "mean {mean} ms for a step of 800 ms");
        assert!(draws.iter().any(|d| *d != draws[0]), "no spread");
    }

    #[test]
    fn horizon_is_the_sum_of_the_waits() {
        let (min, max) = horizon(4, Duration::from_millis(100), Duration::from_millis(300));
        // Waits after attempts 1, 2, 3: steps 100, 200, 300 (capped).
        assert_eq!(max, Duration::from_millis(600));
        assert_eq!(min, Duration::from_millis(300));
        assert_eq!(horizon(1, Duration::from_secs(1), Duration::from_secs(1)), (Duration::ZERO, Duration::ZERO));
    }
}
