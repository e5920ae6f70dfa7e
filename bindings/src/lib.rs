//! Kotlin and Swift bindings for FieldVault (uniffi 0.32, proc-macros).
//!
//! A thin layer over the `fieldvault` core with no logic of its own:
//! - [`vault::FieldVault`]: open/create with a platform [`keys::KeyProvider`],
//!   the three document kinds as typed records, listing, history, photos,
//!   My Number, workspace enrollment and admin operations;
//! - [`sync::SyncEngine`]: async passes, the background loop, connectivity,
//!   state and progress listeners; [`sync::PairingSession`] for the admin;
//! - [`logging`]: the core's `tracing` events to Logcat / os_log (level,
//!   target and message only);
//! - [`error::FieldVaultError`]: the one public error.
//!
//! No panic crosses the boundary: uniffi catches it in every exported call
//! (`catch_unwind`, which needs `panic = "unwind"`) and raises an internal
//! error in Kotlin/Swift. See `docs/adr/0005-ffi-bindings.md`.
uniffi::setup_scaffolding!();

pub mod error;
pub mod keys;
pub mod logging;
pub mod sync;
pub mod types;
pub mod vault;

pub use error::{FieldVaultError, KeyProviderError};
pub use vault::FieldVault;

use fieldvault::model::{BearSighting, DamageReport, Envelope, TaxAssist};

/// The library version, for an app's "about" screen.
#[uniffi::export]
pub fn library_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// A fully filled, fictional tax-help form on `envelope` (demos, sample app).
#[uniffi::export]
pub fn sample_tax_assist(envelope: Envelope) -> Result<TaxAssist, FieldVaultError> {
    Ok(fieldvault::sample_data::tax_assist(envelope))
}

/// A fully filled, fictional bear sighting on `envelope`.
#[uniffi::export]
pub fn sample_bear_sighting(envelope: Envelope) -> Result<BearSighting, FieldVaultError> {
    Ok(fieldvault::sample_data::bear_sighting(envelope))
}

/// A fully filled, fictional damage report on `envelope`.
#[uniffi::export]
pub fn sample_damage_report(envelope: Envelope) -> Result<DamageReport, FieldVaultError> {
    Ok(fieldvault::sample_data::damage_report(envelope))
}

/// Test-only entry points, compiled in only with the `test-hooks` feature
/// (the desktop Kotlin suite); app builds never contain them.
#[cfg(feature = "test-hooks")]
mod test_hooks {
    use fieldvault::model::{BearSighting, DocumentId};

    use crate::error::{FieldVaultError, Result};
    use crate::FieldVault;

    #[uniffi::export]
    impl FieldVault {
        /// Panics *inside the core*: in the middle of `Vault::update`, while
        /// the core holds the vault's connection lock. The caller must see an
        /// internal-error exception, and the vault must stay usable.
        pub fn force_panic_for_tests(&self, id: DocumentId) -> Result<()> {
            self.vault
                .update::<BearSighting, _>(&id, |_| panic!("forced panic for tests"))?;
            Ok(())
        }
    }

    /// Returns the core error named `variant` through the public mapping, so
    /// the suite can check every variant's exception class and message,
    /// including those no scenario can provoke on a healthy machine.
    #[uniffi::export]
    pub fn core_error_for_tests(variant: String) -> Result<()> {
        use fieldvault::Error as E;
        let id = DocumentId::parse("0190b6a0-0000-7000-8000-000000000001")
            .map_err(|_| FieldVaultError::Internal("bad test id".into()))?;
        let e = match variant.as_str() {
            "WrongKey" => E::WrongKey,
            "KeyUnavailable" => E::KeyUnavailable("keystore locked".into()),
            "NotAVault" => E::NotAVault("no vault.db".into()),
            "AlreadyExists" => E::AlreadyExists("/tmp/v".into()),
            "UnsupportedVersion" => E::UnsupportedVersion {
                found: 9,
                supported: 1,
            },
            "Corrupted" => E::Corrupted("the header of a document".into()),
            "NotFound" => E::NotFound(id),
            "WrongKind" => E::WrongKind {
                id,
                expected: fieldvault::model::DocumentKind::TaxAssist,
                actual: fieldvault::model::DocumentKind::BearSighting,
            },
            "Validation" => E::Validation(fieldvault::model::ValidationErrors(vec![
                fieldvault::model::FieldError::new(
                    "envelope.municipality_code",
                    fieldvault::model::FieldErrorCode::BadCheckDigit,
                    "the check digit does not match",
                ),
            ])),
            "InvalidInput" => E::InvalidInput("bad option".into()),
            "Locked" => E::Locked(id),
            "Network" => E::Network("could not connect to the relay".into()),
            "Relay" => E::Relay {
                status: 403,
                code: "forbidden".into(),
                message: "not allowed".into(),
            },
            "RelayUnavailable" => E::Relay {
                status: 503,
                code: "busy".into(),
                message: "the relay is busy; retry later".into(),
            },
            "Revoked" => E::Revoked,
            "AwaitingKey" => E::AwaitingKey { epoch: 3 },
            "Photo" => E::Photo(fieldvault::photo::PhotoError::Truncated),
            "Cancelled" => E::Cancelled,
            "Storage" => E::Storage("disk full".into()),
            "Io" => E::Io("permission denied".into()),
            "Crypto" => E::Crypto("random source failed".into()),
            "Internal" => E::Internal("invariant".into()),
            other => {
                return Err(FieldVaultError::InvalidInput(format!(
                    "no core error variant named {other}"
                )))
            }
        };
        Err(e.into())
    }
}
