//! Relay configuration (library API; the binary fills it from its flags).
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where the relay keeps its state. The relay holds nothing else: several
/// processes on one PostgreSQL database serve the same workspaces.
#[derive(Clone, PartialEq, Eq)]
pub enum Backend {
    /// A directory holding `relay.db` (created if missing). One process.
    Sqlite(PathBuf),
    /// A PostgreSQL URL, e.g. `postgres://relay@10.0.0.5:5432/fieldvault`.
    /// No TLS: use it on loopback or a private network (see docs/relay.md).
    Postgres(String),
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(dir) => f.debug_tuple("Sqlite").field(dir).finish(),
            // The URL may hold a password.
            Self::Postgres(_) => f.write_str("Postgres(..)"),
        }
    }
}

/// Smallest accepted body memory budget: one device's whole share (two
/// full entry batches), so that what one honest device sends at once fits.
pub const MIN_BODY_MEMORY: usize = crate::body_budget::PER_DEVICE_BYTES;

/// Smallest accepted operator token, in bytes.
pub const MIN_OPERATOR_TOKEN_LEN: usize = 16;

#[derive(Clone)]
pub struct RelayConfig {
    pub listen: SocketAddr,
    pub backend: Backend,
    /// Bearer token that allows creating workspaces. Only its SHA-256 is kept
    /// once the relay runs.
    pub operator_token: String,
    /// Whole-request time limit (default 30 s).
    pub request_timeout: Duration,
    /// PostgreSQL connections per relay process (default 16).
    pub postgres_pool_size: usize,
    /// Memory that signed request bodies may hold at once in this process
    /// (default 256 MiB, at least [`MIN_BODY_MEMORY`]); see `body_budget`.
    pub max_body_memory: usize,
    /// How long a request waits for room in that budget before a `503 busy`
    /// (default 5 s).
    pub body_memory_wait: Duration,
}

impl RelayConfig {
    pub fn new(listen: SocketAddr, backend: Backend, operator_token: impl Into<String>) -> Self {
        Self {
            listen,
            backend,
            operator_token: operator_token.into(),
            request_timeout: Duration::from_secs(30),
            postgres_pool_size: 16,
            max_body_memory: 256 * 1024 * 1024,
            body_memory_wait: Duration::from_secs(5),
        }
    }
}

impl fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayConfig")
            .field("listen", &self.listen)
            .field("backend", &self.backend)
            .field("operator_token", &"<redacted>")
            .field("request_timeout", &self.request_timeout)
            .field("postgres_pool_size", &self.postgres_pool_size)
            .field("max_body_memory", &self.max_body_memory)
            .field("body_memory_wait", &self.body_memory_wait)
            .finish()
    }
}
