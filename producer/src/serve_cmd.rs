//! `snapsync serve`: load and validate the configuration, bind `http.bind`, and run the
//! producer ([`snapsync_producer::run`]) until SIGTERM or SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use snapsync::config::Config;

#[derive(Args)]
pub struct ServeArgs {
    /// The TOML file; without it, built-in defaults (a local sandbox) and the environment.
    #[arg(long, env = "SNAPSYNC_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log lines as `text` (colour only on a terminal) or `json` (one object per line).
    #[arg(long, value_name = "text|json", default_value = "text")]
    log_format: snapsync::logging::LogFormat,
}

/// Exit code for a configuration that cannot be used (EX_CONFIG), as `config check`.
const INVALID: u8 = 78;

pub fn run(args: ServeArgs) -> ExitCode {
    snapsync::logging::init(args.log_format);
    let config = match Config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(INVALID);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let bind = config.http.bind;
        let listener = match tokio::net::TcpListener::bind(bind).await {
            Ok(l) => l,
            Err(err) => {
                eprintln!("error: cannot listen on http.bind {bind}: {err}");
                return ExitCode::FAILURE;
            }
        };
        let metrics = match snapsync::telemetry::install() {
            Ok(m) => m,
            Err(err) => {
                eprintln!("error: cannot install the metrics recorder: {err}");
                return ExitCode::FAILURE;
            }
        };
        let options = snapsync_producer::Options { metrics: Some(metrics), ..snapsync_producer::Options::default() };
        match snapsync_producer::run_with(config, listener, stop_signal(), options).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        // Without a SIGTERM handler, Ctrl-C still stops it.
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("stop signal received; shutting down");
}
