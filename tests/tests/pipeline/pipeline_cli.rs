//! Issue 9, requirement 1 (first part), through the binary: the operator commands
//! `snapsync queue stats|ls|show|retry|discard|purge|pause|resume` and `snapsync workers` run
//! as real processes against a private Redis holding jobs in every state (made through the
//! `Queue` API, a live worker registered by its heartbeat): their tables, their `--json`
//! documents (exact values), the queue after each change, secrets redacted in `show`, and the
//! exit codes (unknown id 1, bad arguments 2, Redis unreachable 69, bad config 78).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use snapsync::config::Config;
use snapsync_queue::{Failure, JobId, JobState, Leased, NewJob, Queue, ReserveTicket, WorkerId, WorkerInfo};
use snapsync_testkit::{free_port, RedisServer};

use crate::pipeline_support::{bins, snapsync_cli, CliOut};

type Out = CliOut;

/// Runs `snapsync ARGS --config FILE` to its end (with a deadline).
fn cli(config: &Path, args: &[&str]) -> Out {
    snapsync_cli(config, args, &[], Duration::from_secs(20))
}

/// `cli`, expecting `code`.
fn cli_ok(config: &Path, args: &[&str], code: i32) -> Out {
    let out = cli(config, args);
    assert_eq!(out.code, code, "snapsync {args:?} exited {}:\n{}\n{}", out.code, out.stdout, out.stderr);
    out
}

fn config_file(dir: &Path, body: &str) -> PathBuf {
    let file = dir.join("snapsync.toml");
    std::fs::write(&file, body).expect("write config");
    file
}

async fn reserve_one(queue: &Queue, worker: &WorkerId) -> Leased {
    let mut got = queue.reserve(worker, 1, &ReserveTicket::new()).await.expect("reserve").jobs;
    assert_eq!(got.len(), 1, "one job reserved");
    let job = got.remove(0);
    queue.start(&[job.lease_ref()]).await.expect("start");
    job
}

/// Enqueues `kind`, runs it on `worker` and fails it for good.
async fn dead_job(queue: &Queue, worker: &WorkerId, kind: &str, error: &str) -> JobId {
    let id = queue.enqueue(NewJob::new(kind, "{}")).await.expect("enqueue").id().clone();
    let job = reserve_one(queue, worker).await;
    assert_eq!(job.id, id);
    queue.fail(&job.lease_ref(), job.attempt, Failure::Permanent { error: error.into() }).await.expect("fail");
    id
}

fn state(v: &Value) -> &str {
    v["state"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_operator_commands_show_and_change_the_queue() {
    bins(); // built before the jobs are made, so their ages stay small
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("dir");
    let file = config_file(
        dir.path(),
        &format!("[redis]\nurl = \"{}\"\n[queue]\nprefix = \"clitest\"\n[worker]\nlease = \"30s\"\n", redis.url()),
    );
    let config = Config::load(Some(&file)).expect("config");
    let queue = Queue::connect(&redis.url(), config.queue_config()).await.expect("queue");
    let worker = WorkerId("test-host-4242-cli".into());

    // Three dead jobs, one done, one running (held by a heartbeating worker), two ready, one scheduled.
    let dead1 = dead_job(&queue, &worker, "webhook", "boom: bad request").await;
    let dead2 = dead_job(&queue, &worker, "webhook", "boom again").await;
    let dead3 = dead_job(&queue, &worker, "cleanup", "gone").await;
    let done = queue.enqueue(NewJob::new("accounts", "{}")).await.expect("enqueue").id().clone();
    let job = reserve_one(&queue, &worker).await;
    assert_eq!(job.id, done);
    queue.ack(&[job.lease_ref()]).await.expect("ack");
    let running = queue.enqueue(NewJob::new("sync_locations", "{}")).await.expect("enqueue").id().clone();
    let held = reserve_one(&queue, &worker).await;
    assert_eq!(held.id, running);
    let info = WorkerInfo {
        id: worker.clone(),
        host: "test-host".into(),
        pid: 4242,
        started_ms: 1_700_000_000_000,
        concurrency: 3,
    };
    queue.heartbeat(&info, &[held.lease_ref()]).await.expect("heartbeat");
    let secret_payload = json!({
        "extension_id": "101",
        "access_token": "tok-SECRET-1",
        "nested": { "Password": "pw-SECRET-2", "items": [{ "apiKey": "k-SECRET-3", "name": "n" }] },
    });
    let first = queue.enqueue(NewJob::new("sync_contacts", secret_payload.to_string())).await.expect("enqueue");
    let first = first.id().clone();
    let second = queue.enqueue(NewJob::new("sync_contacts", "{}")).await.expect("enqueue").id().clone();
    let later = queue
        .enqueue(NewJob::new("webhook", "{}").delayed(Duration::from_secs(3600)))
        .await
        .expect("enqueue")
        .id()
        .clone();

    // stats
    let s = cli_ok(&file, &["queue", "stats", "--json"], 0).json();
    assert_eq!(
        s["totals"],
        json!({"ready": 2, "scheduled": 1, "snoozed": 0, "running": 1, "done": 1, "dead": 3}),
        "{s}"
    );
    assert_eq!(s["by_kind"]["sync_contacts"]["ready"], 2);
    assert_eq!(s["by_kind"]["webhook"]["dead"], 2);
    assert_eq!(s["by_kind"]["webhook"]["scheduled"], 1);
    assert_eq!(s["paused"], false);
    assert_eq!(s["oldest_ready"]["id"], first.0.as_str(), "{s}");
    assert_eq!(s["oldest_ready"]["kind"], "sync_contacts");
    assert!(s["oldest_ready"]["age_ms"].as_u64().is_some_and(|a| a < 60_000), "{s}");
    let text = cli_ok(&file, &["queue", "stats"], 0).stdout;
    assert!(text.contains("queue: running"), "{text}");
    assert!(text.contains(&format!("oldest ready: {first} (sync_contacts)")), "{text}");
    let row = text.lines().find(|l| l.starts_with("sync_contacts ")).unwrap_or_else(|| panic!("no row:\n{text}"));
    assert_eq!(row.split_whitespace().collect::<Vec<_>>(), ["sync_contacts", "2", "0", "0", "0", "0", "0"]);
    let all = text.lines().find(|l| l.starts_with("(all)")).unwrap_or_else(|| panic!("no total:\n{text}"));
    assert_eq!(all.split_whitespace().collect::<Vec<_>>(), ["(all)", "2", "1", "0", "1", "1", "3"]);

    // ls, paged by cursor
    let p1 = cli_ok(&file, &["queue", "ls", "--state", "ready", "--limit", "1", "--json"], 0).json();
    assert_eq!(p1["jobs"].as_array().map(Vec::len), Some(1), "{p1}");
    assert_eq!(p1["jobs"][0]["id"], first.0.as_str(), "ready lists the next in line first");
    assert_eq!(p1["next_cursor"], 1);
    let p2 = cli_ok(&file, &["queue", "ls", "--state", "ready", "--limit", "1", "--cursor", "1", "--json"], 0).json();
    assert_eq!(p2["jobs"][0]["id"], second.0.as_str(), "{p2}");
    assert_eq!(p2["jobs"][0]["kind"], "sync_contacts");
    let rest = p2["next_cursor"].as_u64().expect("a cursor after a full page").to_string();
    let p3 = cli_ok(&file, &["queue", "ls", "--state", "ready", "--cursor", &rest, "--json"], 0).json();
    assert_eq!((p3["jobs"].clone(), p3["next_cursor"].clone()), (json!([]), Value::Null), "{p3}");
    let sched = cli_ok(&file, &["queue", "ls", "--state", "scheduled", "--kind", "webhook", "--json"], 0).json();
    assert_eq!(
        sched["jobs"].as_array().map(|j| j.iter().map(|j| j["id"].clone()).collect::<Vec<_>>()),
        Some(vec![json!(later.0)])
    );
    assert_eq!(sched["next_cursor"], Value::Null);
    let none = cli_ok(&file, &["queue", "ls", "--state", "scheduled", "--kind", "cleanup", "--json"], 0).json();
    assert_eq!(none["jobs"], json!([]));
    let text = cli_ok(&file, &["queue", "ls", "--state", "dead"], 0).stdout;
    for (id, kind, err) in
        [(&dead1, "webhook", "permanent error: boom: bad request"), (&dead3, "cleanup", "permanent error: gone")]
    {
        let row = text.lines().find(|l| l.starts_with(&id.0)).unwrap_or_else(|| panic!("no row for {id}:\n{text}"));
        assert!(row.contains(kind) && row.contains(err) && row.contains("1/"), "{row}");
    }
    assert!(text.lines().next().is_some_and(|h| h.starts_with("ID") && h.contains("FINISHED")), "{text}");
    assert!(text.contains("3 job(s); end of list"), "{text}");
    let text = cli_ok(&file, &["queue", "ls", "--state", "running"], 0).stdout;
    assert!(text.lines().any(|l| l.starts_with(&running.0) && l.contains(&worker.0)), "{text}");

    // show: everything about a dead job, with its attempt
    let d = cli_ok(&file, &["queue", "show", &dead1.0, "--json"], 0).json();
    assert_eq!((state(&d), d["kind"].as_str(), d["attempts"].as_u64()), ("dead", Some("webhook"), Some(1)), "{d}");
    assert_eq!(d["last_error"], "boom: bad request");
    assert_eq!(d["dead_reason"], "permanent error");
    assert_eq!(d["snoozes"], 0);
    assert!(d["finished_ms"].as_u64().is_some() && d["created_ms"].as_u64().is_some(), "{d}");
    let history = d["attempts_history"].as_array().expect("history");
    assert_eq!(history.len(), 1, "{d}");
    assert_eq!((history[0]["attempt"].as_u64(), history[0]["worker"].as_str()), (Some(1), Some(worker.0.as_str())));
    assert_eq!(history[0]["error"], "boom: bad request");
    assert!(d["note"].as_str().is_some_and(|n| n.contains("failed")), "{d}");
    let text = cli_ok(&file, &["queue", "show", &dead1.0], 0).stdout;
    for part in
        ["state:", "dead", "attempts:", "1 of", "last error:", "boom: bad request", "dead reason:", "permanent error"]
    {
        assert!(text.contains(part), "show lacks {part:?}:\n{text}");
    }
    let hist_row = text.lines().find(|l| l.trim_start().starts_with("1 ")).unwrap_or_else(|| panic!("{text}"));
    assert!(hist_row.contains(&worker.0) && hist_row.contains("boom: bad request"), "{hist_row}");
    // show: the secrets of a payload are redacted, the rest kept
    let r = cli_ok(&file, &["queue", "show", &first.0, "--json"], 0).json();
    assert_eq!(state(&r), "ready");
    assert_eq!(
        r["payload"],
        json!({
            "extension_id": "101",
            "access_token": "[redacted]",
            "nested": { "Password": "[redacted]", "items": [{ "apiKey": "[redacted]", "name": "n" }] },
        })
    );
    let text = cli_ok(&file, &["queue", "show", &first.0], 0).stdout;
    assert!(text.contains("\"extension_id\": \"101\""), "{text}");
    let raw = cli(&file, &["queue", "show", &first.0, "--json"]).stdout + &text;
    for secret in ["tok-SECRET-1", "pw-SECRET-2", "k-SECRET-3"] {
        assert!(!raw.contains(secret), "show printed {secret}:\n{raw}");
    }
    // show: unknown id
    let out = cli_ok(&file, &["queue", "show", "no-such-job"], 1);
    assert!(out.stderr.starts_with("error: ") && out.stderr.contains("no-such-job"), "{}", out.stderr);
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "{}", out.stderr);

    // workers
    let w = cli_ok(&file, &["workers", "--json"], 0).json();
    let live = w["live"].as_array().expect("live");
    assert_eq!(live.len(), 1, "{w}");
    assert_eq!(live[0]["id"], worker.0.as_str());
    assert_eq!((live[0]["host"].as_str(), live[0]["pid"].as_u64()), (Some("test-host"), Some(4242)));
    assert_eq!(live[0]["concurrency"], 3);
    assert_eq!(live[0]["inflight"], json!([running.0]));
    assert!(live[0]["last_beat_age_ms"].as_u64().is_some_and(|a| a < 60_000), "{w}");
    let text = cli_ok(&file, &["workers"], 0).stdout;
    let row = text.lines().find(|l| l.starts_with(&worker.0)).unwrap_or_else(|| panic!("no worker row:\n{text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[..5], [worker.0.as_str(), "test-host", "4242", "3", "1"], "{text}");
    assert!(row.contains(&running.0) && row.contains("ago"), "{row}");

    // retry: a dead job and an unknown id → both reported, exit 1, the dead one ready again
    let out = cli_ok(&file, &["queue", "retry", &dead1.0, "nope", "--json"], 1).json();
    assert_eq!(
        out,
        json!({"retried": 1, "not_retryable": 0, "not_found": 1, "results": [
            {"id": dead1.0, "outcome": "retried", "from": "dead"},
            {"id": "nope", "outcome": "not_found"},
        ]})
    );
    let job = queue.get(&dead1).await.expect("get").expect("still there");
    assert_eq!((job.summary.state, job.summary.attempts), (JobState::Ready, 0));
    let out = cli_ok(&file, &["queue", "retry", &dead1.0], 1);
    assert!(out.stdout.contains("not retried: it is ready"), "{}", out.stdout);
    // retry --all-dead --kind: only that kind's dead jobs
    let out = cli_ok(&file, &["queue", "retry", "--all-dead", "--kind", "webhook"], 0);
    assert!(out.stdout.contains(&dead2.0) && out.stdout.contains("1 retried"), "{}", out.stdout);
    assert_eq!(queue.get(&dead2).await.expect("get").map(|j| j.summary.state), Some(JobState::Ready));
    assert_eq!(queue.get(&dead3).await.expect("get").map(|j| j.summary.state), Some(JobState::Dead));
    cli_ok(&file, &["queue", "retry"], 2);
    cli_ok(&file, &["queue", "retry", "x", "--all-dead"], 2);

    // discard
    let out = cli_ok(&file, &["queue", "discard", &dead1.0, "--json"], 0).json();
    assert_eq!(
        out,
        json!({"discarded": 1, "not_found": 0, "results": [{"id": dead1.0, "found": true, "state": "ready"}]})
    );
    assert!(queue.get(&dead1).await.expect("get").is_none(), "discarded but still there");
    let out = cli_ok(&file, &["queue", "discard", &dead1.0], 1);
    assert!(out.stdout.contains("not found"), "{}", out.stdout);
    // The retried jobs went to the head of the line and are the oldest there; the discarded
    // one's id is still in the ready list but counted and reported nowhere.
    let s = cli_ok(&file, &["queue", "stats", "--json"], 0).json();
    assert_eq!(
        (s["totals"]["ready"].as_u64(), s["oldest_ready"]["id"].as_str()),
        (Some(3), Some(dead2.0.as_str())),
        "{s}"
    );

    // purge: the age filter keeps fresh jobs, without it all go; only done or dead
    let out = cli_ok(&file, &["queue", "purge", "--state", "dead", "--older-than", "7d", "--json"], 0).json();
    assert_eq!(out, json!({"state": "dead", "older_than_ms": 7 * 86_400_000u64, "removed": 0}));
    let out = cli_ok(&file, &["queue", "purge", "--state", "dead"], 0);
    assert!(out.stdout.contains("purged 1 dead job(s)"), "{}", out.stdout);
    assert!(queue.get(&dead3).await.expect("get").is_none(), "purged but still there");
    let out = cli_ok(&file, &["queue", "purge", "--state", "done", "--older-than", "10m", "--json"], 0).json();
    assert_eq!(out["removed"], 0);
    let out = cli_ok(&file, &["queue", "purge", "--state", "done", "--json"], 0).json();
    assert_eq!(out["removed"], 1);
    assert!(queue.get(&done).await.expect("get").is_none());
    cli_ok(&file, &["queue", "purge", "--state", "ready"], 2);
    cli_ok(&file, &["queue", "purge", "--state", "done", "--older-than", "soon"], 2);
    cli_ok(&file, &["queue", "ls", "--state", "waiting"], 2);

    // pause and resume
    let out = cli_ok(&file, &["queue", "pause", "--json"], 0).json();
    assert_eq!(out, json!({"paused": true, "changed": true}));
    assert!(queue.is_paused().await.expect("is_paused"));
    let out = cli_ok(&file, &["queue", "pause"], 0);
    assert!(out.stdout.contains("queue paused (it already was)"), "{}", out.stdout);
    assert!(cli_ok(&file, &["queue", "stats"], 0).stdout.contains("queue: paused"));
    let out = cli_ok(&file, &["queue", "resume", "--json"], 0).json();
    assert_eq!(out, json!({"paused": false, "changed": true}));
    assert!(!queue.is_paused().await.expect("is_paused"));
}

#[test]
fn unreachable_redis_is_69_and_a_bad_config_78_each_one_line_without_secrets() {
    let dir = tempfile::tempdir().expect("dir");
    // Nothing listens on a free port; the URL's password must not be printed.
    let file =
        config_file(dir.path(), &format!("[redis]\nurl = \"redis://:hunter2-SECRET@127.0.0.1:{}\"\n", free_port()));
    for args in [&["queue", "stats"][..], &["queue", "show", "x", "--json"], &["queue", "pause"], &["workers"]] {
        let out = cli(&file, args);
        assert_eq!(out.code, 69, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.starts_with("error: ") && out.stderr.contains("redis"), "{}", out.stderr);
        assert_eq!(out.stderr.trim_end().lines().count(), 1, "{}", out.stderr);
        assert!(!out.stderr.contains("hunter2-SECRET") && !out.stdout.contains("hunter2-SECRET"), "{}", out.stderr);
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    let redis = RedisServer::start();
    let file = config_file(
        dir.path(),
        &format!("[redis]\nurl = \"{}\"\n[worker]\nconcurrency = 0\n[retry]\nmax_attempts = 0\n", redis.url()),
    );
    for args in [&["queue", "stats", "--json"][..], &["workers"]] {
        let out = cli(&file, args);
        assert_eq!(out.code, 78, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
        assert_eq!(out.stderr.trim_end().lines().count(), 1, "{}", out.stderr);
        assert!(
            out.stderr.contains("worker.concurrency") && out.stderr.contains("retry.max_attempts"),
            "{}",
            out.stderr
        );
    }
    let help = cli(&file, &["queue", "--help"]).stdout;
    for line in ["69", "78", "Exit codes"] {
        assert!(help.contains(line), "--help does not document {line}:\n{help}");
    }
}

#[tokio::test]
async fn schedule_commands_show_and_change_the_live_schedules() {
    bins();
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("dir");
    let file = config_file(
        dir.path(),
        &format!(
            "[redis]\nurl = \"{}\"\n[queue]\nprefix = \"schedtest\"\n[schedules.contacts]\nevery = \"15m\"\n",
            redis.url()
        ),
    );
    // Before any producer seeded Redis, `ls` shows the file's rules.
    let out = cli_ok(&file, &["schedule", "ls", "--json"], 0);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    let contacts = v["schedules"].as_array().expect("list").iter().find(|s| s["resource"] == "contacts").cloned();
    let contacts = contacts.expect("contacts");
    assert_eq!(
        (contacts["every_ms"].as_u64(), contacts["enabled"].as_bool()),
        (Some(900_000), Some(true)),
        "{contacts}"
    );
    assert!(contacts["next_run_ms"].as_i64().is_some(), "{contacts}");

    let out = cli_ok(&file, &["schedule", "set", "contacts", "--every", "5m"], 0);
    assert!(out.stdout.contains("contacts: every 5m (on)"), "{}", out.stdout);
    let out = cli_ok(&file, &["schedule", "pause", "contacts", "--json"], 0);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!((v["schedule"]["every_ms"].as_u64(), v["schedule"]["enabled"].as_bool()), (Some(300_000), Some(false)));
    assert_eq!(v["schedule"]["updated_by"], "cli");
    let out = cli_ok(&file, &["schedule", "ls"], 0);
    let line = out.stdout.lines().find(|l| l.starts_with("contacts")).expect("contacts row").to_owned();
    assert!(line.contains("every 5m") && line.contains("paused") && line.contains("cli"), "{line}");
    let out = cli_ok(&file, &["schedule", "resume", "contacts", "--json"], 0);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!((v["schedule"]["every_ms"].as_u64(), v["schedule"]["enabled"].as_bool()), (Some(300_000), Some(true)));
    cli_ok(&file, &["schedule", "set", "locations", "--cron", "*/10 * * * *"], 0);
    let out = cli_ok(&file, &["schedule", "reset", "contacts", "--json"], 0);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(
        (v["schedule"]["every_ms"].as_u64(), v["schedule"]["updated_by"].as_str()),
        (Some(900_000), Some("config"))
    );

    // `run` enqueues one sync now.
    let out = cli_ok(&file, &["schedule", "run", "accounts", "--json"], 0);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    let id = JobId(v["job"].as_str().expect("job id").to_owned());
    let config = Config::load(Some(&file)).expect("config");
    let queue = Queue::connect(&redis.url(), config.queue_config()).await.expect("queue");
    let job = queue.get(&id).await.expect("get").expect("the job exists");
    assert_eq!((job.summary.kind.as_str(), job.summary.state), ("sync_account", JobState::Ready));

    // Refusals: exit 2 with the reason.
    for (args, why) in [
        (vec!["schedule", "set", "planets", "--every", "1m"], "unknown resource"),
        (vec!["schedule", "set", "contacts", "--every", "10ms"], "at least 1s"),
        (vec!["schedule", "set", "contacts", "--cron", "not cron"], "does not parse"),
        (vec!["schedule", "set", "contacts", "--every", "soon"], "not a duration"),
    ] {
        let out = cli_ok(&file, &args, 2);
        assert!(out.stderr.contains(why), "{args:?}: {}", out.stderr);
    }
}

/// Issue 9: `snapsync mapping check --preview` against the sandbox: the leads a sync would
/// write for real (stand-in) contacts, with owner and rule, and nothing written; a rules
/// file naming an owner Snapshots does not have fails the check, naming file, rule and owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mapping_check_previews_the_leads_a_sync_would_write_and_writes_nothing() {
    use crate::pipeline_support::wait;
    use crate::pipeline_support::{Options, System};
    let sys = System::start(Options { every: None, workers: 1, ..Options::default() }).await;
    // The account is synced first: every book has a stored token, so a preview reading
    // incrementally would see no contact at all.
    let sync = NewJob::new("sync_contacts", r#"{"v":1,"trigger":{"type":"manual"}}"#);
    let id = sys.queue.enqueue(sync).await.expect("enqueue").id().clone();
    wait("the contacts sync and its upserts", || async {
        let done = sys.queue.get(&id).await.ok()??.summary.state == JobState::Done;
        let c = sys.queue.counts().await.ok()?;
        (done && c.ready() == 0 && c.totals.running == 0 && c.totals.scheduled == 0).then_some(())
    })
    .await;
    let writes = sys.writes_total().await;
    assert!(writes > 0, "the sync wrote leads");
    let out = cli_ok(&sys.config_file, &["mapping", "check", "--preview", "3", "--json"], 0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    assert_eq!(v["problems"], json!([]), "{v}");
    let previews = v["previews"].as_array().expect("previews");
    assert_eq!(previews.len(), 3, "{v}");
    for p in previews {
        let ext = p["external_id"].as_str().expect("external id");
        assert_eq!(ext, format!("ringcentral:contact:{}", p["contact_id"].as_str().expect("contact id")));
        assert_eq!(p["lead"]["external_id"], ext);
        assert!(p["lead"]["owner"].as_str().is_some_and(|o| o.starts_with("own_")), "{p}");
        assert!(p["rule"].as_str().is_some_and(|r| !r.is_empty()), "{p}");
    }
    // The table form names the rule of each.
    let out = cli_ok(&sys.config_file, &["mapping", "check", "--preview", "2"], 0);
    assert!(out.stdout.contains("2 contacts would become these leads (nothing was written)"), "{}", out.stdout);
    assert!(out.stdout.contains("mapping check ok"), "{}", out.stdout);
    assert_eq!(sys.writes_total().await, writes, "the preview wrote to Snapshots");

    // An owner Snapshots does not know: exit 78, the problem named.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let rules = std::fs::read_to_string(root.join("routing/default.toml")).expect("rules");
    let bad_rules = sys.dir.path().join("bad-rules.toml");
    std::fs::write(&bad_rules, rules.replacen("owner = \"own_03\"", "owner = \"own_99\"", 1)).expect("write");
    let text = std::fs::read_to_string(&sys.config_file).expect("config");
    let bad_config = sys.dir.path().join("bad-routing.toml");
    let text = match text.find("[routing]") {
        Some(at) => {
            let rest = &text[at..];
            let end = rest[1..].find("\n[").map_or(text.len(), |e| at + 1 + e);
            format!("{}{}", &text[..at], &text[end..])
        }
        None => text,
    };
    std::fs::write(&bad_config, format!("{text}\n[routing]\npath = \"{}\"\n", bad_rules.display())).expect("write");
    let out = cli_ok(&bad_config, &["mapping", "check"], 78);
    assert!(
        out.stdout.contains("hooli-key-account") && out.stdout.contains("own_99") && out.stdout.contains("unknown"),
        "{}",
        out.stdout
    );
    sys.stop().await;
}
