//! The two write targets of a worker (`snapsync::mode`): the live context and the test one,
//! and the pick before each job: one `GET {prefix}:mode`. A change is logged once per process.

use std::sync::Arc;

use snapsync::config::Config;
use snapsync::mode::{self, Mode, Watch};

use super::{Context, SetupError};

pub struct Targets {
    live: Arc<Context>,
    test: Arc<Context>,
    watch: Watch,
    /// The mode of the configuration, used while Redis cannot say (before the first read).
    fallback: std::sync::Mutex<Mode>,
}

impl Targets {
    /// Both contexts from `live` (built by [`Context::from_config`]); seeds the stored mode
    /// from `sync.mode` when it is unset and logs the mode in force.
    pub async fn new(live: Context, config: &Config) -> Result<Targets, SetupError> {
        let test = live.for_test_target(config)?;
        let targets = Targets {
            live: Arc::new(live),
            test: Arc::new(test),
            watch: Watch::default(),
            fallback: std::sync::Mutex::new(config.sync.mode),
        };
        match mode::seed(&targets.live.redis, &targets.live.prefix, config.sync.mode).await {
            Ok(m) => targets.seen(m),
            Err(e) => tracing::warn!(error = %e, "cannot read the mode from redis; the next job reads it again"),
        }
        Ok(targets)
    }

    /// The context of the mode in force now (when Redis cannot tell, the mode last seen), with
    /// a mapping saved since the last job picked up.
    pub async fn pick(&self) -> Arc<Context> {
        // The mode and the saved mapping's version (shared by both targets) are read at once:
        // two commands on the multiplexed connection, one round trip of waiting.
        let (read, ()) = tokio::join!(mode::get(&self.live.redis, &self.live.prefix), self.live.refresh_mapping());
        let m = match read {
            Ok(Some(m)) => {
                self.seen(m);
                m
            }
            Ok(None) => *self.fallback.lock().unwrap_or_else(|e| e.into_inner()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the mode; using the mode last seen");
                *self.fallback.lock().unwrap_or_else(|e| e.into_inner())
            }
        };
        match m {
            Mode::Live => self.live.clone(),
            Mode::Test => self.test.clone(),
        }
    }

    fn seen(&self, m: Mode) {
        *self.fallback.lock().unwrap_or_else(|e| e.into_inner()) = m;
        self.watch.observe(m, "worker");
    }
}
