//! # snapsync-bench
//!
//! Benchmarks for snapsync, run by hand against an isolated Redis (never port 6379; every
//! run starts with FLUSHALL). Results and the comparison with the peer queues:
//! `docs/benchmarks.md`.
//!
//! # Layout
//! - `queue_bench`: the `queue` subcommand (modes enqueue-single, enqueue-batch, drain) and
//!   its `RESULT` line, in the shape of `bench/peers`.
//! - `enqueue`: single and batched enqueue, and the untimed fill before a drain.
//! - `drain_apalis`: the drain through the real worker path (`snapsync_worker` on apalis).
//! - `drain_storage`: a drain that calls `Queue::reserve`/`ack` directly (the storage alone).
//! - `bench_redis`: the bench Redis guard (port 6379 refused), FLUSHALL, server CPU, queue depth.
//! - `payload`: the no-op job and its ~200-byte payload.

mod bench_redis;
mod drain_apalis;
mod drain_storage;
mod enqueue;
mod payload;
mod queue_bench;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "snapsync-bench", about = "snapsync benchmarks (against an isolated Redis)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The job-queue benchmark: enqueue and drain no-op jobs, print a RESULT line.
    Queue(queue_bench::QueueArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Queue(args) => queue_bench::run(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain, without a backtrace: the messages say what to do.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
