//! Failures through worker processes: retry delays grow with the attempt and stay under the
//! cap, an explicit `Retry-After` delay wins, permanent errors and undecodable payloads go to
//! dead at once, a panic counts as a failed attempt — and the worker keeps going.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::queue_support::{error_of, job, Harness, Op, WorkerOpts};
use snapsync_queue::{Attempt, JobId, JobState, NewJob};

/// The worker's backoff here: full jitter over `base * 2^(attempt-1)`, capped.
const BASE_MS: u64 = 50;
const CAP_MS: u64 = 400;
/// How late a due retry may start: promotion, wake-up, reserve and the run itself, on a busy
/// 2-core machine. Idle workers must notice a due retry, not find it on a later poll.
const PICKUP_SLACK_MS: u64 = 300;

fn ceiling_ms(attempt: u32) -> u64 {
    (BASE_MS << (attempt - 1).min(20)).min(CAP_MS)
}

/// One failed attempt as seen while the job waited in scheduled.
#[derive(Debug, Clone, Copy)]
struct Scheduled {
    /// When the attempt failed (its history entry's `at_ms`).
    failed_at: u64,
    /// When the retry is due (`d`).
    due: u64,
}

/// Polls the queue until every job is done, recording each retry's scheduled due time (it is
/// there only while the job waits, so it is read while it is): one listing of the scheduled
/// jobs per poll, and a job's history when a new failed attempt shows up.
async fn watch_retries(h: &Harness, ids: &[JobId], timeout: Duration) -> HashMap<(JobId, u32), Scheduled> {
    let mut seen = HashMap::new();
    let deadline = Instant::now() + timeout;
    let ours: std::collections::HashSet<&JobId> = ids.iter().collect();
    loop {
        let page = h.queue.list(JobState::Scheduled, None, 0, 1000).await.expect("list scheduled");
        for job in page.jobs.iter().filter(|j| ours.contains(&j.id)) {
            let (Some(due), attempt) = (job.due_ms, job.attempts) else { continue };
            if seen.contains_key(&(job.id.clone(), attempt)) {
                continue;
            }
            let history = h.history(&job.id).await;
            // A listing reads the due times and the records in two steps: a job that moved in
            // between shows an older due time with a newer attempt; the next poll sees it right.
            if let Some(last) = history.iter().find(|a| a.attempt == attempt).filter(|a| due >= a.at_ms) {
                seen.insert((job.id.clone(), attempt), Scheduled { failed_at: last.at_ms, due });
            }
        }
        let done = h.queue.counts().await.expect("counts").by_kind.get("test").map_or(0, |c| c.done);
        if done as usize >= ids.len() {
            return seen;
        }
        assert!(Instant::now() < deadline, "jobs not done after {timeout:?}");
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
}

/// When the attempt after `attempt` ended: its failure, or the job's finish after the last.
fn next_end(history: &[Attempt], hash: &HashMap<String, String>, attempt: u32) -> u64 {
    match history.iter().find(|a| a.attempt == attempt + 1) {
        Some(a) => a.at_ms,
        None => hash.get("f").and_then(|f| f.parse().ok()).expect("a done job has its finish time `f`"),
    }
}

#[tokio::test]
async fn retry_delays_grow_with_the_attempt_and_respect_the_cap() {
    let h = Harness::start("backoff").await;
    let opts = WorkerOpts::default().concurrency(8).prefetch(8).max_attempts(7).backoff_ms(BASE_MS, CAP_MS);
    let _w = h.worker(&opts);
    // Each job fails 6 times then succeeds: attempt 6's uncapped ceiling would be 1.6 s.
    let tags: Vec<String> = (0..24).map(|i| format!("b{i}")).collect();
    let ids = h.enqueue(tags.iter().map(|t| job(t, Op::Fail(6)).max_attempts(7)).collect()).await;
    let seen = watch_retries(&h, &ids, Duration::from_secs(60)).await;

    let mut delays: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    let mut late = Vec::new();
    for id in &ids {
        let hash = h.wait_state(id, "done", Duration::from_secs(5)).await;
        let history = h.history(id).await;
        assert_eq!(
            history.iter().map(|a| a.attempt).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5, 6],
            "job {id}: {history:?}"
        );
        assert!(history.iter().all(|a| !error_of(a).is_empty()), "every failure keeps its error: {history:?}");
        for attempt in 1..=6 {
            let Some(s) = seen.get(&(id.clone(), attempt)) else { continue };
            delays.entry(attempt).or_default().push(s.due - s.failed_at);
            let ran = next_end(&history, &hash, attempt);
            assert!(ran >= s.due, "job {id} attempt {} ran before its retry was due: {s:?}, ran {ran}", attempt + 1);
            if ran - s.due > PICKUP_SLACK_MS {
                late.push(format!(
                    "{id} after attempt {attempt}: delay {} ms, ran {} ms after due",
                    s.due - s.failed_at,
                    ran - s.due
                ));
            }
        }
    }
    let mean = |a: u32| delays[&a].iter().sum::<u64>() as f64 / delays[&a].len() as f64;
    for (attempt, d) in &delays {
        eprintln!(
            "attempt {attempt}: ceiling {} ms, {} delays seen, mean {:.0} max {} ms",
            ceiling_ms(*attempt),
            d.len(),
            mean(*attempt),
            d.iter().max().unwrap_or(&0)
        );
        // Delays under ~3 ms can pass unseen between two polls; most are seen.
        assert!(d.len() >= 12, "attempt {attempt}: only {} of 24 retries seen while scheduled", d.len());
        let ceiling = ceiling_ms(*attempt);
        assert!(d.iter().all(|&ms| ms <= ceiling), "attempt {attempt}: a delay above its ceiling {ceiling} ms: {d:?}");
        // Equal jitter: never less than half the step, so the attempts cover a known span.
        assert!(d.iter().all(|&ms| ms >= ceiling / 2), "attempt {attempt}: a delay below half its step: {d:?}");
    }
    // Growth: equal jitter draws from [25, 50] after attempt 1 and [200, 400] after attempt 4,
    // means 37.5 and 300 ms; with this many draws the difference is far beyond chance.
    assert!(mean(4) > mean(1) + 75.0, "delays do not grow: {delays:?}");
    // The cap: after attempt 6 an uncapped delay draws from [800, 1600] ms; none may pass 400.
    assert!(delays[&6].iter().all(|&ms| ms <= CAP_MS), "cap not respected: {:?}", delays[&6]);
    // And a due retry runs promptly, even when its worker was idle-waiting when it was scheduled.
    assert!(late.is_empty(), "{} retries started more than {PICKUP_SLACK_MS} ms after due: {late:#?}", late.len());
}

#[tokio::test]
async fn an_explicit_retry_after_delay_is_honoured() {
    let h = Harness::start("retry-after").await;
    let _w = h.worker(&WorkerOpts::default().backoff_ms(BASE_MS, CAP_MS));
    // 700 ms is above the backoff cap: only the explicit delay can explain a delay that long.
    let ids = h.enqueue(vec![job("ra", Op::RetryAfter { ms: 700, times: 1 })]).await;
    let seen = watch_retries(&h, &ids, Duration::from_secs(10)).await;
    let id = &ids[0];
    let s = seen.get(&(id.clone(), 1)).copied().expect("the retry seen while scheduled");
    assert_eq!(s.due - s.failed_at, 700, "scheduled with the explicit delay: {s:?}");
    let hash = h.wait_state(id, "done", Duration::from_secs(5)).await;
    let history = h.history(id).await;
    assert_eq!(history.len(), 1, "{history:?}");
    let ran = next_end(&history, &hash, 1);
    eprintln!("retry-after 700 ms: the second attempt finished {} ms after the failure", ran - s.failed_at);
    assert!(ran >= s.due, "retried {} ms after the failure, before the requested 700 ms", ran - s.failed_at);
    assert!(
        ran - s.due <= PICKUP_SLACK_MS,
        "retried {} ms after the failure, long after the requested 700 ms",
        ran - s.failed_at
    );
    assert_eq!((h.runs_of("ra").await, h.done_of("ra").await), (2, 1));
}

#[tokio::test]
async fn an_undecodable_payload_goes_to_dead_with_the_decode_error_and_the_worker_goes_on() {
    let h = Harness::start("decode").await;
    let mut w = h.worker(&WorkerOpts::default());
    let bad = h
        .enqueue(vec![
            NewJob::new("test", "this is not json"),
            NewJob::new("test", r#"{"op":"noop"}"#),
            NewJob::new("test", r#"{"tag":"x","op":"no-such-op"}"#),
        ])
        .await;
    for id in &bad {
        let hash = h.wait_state(id, "dead", Duration::from_secs(10)).await;
        assert_eq!(hash.get("a").map(String::as_str), Some("1"), "not retried: {hash:?}");
        assert_eq!(hash.get("r").map(String::as_str), Some("permanent error"), "{hash:?}");
        let e = hash.get("e").cloned().unwrap_or_default();
        // serde_json's message names the position; the worker passes it on.
        assert!(e.contains("line 1 column"), "the dead job keeps the decode error: {e:?}");
    }
    assert!(h.runs().await.is_empty(), "an undecodable job never reaches the handler");
    let next = h.enqueue(vec![job("after", Op::Noop)]).await.remove(0);
    h.wait_state(&next, "done", Duration::from_secs(10)).await;
    assert!(w.is_running());
}

#[tokio::test]
async fn a_permanent_error_is_dead_at_once_and_a_panic_counts_as_a_failed_attempt() {
    let h = Harness::start("permanent").await;
    let mut w = h.worker(&WorkerOpts::default());
    let ids = h.enqueue(vec![job("perm", Op::Permanent), job("boom", Op::Panic).max_attempts(2)]).await;

    let perm = h.wait_state(&ids[0], "dead", Duration::from_secs(10)).await;
    assert_eq!(perm.get("r").map(String::as_str), Some("permanent error"), "{perm:?}");
    assert_eq!(h.runs_of("perm").await, 1);

    let boom = h.wait_state(&ids[1], "dead", Duration::from_secs(10)).await;
    assert_eq!(boom.get("r").map(String::as_str), Some("max attempts reached"), "{boom:?}");
    let history = h.history(&ids[1]).await;
    assert_eq!(history.iter().map(|a| a.attempt).collect::<Vec<_>>(), vec![1, 2], "{history:?}");
    assert!(history.iter().all(|a| !error_of(a).contains("worker lost")), "a panic is a failure, not a lost worker");
    assert_eq!(h.runs_of("boom").await, 2);

    // The panics did not take the worker down.
    let next = h.enqueue(vec![job("after", Op::Noop)]).await.remove(0);
    h.wait_state(&next, "done", Duration::from_secs(10)).await;
    assert!(w.is_running());
}

#[tokio::test]
async fn an_idle_worker_runs_a_delayed_job_when_it_comes_due() {
    let h = Harness::start("delayed-idle").await;
    let _w = h.worker(&WorkerOpts::default());
    // The worker is idle, blocked on the wake list for up to a second; the delayed enqueue
    // must wake it so it re-reads the next due time instead of sleeping through it.
    let ids = h.enqueue(vec![job("late", Op::Noop).delayed(Duration::from_millis(300))]).await;
    let hash = h.wait_state(&ids[0], "done", Duration::from_secs(5)).await;
    let created: u64 = hash.get("c").and_then(|c| c.parse().ok()).expect("created time `c`");
    let finished: u64 = hash.get("f").and_then(|f| f.parse().ok()).expect("finish time `f`");
    let due = created + 300;
    assert!(finished >= due, "ran {} ms before it was due", due - finished);
    assert!(finished - due <= PICKUP_SLACK_MS, "ran {} ms after it was due", finished - due);
}
