//! The `snapsync-worker` binary as a real process: it runs jobs from a private Redis, and
//! on SIGTERM finishes, deregisters and exits 0.

use std::process::{Command, Stdio};
use std::time::Duration;

use redis::AsyncCommands;
use snapsync::queue::{NewJob, Queue, QueueConfig};
use snapsync_testkit::{wait_until, wait_until_async, RedisServer};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn runs_jobs_and_exits_zero_on_sigterm() {
    let server = RedisServer::start();
    let queue = Queue::connect(&server.url(), QueueConfig { prefix: "bin".into(), ..QueueConfig::default() })
        .await
        .expect("connect to the private redis");
    let tag = queue.tag().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_snapsync-worker"))
        .args(["--redis-url", &server.url(), "--prefix", "bin", "--concurrency", "4", "--lease-ms", "1000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start snapsync-worker");
    let mut conn = redis::Client::open(server.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    wait_until_async("the worker to register", WAIT, || {
        let mut conn = conn.clone();
        let tag = tag.clone();
        async move {
            let n: u64 = conn.zcard(format!("{tag}:workers")).await.unwrap();
            (n == 1).then_some(())
        }
    })
    .await;

    let jobs: Vec<NewJob> = (0..20).map(|i| NewJob::new("anything", format!("{{\"n\":{i}}}"))).collect();
    queue.enqueue_batch(jobs).await.expect("enqueue");
    wait_until_async("all 20 jobs to be done", WAIT, || {
        let mut conn = conn.clone();
        let tag = tag.clone();
        async move {
            let n: u64 = conn.zcard(format!("{tag}:done")).await.unwrap();
            (n == 20).then_some(())
        }
    })
    .await;

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .expect("send SIGTERM");
    let status = wait_until("the worker to exit", WAIT, || child.try_wait().ok().flatten());
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    let workers: u64 = conn.zcard(format!("{tag}:workers")).await.unwrap();
    assert_eq!(workers, 0, "the worker deregistered on its way out");
}
