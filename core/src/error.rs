//! The public error type.
//!
//! Variants are what an app can act on (ask for the passphrase again, show a
//! field error, report a damaged document). Messages name what failed, never a
//! stored value, key or token. Low-level causes (SQLite, Automerge) are kept as
//! text for diagnostics; they never contain document contents because every
//! value SQLite sees is already ciphertext.
use crate::model::{DocumentId, DocumentKind, ValidationErrors};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key provider could not unwrap the root key: wrong passphrase or keystore key.
    #[error("wrong key or passphrase: the vault could not be unlocked")]
    WrongKey,

    /// The key provider failed for a reason other than a wrong key.
    #[error("the key provider is unavailable: {0}")]
    KeyUnavailable(String),

    /// The path does not hold a FieldVault vault (missing, not SQLite, or another schema).
    #[error("not a FieldVault vault: {0}")]
    NotAVault(String),

    /// A vault already exists where `create` was asked to make one.
    #[error("a vault already exists at {0}")]
    AlreadyExists(String),

    /// The vault was written by a newer format this library cannot read.
    #[error(
        "vault format version {found} is not supported (this library reads up to {supported})"
    )]
    UnsupportedVersion { found: u32, supported: u32 },

    /// Stored data failed authentication or is inconsistent: corruption or tampering.
    /// Only the named item is affected; everything else stays readable.
    #[error("{0} is corrupted or was tampered with")]
    Corrupted(String),

    #[error("document {0} was not found")]
    NotFound(DocumentId),

    #[error("document {id} is a {actual} document, not a {expected} document")]
    WrongKind {
        id: DocumentId,
        expected: DocumentKind,
        actual: DocumentKind,
    },

    /// Field-level validation errors; nothing was stored.
    #[error("invalid document: {0}")]
    Validation(#[from] ValidationErrors),

    /// Input that is not a document field (an id, a change set, an option).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// The document is locked (for example by an expired offline lease).
    #[error("document {0} is locked")]
    Locked(DocumentId),

    /// The relay could not be reached or the transfer broke off; retry later.
    #[error("network error: {0}")]
    Network(String),

    /// The relay refused a request.
    #[error("the relay refused the request ({status} {code}): {message}")]
    Relay {
        status: u16,
        code: String,
        message: String,
    },

    /// This device has been revoked by the workspace admin.
    #[error("this device has been revoked")]
    Revoked,

    /// The workspace moved to a key epoch whose key has not reached this
    /// device yet (the admin device sends it). Nothing is sealed under an
    /// older key meanwhile: changes stay queued, and entries sealed under the
    /// missing key are pulled again once it arrives. Retry later.
    #[error(
        "waiting for the workspace key of epoch {epoch} from the admin device; changes stay queued"
    )]
    AwaitingKey { epoch: u32 },

    /// A photo could not be accepted (format, size, truncation, malformed data).
    #[error(transparent)]
    Photo(#[from] crate::photo::PhotoError),

    /// The operation was cancelled.
    #[error("cancelled")]
    Cancelled,

    /// The SQLite layer failed (disk full, I/O error, busy).
    #[error("storage error: {0}")]
    Storage(String),

    /// A file-system operation failed.
    #[error("I/O error: {0}")]
    Io(String),

    /// A cryptographic operation failed unexpectedly (not an authentication failure).
    #[error("cryptographic failure: {0}")]
    Crypto(String),

    /// A bug in FieldVault: an internal invariant did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Whether the relay *answered* but only for now: it timed out (408),
    /// is rate limiting (429) or is failing or busy (5xx). Retrying later
    /// can succeed, as after a [`Error::Network`]; any other refusal needs
    /// something to change first (a new enrollment code, a fixed clock, an
    /// admin's action), so a background scheduler should not retry it in a
    /// tight loop.
    pub fn is_relay_unavailable(&self) -> bool {
        matches!(self, Error::Relay { status, .. } if *status == 408 || *status == 429 || *status >= 500)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => {
                Error::NotAVault("the file is not an SQLite database".into())
            }
            Some(ErrorCode::DatabaseCorrupt) => Error::Corrupted("the database file".into()),
            _ => Error::Storage(e.to_string()),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

impl From<crate::key_provider::KeyProviderError> for Error {
    fn from(e: crate::key_provider::KeyProviderError) -> Self {
        match e {
            crate::key_provider::KeyProviderError::WrongKey => Error::WrongKey,
            crate::key_provider::KeyProviderError::Unavailable(why) => Error::KeyUnavailable(why),
        }
    }
}
