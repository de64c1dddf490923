//! `snapsync mapping check [--preview N]`: before going live, the mapping and routing files
//! against the connected Snapshots (every owner a rule names exists and is active, every team
//! has an active owner), then, with `--preview N`, N real contacts read from RingCentral and
//! the Snapshots leads a sync would write for them, with the owner routing picks and the rule
//! that picked it. Nothing is written to Snapshots; no sync token is stored; round-robin
//! turns are taken on counters of their own, so the preview moves no real rotation.
//! A mapping saved through the admin API (the dashboard's editor) overrides the file, in
//! the workers and here: `check` checks the mapping in force and says which one it is.
//!
//! `snapsync mapping show` prints the mapping in force; `history` the saved versions it
//! replaced; `restore N` saves version N again (as a new version; workers use it from their
//! next job).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::Value;
use snapsync::mapping::{store, Mapping, Resource};
use snapsync::routing::{Assign, Router, Rules};

use super::table::render;
use snapsync::config::Config;
use snapsync_queue::Queue;

use super::{
    failure, print_json, redis_failure, with_queue_config, Common, Failure, EXIT_CODES, INVALID_CONFIG, SOFTWARE,
};

#[derive(Args)]
#[command(after_help = EXIT_CODES)]
pub struct MappingArgs {
    #[command(subcommand)]
    action: Action,
    #[command(flatten)]
    common: Common,
}

#[derive(Subcommand)]
enum Action {
    /// Check the mapping and routing files against Snapshots; with --preview, show what a sync
    /// would write for real RingCentral records (writing nothing). Exit 78 on a problem.
    Check {
        /// Read this many contacts from RingCentral and print the leads they would become.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=250))]
        preview: u32,
    },
    /// Print the mapping in force: the one saved through the admin API, else mapping.path.
    Show,
    /// List the saved versions the current one replaced (newest first).
    History,
    /// Save version N from the history again, as a new version (workers use it from their next job).
    Restore {
        /// The version to bring back (see `snapsync mapping history`).
        version: u64,
    },
}

#[derive(Serialize)]
pub struct Report {
    pub mapping: String,
    pub routing: String,
    pub owners: usize,
    pub problems: Vec<String>,
    /// What works but may not be meant (an inactive owner: routing falls back).
    pub warnings: Vec<String>,
    pub previews: Vec<Preview>,
}

#[derive(Serialize)]
pub struct Preview {
    pub contact_id: String,
    pub extension_id: String,
    pub external_id: String,
    /// The lead as it would be `POST`ed (owner included).
    pub lead: Value,
    pub rule: String,
    pub reason: String,
    /// What the mapping dropped or left unconverted.
    pub notes: Vec<String>,
}

/// Where a mapping or rules file came from, for people.
pub fn describe(builtin: bool, path: &std::path::Path) -> String {
    if builtin {
        format!("built-in default (no file at {})", path.display())
    } else {
        path.display().to_string()
    }
}

pub fn run(args: MappingArgs) -> ExitCode {
    let json = args.common.json;
    let preview = match args.action {
        Action::Check { preview } => preview,
        Action::Show => return show(&args.common),
        Action::History => return history(&args.common),
        Action::Restore { version } => return restore(&args.common, version),
    };
    with_queue_config(&args.common, move |queue, config, _shown| async move {
        let (report, rules) = check(&queue, &config, preview).await?;
        print(report, &rules, json)
    })
}

/// The checks and previews of `mapping check` (module docs); `rules` for printing.
pub async fn check(queue: &Queue, config: &Config, preview: u32) -> Result<(Report, Rules), Failure> {
    {
        let shown = config.redis.redacted_url();
        let (mapping, m_builtin) =
            Mapping::for_config(&config.mapping).map_err(|e| failure(INVALID_CONFIG, "mapping.path", &e))?;
        let saved = store::current(queue.conn(), &config.queue.prefix).await.map_err(|e| redis_failure(&shown, &e))?;
        let (mapping, mapping_name) = match saved {
            Some(saved) => (
                saved.parse().map_err(|e| failure(INVALID_CONFIG, "the saved mapping", &e))?,
                format!(
                    "{} (saved through the admin API; overrides {})",
                    store::saved_name(saved.version),
                    describe(m_builtin, &config.mapping.path)
                ),
            ),
            None => (mapping, describe(m_builtin, &config.mapping.path)),
        };
        let (rules, r_builtin) =
            Rules::for_config(&config.routing).map_err(|e| failure(INVALID_CONFIG, "routing.path", &e))?;
        let redis = queue.conn().clone();
        let limiter = queue.limiter(config.rate_limits.limiter_options());
        let snapshots = snapsync::clients::snapshots(&config, redis.clone(), limiter.clone())
            .map_err(|e| failure(INVALID_CONFIG, "snapshots", &e))?;
        let owners = snapshots.list_owners().await.map_err(|e| failure(SOFTWARE, "snapshots: listing owners", &e))?;
        let (mut problems, mut warnings) = (Vec::new(), Vec::new());
        let active = |id: &str| owners.iter().any(|o| o.owner_id == id && o.active);
        let team_ok = |team: &str| owners.iter().any(|o| o.active && o.team.as_deref() == Some(team));
        for rule in &rules.rules {
            match &rule.assign {
                // Inactive: routing falls back to the team (a warning); unknown: a typo (a problem).
                Assign::Owner(id) if !active(id) => {
                    let known = owners.iter().any(|o| &o.owner_id == id);
                    let line = format!(
                        "{}: rule {:?} assigns owner {id:?}, who is {} in Snapshots{}",
                        rules.file,
                        rule.name,
                        if known { "not active" } else { "unknown" },
                        if known { "; its leads go to the fallback team" } else { "" }
                    );
                    if known {
                        warnings.push(line)
                    } else {
                        problems.push(line)
                    }
                }
                Assign::Team(team) if !team_ok(team) => problems.push(format!(
                    "{}: rule {:?} assigns team {team:?}, which has no active owner in Snapshots",
                    rules.file, rule.name
                )),
                _ => {}
            }
        }
        if !team_ok(&rules.fallback_team) {
            problems.push(format!(
                "{}: the fallback team {:?} has no active owner in Snapshots",
                rules.file, rules.fallback_team
            ));
        }

        let mut previews = Vec::new();
        if preview > 0 && problems.is_empty() {
            let rc = snapsync::clients::ringcentral(&config, redis.clone(), limiter)
                .map_err(|e| failure(INVALID_CONFIG, "ringcentral", &e))?;
            // Round-robin turns on counters of the preview's own.
            let router = Router::new(rules.clone(), redis.clone(), format!("{}:preview", config.queue.prefix))
                .with_call_prefix(config.queue.prefix.clone());
            let samples = snapsync_producer::mapping_editor::contact_samples(&rc, preview as usize)
                .await
                .map_err(|(what, e)| failure(SOFTWARE, &format!("ringcentral: {what}"), &e))?;
            for sample in samples {
                let source = &sample.source;
                let contact_id = source["id"].as_str().unwrap_or("?").to_string();
                let mapped = match mapping.map(Resource::LeadFromContact, source) {
                    Ok(m) => m,
                    Err(e) => {
                        problems.push(format!("contact {contact_id}: {e}"));
                        continue;
                    }
                };
                let routed = router
                    .route(source, sample.site.as_deref(), &owners)
                    .await
                    .map_err(|e| failure(SOFTWARE, "routing", &e))?;
                let mut lead = Value::Object(mapped.record);
                lead["external_id"] = Value::String(mapped.external_id.clone());
                lead["owner"] = Value::String(routed.owner);
                previews.push(Preview {
                    contact_id,
                    extension_id: sample.extension_id.clone(),
                    external_id: mapped.external_id,
                    lead,
                    rule: routed.rule,
                    reason: routed.reason,
                    notes: mapped.notes,
                });
            }
        }
        let report = Report {
            mapping: mapping_name,
            routing: describe(r_builtin, &config.routing.path),
            owners: owners.len(),
            problems,
            warnings,
            previews,
        };
        Ok((report, rules))
    }
}

fn print(report: Report, rules: &Rules, json: bool) -> Result<u8, Failure> {
    {
        let code = if report.problems.is_empty() { 0 } else { INVALID_CONFIG };
        if json {
            print_json(&report)?;
            return Ok(code);
        }
        println!("mapping: {}", report.mapping);
        println!("routing: {} ({} rules; {} owners in Snapshots)", report.routing, rules.rules.len(), report.owners);
        for p in &report.problems {
            println!("problem: {p}");
        }
        for w in &report.warnings {
            println!("warning: {w}");
        }
        if !report.previews.is_empty() {
            let rows: Vec<Vec<String>> = report
                .previews
                .iter()
                .map(|p| {
                    let field = |k: &str| p.lead[k].as_str().unwrap_or("-").to_string();
                    vec![
                        p.contact_id.clone(),
                        format!("{} {}", field("first_name"), field("last_name")),
                        field("email"),
                        field("owner"),
                        p.rule.clone(),
                    ]
                })
                .collect();
            println!();
            println!("{} contacts would become these leads (nothing was written):", rows.len());
            print!("{}", render(&["CONTACT", "NAME", "EMAIL", "OWNER", "RULE"], &rows));
            for p in &report.previews {
                println!();
                println!("{} → {}: {}", p.contact_id, p.external_id, p.reason);
                println!("{}", serde_json::to_string_pretty(&p.lead).unwrap_or_default());
            }
        }
        if code == 0 {
            println!("mapping check ok");
        }
        Ok(code)
    }
}

fn show(common: &Common) -> ExitCode {
    let json = common.json;
    with_queue_config(common, move |queue, config, shown| async move {
        let saved = store::current(queue.conn(), &config.queue.prefix).await.map_err(|e| redis_failure(&shown, &e))?;
        let file = snapsync_producer::mapping_editor::MappingFile::for_config(&config.mapping);
        let (name, format, text, version) = match saved {
            Some(m) => (store::saved_name(m.version), m.format, Some(m.text), m.version),
            None => (file.name.clone(), file.format, file.text.clone(), 0),
        };
        let Some(text) = text else {
            return Err(Failure { code: INVALID_CONFIG, message: format!("mapping.path: cannot read {}", file.name) });
        };
        if json {
            print_json(
                &serde_json::json!({ "name": name, "version": version, "format": format, "file": file.name, "text": text }),
            )?;
        } else {
            if version > 0 {
                println!("# {name} ({}; saved through the admin API, overrides {})", format.name(), file.name);
            } else {
                println!("# {name} (no mapping saved through the admin API)");
            }
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
        }
        Ok(0)
    })
}

fn history(common: &Common) -> ExitCode {
    let json = common.json;
    with_queue_config(common, move |queue, config, shown| async move {
        let redis_failed = |e: redis::RedisError| redis_failure(&shown, &e);
        let current = store::current(queue.conn(), &config.queue.prefix).await.map_err(&redis_failed)?;
        let history = store::history(queue.conn(), &config.queue.prefix).await.map_err(&redis_failed)?;
        if json {
            let version = current.as_ref().map_or(0, |c| c.version);
            print_json(&serde_json::json!({ "version": version, "history": history }))?;
            return Ok(0);
        }
        match &current {
            Some(c) => println!(
                "in force: {} ({}, saved {})",
                store::saved_name(c.version),
                c.format.name(),
                super::time(Some(c.saved_at))
            ),
            None => println!("in force: {} (nothing saved through the admin API)", config.mapping.path.display()),
        }
        let rows: Vec<Vec<String>> = history
            .iter()
            .map(|m| {
                vec![
                    m.version.to_string(),
                    m.format.name().to_string(),
                    super::time(Some(m.saved_at)),
                    m.text.len().to_string(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            print!("{}", render(&["VERSION", "FORMAT", "SAVED", "BYTES"], &rows));
        }
        Ok(0)
    })
}

fn restore(common: &Common, version: u64) -> ExitCode {
    let json = common.json;
    with_queue_config(common, move |queue, config, shown| async move {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        match store::restore(queue.conn(), &config.queue.prefix, version, now).await {
            Ok(new) => {
                if json {
                    print_json(&serde_json::json!({ "restored": version, "version": new }))?;
                } else {
                    println!("restored version {version} as version {new}; workers use it from their next job");
                }
                Ok(0)
            }
            Err(e @ store::RestoreError::NoSuchVersion(_)) => {
                Err(Failure { code: super::NOT_FOUND, message: e.to_string() })
            }
            Err(store::RestoreError::Invalid { error, .. }) => {
                Err(failure(INVALID_CONFIG, &format!("version {version}"), &error))
            }
            Err(store::RestoreError::Redis(e)) => Err(redis_failure(&shown, &e)),
        }
    })
}
