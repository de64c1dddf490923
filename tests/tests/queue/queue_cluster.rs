//! The queue on a real Redis Cluster (3 masters), every client — the producer, the reader and
//! the worker processes — connecting with a node list whose first node does not own the
//! queue's slot: all of a queue's keys live on one node, 2,000 jobs (some delayed) drain
//! through two workers exactly once, a SIGKILLed worker's job completes once on the other
//! within the lease bound, and the inspection and control calls answer right.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::queue_support::{
    assert_each_once, job, queue_config, restart_bound, Harness, Op, WorkerOpts, LEASE, LOG, RUNS,
};
use snapsync_queue::keys::Keys;
use snapsync_queue::{JobState, RetryOutcome};
use snapsync_testkit::{wait_until_async, RedisCluster};

#[tokio::test]
async fn the_queue_runs_on_a_redis_cluster_and_inspection_answers_right() {
    let started = Instant::now();
    let cluster = RedisCluster::start(3);
    eprintln!("cluster healthy after {:?}", started.elapsed());

    // Every key of the queue carries its hash tag, so all of them, the per-call ones too, are
    // on the one node that owns the tag's slot: each script's keys are on one node.
    let keys = Keys::new(&queue_config("cluster").prefix, "jobs");
    let owner = cluster.node_for_key(keys.get("ready"));
    for key in keys.fixed() {
        assert_eq!(cluster.node_for_key(key), owner, "{key} is not with the others");
    }
    assert_eq!(cluster.node_for_key(keys.receipt("some-worker")), owner, "a receipt key");
    assert_eq!(cluster.node_for_key(keys.unique("webhook:42").0), owner, "a unique key");
    // The seed list starts with a node that does not serve the queue.
    let mut urls = cluster.urls();
    urls.sort_by_key(|u| u.ends_with(&format!(":{owner}")));
    assert!(!urls[0].ends_with(&format!(":{owner}")), "{urls:?}");
    let h = Harness::on_cluster(cluster, urls.join(","), "cluster").await;
    assert!(h.queue.conn().is_cluster() && h.conn.is_cluster());
    // The test worker's run records are in two other slots: written by separate commands.
    let slot = |key: &'static str| {
        let mut conn = h.conn.clone();
        async move { redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query_async::<u64>(&mut conn).await }
    };
    assert_ne!(slot(RUNS).await.expect("KEYSLOT"), slot(LOG).await.expect("KEYSLOT"));

    // Two workers drain 2,000 jobs, a tenth of them delayed, each exactly once.
    let opts = WorkerOpts::default().concurrency(8).prefetch(16);
    let mut workers = vec![h.worker(&opts), h.worker(&opts)];
    let tags: Vec<String> = (0..2_000).map(|i| format!("c{i}")).collect();
    let jobs = tags
        .iter()
        .enumerate()
        .map(|(i, t)| if i % 10 == 0 { job(t, Op::Noop).delayed(Duration::from_millis(500)) } else { job(t, Op::Noop) })
        .collect();
    let ids = h.enqueue(jobs).await;
    let drain = Instant::now();
    h.wait_done_tags(tags.len() as u64, Duration::from_secs(60)).await;
    wait_until_async("every job acknowledged", Duration::from_secs(10), || async {
        let s = h.sizes().await;
        (s.ready + s.scheduled + s.running == 0).then_some(())
    })
    .await;
    eprintln!("2,000 jobs drained on the cluster in {:?}", drain.elapsed());
    assert_each_once(&h, &tags).await;
    let log = h.log().await;
    for w in &workers {
        assert!(log.iter().any(|r| r.worker == w.id()), "worker {} ran nothing", w.id());
    }
    let counts = h.queue.counts().await.expect("counts");
    assert_eq!(counts.totals.done, 2_000, "{counts:?}");
    assert_eq!(counts.by_kind.get("test").map(|c| (c.done, c.ready, c.running)), Some((2_000, 0, 0)));
    assert_eq!(counts.ready(), 0);
    // Two pages of done jobs, newest first, are exactly the jobs enqueued.
    let first = h.queue.list(JobState::Done, None, 0, 1_000).await.expect("list done");
    let offset = first.next_offset.expect("a second page");
    let second = h.queue.list(JobState::Done, None, offset, 1_000).await.expect("list done");
    if let Some(offset) = second.next_offset {
        let rest = h.queue.list(JobState::Done, None, offset, 10).await.expect("list done");
        assert!(rest.jobs.is_empty(), "more done jobs than enqueued: {rest:?}");
    }
    let listed: HashSet<_> = first.jobs.iter().chain(&second.jobs).map(|j| j.id.clone()).collect();
    assert_eq!(listed, ids.iter().cloned().collect::<HashSet<_>>(), "the done pages are the jobs enqueued");
    assert!(first.jobs.windows(2).all(|w| w[0].finished_ms >= w[1].finished_ms), "done: newest first");
    assert!(first.jobs.iter().chain(&second.jobs).all(|j| j.state == JobState::Done && j.attempts == 1));

    // Pause: both workers go on heartbeating for a lease and take nothing; resume runs the jobs.
    assert!(h.queue.pause().await.expect("pause"));
    assert!(h.queue.is_paused().await.expect("is_paused"));
    assert!(h.queue.counts().await.expect("counts").paused);
    let paused_at = h.redis_now_ms().await;
    let held = ["p0", "p1", "p2"];
    let paused_ids = h.enqueue(held.iter().map(|t| job(t, Op::Noop)).collect()).await;
    wait_until_async("both workers to heartbeat a lease past the pause", Duration::from_secs(10), || async {
        let live = h.queue.workers().await.ok()?.live;
        let beat = |id: &str| live.iter().find(|l| l.id.0 == id).map(|l| l.last_beat_ms);
        workers.iter().all(|w| beat(w.id()).is_some_and(|b| b >= paused_at + LEASE.as_millis() as u64)).then_some(())
    })
    .await;
    let ready = h.queue.list(JobState::Ready, None, 0, 10).await.expect("list ready").jobs;
    assert_eq!(ready.iter().map(|j| j.id.clone()).collect::<Vec<_>>(), paused_ids, "ready, next first");
    assert_eq!(h.sizes().await.running, 0, "a paused queue leased a job");
    assert!(h.runs().await.keys().all(|t| !held.contains(&t.as_str())));
    assert!(h.queue.resume().await.expect("resume"));
    for id in &paused_ids {
        h.wait_state(id, "done", Duration::from_secs(10)).await;
    }

    // A permanent failure is dead with its reason; retried, it runs again and dies again.
    let perm = h.enqueue(vec![job("perm", Op::Permanent)]).await.remove(0);
    let dead = h.wait_state(&perm, "dead", Duration::from_secs(10)).await;
    let died_at: u64 = dead.get("f").and_then(|f| f.parse().ok()).expect("dead time");
    let dead_page = h.queue.list(JobState::Dead, None, 0, 10).await.expect("list dead").jobs;
    assert_eq!(dead_page.len(), 1, "{dead_page:?}");
    assert_eq!((&dead_page[0].id, dead_page[0].dead_reason.as_deref()), (&perm, Some("permanent error")));
    assert_eq!(h.queue.retry(&perm).await.expect("retry"), RetryOutcome::Retried { from: JobState::Dead });
    let again = wait_until_async("the retried job to die again", Duration::from_secs(10), || async {
        let d = h.queue.get(&perm).await.ok()??;
        (d.summary.state == JobState::Dead && d.summary.finished_ms.is_some_and(|f| f > died_at)).then_some(d)
    })
    .await;
    assert_eq!(again.history.len(), 2, "both failed runs are in the history: {:?}", again.history);
    assert_eq!(h.runs_of("perm").await, 2);
    assert_eq!(h.queue.retry(&ids[0]).await.expect("retry"), RetryOutcome::NotRetryable { state: JobState::Done });

    // Discard: a scheduled job is gone, record and all.
    let later = h.enqueue(vec![job("later", Op::Noop).delayed(Duration::from_secs(60))]).await.remove(0);
    let scheduled = h.queue.list(JobState::Scheduled, None, 0, 10).await.expect("list scheduled").jobs;
    assert_eq!(scheduled.iter().map(|j| &j.id).collect::<Vec<_>>(), vec![&later]);
    assert!(scheduled[0].due_ms.is_some());
    assert_eq!(h.queue.discard(&later).await.expect("discard"), Some(JobState::Scheduled));
    assert!(h.queue.get(&later).await.expect("get").is_none(), "a discarded job is gone");
    assert_eq!(h.queue.discard(&later).await.expect("discard"), None);
    assert_eq!(h.queue.counts().await.expect("counts").totals.scheduled, 0);

    // SIGKILL the worker running a job: the other completes it once, within the lease bound.
    let slow = h.enqueue(vec![job("slow", Op::Sleep(1500))]).await.remove(0);
    let run = wait_until_async("the slow job to start", Duration::from_secs(10), || async {
        h.runs_log("slow").await.into_iter().next()
    })
    .await;
    let victim = workers.iter().position(|w| w.id() == run.worker).expect("run by one of the workers");
    let victim_id = workers[victim].id().to_string();
    workers[victim].kill();
    let killed = Instant::now();
    let survivor = workers[1 - victim].id().to_string();
    let bound = restart_bound();
    let rerun = wait_until_async("the slow job to restart on the survivor", bound, || async {
        h.runs_log("slow").await.into_iter().nth(1)
    })
    .await;
    eprintln!("the killed worker's job restarted {:?} after the SIGKILL", killed.elapsed());
    assert_eq!((rerun.worker.as_str(), rerun.attempt), (survivor.as_str(), 2));
    h.wait_state(&slow, "done", Duration::from_secs(10)).await;
    assert_eq!((h.runs_of("slow").await, h.done_of("slow").await), (2, 1));
    let detail = h.queue.get(&slow).await.expect("get").expect("the slow job");
    assert_eq!(detail.summary.attempts, 2);
    assert_eq!(detail.history.len(), 1, "{:?}", detail.history);
    assert_eq!((detail.history[0].worker.as_str(), detail.history[0].attempt), (victim_id.as_str(), 1));
    assert!(detail.history[0].error.as_deref().is_some_and(|e| e.contains("worker lost")), "{detail:?}");
    // The registry: the victim drops out once silent for three leases; the survivor is live,
    // and its next heartbeat after the ack says it holds nothing.
    let me = wait_until_async("the registry to show the survivor alone, idle", Duration::from_secs(10), || async {
        let w = h.queue.workers().await.ok()?;
        let me = w.live.iter().find(|l| l.id.0 == survivor).cloned();
        (!w.live.iter().any(|l| l.id.0 == victim_id)).then_some(me?).filter(|me| me.inflight.is_empty())
    })
    .await;
    assert_eq!((me.concurrency, me.pid), (opts.concurrency, workers[1 - victim].pid()));

    let s = h.sizes().await;
    assert_eq!((s.ready, s.scheduled, s.running, s.done, s.dead), (0, 0, 0, 2_000 + 3 + 1, 1), "{s:?}");
    eprintln!("cluster test took {:?}", started.elapsed());
}
