//! Failures through worker processes: retry delays grow with the attempt and stay under the
//! cap, an explicit `Retry-After` delay wins, permanent errors and undecodable payloads go to
//! dead at once, a panic counts as a failed attempt — and the worker keeps going.

mod queue_support;

use std::collections::BTreeMap;
use std::time::Duration;

use queue_support::{job, Harness, Op, WorkerOpts};
use snapsync::queue::NewJob;

/// The worker's backoff here: full jitter over `base * 2^(attempt-1)`, capped.
const BASE_MS: u64 = 50;
const CAP_MS: u64 = 400;
/// What a measured gap adds to the delay: promotion, wake-up, reserve and the failing run
/// itself, on a busy 2-core machine.
const SLACK_MS: u64 = 300;

fn ceiling_ms(attempt: u32) -> u64 {
    (BASE_MS << (attempt - 1).min(20)).min(CAP_MS)
}

#[tokio::test]
async fn retry_delays_grow_with_the_attempt_and_respect_the_cap() {
    let h = Harness::start("backoff").await;
    let opts = WorkerOpts::default().concurrency(8).prefetch(8).max_attempts(7).backoff_ms(BASE_MS, CAP_MS);
    let _w = h.worker(&opts);
    // Each job fails 6 times then succeeds: attempt 6's uncapped ceiling would be 1.6 s.
    let tags: Vec<String> = (0..24).map(|i| format!("b{i}")).collect();
    let ids = h.enqueue(tags.iter().map(|t| job(t, Op::Fail(6)).max_attempts(7)).collect()).await;
    h.wait_done_tags(tags.len() as u64, Duration::from_secs(60)).await;

    // gap(a): from attempt a's failure (history `t`) to the next attempt's failure, or to
    // the finish after the last one — the retry delay plus a little pickup and run time.
    let mut gaps: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for id in &ids {
        let hash = h.wait_state(id, "done", Duration::from_secs(5)).await;
        let history = h.history(id).await;
        assert_eq!(history.iter().map(|a| a.a).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6], "job {id}: {history:?}");
        assert!(history.iter().all(|a| !a.e.is_empty()), "every failure keeps its error: {history:?}");
        let finished: u64 = hash.get("f").and_then(|f| f.parse().ok()).expect("a done job has its finish time `f`");
        let mut times: Vec<u64> = history.iter().map(|a| a.t).collect();
        times.push(finished);
        for (i, pair) in times.windows(2).enumerate() {
            gaps.entry(i as u32 + 1).or_default().push(pair[1].saturating_sub(pair[0]));
        }
    }
    let mean = |a: u32| gaps[&a].iter().sum::<u64>() as f64 / gaps[&a].len() as f64;
    for (attempt, g) in &gaps {
        eprintln!(
            "attempt {attempt}: ceiling {} ms, gaps mean {:.0} max {} ms",
            ceiling_ms(*attempt),
            mean(*attempt),
            g.iter().max().unwrap_or(&0)
        );
        let bound = ceiling_ms(*attempt) + SLACK_MS;
        assert!(g.iter().all(|&ms| ms <= bound), "attempt {attempt}: a gap above {bound} ms: {g:?}");
    }
    // Growth: full jitter draws from [0, 50] after attempt 1 and [0, 400] after attempt 4,
    // means 25 and 200 ms; with 24 jobs each the difference is far beyond chance.
    assert!(mean(4) > mean(1) + 75.0, "delays do not grow: {gaps:?}");
    // The cap: after attempt 6 an uncapped delay would draw from [0, 1600] ms (24 draws all
    // under 700 ms: probability ~1e-9); every one stayed under cap + slack.
    assert!(gaps[&6].iter().all(|&ms| ms <= CAP_MS + SLACK_MS), "cap not respected: {:?}", gaps[&6]);
}

#[tokio::test]
async fn an_explicit_retry_after_delay_is_honoured() {
    let h = Harness::start("retry-after").await;
    let _w = h.worker(&WorkerOpts::default().backoff_ms(BASE_MS, CAP_MS));
    // 700 ms is above the backoff cap: only the explicit delay can explain a gap that long.
    let id = h.enqueue(vec![job("ra", Op::RetryAfter { ms: 700, times: 1 })]).await.remove(0);
    let hash = h.wait_state(&id, "done", Duration::from_secs(10)).await;
    let history = h.history(&id).await;
    assert_eq!(history.len(), 1, "{history:?}");
    let finished: u64 = hash.get("f").and_then(|f| f.parse().ok()).expect("finish time");
    let gap = finished - history[0].t;
    eprintln!("retry-after 700 ms: next attempt finished {gap} ms after the failure");
    assert!(gap >= 700, "retried after {gap} ms, before the requested 700 ms");
    assert!(gap <= 700 + 1000, "retried after {gap} ms, long after the requested 700 ms");
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
    assert_eq!(history.iter().map(|a| a.a).collect::<Vec<_>>(), vec![1, 2], "{history:?}");
    assert!(history.iter().all(|a| !a.e.contains("worker lost")), "a panic is a failure, not a lost worker");
    assert_eq!(h.runs_of("boom").await, 2);

    // The panics did not take the worker down.
    let next = h.enqueue(vec![job("after", Op::Noop)]).await.remove(0);
    h.wait_state(&next, "done", Duration::from_secs(10)).await;
    assert!(w.is_running());
}
