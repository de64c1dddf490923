//! `snapsync`: the producer and operator CLI. The webhook receiver, scheduler and admin
//! API arrive with the pipeline issue; today the binary checks and shows configuration.

mod config_cmd;

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
    /// Run the producer (not built yet).
    Serve,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Config(args) => config_cmd::run(args),
        Command::Serve => {
            eprintln!(
                "`snapsync serve` is not built yet: see the pipeline issue; the sandbox runs with `snapsync-sandbox`"
            );
            ExitCode::FAILURE
        }
    }
}
