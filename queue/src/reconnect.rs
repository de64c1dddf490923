//! Capped backoff for the worker's background tasks while Redis is unreachable: each task
//! keeps its own, doubles it after every failed call and resets it after a success, so a
//! restarted Redis is noticed within the cap and a dead one is not hammered.

use std::time::Duration;

/// First wait after a failed call.
pub const FIRST: Duration = Duration::from_millis(50);
/// Longest wait between two tries.
pub const CAP: Duration = Duration::from_secs(2);

/// The wait before the next try of one task.
#[derive(Debug, Clone, Default)]
pub struct Reconnect {
    /// Failed calls since the last success.
    failures: u32,
}

impl Reconnect {
    /// The wait to apply now; doubles the following one, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        crate::backoff::backoff_ceiling(self.failures, FIRST, CAP)
    }

    /// True after a failure not yet followed by a success.
    pub fn failing(&self) -> bool {
        self.failures > 0
    }

    /// A call succeeded: the next failure starts from the first wait again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut r = Reconnect::default();
        let waits: Vec<u128> = (0..8).map(|_| r.next_delay().as_millis()).collect();
        assert_eq!(waits, vec![50, 100, 200, 400, 800, 1600, 2000, 2000]);
        r.reset();
        assert_eq!(r.next_delay(), FIRST);
    }
}
