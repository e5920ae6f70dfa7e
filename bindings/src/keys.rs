//! The platform keystore seam.
//!
//! Kotlin and Swift implement `KeyProvider` with the platform keystore
//! (Android Keystore, iOS Keychain / Secure Enclave). The keystore's own key
//! never leaves the keystore: the provider receives the vault's 32-byte root
//! key only to wrap it when a vault is created, and returns it only when
//! unwrapping at unlock. Only the wrapped blob is ever stored. The core keeps
//! the unwrapped key in a zeroizing buffer; implementations should zero their
//! copies (`ByteArray.fill(0)`, `resetBytes`). The transfer buffers uniffi
//! allocates for the call are freed without zeroing (documented limit,
//! `docs/adr/0005-ffi-bindings.md`).
use std::sync::Arc;

use crate::error::KeyProviderError;

/// Wraps and unwraps the vault's root key with a key held by the platform.
///
/// `unwrap(wrap(k))` must return `k`, and `unwrap` of anything else must fail
/// with `KeyProviderError.WrongKey` (use authenticated encryption, e.g. AES-GCM).
#[uniffi::export(with_foreign)]
pub trait KeyProvider: Send + Sync {
    /// Encrypts `key` (32 bytes) for storage.
    fn wrap(&self, key: Vec<u8>) -> Result<Vec<u8>, KeyProviderError>;
    /// Decrypts a blob produced by `wrap`.
    fn unwrap(&self, wrapped: Vec<u8>) -> Result<Vec<u8>, KeyProviderError>;
}

/// Adapts a foreign provider to the core's trait.
pub(crate) struct ForeignKeys(pub Arc<dyn KeyProvider>);

impl fieldvault::KeyProvider for ForeignKeys {
    fn wrap(&self, key: &[u8]) -> Result<Vec<u8>, fieldvault::KeyProviderError> {
        self.0.wrap(key.to_vec()).map_err(Into::into)
    }

    fn unwrap(&self, wrapped: &[u8]) -> Result<Vec<u8>, fieldvault::KeyProviderError> {
        // The core wraps the result in `Zeroizing` itself.
        self.0.unwrap(wrapped.to_vec()).map_err(Into::into)
    }
}
