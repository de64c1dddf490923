//! `snapsync config check|show`: load the configuration exactly as the producer will (file,
//! then `SNAPSYNC__*` variables), validate it, and connect to nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use snapsync::config::Config;

#[derive(Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    action: Action,
    /// The TOML file; without it, built-in defaults (a local sandbox) and the environment.
    #[arg(long, global = true, env = "SNAPSYNC_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Action {
    /// Validate the configuration, the mapping file and the routing rules, reporting every
    /// problem at once; exit 0 when all are usable (78 when not).
    Check,
    /// Print the effective configuration as TOML, secrets redacted.
    Show,
}

/// Exit code for a configuration that cannot be used (clap uses 2 for bad arguments).
const INVALID: u8 = 78; // EX_CONFIG from sysexits.h

pub fn run(args: ConfigArgs) -> ExitCode {
    let config = match Config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(INVALID);
        }
    };
    match args.action {
        Action::Check => {
            // The files every worker loads at start, loaded the same way: a missing or bad one
            // fails here, not at the first job.
            let mut bad = false;
            let describe = crate::cli::mapping::describe;
            let mapping = match snapsync::mapping::Mapping::for_config(&config.mapping) {
                Ok((_, builtin)) => describe(builtin, &config.mapping.path),
                Err(e) => {
                    eprintln!("error: mapping.path: {e}");
                    bad = true;
                    String::new()
                }
            };
            let routing = match snapsync::routing::Rules::for_config(&config.routing) {
                Ok((_, builtin)) => describe(builtin, &config.routing.path),
                Err(e) => {
                    eprintln!("error: routing.path: {e}");
                    bad = true;
                    String::new()
                }
            };
            if bad {
                return ExitCode::from(INVALID);
            }
            let source = args.config.as_deref().map_or("built-in defaults".into(), |p| p.display().to_string());
            println!("configuration ok ({source} with SNAPSYNC__* overrides)");
            println!("mapping ok ({mapping}; a mapping saved through the admin API, when there is one, overrides it: see `snapsync mapping show`)");
            println!("routing ok ({routing})");
        }
        Action::Show => print!("{}", config.redacted_toml()),
    }
    ExitCode::SUCCESS
}
