//! `snapsync`: the producer and operator CLI. The webhook receiver, scheduler and admin
//! API arrive with the pipeline issue; until then the binary only describes itself.

use clap::Parser;

/// snapsync: keeps Snapshots in step with RingCentral.
#[derive(Parser)]
#[command(version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!("`snapsync serve` is not built yet: see the pipeline issue; the sandbox runs with `snapsync-sandbox`")
}
