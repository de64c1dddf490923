//! The sandbox's credentials. These are not secrets: they only open the stand-ins, and
//! they are printed by `snapsync-sandbox` and documented in its `--help` and the README.

/// Default RingCentral client id of the sandbox app.
pub const DEFAULT_CLIENT_ID: &str = "sandbox-client-id";
/// Default RingCentral client secret of the sandbox app.
pub const DEFAULT_CLIENT_SECRET: &str = "sandbox-client-secret";
/// Default JWT credential (the assertion the JWT bearer grant accepts); it logs in as the
/// account's admin user, extension 101.
pub const DEFAULT_JWT: &str = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzYW5kYm94LWFkbWluIn0.sandbox";
/// Default Snapshots API key.
pub const DEFAULT_SNAPSHOTS_API_KEY: &str = "sandbox-snapshots-key";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
    pub jwt: String,
    pub snapshots_api_key: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            jwt: DEFAULT_JWT.into(),
            snapshots_api_key: DEFAULT_SNAPSHOTS_API_KEY.into(),
        }
    }
}
