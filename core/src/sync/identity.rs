//! A device's signing identity: an Ed25519 key made on the device. Only the
//! public key ever leaves it; the PKCS#8 document is stored sealed in the vault.
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

pub struct DeviceIdentity {
    pkcs8: Zeroizing<Vec<u8>>,
    pair: Ed25519KeyPair,
}

impl DeviceIdentity {
    pub fn generate() -> Result<Self> {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| Error::Crypto("could not generate a signing key".into()))?;
        Self::from_pkcs8(doc.as_ref())
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
            .map_err(|_| Error::Corrupted("the device signing key".into()))?;
        Ok(Self {
            pkcs8: Zeroizing::new(pkcs8.to_vec()),
            pair,
        })
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn public_key(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }
}

/// Verifies an Ed25519 signature.
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(message, signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_round_trips_through_pkcs8() {
        let id = DeviceIdentity::generate().expect("generate");
        let again = DeviceIdentity::from_pkcs8(id.pkcs8()).expect("reload");
        assert_eq!(id.public_key(), again.public_key());
        let sig = again.sign(b"message");
        assert!(verify(&id.public_key(), b"message", &sig));
        assert!(!verify(&id.public_key(), b"messagf", &sig));
        assert!(DeviceIdentity::from_pkcs8(b"junk").is_err());
    }
}
