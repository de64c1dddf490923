//! The shared rate limiter against a private redis-server: two limiters stand for two
//! processes sharing one budget; the urgent reserve; limits learned from headers; a 429 pause;
//! waiting in place for a permit, and handing back a long wait instead of sitting through it.

use std::time::{Duration, Instant};

use crate::support::queue;
use snapsync_queue::{with_class, Budget, Class, LimitError, Limiter, LimiterOptions};
use snapsync_testkit::RedisServer;

fn options() -> LimiterOptions {
    LimiterOptions {
        max_wait_bulk: Duration::from_millis(100),
        max_wait_urgent: Duration::from_millis(100),
        reserve_percent: 10,
        ..LimiterOptions::default()
    }
}

async fn take(limiter: &Limiter, budget: &Budget, class: Class) -> Result<(), LimitError> {
    with_class(class, limiter.acquire(budget)).await.map(|_| ())
}

fn waited(r: Result<(), LimitError>) -> (Duration, bool) {
    match r {
        Err(LimitError::Wait { wait, paused, .. }) => (wait, paused),
        other => panic!("expected a wait, got {other:?}"),
    }
}

#[tokio::test]
async fn two_processes_share_one_budget_and_bulk_leaves_the_reserve_to_urgent_callers() {
    let redis = RedisServer::start();
    let q = queue(&redis, "limits-share").await;
    let (a, b) = (q.limiter(options()), q.limiter(options()));
    let budget = Budget::new("api:group:cred", 20, Duration::from_secs(60));
    // Bulk callers get 18 of 20 (10 % is kept for urgent ones), whichever process asks.
    for i in 0..18 {
        let limiter = if i % 2 == 0 { &a } else { &b };
        take(limiter, &budget, Class::Bulk).await.unwrap_or_else(|e| panic!("bulk permit {i}: {e}"));
    }
    let (wait, paused) = waited(take(&b, &budget, Class::Bulk).await);
    assert!(!paused);
    assert!(wait > Duration::from_secs(55), "the next bulk permit is a window away: {wait:?}");
    // The reserve is there for urgent callers, then the window is full for everyone.
    take(&a, &budget, Class::Urgent).await.expect("the urgent caller gets a reserved permit");
    take(&b, &budget, Class::Urgent).await.expect("and the other one");
    let (wait, _) = waited(take(&b, &budget, Class::Urgent).await);
    assert!(wait > Duration::from_secs(55), "{wait:?}");
    let stats = q.budgets().await.expect("budgets");
    assert_eq!(stats.len(), 1, "{stats:?}");
    let s = &stats[0];
    assert_eq!((s.name.as_str(), s.limit, s.used, s.granted), ("api:group:cred", 20, 20, 20), "{s:?}");
    // A budget under 20 a window keeps no reserve: bulk callers get all of it.
    let small = Budget::new("api:heavy:cred", 10, Duration::from_secs(60));
    for i in 0..10 {
        take(&a, &small, Class::Bulk).await.unwrap_or_else(|e| panic!("bulk permit {i} of a small budget: {e}"));
    }
    assert!(s.waits >= 2, "{s:?}");
}

#[tokio::test]
async fn a_lower_limit_or_fewer_remaining_calls_from_the_server_hold_for_every_process() {
    let redis = RedisServer::start();
    let q = queue(&redis, "limits-learn").await;
    let (a, b) = (q.limiter(options()), q.limiter(options()));
    let budget = Budget::new("api:group:cred", 40, Duration::from_secs(60));
    take(&a, &budget, Class::Urgent).await.expect("first permit");
    // The server says 34 of 40 are left: 6 used, of which the log knew 1.
    a.observe(&budget, Some(40), Some(34), None).await.expect("observe");
    let s = &q.budgets().await.expect("budgets")[0];
    assert_eq!((s.used, s.synced), (6, 5), "{s:?}");
    // Then the server lowers its limit to 7 (no reserve under 20): one more permit, then none.
    b.observe(&budget, Some(7), Some(1), None).await.expect("observe");
    take(&b, &budget, Class::Bulk).await.expect("the seventh permit");
    waited(take(&a, &budget, Class::Bulk).await);
    waited(take(&a, &budget, Class::Urgent).await);
    let s = &q.budgets().await.expect("budgets")[0];
    assert_eq!((s.limit, s.configured_limit, s.used), (7, 40, 7), "{s:?}");
}

#[tokio::test]
async fn a_429_pauses_the_budget_for_every_process_and_class() {
    let redis = RedisServer::start();
    let q = queue(&redis, "limits-pause").await;
    let (a, b) = (q.limiter(options()), q.limiter(options()));
    let budget = Budget::new("api:group:cred", 100, Duration::from_secs(60));
    let left = a.pause(&budget, Duration::from_secs(30)).await.expect("pause");
    assert!(left > Duration::from_secs(29), "{left:?}");
    // A shorter pause does not cut the longer one short.
    b.pause(&budget, Duration::from_secs(1)).await.expect("pause");
    for class in [Class::Bulk, Class::Urgent] {
        let (wait, paused) = waited(take(&b, &budget, class).await);
        assert!(paused && wait > Duration::from_secs(25), "{class:?}: {wait:?}");
    }
    let s = &q.budgets().await.expect("budgets")[0];
    assert_eq!((s.pauses, s.used), (2, 0), "{s:?}");
    assert!(s.paused_for_ms > 25_000, "{s:?}");
}

#[tokio::test]
async fn a_short_wait_is_sat_through_and_a_long_one_handed_back() {
    let redis = RedisServer::start();
    let q = queue(&redis, "limits-wait").await;
    let patient = q.limiter(LimiterOptions { max_wait_urgent: Duration::from_secs(5), ..options() });
    let budget = Budget::new("api:group:cred", 2, Duration::from_millis(300));
    let started = Instant::now();
    for i in 0..4 {
        take(&patient, &budget, Class::Urgent).await.unwrap_or_else(|e| panic!("permit {i}: {e}"));
    }
    // Four permits of two per 300 ms: the third waited for the first to leave the window.
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    let hasty = q.limiter(options());
    let slow = Budget::new("api:slow:cred", 1, Duration::from_secs(60));
    take(&hasty, &slow, Class::Urgent).await.expect("the one permit");
    let before = Instant::now();
    let (wait, _) = waited(take(&hasty, &slow, Class::Urgent).await);
    assert!(wait > Duration::from_secs(55), "{wait:?}");
    assert!(before.elapsed() < Duration::from_secs(30), "a long wait must be handed back, not sat through");
}

#[tokio::test]
async fn a_permit_counts_from_its_answer_so_a_slow_request_never_frees_its_slot_early() {
    let redis = RedisServer::start();
    let q = queue(&redis, "limits-settle").await;
    let limiter = q.limiter(options());
    let budget = Budget::new("api:group:cred", 1, Duration::from_secs(1));
    let granted = Instant::now();
    let permit = with_class(Class::Urgent, limiter.acquire(&budget)).await.expect("the permit");
    // The request takes 600 ms to come back; its permit then counts from the answer, so it
    // is still in the window at 1.2 s, when a permit counted from the grant would have gone.
    snapsync_testkit::poll_until_async(Duration::from_secs(5), || async {
        (granted.elapsed() >= Duration::from_millis(600)).then_some(())
    })
    .await;
    limiter.settle(&budget, permit, None, None, None).await.expect("settle");
    snapsync_testkit::poll_until_async(Duration::from_secs(5), || async {
        (granted.elapsed() >= Duration::from_millis(1_200)).then_some(())
    })
    .await;
    let (wait, _) = waited(take(&limiter, &budget, Class::Urgent).await);
    assert!(wait > Duration::from_millis(100), "the slot frees a window after the answer: {wait:?}");
}
