//! The seam to platform keystores.
//!
//! A `KeyProvider` wraps and unwraps the vault's root key. On Android it is backed
//! by a non-exportable Android Keystore key, on iOS by the Keychain / Secure
//! Enclave; on desktops and in tests by [`crate::crypto::PassphraseKeyProvider`].
//! The provider never sees anything but the 32-byte root key, and its own key
//! never leaves the keystore.

/// Why a provider could not wrap or unwrap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProviderError {
    /// The wrapped blob does not open with this provider's key (wrong passphrase,
    /// another device's keystore, a tampered blob).
    #[error("the key provider could not unwrap the vault key (wrong key or passphrase)")]
    WrongKey,
    /// The keystore is not available now (locked device, user cancelled, hardware error).
    #[error("the key provider is unavailable: {0}")]
    Unavailable(String),
}

/// Wraps the root key for storage and unwraps it at unlock.
///
/// Implementations must be deterministic in what they accept: `unwrap(wrap(k)) == k`,
/// and `unwrap` of anything else fails with `WrongKey` (authenticated encryption).
pub trait KeyProvider: Send + Sync {
    fn wrap(&self, key: &[u8]) -> Result<Vec<u8>, KeyProviderError>;
    fn unwrap(&self, wrapped: &[u8]) -> Result<Vec<u8>, KeyProviderError>;
}
