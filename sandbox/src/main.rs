//! `snapsync-sandbox`: serves the RingCentral and Snapshots stand-ins until SIGINT/SIGTERM.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use snapsync_sandbox::credentials::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_JWT, DEFAULT_SNAPSHOTS_API_KEY};
use snapsync_sandbox::{Credentials, Sandbox, SandboxConfig};

/// Shown after `--help`: the credentials a fresh sandbox accepts.
const CREDENTIALS_HELP: &str = concat!(
        "Sandbox credentials (not secrets; they only open the stand-ins):\n",
        "  RingCentral client id      sandbox-client-id\n",
        "  RingCentral client secret  sandbox-client-secret\n",
        "  RingCentral JWT            eyJhbGciOiJub25lIn0.eyJzdWIiOiJzYW5kYm94LWFkbWluIn0.sandbox  (logs in as extension 101)\n",
        "  Snapshots API key          sandbox-snapshots-key\n",
    "Override them with --client-id, --client-secret, --jwt and --snapshots-api-key."
);

/// RingCentral and Snapshots stand-ins for snapsync's tests, demo and benchmarks.
#[derive(Parser, Debug)]
#[command(version, about, after_help = CREDENTIALS_HELP)]
struct Args {
    /// Port for the RingCentral stand-in (0 = any free port).
    #[arg(long, default_value_t = 0)]
    rc_port: u16,
    /// Port for the Snapshots stand-in (0 = any free port).
    #[arg(long, default_value_t = 0)]
    snapshots_port: u16,
    /// Seed for the deterministic fixture.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of personal contacts to generate (default: the realistic company's 200).
    #[arg(long)]
    contacts: Option<usize>,
    /// RingCentral rate-limit window in seconds (RingCentral's is 60; at most a day).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    window_secs: u64,
    /// Address to bind both servers on.
    #[arg(long, default_value_t = Ipv4Addr::LOCALHOST)]
    host: Ipv4Addr,
    #[arg(long, default_value = DEFAULT_CLIENT_ID)]
    client_id: String,
    #[arg(long, default_value = DEFAULT_CLIENT_SECRET)]
    client_secret: String,
    #[arg(long, default_value = DEFAULT_JWT)]
    jwt: String,
    #[arg(long, default_value = DEFAULT_SNAPSHOTS_API_KEY)]
    snapshots_api_key: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let credentials = Credentials {
        client_id: args.client_id,
        client_secret: args.client_secret,
        jwt: args.jwt,
        snapshots_api_key: args.snapshots_api_key,
    };
    let config = SandboxConfig {
        seed: args.seed,
        contacts: args.contacts,
        window: Duration::from_secs(args.window_secs),
        credentials: credentials.clone(),
        ..SandboxConfig::default()
    };
    config.check().map_err(|e| anyhow::anyhow!("invalid sandbox configuration: {e}"))?;
    // Installed before the URLs are printed: whoever reads them may signal at once.
    let stop = stop_signal()?;
    let rc = SocketAddr::from((args.host, args.rc_port));
    let snap = SocketAddr::from((args.host, args.snapshots_port));
    let sandbox = Sandbox::bind(config, rc, snap)
        .await
        .map_err(|e| anyhow::anyhow!("cannot bind the sandbox on {rc} / {snap}: {e}; pick other ports or 0 for any"))?;
    println!(
        "ringcentral {} client_id={} client_secret={} jwt={}",
        sandbox.rc_url(),
        credentials.client_id,
        credentials.client_secret,
        credentials.jwt
    );
    println!("snapshots {} api_key={}", sandbox.snapshots_url(), credentials.snapshots_api_key);
    stop.await;
    eprintln!("snapsync-sandbox: stopping");
    sandbox.stop().await;
    Ok(())
}

/// A future that resolves on SIGTERM or SIGINT; the handlers are in place once this returns.
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    })
}
