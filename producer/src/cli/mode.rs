//! `snapsync mode [live|test]`: shows the mode in force, or switches it for every process at
//! once (see `snapsync::mode`: workers read it before each job, each process logs the switch
//! once). The switch is recorded in `{prefix}:mode:log` with who made it, and printed.

use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use serde_json::Value;
use snapsync::mode::{self, Mode, ModeError};

use super::{print_json, redis_failure, time, with_queue_config, Common, Failure, EXIT_CODES, SOFTWARE};

#[derive(Args)]
#[command(after_help = EXIT_CODES)]
pub struct ModeArgs {
    /// Switch to this mode (`live`: writes go to [snapshots]; `test`: to [test]); without
    /// it, show the mode in force and the last switches.
    #[arg(value_parser = ["live", "test"])]
    mode: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Serialize)]
struct Shown {
    mode: &'static str,
    /// `redis` (switched or seeded) or `config` (`sync.mode`: nothing stored yet).
    source: &'static str,
    /// Where writes go now.
    snapshots_url: String,
    /// Set by a switch: the mode before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<&'static str>,
    /// The last switches, newest first.
    history: Vec<Value>,
}

fn mode_failure(shown: &str, e: ModeError) -> Failure {
    match e {
        ModeError::Redis(e) => redis_failure(shown, &e),
        other => Failure { code: SOFTWARE, message: other.to_string() },
    }
}

pub fn run(args: ModeArgs) -> ExitCode {
    let json = args.common.json;
    let wanted = args.mode.as_deref().and_then(Mode::from_name);
    with_queue_config(&args.common, move |queue, config, shown| async move {
        let conn = queue.conn().clone();
        let prefix = &config.queue.prefix;
        let url = |m: Mode| match m {
            Mode::Live => config.snapshots.base_url.to_string(),
            Mode::Test => config.test.snapshots_url.to_string(),
        };
        let (current, source, previous) = match wanted {
            Some(m) => {
                let who = format!(
                    "{}@{}",
                    std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "?".into()),
                    snapsync_queue::types::hostname()
                );
                let before = mode::set(&conn, prefix, m, &who).await.map_err(|e| mode_failure(&shown, e))?;
                (m, "redis", Some(before.unwrap_or(config.sync.mode)))
            }
            None => match mode::get(&conn, prefix).await.map_err(|e| mode_failure(&shown, e))? {
                Some(m) => (m, "redis", None),
                None => (config.sync.mode, "config", None),
            },
        };
        let history = mode::history(&conn, prefix, 5).await.map_err(|e| mode_failure(&shown, e))?;
        let report = Shown {
            mode: current.as_str(),
            source,
            snapshots_url: url(current),
            previous: previous.map(Mode::as_str),
            history,
        };
        if json {
            print_json(&report)?;
            return Ok(0);
        }
        match previous {
            Some(p) if p == current => {
                println!("mode: {} (unchanged): writes go to {}", report.mode, report.snapshots_url)
            }
            Some(p) => println!(
                "mode: {} (was {}): writes now go to {}; every worker uses it from its next job",
                report.mode,
                p.as_str(),
                report.snapshots_url
            ),
            None => println!(
                "mode: {}{}: writes go to {}",
                report.mode,
                if source == "config" { " (sync.mode; not switched yet)" } else { "" },
                report.snapshots_url
            ),
        }
        for h in &report.history {
            println!(
                "  {}  {} -> {}  by {}",
                time(h["at_ms"].as_u64()),
                h["from"].as_str().unwrap_or("-"),
                h["to"].as_str().unwrap_or("-"),
                h["by"].as_str().unwrap_or("-")
            );
        }
        Ok(0)
    })
}
