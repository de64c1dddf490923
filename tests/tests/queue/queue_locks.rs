//! Record locks tied to a lease, through real worker processes: a worker SIGKILLed while its
//! job holds a lock leaves it behind only until the lease bound, and a job waiting on it snoozes
//! (no attempt spent) and then succeeds.

use std::time::{Duration, Instant};

use crate::queue_support::{job, Harness, Op, WorkerOpts, LEASE};
use redis::AsyncCommands;
use snapsync_testkit::wait_until_async;

const KEY: &str = "snapsync-test:lock:record-42";

#[tokio::test]
async fn a_crashed_holders_lock_frees_within_the_lease_bound_and_the_waiting_job_then_succeeds() {
    let h = Harness::start("lock-crash").await;
    let opts = WorkerOpts::default().concurrency(1).prefetch(1);
    let mut workers = [h.worker(&opts), h.worker(&opts)];
    // One attempt: once its holder is gone the job is dead, so it cannot take the lock again.
    let a = h.enqueue(vec![job("holder", Op::Lock { key: KEY, die: true }).max_attempts(1)]).await.remove(0);

    // Whichever worker takes the job dies holding the lock; the other survives.
    let victim = wait_until_async("the lock holder's worker to die", Duration::from_secs(10), || {
        let gone = workers.iter_mut().position(|w| !w.is_running());
        async move { gone }
    })
    .await;
    let died = Instant::now();
    let survivor = &workers[1 - victim];
    assert!(h.runs_log("holder").await.iter().all(|r| r.worker == workers[victim].id()));
    // The dead run's lock is still there, under its lease's token, for up to a lease.
    let owner: Option<String> = h.conn.clone().get(KEY).await.expect("GET lock");
    let owner = owner.expect("the dead holder's lock is still held");
    assert!(owner.starts_with(&format!("{a}:")), "the lock is held by {owner}, not by job {a}");
    let left: i64 = h.conn.clone().pttl(KEY).await.expect("PTTL lock");
    assert!(left > 0 && left <= LEASE.as_millis() as i64, "the lock's TTL is the lease: {left} ms left");

    let b = h.enqueue(vec![job("waiter", Op::Lock { key: KEY, die: false })]).await.remove(0);
    let done = h.wait_state(&b, "done", Duration::from_secs(10)).await;
    let waited = died.elapsed();
    eprintln!("the waiting job succeeded {waited:?} after the lock holder's worker died ({left} ms of TTL left then)");
    // The lock lapses at most a lease after its last renewal, which was before the death. Then
    // the snooze comes due (it waited out the TTL the lock had left), a reserve and a run: a
    // heartbeat period and a second of margin for those on a busy 2-core machine.
    let bound = LEASE + LEASE / 3 + Duration::from_millis(1000);
    assert!(waited < bound, "the waiting job took {waited:?} after the crash (bound {bound:?})");

    // Its busy runs were snoozes: every run is attempt 1, and the job ran once to success.
    let detail = h.try_job(&b).await.expect("the waiting job");
    assert_eq!(detail.summary.attempts, 1, "{done:?}");
    assert!(detail.summary.snoozes >= 1, "it never found the lock busy: {:?}", detail.summary);
    assert!(detail.history.is_empty(), "a busy lock counted as a failure: {:?}", detail.history);
    let runs = h.runs_log("waiter").await;
    assert_eq!(runs.len() as u32, detail.summary.snoozes + 1, "one run per snooze, then the success: {runs:?}");
    assert!(runs.iter().all(|r| r.worker == survivor.id() && r.attempt == 1), "{runs:?}");
    assert_eq!(h.done_of("waiter").await, 1);
    let after: Option<String> = h.conn.clone().get(KEY).await.expect("GET lock");
    assert_eq!(after, None, "the waiting job released the lock");

    // The holder's own job: its lease lapsed with its worker, and with no attempt left it is dead.
    let dead = h.wait_state(&a, "dead", Duration::from_secs(10)).await;
    assert_eq!(dead.get("r").map(String::as_str), Some("worker lost"), "{dead:?}");
    assert_eq!(h.done_of("holder").await, 0);
}
