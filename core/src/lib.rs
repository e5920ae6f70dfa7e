//! FieldVault core: an offline-first store of Automerge documents, sealed with
//! AES-256-GCM in SQLite, for municipal field work (tax help, bear sightings,
//! disaster damage).
//!
//! Layers, bottom up:
//! - [`crypto`]: AEAD, key hierarchy, passphrase provider (ring + Argon2id).
//! - [`store`]: SQLite rows holding only ciphertext and keyed hashes.
//! - [`model`]: the three document kinds as typed structs (autosurgeon).
//! - [`vault`]: the public API tying them together.
//!
//! Start with [`Vault::create`] / [`Vault::open`].
pub mod clock;
pub mod crypto;
pub mod error;
pub mod key_provider;
pub mod model;
mod mutex;
mod parallel;
pub mod photo;
pub mod sample_data;
pub mod store;
pub mod sync;
pub mod vault;

pub use clock::{Clock, ManualClock, SystemClock};
pub use crypto::{Argon2Params, PassphraseKeyProvider};
pub use error::{Error, Result};
pub use key_provider::{KeyProvider, KeyProviderError};
pub use vault::{
    DocumentSummary, HistoryEntry, ListFilter, Listing, PhotoVariant, RetentionRule,
    RetentionRules, SyncSettings, Vault, VaultOptions, DB_FILE,
};
