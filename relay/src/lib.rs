//! FieldVault sync relay (`docs/protocol.md`, `docs/relay.md`): stores and
//! forwards ciphertext between the enrolled devices of a workspace. It holds
//! public keys, opaque ids and sealed bytes — no key that opens anything — and
//! no state outside its database, so several processes can share one
//! PostgreSQL database.
//!
//! Embedding:
//! ```no_run
//! # async fn demo() -> Result<(), fieldvault_relay::StartError> {
//! use fieldvault_relay::{Backend, RelayConfig};
//! let config = RelayConfig::new(
//!     "127.0.0.1:0".parse().expect("address"),
//!     Backend::Sqlite("/tmp/relay-data".into()),
//!     "a-long-random-operator-token",
//! );
//! let relay = fieldvault_relay::start(config).await?;
//! println!("listening on http://{}", relay.local_addr());
//! relay.shutdown().await?;
//! # Ok(())
//! # }
//! ```
pub mod auth;
pub mod body_budget;
pub mod config;
pub mod error;
pub mod extract;
pub mod messages;
pub mod routes;
pub mod server;
pub mod store;

pub use config::{Backend, RelayConfig};
pub use error::ApiError;
pub use server::{start, RunningRelay, StartError};
pub use store::sqlite::DB_FILE;
