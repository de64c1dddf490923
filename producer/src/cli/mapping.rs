//! `snapsync mapping check [--preview N]`: before going live, the mapping and routing files
//! against the connected Snapshots (every owner a rule names exists and is active, every team
//! has an active owner), then, with `--preview N`, N real contacts read from RingCentral and
//! the Snapshots leads a sync would write for them, with the owner routing picks and the rule
//! that picked it. Nothing is written to Snapshots; no sync token is stored; round-robin
//! turns are taken on counters of their own, so the preview moves no real rotation.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::Value;
use snapsync::mapping::{Mapping, Resource};
use snapsync::routing::{Assign, Router, Rules};

use super::table::render;
use super::{failure, print_json, with_queue_config, Common, EXIT_CODES, INVALID_CONFIG, SOFTWARE};

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
}

#[derive(Serialize)]
struct Report {
    mapping: String,
    routing: String,
    owners: usize,
    problems: Vec<String>,
    /// What works but may not be meant (an inactive owner: routing falls back).
    warnings: Vec<String>,
    previews: Vec<Preview>,
}

#[derive(Serialize)]
struct Preview {
    contact_id: String,
    extension_id: String,
    external_id: String,
    /// The lead as it would be `POST`ed (owner included).
    lead: Value,
    rule: String,
    reason: String,
    /// What the mapping dropped or left unconverted.
    notes: Vec<String>,
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
    let Action::Check { preview } = args.action;
    with_queue_config(&args.common, move |queue, config, _shown| async move {
        let (mapping, m_builtin) =
            Mapping::for_config(&config.mapping).map_err(|e| failure(INVALID_CONFIG, "mapping.path", &e))?;
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
            let users = rc
                .extensions(&[("type", "User".to_string())])
                .await
                .map_err(|e| failure(SOFTWARE, "ringcentral: listing user extensions", &e))?;
            'books: for ext in &users {
                // A full read whatever token a sync stored (an incremental one would show only
                // the latest changes); the first page only, its token never committed. It waits
                // for its Heavy permit as long as a sync's later page would.
                let mut sync = rc.full_contact_sync(&ext.id).await.map_err(|e| failure(SOFTWARE, "ringcentral", &e))?;
                let page =
                    snapsync_queue::with_patience(snapsync::ringcentral::limits::PAGE_PATIENCE, sync.next_page())
                        .await
                        .map_err(|e| failure(SOFTWARE, "ringcentral: address book", &e))?;
                let Some(page) = page else { continue };
                let site = ext.site.as_ref().and_then(|s| s.id.clone());
                for contact in page.contacts.iter().filter(|c| !c.is_deleted()) {
                    let source = serde_json::to_value(contact).unwrap_or(Value::Null);
                    let mapped = match mapping.map(Resource::LeadFromContact, &source) {
                        Ok(m) => m,
                        Err(e) => {
                            problems.push(format!("contact {}: {e}", contact.id));
                            continue;
                        }
                    };
                    let routed = router
                        .route(&source, site.as_deref(), &owners)
                        .await
                        .map_err(|e| failure(SOFTWARE, "routing", &e))?;
                    let mut lead = Value::Object(mapped.record);
                    lead["external_id"] = Value::String(mapped.external_id.clone());
                    lead["owner"] = Value::String(routed.owner);
                    previews.push(Preview {
                        contact_id: contact.id.clone(),
                        extension_id: ext.id.clone(),
                        external_id: mapped.external_id,
                        lead,
                        rule: routed.rule,
                        reason: routed.reason,
                        notes: mapped.notes,
                    });
                    if previews.len() >= preview as usize {
                        break 'books;
                    }
                }
            }
        }
        let report = Report {
            mapping: describe(m_builtin, &config.mapping.path),
            routing: describe(r_builtin, &config.routing.path),
            owners: owners.len(),
            problems,
            warnings,
            previews,
        };
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
    })
}
