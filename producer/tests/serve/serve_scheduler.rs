//! The scheduler through `run_with`: replicas enqueue each tick once (tick-keyed unique
//! keys), and after downtime only the latest missed tick runs, once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::*;
use snapsync::jobs::{Payload, SyncLocations, Trigger};
use snapsync_producer::Options;
use snapsync_queue::{JobState, Queue};
use snapsync_testkit::RedisServer;

async fn ticks(queue: &Queue) -> Vec<i64> {
    payloads(queue, "sync_locations")
        .await
        .iter()
        .map(|p| match SyncLocations::decode(p).expect("decodes").trigger {
            Trigger::Schedule { tick_ms } => tick_ms,
            other => panic!("schedule job with trigger {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn two_replicas_enqueue_each_tick_once() {
    let redis = RedisServer::start();
    let extra = "[schedules.locations]\nenabled = true\nevery = \"1s\"\n";
    let a = Producer::start(config(&redis.url(), extra), Producer::no_subscribe()).await;
    let b = Producer::start(config(&redis.url(), extra), Producer::no_subscribe()).await;
    let queue = queue(&redis.url()).await;
    snapsync_testkit::wait_until_async("three ticks enqueued", DEADLINE, || {
        let queue = queue.clone();
        async move { (ticks(&queue).await.len() >= 3).then_some(()) }
    })
    .await;
    a.stop().await;
    b.stop().await;
    let all = ticks(&queue).await;
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), distinct.len(), "a tick was enqueued twice: {all:?}");
    // Ticks are whole seconds and the unique key names the tick.
    assert!(distinct.iter().all(|t| t % 1000 == 0), "{distinct:?}");
    let page = queue.list(JobState::Ready, Some("sync_locations"), 0, 10).await.unwrap();
    let detail = queue.get(&page.jobs[0].id).await.unwrap().unwrap();
    let tick = SyncLocations::decode(&detail.payload).unwrap().trigger;
    let Trigger::Schedule { tick_ms } = tick else { panic!("{tick:?}") };
    assert_eq!(detail.unique_key, Some(format!("schedule:locations:{}", tick_ms / 1000)));
}

fn fixed(at_ms: u64) -> Options {
    let at = UNIX_EPOCH + Duration::from_millis(at_ms);
    Options { subscribe: false, clock: Arc::new(move || at), ..Options::default() }
}

#[tokio::test]
async fn after_downtime_the_latest_missed_tick_runs_once() {
    let redis = RedisServer::start();
    let extra = "[schedules.locations]\nenabled = true\nevery = \"1h\"\n";
    let hour = 3_600_000u64;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    // Exactly on a tick boundary: the tick at `now` itself is due (inclusive).
    let t0 = now / hour * hour;
    let queue = queue(&redis.url()).await;

    // First life: the current tick runs.
    let a = Producer::start(config(&redis.url(), extra), fixed(t0)).await;
    let q = queue.clone();
    snapsync_testkit::wait_until_async("first tick", DEADLINE, || {
        let q = q.clone();
        async move { (!ticks(&q).await.is_empty()).then_some(()) }
    })
    .await;
    a.stop().await;
    // A restart within the same hour does not run it again.
    let again = Producer::start(config(&redis.url(), extra), fixed(t0 + 60_000)).await;
    again.stop().await;
    assert_eq!(ticks(&queue).await, vec![(t0 / hour * hour) as i64]);

    // Down for five hours: four ticks missed; two replicas come back; one run of the latest.
    let later = t0 + 5 * hour;
    let b = Producer::start(config(&redis.url(), extra), fixed(later)).await;
    let c = Producer::start(config(&redis.url(), extra), fixed(later + 1_000)).await;
    let q = queue.clone();
    snapsync_testkit::wait_until_async("tick after downtime", DEADLINE, || {
        let q = q.clone();
        async move { (ticks(&q).await.len() >= 2).then_some(()) }
    })
    .await;
    b.stop().await;
    c.stop().await;
    let mut all = ticks(&queue).await;
    all.sort();
    assert_eq!(all, vec![(t0 / hour * hour) as i64, (later / hour * hour) as i64], "no burst of missed ticks");
}
