//! The one public error type, and the mapping from the core's.
//!
//! Pattern (as in Mozilla's application-services): the core keeps its own
//! detailed `fieldvault::Error`; the boundary exposes `FieldVaultError`, whose
//! variants are what an app can act on and whose messages are the core's —
//! which name what failed and never a stored value, key or token. The mapping
//! is one `From` impl, so every exported function just uses `?`.
//!
//! The enum is a *flat* uniffi error: Kotlin gets `FieldVaultException.WrongKey`
//! etc., Swift `FieldVaultError.WrongKey(message:)`, each carrying the message.
//! Structured validation results are available without an exception through
//! `FieldVault.validate*` (field paths and rule codes).
//!
//! A panic anywhere below an exported function is caught by uniffi's call
//! wrapper (`rust_call` / the `RustFuture` poll, both `catch_unwind`) and
//! raised as the generated `InternalException` (Kotlin) /
//! `FfiConverterError` path (Swift); the Kotlin suite proves it with
//! `force_panic_for_tests`. That requires `panic = "unwind"`, which the
//! release profile keeps.

/// Every failure the bindings report.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum FieldVaultError {
    /// The key provider could not unwrap the vault key: wrong passphrase or keystore key.
    #[error("wrong key or passphrase: the vault could not be unlocked")]
    WrongKey,
    /// The key provider failed for another reason (locked device, cancelled prompt).
    #[error("the key provider is unavailable: {0}")]
    KeyUnavailable(String),
    /// The directory does not hold a FieldVault vault.
    #[error("not a FieldVault vault: {0}")]
    NotAVault(String),
    /// `create` found a vault already there.
    #[error("a vault already exists at {0}")]
    AlreadyExists(String),
    /// The vault was written by a newer version of the library.
    #[error("{0}")]
    UnsupportedVersion(String),
    /// Stored data failed authentication: corruption or tampering of the named item only.
    #[error("{0} is corrupted or was tampered with")]
    Corrupted(String),
    /// No document with this id.
    #[error("{0}")]
    NotFound(String),
    /// The document is of another kind than the call expects.
    #[error("{0}")]
    WrongKind(String),
    /// Field validation failed; the message lists field paths and rule codes, never values.
    #[error("invalid document: {0}")]
    Validation(String),
    /// An argument is malformed (an id, a timestamp, a QR text, an option).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The document is locked (for example by an expired offline lease).
    #[error("{0}")]
    Locked(String),
    /// The relay could not be reached or the transfer broke off; retry later.
    #[error("network error: {0}")]
    Network(String),
    /// The relay answered but cannot serve now: it timed out (408), is rate
    /// limiting (429), busy or failing (5xx). Retry later, with backoff.
    #[error("{0}")]
    RelayUnavailable(String),
    /// The relay refused the request for good (a used enrollment code, an
    /// unknown device, a clock too far off, a member on an admin route...).
    /// Retrying the same request will not help until something changes; the
    /// message names the HTTP status and the relay's error code.
    #[error("{0}")]
    Relay(String),
    /// This device was revoked by the workspace admin; its vault has been wiped.
    #[error("this device has been revoked")]
    Revoked,
    /// The workspace's new key has not reached this device yet (the admin
    /// device sends it); changes stay queued. Retry later.
    #[error("{0}")]
    AwaitingKey(String),
    /// A photo could not be accepted (format, size, truncation, malformed data).
    #[error("{0}")]
    Photo(String),
    /// The operation was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// Storage failed (disk full, I/O error, busy).
    #[error("storage error: {0}")]
    Storage(String),
    /// A cryptographic operation failed unexpectedly.
    #[error("cryptographic failure: {0}")]
    Crypto(String),
    /// A bug in FieldVault: an internal invariant did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<fieldvault::Error> for FieldVaultError {
    fn from(e: fieldvault::Error) -> Self {
        use fieldvault::Error as E;
        // The core's messages are safe to show (they never contain values);
        // variants that carry their own wording keep the core's full text.
        let text = e.to_string();
        match e {
            E::WrongKey => Self::WrongKey,
            E::KeyUnavailable(why) => Self::KeyUnavailable(why),
            E::NotAVault(why) => Self::NotAVault(why),
            E::AlreadyExists(path) => Self::AlreadyExists(path),
            E::UnsupportedVersion { .. } => Self::UnsupportedVersion(text),
            E::Corrupted(what) => Self::Corrupted(what),
            E::NotFound(_) => Self::NotFound(text),
            E::WrongKind { .. } => Self::WrongKind(text),
            E::Validation(errors) => Self::Validation(errors.to_string()),
            E::InvalidInput(why) => Self::InvalidInput(why),
            E::Locked(_) => Self::Locked(text),
            E::Network(why) => Self::Network(why),
            E::Relay { .. } if e.is_relay_unavailable() => Self::RelayUnavailable(text),
            E::Relay { .. } => Self::Relay(text),
            E::Revoked => Self::Revoked,
            E::AwaitingKey { .. } => Self::AwaitingKey(text),
            E::Photo(_) => Self::Photo(text),
            E::Cancelled => Self::Cancelled,
            E::Storage(why) | E::Io(why) => Self::Storage(why),
            E::Crypto(why) => Self::Crypto(why),
            E::Internal(why) => Self::Internal(why),
            // The core's enum is non-exhaustive: a variant added later is
            // reported with its own message until it gets a public variant.
            _ => Self::Internal(text),
        }
    }
}

/// Why a platform key provider could not wrap or unwrap (thrown by Kotlin /
/// Swift implementations of `KeyProvider`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum KeyProviderError {
    /// The blob does not open with this provider's key (another device, a tampered blob).
    #[error("the key provider could not unwrap the vault key")]
    WrongKey,
    /// The keystore is not usable now (locked device, user cancelled, hardware error).
    #[error("the key provider is unavailable: {reason}")]
    Unavailable { reason: String },
}

/// A foreign implementation that threw something other than
/// `KeyProviderException` is reported as unavailable (its message kept).
impl From<uniffi::UnexpectedUniFFICallbackError> for KeyProviderError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Unavailable { reason: e.reason }
    }
}

impl From<KeyProviderError> for fieldvault::KeyProviderError {
    fn from(e: KeyProviderError) -> Self {
        match e {
            KeyProviderError::WrongKey => fieldvault::KeyProviderError::WrongKey,
            KeyProviderError::Unavailable { reason } => {
                fieldvault::KeyProviderError::Unavailable(reason)
            }
        }
    }
}

pub type Result<T, E = FieldVaultError> = std::result::Result<T, E>;
