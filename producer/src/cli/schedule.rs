//! `snapsync schedule ls|set|pause|resume|reset|run`: the live schedules
//! ([`snapsync_producer::schedules`]): a change takes effect at the resource's next tick on
//! every producer replica, without a restart.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;
use snapsync_producer::scheduler::unix_ms as now_ms;
use snapsync_producer::schedules::{self, ScheduleChangeError, ScheduleStore};

use super::table::render;
use super::{print_json, queue_failure, redis_failure, time, with_queue_config, Common, Failure, EXIT_CODES};

#[derive(Args)]
#[command(after_help = EXIT_CODES)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    action: Action,
    #[command(flatten)]
    common: Common,
}

#[derive(Subcommand)]
enum Action {
    /// Each resource's rule, whether it is on, who set it, its last and next run.
    Ls,
    /// Set a resource's frequency: `--every 15m` or `--cron "*/15 * * * *"` (UTC).
    Set {
        /// locations, accounts, contacts, calls or subscriptions.
        resource: String,
        #[arg(long, conflicts_with = "cron", required_unless_present = "cron")]
        every: Option<String>,
        #[arg(long)]
        cron: Option<String>,
    },
    /// Stop a resource's ticks (its rule is kept).
    Pause { resource: String },
    /// Start a paused resource's ticks again.
    Resume { resource: String },
    /// Put the configuration file's rule back.
    Reset { resource: String },
    /// Enqueue one sync of the resource now, outside its schedule.
    Run { resource: String },
}

fn change_failure(e: ScheduleChangeError, shown: &str) -> Failure {
    match e {
        ScheduleChangeError::Redis(e) => redis_failure(shown, &e),
        other => Failure { code: 2, message: other.to_string() },
    }
}

pub fn run(args: ScheduleArgs) -> ExitCode {
    let json = args.common.json;
    with_queue_config(&args.common, move |queue, config, shown| async move {
        let store = ScheduleStore::new(queue.conn().clone(), &config.queue.prefix);
        let resource = |name: &str| schedules::resource(name).map_err(|e| Failure { code: 2, message: e.to_string() });
        let rule = match args.action {
            Action::Ls => {
                let list = store.list(&config.schedules, now_ms()).await.map_err(|e| redis_failure(&shown, &e))?;
                if json {
                    print_json(&json!({ "schedules": list }))?;
                    return Ok(0);
                }
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|v| {
                        vec![
                            v.resource.to_string(),
                            v.rule.describe(),
                            if v.rule.enabled { "on".into() } else { "paused".into() },
                            v.rule.updated_by.clone(),
                            time(v.last_run.as_ref().map(|r| r.tick_ms as u64)),
                            time(v.next_run_ms.map(|t| t as u64)),
                        ]
                    })
                    .collect();
                print!("{}", render(&["RESOURCE", "RULE", "STATE", "SET BY", "LAST RUN", "NEXT RUN"], &rows));
                return Ok(0);
            }
            Action::Set { resource: name, every, cron } => {
                let r = resource(&name)?;
                let rule = store
                    .set(r, every.as_deref(), cron.as_deref(), "cli", now_ms())
                    .await
                    .map_err(|e| change_failure(e, &shown))?;
                (r, rule)
            }
            Action::Pause { resource: ref name } | Action::Resume { resource: ref name } => {
                let on = matches!(args.action, Action::Resume { .. });
                let r = resource(name)?;
                let rule = store
                    .set_enabled(r, on, &config.schedules, "cli", now_ms())
                    .await
                    .map_err(|e| redis_failure(&shown, &e))?;
                (r, rule)
            }
            Action::Reset { resource: name } => {
                let r = resource(&name)?;
                let rule = store.reset(r, &config.schedules, now_ms()).await.map_err(|e| redis_failure(&shown, &e))?;
                (r, rule)
            }
            Action::Run { resource: name } => {
                let r = resource(&name)?;
                let outcome = queue
                    .enqueue(snapsync_producer::scheduler::manual_job(r))
                    .await
                    .map_err(|e| queue_failure(&shown, e))?;
                if json {
                    print_json(&json!({ "resource": r.as_str(), "job": outcome.id().0 }))?;
                } else {
                    println!("{}: one sync enqueued as job {}", r.as_str(), outcome.id().0);
                }
                return Ok(0);
            }
        };
        let (r, rule) = rule;
        if json {
            print_json(&json!({ "resource": r.as_str(), "schedule": rule }))?;
        } else {
            let state = if rule.enabled { "on" } else { "paused" };
            println!("{}: {} ({state}); every producer follows it at its next tick", r.as_str(), rule.describe());
        }
        Ok(0)
    })
}
