//! `snapsync`: the producer and operator CLI: `serve` runs the webhook receiver, the
//! subscription lifecycle and the scheduler (`snapsync_producer`); `config` checks and shows
//! the configuration.

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
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Config(args) => config_cmd::run(args),
        Command::Serve(args) => serve_cmd::run(args),
    }
}
