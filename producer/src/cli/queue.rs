//! `snapsync queue stats|ls|show|retry|discard|purge|pause|resume`.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use snapsync_producer::ops;
use snapsync_queue::{JobId, JobState, QueueError, RetryOutcome};

use super::table::{fields, render};
use super::{age, or_dash, print_json, queue_failure, time, with_queue, Common, Failure, EXIT_CODES, NOT_FOUND};

#[derive(Args)]
#[command(after_help = EXIT_CODES)]
pub struct QueueArgs {
    #[command(subcommand)]
    action: Action,
    #[command(flatten)]
    common: Common,
}

#[derive(Subcommand)]
enum Action {
    /// Jobs per state and per kind, whether the queue is paused, and the oldest ready job's age.
    Stats,
    /// One page of the jobs in a state, in the order they will move (ready: next first; done
    /// and dead: newest first).
    Ls {
        #[arg(long, value_parser = parse_state)]
        state: JobState,
        /// Only jobs of this kind.
        #[arg(long)]
        kind: Option<String>,
        /// Jobs per page (at most 1000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1000))]
        limit: u64,
        /// Where to start: the `next_cursor` of the previous page (0: the beginning).
        #[arg(long, default_value_t = 0)]
        cursor: u64,
    },
    /// One job: state, attempts, times, worker, errors, snoozes, attempt history, and its
    /// payload with secret-looking values redacted.
    Show { id: String },
    /// Put jobs back on ready at once (a dead job gets its attempts back).
    Retry {
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        ids: Vec<String>,
        /// Every dead job (of --kind, when given).
        #[arg(long)]
        all_dead: bool,
        /// With --all-dead: only dead jobs of this kind.
        #[arg(long, requires = "all_dead")]
        kind: Option<String>,
    },
    /// Remove jobs wherever they are (a running job's worker loses its lease).
    Discard {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Remove done or dead jobs, all of them or those finished longer ago than --older-than.
    Purge {
        #[arg(long, value_parser = parse_purge_state)]
        state: JobState,
        /// Like 10m, 1h, 7d (the configuration's duration syntax); without it, every one.
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        older_than: Option<Duration>,
    },
    /// Stop workers from taking new jobs (running jobs go on; enqueueing still works).
    Pause,
    /// Let workers take jobs again.
    Resume,
}

fn parse_state(s: &str) -> Result<JobState, String> {
    s.parse().map_err(|e: snapsync_queue::UnknownState| e.to_string())
}

fn parse_purge_state(s: &str) -> Result<JobState, String> {
    match parse_state(s)? {
        st @ (JobState::Done | JobState::Dead) => Ok(st),
        st => Err(format!("purge takes done or dead jobs, not {st} ones")),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    snapsync::config::parse_duration(s).ok_or_else(|| format!("not a duration: {s:?} (like 10m, 1h, 7d)"))
}

pub fn run(args: QueueArgs) -> ExitCode {
    let json = args.common.json;
    with_queue(&args.common, move |queue, shown| async move {
        let fail = |e: QueueError| queue_failure(&shown, e);
        match args.action {
            Action::Stats => {
                let stats = ops::stats(&queue).await.map_err(fail)?;
                print_stats(&stats, json)?;
                Ok(0)
            }
            Action::Ls { state, kind, limit, cursor } => {
                let listing = ops::list(&queue, state, kind.as_deref(), cursor, limit as usize).await.map_err(fail)?;
                print_listing(&listing, json)?;
                Ok(0)
            }
            Action::Show { id } => match ops::show(&queue, &JobId(id.clone())).await.map_err(fail)? {
                Some(job) => {
                    print_job(&job, json)?;
                    Ok(0)
                }
                None => Err(Failure { code: NOT_FOUND, message: format!("no job {id}") }),
            },
            Action::Retry { ids, all_dead, kind } => {
                let report = if all_dead {
                    ops::retry_all_dead(&queue, kind.as_deref()).await
                } else {
                    ops::retry(&queue, &ids.into_iter().map(JobId).collect::<Vec<_>>()).await
                }
                .map_err(fail)?;
                print_retry(&report, json)?;
                Ok(if report.all_done() { 0 } else { NOT_FOUND })
            }
            Action::Discard { ids } => {
                let report =
                    ops::discard(&queue, &ids.into_iter().map(JobId).collect::<Vec<_>>()).await.map_err(fail)?;
                if json {
                    print_json(&report)?;
                } else {
                    let rows = report
                        .results
                        .iter()
                        .map(|r| {
                            let what = r.state.map_or("not found".to_string(), |s| format!("discarded (was {s})"));
                            vec![r.id.to_string(), what]
                        })
                        .collect::<Vec<_>>();
                    print!("{}", render(&["ID", "RESULT"], &rows));
                    println!("{} discarded, {} not found", report.discarded, report.not_found);
                }
                Ok(if report.not_found == 0 { 0 } else { NOT_FOUND })
            }
            Action::Purge { state, older_than } => {
                let report = ops::purge(&queue, state, older_than.unwrap_or(Duration::ZERO)).await.map_err(fail)?;
                if json {
                    print_json(&report)?;
                } else {
                    let when =
                        older_than.map_or(String::new(), |d| format!(" older than {}", age(d.as_millis() as u64)));
                    println!("purged {} {} job(s){when}", report.removed, report.state);
                }
                Ok(0)
            }
            Action::Pause => print_pause(&ops::pause(&queue).await.map_err(fail)?, json),
            Action::Resume => print_pause(&ops::resume(&queue).await.map_err(fail)?, json),
        }
    })
}

fn print_pause(report: &ops::PauseReport, json: bool) -> Result<u8, Failure> {
    if json {
        print_json(report)?;
    } else {
        let now = if report.paused { "paused" } else { "running (not paused)" };
        let was = if report.changed { "" } else { " (it already was)" };
        println!("queue {now}{was}");
    }
    Ok(0)
}

fn print_stats(stats: &ops::Stats, json: bool) -> Result<(), Failure> {
    if json {
        return print_json(stats);
    }
    println!("queue: {}", if stats.paused { "paused" } else { "running" });
    match &stats.oldest_ready {
        Some(o) => println!("oldest ready: {} ({}), waiting {}", o.id, o.kind, age(o.age_ms)),
        None => println!("oldest ready: -"),
    }
    println!();
    let headers = ["KIND", "READY", "SCHEDULED", "SNOOZED", "RUNNING", "DONE", "DEAD"];
    let row = |name: &str, c: &snapsync_queue::StateCounts| {
        let mut row = vec![name.to_string()];
        row.extend(JobState::ALL.iter().map(|s| c.get(*s).to_string()));
        row
    };
    let mut rows: Vec<Vec<String>> = stats.by_kind.iter().map(|(k, c)| row(k, c)).collect();
    rows.push(row("(all)", &stats.totals));
    print!("{}", render(&headers, &rows));
    Ok(())
}

fn print_listing(listing: &ops::Listing, json: bool) -> Result<(), Failure> {
    if json {
        return print_json(listing);
    }
    let rows: Vec<Vec<String>> = listing
        .jobs
        .iter()
        .map(|j| {
            // The time that matters in this state.
            let when = match j.state {
                JobState::Scheduled | JobState::Snoozed => time(j.due_ms),
                JobState::Running => time(j.lease_until_ms),
                JobState::Done | JobState::Dead => time(j.finished_ms),
                JobState::Ready => time(Some(j.created_ms)),
            };
            vec![
                j.id.to_string(),
                j.kind.clone(),
                format!("{}/{}", j.attempts, j.max_attempts),
                when,
                or_dash(j.worker.as_deref()),
                // Dead: why, then the error.
                match (&j.dead_reason, &j.last_error) {
                    (Some(why), Some(e)) => shorten(&format!("{why}: {e}"), 80),
                    (why, e) => or_dash(why.as_deref().or(e.as_deref()).map(|e| shorten(e, 80)).as_deref()),
                },
            ]
        })
        .collect();
    let when = match listing.state {
        JobState::Scheduled | JobState::Snoozed => "DUE",
        JobState::Running => "LEASE UNTIL",
        JobState::Done | JobState::Dead => "FINISHED",
        JobState::Ready => "CREATED",
    };
    print!("{}", render(&["ID", "KIND", "ATTEMPTS", when, "WORKER", "ERROR"], &rows));
    match listing.next_cursor {
        Some(c) => println!("{} job(s); more: --cursor {c}", listing.jobs.len()),
        None => println!("{} job(s); end of list", listing.jobs.len()),
    }
    Ok(())
}

fn print_job(job: &ops::JobView, json: bool) -> Result<(), Failure> {
    if json {
        return print_json(job);
    }
    let j = &job.summary;
    let mut pairs = vec![
        ("id", j.id.to_string()),
        ("kind", j.kind.clone()),
        ("state", j.state.to_string()),
        ("attempts", format!("{} of {}", j.attempts, j.max_attempts)),
        ("created", time(Some(j.created_ms))),
    ];
    if let Some(due) = j.due_ms {
        pairs.push(("due", time(Some(due))));
    }
    if let Some(until) = j.lease_until_ms {
        pairs.push(("lease until", time(Some(until))));
    }
    if let Some(done) = j.finished_ms {
        pairs.push(("finished", time(Some(done))));
    }
    pairs.push(("worker", or_dash(j.worker.as_deref())));
    pairs.push(("last error", or_dash(j.last_error.as_deref())));
    if j.state == JobState::Dead {
        pairs.push(("dead reason", or_dash(j.dead_reason.as_deref())));
    }
    let snoozes = match &j.snooze_reason {
        Some(why) => format!("{} ({} in all; last: {why})", j.snoozes, age(j.snoozed_ms)),
        None => format!("{} ({} in all)", j.snoozes, age(j.snoozed_ms)),
    };
    pairs.push(("snoozes", snoozes));
    pairs.push(("unique key", or_dash(job.unique_key.as_deref())));
    print!("{}", fields(&pairs));
    println!();
    println!("attempt history:");
    if job.attempts_history.is_empty() {
        println!("  (none)");
    } else {
        let rows: Vec<Vec<String>> = job
            .attempts_history
            .iter()
            .map(|a| {
                vec![a.attempt.to_string(), time(Some(a.at_ms)), or_dash(Some(&a.worker)), or_dash(a.error.as_deref())]
            })
            .collect();
        for line in render(&["ATTEMPT", "ENDED", "WORKER", "ERROR"], &rows).lines() {
            println!("  {line}");
        }
    }
    println!("note: {}", job.note);
    println!();
    println!("payload (secrets redacted):");
    match &job.payload {
        Some(p) => println!("{}", serde_json::to_string_pretty(p).unwrap_or_default()),
        None => println!("  (not JSON; not shown)"),
    }
    Ok(())
}

fn print_retry(report: &ops::RetryReport, json: bool) -> Result<(), Failure> {
    if json {
        return print_json(report);
    }
    let rows: Vec<Vec<String>> = report
        .results
        .iter()
        .map(|r| {
            let what = match &r.outcome {
                RetryOutcome::Retried { from } => format!("retried (was {from})"),
                RetryOutcome::NotRetryable { state } => format!("not retried: it is {state}"),
                RetryOutcome::NotFound => "not found".to_string(),
            };
            vec![r.id.to_string(), what]
        })
        .collect();
    if !rows.is_empty() {
        print!("{}", render(&["ID", "RESULT"], &rows));
    }
    println!("{} retried, {} not retryable, {} not found", report.retried, report.not_retryable, report.not_found);
    Ok(())
}

/// The first `max` characters of `s` on one line, with `…` when cut.
fn shorten(s: &str, max: usize) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        one
    } else {
        one.chars().take(max - 1).chain(std::iter::once('…')).collect()
    }
}
