//! `snapsync`: the producer and operator CLI: `serve` runs the webhook receiver, the
//! subscription lifecycle and the scheduler (`snapsync_producer`); `config` checks and shows
//! the configuration; `login` gets a RingCentral token pair in a browser (authorization
//! code with PKCE, `cli/login.rs`); `queue` and `workers` inspect and control the job queue (`cli`, over
//! `snapsync_producer::ops`; their exit codes are documented in `cli/mod.rs` and `--help`).

mod cli;
mod config_cmd;
mod serve_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// snapsync: keeps Snapshots in step with RingCentral.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check or print the configuration (file, then SNAPSYNC__SECTION__KEY variables).
    Config(config_cmd::ConfigArgs),
    /// Run the producer: webhooks, subscription, scheduler, health (until SIGTERM/SIGINT).
    Serve(serve_cmd::ServeArgs),
    /// Inspect and control the job queue: stats, ls, show, retry, discard, purge, pause, resume.
    Queue(cli::queue::QueueArgs),
    /// The live workers: host, pid, jobs in flight, last heartbeat.
    Workers(cli::workers::WorkersArgs),
    /// The sync schedules, live: ls, set, pause, resume, reset, run (no restart needed).
    Schedule(cli::schedule::ScheduleArgs),
    /// Check the mapping and routing against Snapshots; preview what a sync would write.
    Mapping(cli::mapping::MappingArgs),
    /// Log in to RingCentral in a browser (authorization code with PKCE) and store the
    /// token pair for every process; for ringcentral.auth = "authorization_code".
    Login(cli::login::LoginArgs),
    /// Show the mode (test or live), or switch every process to live or test (logged).
    Mode(cli::mode::ModeArgs),
    /// Check, against the configured services, each thing that would stop a first sync.
    Preflight(cli::preflight::PreflightArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Config(args) => config_cmd::run(args),
        Command::Serve(args) => serve_cmd::run(args),
        Command::Queue(args) => cli::queue::run(args),
        Command::Workers(args) => cli::workers::run(args),
        Command::Schedule(args) => cli::schedule::run(args),
        Command::Mapping(args) => cli::mapping::run(args),
        Command::Login(args) => cli::login::run(args),
        Command::Mode(args) => cli::mode::run(args),
        Command::Preflight(args) => cli::preflight::run(args),
    }
}
