//! Cryptographic building blocks, all from `ring` (plus Argon2id for passphrases).
//!
//! Nothing here invents a primitive: AES-256-GCM seals, HKDF-SHA256 derives,
//! HMAC-SHA256 hashes lookups. See `docs/security.md` for the key hierarchy.
pub mod aead;
pub mod keys;
pub mod passphrase;
pub mod random;

pub use aead::{Aad, SealKey, NONCE_LEN, TAG_LEN};
pub use keys::{DocKey, RootKey, VaultKeys, KEY_LEN};
pub use passphrase::{Argon2Params, PassphraseKeyProvider};
