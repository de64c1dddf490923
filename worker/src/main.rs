//! `snapsync-worker`: the worker pool. Job handlers arrive with the queue-engine and
//! pipeline issues; until then the binary only describes itself.

use clap::Parser;

/// snapsync-worker: runs sync jobs from the Redis queue.
#[derive(Parser)]
#[command(version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!("the worker pool is not built yet: see the queue-engine issue")
}
