//! `snapsync workers`: the live workers (host, pid, in-flight jobs, last heartbeat), and the
//! ones that went silent since the last look.

use std::process::ExitCode;

use clap::Args;
use snapsync_producer::ops;
use snapsync_queue::QueueError;

use super::table::render;
use super::{age, print_json, queue_failure, time, with_queue, Common, EXIT_CODES};

#[derive(Args)]
#[command(after_help = EXIT_CODES)]
pub struct WorkersArgs {
    #[command(flatten)]
    common: Common,
}

pub fn run(args: WorkersArgs) -> ExitCode {
    let json = args.common.json;
    with_queue(&args.common, move |queue, shown| async move {
        let report = ops::workers(&queue).await.map_err(|e: QueueError| queue_failure(&shown, e))?;
        if json {
            print_json(&report)?;
            return Ok(0);
        }
        let rows: Vec<Vec<String>> = report
            .live
            .iter()
            .map(|v| {
                let w = &v.worker;
                let ids: Vec<&str> = w.inflight.iter().map(|id| id.0.as_str()).collect();
                vec![
                    w.id.0.clone(),
                    w.host.clone(),
                    w.pid.to_string(),
                    w.concurrency.to_string(),
                    w.inflight.len().to_string(),
                    format!("{} ago", age(v.last_beat_age_ms)),
                    time(Some(w.started_ms)),
                    if ids.is_empty() { "-".to_string() } else { ids.join(",") },
                ]
            })
            .collect();
        print!("{}", render(&["WORKER", "HOST", "PID", "SLOTS", "IN FLIGHT", "LAST BEAT", "STARTED", "JOBS"], &rows));
        println!("{} live worker(s)", report.live.len());
        for g in &report.gone {
            println!("gone silent: {} (last beat {})", g.id.0, time(Some(g.last_beat_ms)));
        }
        Ok(0)
    })
}
