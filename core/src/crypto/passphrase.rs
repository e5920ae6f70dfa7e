//! A `KeyProvider` for desktops, the CLI and tests: Argon2id over a passphrase.
//!
//! Wrapped layout (all integers big-endian):
//! `"FVPW" | version u8 (1) | m_kib u32 | t u32 | p u32 | salt [16] | AES-256-GCM(nonce || ct || tag)`,
//! with everything before the sealed part as associated data, so the cost
//! parameters cannot be lowered by editing the file.
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use super::aead::{Aad, SealKey};
use super::random;
use crate::key_provider::{KeyProvider, KeyProviderError};

const MAGIC: &[u8; 4] = b"FVPW";
const VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const HEADER_LEN: usize = 4 + 1 + 4 * 3 + SALT_LEN;

/// Argon2id cost. The default (64 MiB, 3 passes, 1 lane) fits a phone's memory
/// budget and follows RFC 9106's second recommended option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

impl Argon2Params {
    /// Cheap parameters for tests only (8 MiB, 1 pass). Never use for real data.
    pub fn insecure_for_tests() -> Self {
        Self {
            memory_kib: 8 * 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    /// Upper bounds accepted when reading a stored blob: a tampered file must not
    /// make unlocking allocate gigabytes.
    fn within_bounds(&self) -> bool {
        (8..=256 * 1024).contains(&self.memory_kib)
            && (1..=16).contains(&self.iterations)
            && (1..=8).contains(&self.parallelism)
    }
}

/// Derives a key-encryption key from a passphrase with Argon2id.
pub struct PassphraseKeyProvider {
    passphrase: Zeroizing<String>,
    params: Argon2Params,
}

impl PassphraseKeyProvider {
    pub fn new(passphrase: impl Into<String>) -> Self {
        Self::with_params(passphrase, Argon2Params::default())
    }

    pub fn with_params(passphrase: impl Into<String>, params: Argon2Params) -> Self {
        Self {
            passphrase: Zeroizing::new(passphrase.into()),
            params,
        }
    }

    fn derive_kek(&self, params: Argon2Params, salt: &[u8]) -> Result<SealKey, KeyProviderError> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(32),
        )
        .map_err(|e| KeyProviderError::Unavailable(format!("invalid Argon2 parameters: {e}")))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
        let mut kek = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(self.passphrase.as_bytes(), salt, kek.as_mut())
            .map_err(|e| KeyProviderError::Unavailable(format!("Argon2 failed: {e}")))?;
        SealKey::new(&kek).map_err(|e| KeyProviderError::Unavailable(e.to_string()))
    }
}

fn aad(header: &[u8]) -> Aad<'_> {
    Aad {
        table: b"passphrase-wrap",
        row: header,
        seq: 0,
    }
}

impl KeyProvider for PassphraseKeyProvider {
    fn wrap(&self, key: &[u8]) -> Result<Vec<u8>, KeyProviderError> {
        let salt = random::bytes::<SALT_LEN>()
            .map_err(|e| KeyProviderError::Unavailable(e.to_string()))?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.push(VERSION);
        for v in [
            self.params.memory_kib,
            self.params.iterations,
            self.params.parallelism,
        ] {
            header.extend_from_slice(&v.to_be_bytes());
        }
        header.extend_from_slice(&salt);
        let kek = self.derive_kek(self.params, &salt)?;
        let sealed = kek
            .seal(aad(&header), key)
            .map_err(|e| KeyProviderError::Unavailable(e.to_string()))?;
        header.extend_from_slice(&sealed);
        Ok(header)
    }

    fn unwrap(&self, wrapped: &[u8]) -> Result<Vec<u8>, KeyProviderError> {
        if wrapped.len() < HEADER_LEN || &wrapped[..4] != MAGIC || wrapped[4] != VERSION {
            return Err(KeyProviderError::WrongKey);
        }
        let (header, sealed) = wrapped.split_at(HEADER_LEN);
        let read_u32 = |at: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&header[at..at + 4]);
            u32::from_be_bytes(b)
        };
        let params = Argon2Params {
            memory_kib: read_u32(5),
            iterations: read_u32(9),
            parallelism: read_u32(13),
        };
        if !params.within_bounds() {
            return Err(KeyProviderError::WrongKey);
        }
        let kek = self.derive_kek(params, &header[17..])?;
        kek.open(aad(header), sealed)
            .ok_or(KeyProviderError::WrongKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(p: &str) -> PassphraseKeyProvider {
        PassphraseKeyProvider::with_params(p, Argon2Params::insecure_for_tests())
    }

    #[test]
    fn wraps_and_unwraps() {
        let p = provider("correct horse");
        let wrapped = p.wrap(&[9u8; 32]).expect("wrap");
        assert_eq!(p.unwrap(&wrapped).expect("unwrap"), vec![9u8; 32]);
        assert_ne!(p.wrap(&[9u8; 32]).expect("wrap"), wrapped, "fresh salt");
    }

    #[test]
    fn wrong_passphrase_or_tampering_is_wrong_key() {
        let wrapped = provider("right").wrap(&[9u8; 32]).expect("wrap");
        assert_eq!(
            provider("wrong").unwrap(&wrapped),
            Err(KeyProviderError::WrongKey)
        );
        // Lowering the cost parameters in the file breaks authentication.
        let mut cheaper = wrapped.clone();
        cheaper[11] ^= 1; // iterations
        assert_eq!(
            provider("right").unwrap(&cheaper),
            Err(KeyProviderError::WrongKey)
        );
        // Absurd parameters are refused before any work.
        let mut huge = wrapped.clone();
        huge[5..9].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            provider("right").unwrap(&huge),
            Err(KeyProviderError::WrongKey)
        );
        assert_eq!(
            provider("right").unwrap(b"garbage"),
            Err(KeyProviderError::WrongKey)
        );
    }
}
