//! Redis restarted with a changed password under a running worker process, then with the
//! right one again: the worker's calls are refused meanwhile (it logs the refusal and runs
//! nothing), and once the password is right again the same process, never restarted, runs
//! jobs and heartbeats again. (`snapsync serve`'s side: `producer/tests/serve/serve_redis_auth.rs`.)

use std::time::{Duration, Instant};

use crate::queue_support::{job, queue_config, Harness, Op, WorkerOpts};
use redis::AsyncCommands;
use snapsync_queue::{Enqueued, JobState, Queue};
use snapsync_testkit::{wait_until_async, RedisServer};

const RIGHT: &str = "queue-right-pw-5e1c";
const CHANGED: &str = "queue-changed-pw-b07a";
/// How a refused password shows in the worker's log: redis-rs's error kind for a failed
/// AUTH, or the server's own codes.
const REFUSED: [&str; 3] = ["AuthenticationFailed", "WRONGPASS", "NOAUTH"];

#[tokio::test]
async fn a_worker_rides_out_a_changed_redis_password_and_resumes_without_a_restart() {
    // AOF on, so what was written before each restart is still there after it.
    let redis = RedisServer::builder().aof(true).password(RIGHT).start();
    let mut h = Harness::with_redis(redis, "auth").await;
    let mut w = h.worker(&WorkerOpts::default());
    let before = h.enqueue(vec![job("before", Op::Noop)]).await.remove(0);
    h.wait_state(&before, "done", Duration::from_secs(10)).await;
    let lines_before = w.stderr().lines().count();

    h.redis.restart_with_password(Some(CHANGED));
    // A client that knows the new password enqueues a job; the worker, with the old one, is
    // refused at every reconnect and cannot take it.
    let other = Queue::connect(&h.redis.url(), queue_config("auth")).await.expect("connect with the changed password");
    let during = match other.enqueue(job("during", Op::Noop)).await.expect("enqueue with the changed password") {
        Enqueued::Created(id) => id,
        e => panic!("{e:?}"),
    };
    let refusal = wait_until_async("the worker to log a refused password", Duration::from_secs(15), || async {
        let log = w.stderr();
        log.lines().skip(lines_before).find(|l| REFUSED.iter().any(|r| l.contains(r))).map(str::to_string)
    })
    .await;
    eprintln!("worker refused: {refusal}");
    assert!(!refusal.contains(RIGHT) && !refusal.contains(CHANGED), "a password is in the log: {refusal}");
    let job_now = other.get(&during).await.expect("get").expect("the job").summary;
    assert_eq!((job_now.state, job_now.attempts), (JobState::Ready, 0), "{job_now:?}");
    let ran: Option<u64> = other.conn().clone().hget(crate::queue_support::RUNS, "during").await.expect("HGET");
    assert_eq!(ran, None, "the job ran while the worker's password was refused");
    assert!(w.is_running(), "the worker exited on a refused password:\n{}", w.stderr_tail(20));

    h.redis.restart_with_password(Some(RIGHT));
    let righted = Instant::now();
    let back_ms = wait_until_async("the reader to reconnect", Duration::from_secs(10), || h.try_redis_now_ms()).await;
    let after = h.enqueue(vec![job("after", Op::Noop)]).await.remove(0);
    for id in [&during, &after] {
        h.wait_state(id, "done", Duration::from_secs(15)).await;
    }
    eprintln!("jobs run again {:?} after the password was right again", righted.elapsed());
    // The same process ran them: its id is on both runs, and it never exited.
    let runs: Vec<(String, String)> = h.log().await.into_iter().map(|r| (r.tag, r.worker)).collect();
    let expected: Vec<(String, String)> =
        ["before", "during", "after"].iter().map(|t| (t.to_string(), w.id().to_string())).collect();
    let mut sorted = runs.clone();
    sorted.sort_by_key(|(t, _)| ["before", "during", "after"].iter().position(|x| x == t));
    assert_eq!(sorted, expected, "each job ran once, on the one worker process: {runs:?}");
    assert!(w.is_running());
    // And it heartbeats again: the registry has a beat of it from after the restart.
    let beat = wait_until_async("the worker's heartbeat to resume", Duration::from_secs(10), || async {
        let workers = h.queue.workers().await.ok()?;
        workers.live.into_iter().find(|l| l.id.0 == w.id() && l.last_beat_ms >= back_ms)
    })
    .await;
    assert_eq!(beat.pid, w.pid());
}
