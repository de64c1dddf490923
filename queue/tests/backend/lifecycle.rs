//! The apalis backend in-process against a private redis-server: a job runs and is acked, a
//! panic is a failed attempt, an undecodable payload goes to dead while the next job still
//! runs, a paused queue hands out nothing, a snoozed job keeps its attempt, a run whose lease
//! is lost is cancelled within a heartbeat, the same job re-leased to the same worker never
//! runs twice at once, and a stop hands prefetched jobs back at once and uncharged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use snapsync_queue::{
    run, JobDetail, JobError, JobId, JobMeta, JobState, NewJob, Queue, QueueConfig, RedisBackend, RetryOutcome,
    WorkerOptions,
};
use snapsync_testkit::{wait_until_async, RedisServer};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(10);
const LEASE: Duration = Duration::from_millis(1000);

#[derive(Debug, Deserialize)]
struct Job {
    op: String,
    #[serde(default)]
    n: u32,
}

/// What the handler saw, per job id.
#[derive(Default)]
struct Seen {
    /// Every run started, in order.
    ran: Mutex<Vec<JobId>>,
    /// Runs of each job going on now, and the most at once.
    now: Mutex<HashMap<JobId, u32>>,
    most: Mutex<HashMap<JobId, u32>>,
    /// Runs dropped before they finished (cancelled), and when.
    cut: Mutex<Vec<(JobId, Instant)>>,
    /// Snoozes asked so far, per job.
    snoozed: Mutex<HashMap<JobId, u32>>,
}

/// Counts a run as going on while alive; a drop before `done()` is a cut run.
struct Running {
    seen: Arc<Seen>,
    id: JobId,
    finished: bool,
}

impl Running {
    fn new(seen: Arc<Seen>, id: JobId) -> Running {
        let mut now = seen.now.lock().unwrap();
        let n = now.entry(id.clone()).or_default();
        *n += 1;
        let mut most = seen.most.lock().unwrap();
        let m = most.entry(id.clone()).or_default();
        *m = (*m).max(*n);
        drop((now, most));
        seen.ran.lock().unwrap().push(id.clone());
        Running { seen, id, finished: false }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        *self.seen.now.lock().unwrap().entry(self.id.clone()).or_default() -= 1;
        if !self.finished {
            self.seen.cut.lock().unwrap().push((self.id.clone(), Instant::now()));
        }
    }
}

struct Harness {
    queue: Queue,
    stop: Option<oneshot::Sender<()>>,
    worker: JoinHandle<Result<(), snapsync_queue::RunError>>,
    handle: snapsync_queue::BackendHandle,
    seen: Arc<Seen>,
    release: Arc<Notify>,
    _server: RedisServer,
}

/// Starts a worker (5 s to finish its runs on stop) whose handler does what each job's `op`
/// says: `ok`; `panic_once`; `block` (until `release` is notified); `permanent`; `snooze` (asks
/// to wait 100 ms on its first `n` runs); `hold` (runs until cancelled).
async fn start(test: &str, concurrency: usize, prefetch: usize) -> Harness {
    let options =
        WorkerOptions { concurrency, prefetch, shutdown_timeout: Duration::from_secs(5), ..Default::default() };
    start_with(test, options).await
}

/// [`start`] with the worker's options given whole.
async fn start_with(test: &str, options: WorkerOptions) -> Harness {
    let server = RedisServer::start();
    let config = QueueConfig {
        prefix: format!("w-{test}"),
        lease: LEASE,
        default_max_attempts: 5,
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(50),
        ..QueueConfig::default()
    };
    let queue = Queue::connect(&server.url(), config).await.expect("connect to the private redis");
    let backend = RedisBackend::<Job>::new(queue.clone(), options);
    let handle = backend.handle();
    let seen = Arc::new(Seen::default());
    let release = Arc::new(Notify::new());
    let handler = {
        let (seen, release) = (seen.clone(), release.clone());
        move |job: Job, meta: JobMeta| {
            let (seen, release) = (seen.clone(), release.clone());
            async move {
                let mut running = Running::new(seen.clone(), meta.id.clone());
                let result = match job.op.as_str() {
                    "panic_once" if meta.attempt == 1 => panic!("boom on attempt {}", meta.attempt),
                    "block" => {
                        release.notified().await;
                        Ok(())
                    }
                    "hold" => std::future::pending().await,
                    "permanent" => Err(JobError::permanent("no such thing")),
                    "snooze" => {
                        let mut snoozed = seen.snoozed.lock().unwrap();
                        let n = snoozed.entry(meta.id.clone()).or_default();
                        if *n < job.n {
                            *n += 1;
                            Err(JobError::snooze(Duration::from_millis(100), "waiting for a rate limit"))
                        } else {
                            Ok(())
                        }
                    }
                    _ => Ok(()),
                };
                running.finished = true;
                result
            }
        }
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = tokio::spawn(run(backend, handler, async move {
        let _ = stopped.await;
    }));
    tokio::time::timeout(WAIT, handle.clone().ready()).await.expect("worker registers within 10 s");
    Harness { queue, stop: Some(stop), worker, handle, seen, release, _server: server }
}

impl Harness {
    async fn enqueue(&self, payload: &str) -> JobId {
        self.queue.enqueue(NewJob::new("t", payload)).await.expect("enqueue").id().clone()
    }

    async fn job(&self, id: &JobId) -> Option<JobDetail> {
        self.queue.get(id).await.expect("get")
    }

    async fn wait_state(&self, id: &JobId, state: JobState) -> JobDetail {
        wait_until_async(&format!("job {id} to be {state}"), WAIT, || async {
            self.job(id).await.filter(|j| j.summary.state == state)
        })
        .await
    }

    fn ran(&self, id: &JobId) -> usize {
        self.seen.ran.lock().unwrap().iter().filter(|r| *r == id).count()
    }

    async fn wait_ran(&self, id: &JobId, runs: usize) {
        wait_until_async(&format!("run {runs} of job {id} to start"), WAIT, || async {
            (self.ran(id) == runs).then_some(())
        })
        .await
    }

    fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    async fn stop(mut self) -> Self {
        self.begin_stop();
        let worker = &mut self.worker;
        let result = tokio::time::timeout(WAIT, worker).await.expect("worker stops within 10 s");
        result.expect("worker task").expect("worker stops cleanly");
        self
    }
}

#[tokio::test]
async fn a_job_runs_and_is_acked() {
    let h = start("acked", 4, 4).await;
    let id = h.enqueue(r#"{"op":"ok"}"#).await;
    let job = h.wait_state(&id, JobState::Done).await;
    assert_eq!(job.summary.attempts, 1);
    assert_eq!(h.queue.counts().await.unwrap().totals.running, 0, "an acked job leaves the running set");
    h.stop().await;
}

#[tokio::test]
async fn a_panic_is_a_failed_attempt_and_the_job_retries() {
    let h = start("panic", 4, 4).await;
    let id = h.enqueue(r#"{"op":"panic_once"}"#).await;
    let job = h.wait_state(&id, JobState::Done).await;
    assert_eq!(job.summary.attempts, 2, "the panicked attempt counted");
    let errors: Vec<_> = job.history.iter().filter_map(|a| a.error.clone()).collect();
    assert!(errors.iter().any(|e| e.contains("handler panicked: boom on attempt 1")), "history: {errors:?}");
    h.stop().await;
}

#[tokio::test]
async fn an_undecodable_payload_goes_to_dead_and_the_next_job_runs() {
    let h = start("decode", 1, 1).await;
    let bad = h.enqueue(r#"{"nope":1}"#).await;
    let good = h.enqueue(r#"{"op":"ok"}"#).await;
    let dead = h.wait_state(&bad, JobState::Dead).await;
    let error = dead.summary.last_error.clone().unwrap_or_default();
    assert!(
        error.starts_with(&format!("cannot decode payload of job {bad} (kind t): missing field `op`")),
        "error: {error}"
    );
    assert_eq!(dead.summary.dead_reason.as_deref(), Some("permanent error"));
    assert_eq!(dead.summary.attempts, 1, "a run that could not even decode is still a run");
    h.wait_state(&good, JobState::Done).await;
    h.stop().await;
}

#[tokio::test]
async fn a_paused_queue_hands_out_nothing_until_resumed() {
    let h = start("paused", 4, 4).await;
    assert!(h.queue.pause().await.unwrap());
    let id = h.enqueue(r#"{"op":"ok"}"#).await;
    // The enqueue's wake token makes the idle worker reserve. It pops the tokens first, so once
    // they are gone and it blocks on the wake list again, its reserve has been answered (and
    // refused) while the job was ready.
    let wake = h.queue.keys().get("wake").to_string();
    let conn = h.queue.conn().clone();
    wait_until_async("the worker to consume the wake tokens", WAIT, || async {
        let n: u64 = redis::cmd("LLEN").arg(&wake).query_async(&mut conn.clone()).await.unwrap();
        (n == 0).then_some(())
    })
    .await;
    wait_until_async("the worker to block on the wake list again", WAIT, || async {
        let info: String = redis::cmd("INFO").arg("clients").query_async(&mut conn.clone()).await.unwrap();
        info.lines().any(|l| l.trim() == "blocked_clients:1").then_some(())
    })
    .await;
    assert_eq!(h.job(&id).await.unwrap().summary.state, JobState::Ready);
    assert!(h.queue.resume().await.unwrap());
    h.wait_state(&id, JobState::Done).await;
    h.stop().await;
}

#[tokio::test]
async fn a_snoozed_job_comes_back_without_spending_attempts() {
    let h = start("snooze", 2, 2).await;
    let id = h.enqueue(r#"{"op":"snooze","n":3}"#).await;
    let job = h.wait_state(&id, JobState::Done).await;
    assert_eq!((job.summary.attempts, job.summary.snoozes), (1, 3), "{:?}", job.summary);
    assert!(job.history.is_empty(), "a snooze is not a failure: {:?}", job.history);
    assert_eq!(h.ran(&id), 4);
    h.stop().await;
}

#[tokio::test]
async fn a_run_whose_lease_is_lost_is_cancelled_within_a_heartbeat() {
    let h = start("cancel", 2, 2).await;
    let id = h.enqueue(r#"{"op":"hold"}"#).await;
    h.wait_ran(&id, 1).await;
    // An operator discards the job while it runs: the lease is gone.
    let lost_at = Instant::now();
    assert_eq!(h.queue.discard(&id).await.unwrap(), Some(JobState::Running));
    let cut = wait_until_async("the run to be cancelled", WAIT, || async {
        h.seen.cut.lock().unwrap().iter().find(|(j, _)| *j == id).map(|(_, at)| *at)
    })
    .await;
    let took = cut.duration_since(lost_at);
    eprintln!("run cancelled {took:?} after its lease was lost (heartbeat every {:?})", LEASE / 3);
    assert!(took <= LEASE / 3 + Duration::from_millis(500), "cancelled only after {took:?}");
    assert!(h.job(&id).await.is_none(), "nothing the cut run did brought the job back");
    assert_eq!(h.handle.held(), (0, 0), "the lost lease is forgotten");
    h.stop().await;
}

#[tokio::test]
async fn the_same_job_re_leased_to_the_same_worker_never_runs_twice_at_once() {
    let h = start("fence", 2, 2).await;
    let id = h.enqueue(r#"{"op":"hold"}"#).await;
    h.wait_ran(&id, 1).await;
    let first = h.job(&id).await.unwrap().summary.lease.expect("leased");
    // The run is stuck: an operator retries it. The job goes back to ready and this worker,
    // with a slot free, leases it again while the first run is still alive.
    assert_eq!(h.queue.retry(&id).await.unwrap(), RetryOutcome::Retried { from: JobState::Running });
    h.wait_ran(&id, 2).await;
    let now = h.job(&id).await.unwrap().summary;
    assert_eq!(now.worker.as_deref(), Some(h.handle.worker_id().0.as_str()), "the same worker leased it again");
    assert!(now.lease.is_some_and(|l| l > first), "under a new lease: {now:?}");
    assert_eq!(h.seen.most.lock().unwrap()[&id], 1, "two runs of one job overlapped in one worker");
    assert_eq!(h.seen.cut.lock().unwrap().iter().filter(|(j, _)| *j == id).count(), 1, "the stale run was cut");
    assert_eq!(now.attempts, 1, "the cut run's attempt was given back; this is attempt 1 again");
    // The second run is the job's now; discard it to end the test.
    h.queue.discard(&id).await.unwrap();
    h.stop().await;
}

#[tokio::test]
async fn stop_hands_back_prefetched_jobs_at_once_and_finishes_the_running_one() {
    let mut h = start("stop", 1, 4).await;
    let running = h.enqueue(r#"{"op":"block"}"#).await;
    let waiting = [h.enqueue(r#"{"op":"ok"}"#).await, h.enqueue(r#"{"op":"ok"}"#).await];
    // Both later jobs are leased to this worker (prefetched) while the first blocks.
    for id in &waiting {
        h.wait_state(id, JobState::Running).await;
    }
    assert_eq!(h.handle.held(), (2, 1));
    h.begin_stop();
    // Handed back while the first job still runs, not after it.
    for id in &waiting {
        let job = h.wait_state(id, JobState::Ready).await;
        assert_eq!(job.summary.attempts, 0, "no attempt counted: {:?}", job.summary);
    }
    assert_eq!(h.job(&running).await.unwrap().summary.state, JobState::Running);
    h.release.notify_one();
    let h = h.stop().await;
    assert_eq!(h.job(&running).await.unwrap().summary.state, JobState::Done);
    assert!(h.ran(&waiting[0]) == 0 && h.ran(&waiting[1]) == 0);
    let ws = h.queue.workers().await.unwrap();
    assert!(!ws.live.iter().any(|w| &w.id == h.handle.worker_id()), "the worker deregistered");
}

#[tokio::test]
async fn a_run_past_the_shutdown_deadline_is_cut_and_handed_back_uncharged() {
    let options = WorkerOptions {
        concurrency: 1,
        prefetch: 1,
        shutdown_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let h = start_with("deadline", options).await;
    let id = h.enqueue(r#"{"op":"hold"}"#).await;
    h.wait_ran(&id, 1).await;
    let asked = Instant::now();
    let h = h.stop().await;
    let took = asked.elapsed();
    assert!(took < Duration::from_millis(300) + Duration::from_secs(2), "stop took {took:?}");
    assert_eq!(h.seen.cut.lock().unwrap().iter().filter(|(j, _)| *j == id).count(), 1, "the run was cut");
    let job = h.job(&id).await.unwrap().summary;
    assert_eq!((job.state, job.attempts), (JobState::Ready, 0), "cut by the deadline, handed back uncharged");
}

#[tokio::test]
async fn a_prefetched_job_discarded_meanwhile_is_dropped_not_run() {
    let h = start("lost", 1, 2).await;
    let first = h.enqueue(r#"{"op":"block"}"#).await;
    let second = h.enqueue(r#"{"op":"ok"}"#).await;
    // The second job waits in the buffer (leased, heartbeated) while the first blocks.
    h.wait_state(&second, JobState::Running).await;
    assert_eq!(h.handle.held(), (1, 1));
    h.queue.discard(&second).await.unwrap();
    wait_until_async("the heartbeat to report the lease lost", WAIT, || async {
        (h.handle.held() == (0, 1)).then_some(())
    })
    .await;
    h.release.notify_one();
    h.wait_state(&first, JobState::Done).await;
    let h = h.stop().await;
    assert_eq!(*h.seen.ran.lock().unwrap(), vec![first], "the lost job was not run here");
    assert!(h.job(&second).await.is_none());
}
