//! The key hierarchy.
//!
//! ```text
//! KeyProvider (platform keystore / passphrase)
//!   └─ wraps RootKey (random 256 bit, one per vault)
//!        ├─ HKDF "lookup"      → HMAC-SHA256 key for row ids (keyed hashes)
//!        ├─ HKDF "doc-keys"    → AES-256-GCM key wrapping per-document keys
//!        ├─ HKDF "secrets"     → AES-256-GCM key wrapping per-secret keys (My Number)
//!        └─ HKDF "vault-meta"  → AES-256-GCM key for vault metadata and the key check
//!   DocKey (random 256 bit, one per document) seals its header, changes,
//!   snapshots and photo chunks. Destroying the wrapped DocKey shreds the document.
//! ```
//! Raw key bytes live in [`zeroize::Zeroizing`] buffers and are wiped on drop.
use ring::{hkdf, hmac};
use zeroize::Zeroizing;

use super::{aead::SealKey, random};
use crate::error::{Error, Result};

pub const KEY_LEN: usize = 32;

/// The vault's random root key. Never stored in the clear; only wrapped by a `KeyProvider`.
pub struct RootKey(Zeroizing<[u8; KEY_LEN]>);

impl RootKey {
    pub fn generate() -> Result<Self> {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        random::fill(k.as_mut())?;
        Ok(Self(k))
    }

    /// Takes unwrapped key bytes from a provider; anything but 32 bytes is a wrong key.
    pub fn from_unwrapped(bytes: &[u8]) -> Result<Self> {
        let array: [u8; KEY_LEN] = bytes.try_into().map_err(|_| Error::WrongKey)?;
        Ok(Self(Zeroizing::new(array)))
    }

    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Derives the working keys once per unlock.
    pub fn derive(&self) -> Result<VaultKeys> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"fieldvault/v1/root").extract(&self.0[..]);
        let lookup = derive_bytes(&prk, b"lookup")?;
        Ok(VaultKeys {
            lookup: hmac::Key::new(hmac::HMAC_SHA256, &lookup[..]),
            doc_keys: SealKey::new(&*derive_bytes(&prk, b"doc-keys")?)?,
            secrets: SealKey::new(&*derive_bytes(&prk, b"secrets")?)?,
            meta: SealKey::new(&*derive_bytes(&prk, b"vault-meta")?)?,
        })
    }
}

fn derive_bytes(prk: &hkdf::Prk, label: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let info = [label];
    let okm = prk
        .expand(&info, hkdf::HKDF_SHA256)
        .map_err(|_| Error::Crypto("HKDF expand failed".into()))?;
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    okm.fill(out.as_mut())
        .map_err(|_| Error::Crypto("HKDF fill failed".into()))?;
    Ok(out)
}

/// Working keys derived from the root key when the vault is unlocked.
pub struct VaultKeys {
    lookup: hmac::Key,
    pub doc_keys: SealKey,
    pub secrets: SealKey,
    pub meta: SealKey,
}

impl VaultKeys {
    /// Keyed hash used as a row id: `HMAC-SHA256(lookup, domain || 0 || value)`.
    pub fn lookup(&self, domain: &[u8], value: &[u8]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.lookup);
        ctx.update(domain);
        ctx.update(&[0]);
        ctx.update(value);
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

/// A per-document (or per-secret) content key.
pub struct DocKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    seal: SealKey,
}

impl DocKey {
    pub fn generate() -> Result<Self> {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        random::fill(k.as_mut())?;
        Self::from_bytes(k)
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Self::from_bytes(Zeroizing::new(array)).ok()
    }

    fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> Result<Self> {
        let seal = SealKey::new(&bytes)?;
        Ok(Self { bytes, seal })
    }

    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    pub fn sealer(&self) -> &SealKey {
        &self.seal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_are_distinct_and_deterministic() {
        let root = RootKey::from_unwrapped(&[1u8; 32]).expect("root");
        let a = root.derive().expect("derive");
        let b = root.derive().expect("derive");
        assert_eq!(a.lookup(b"doc", b"x"), b.lookup(b"doc", b"x"));
        assert_ne!(a.lookup(b"doc", b"x"), a.lookup(b"doc", b"y"));
        assert_ne!(a.lookup(b"doc", b"x"), a.lookup(b"secret", b"x"));
        let other = RootKey::from_unwrapped(&[2u8; 32]).expect("root");
        assert_ne!(
            other.derive().expect("derive").lookup(b"doc", b"x"),
            a.lookup(b"doc", b"x")
        );
    }

    #[test]
    fn wrong_length_root_is_wrong_key() {
        assert!(matches!(
            RootKey::from_unwrapped(&[0u8; 31]),
            Err(Error::WrongKey)
        ));
    }
}
