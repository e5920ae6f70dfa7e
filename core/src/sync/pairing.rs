//! Pairing a new device and delivering workspace keys (`docs/protocol.md`).
//!
//! The admin device shows a QR payload holding a fresh enrollment secret and an
//! ephemeral X25519 public key. The new device enrolls at the relay with values
//! derived from the secret (the relay never sees the secret itself) and its own
//! ephemeral X25519 key; the admin checks the binding MAC (so the relay cannot
//! substitute keys), agrees a key and sends the new device its **device key-wrap
//! key** (DKK, random, 256 bit). Every workspace epoch key is then delivered
//! wrapped under the member's DKK and signed by the admin. `ring` offers only
//! ephemeral X25519, so both pairing halves live in memory for the few minutes
//! the two devices are together.
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use ring::rand::SystemRandom;
use ring::{hkdf, hmac};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::identity::{self, DeviceIdentity};
use super::wire::{self, b64, DeviceInfo, DeviceKeys, KeyEnvelope};
use super::workspace_keys::EpochKey;
use crate::crypto::{random, Aad, SealKey};
use crate::error::{Error, Result};

fn pairing_error(why: &str) -> Error {
    Error::InvalidInput(format!("pairing failed: {why}"))
}

fn hkdf_bytes<const N: usize>(ikm: &[u8], salt: &[u8], info: &[u8]) -> Result<Zeroizing<[u8; N]>> {
    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let info = [info];
    let okm = prk
        .expand(&info, Len(N))
        .map_err(|_| Error::Crypto("HKDF expand failed".into()))?;
    let mut out = Zeroizing::new([0u8; N]);
    okm.fill(out.as_mut())
        .map_err(|_| Error::Crypto("HKDF fill failed".into()))?;
    Ok(out)
}

/// The 128-bit secret behind one enrollment code.
pub struct EnrollmentSecret(Zeroizing<[u8; 16]>);

impl EnrollmentSecret {
    pub fn generate() -> Result<Self> {
        Ok(Self(Zeroizing::new(random::bytes::<16>()?)))
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let array: [u8; 16] = bytes
            .try_into()
            .map_err(|_| pairing_error("malformed enrollment secret"))?;
        Ok(Self(Zeroizing::new(array)))
    }

    pub fn expose(&self) -> &[u8; 16] {
        &self.0
    }

    fn derive<const N: usize>(&self, label: &[u8]) -> Result<Zeroizing<[u8; N]>> {
        hkdf_bytes::<N>(self.0.as_ref(), b"fieldvault/enroll/v1", label)
    }

    /// Public id of the code (the relay indexes codes by it).
    pub fn code_id(&self) -> Result<Vec<u8>> {
        Ok(self.derive::<16>(b"id")?.to_vec())
    }

    /// Token the new device shows the relay; the relay stores only its SHA-256.
    pub fn enroll_token(&self) -> Result<Vec<u8>> {
        Ok(self.derive::<32>(b"relay-token")?.to_vec())
    }

    pub fn token_hash(&self) -> Result<Vec<u8>> {
        Ok(
            ring::digest::digest(&ring::digest::SHA256, &self.enroll_token()?)
                .as_ref()
                .to_vec(),
        )
    }

    /// MAC binding a device's public keys to this code; the relay cannot compute it.
    pub fn binding(&self, keys: &DeviceKeys) -> Result<Vec<u8>> {
        let bind = self.derive::<32>(b"bind")?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, bind.as_ref());
        Ok(hmac::sign(&key, &binding_message(keys)).as_ref().to_vec())
    }

    fn verify_binding(&self, keys: &DeviceKeys, mac: &[u8]) -> Result<bool> {
        let bind = self.derive::<32>(b"bind")?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, bind.as_ref());
        Ok(hmac::verify(&key, &binding_message(keys), mac).is_ok())
    }
}

fn binding_message(keys: &DeviceKeys) -> Vec<u8> {
    let mut m = Vec::new();
    for part in [
        keys.device_id.as_bytes(),
        &keys.signing_public,
        &keys.agreement_public,
    ] {
        m.extend_from_slice(&(part.len() as u32).to_be_bytes());
        m.extend_from_slice(part);
    }
    m
}

/// What the admin's screen shows as a QR code. `Debug` leaves out the
/// enrollment secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrPayload {
    pub v: u32,
    pub relay: String,
    pub ws: String,
    #[serde(with = "b64")]
    pub secret: Vec<u8>,
    pub admin_device: String,
    #[serde(with = "b64")]
    pub admin_signing_public: Vec<u8>,
    #[serde(with = "b64")]
    pub admin_agreement_public: Vec<u8>,
}

impl std::fmt::Debug for QrPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QrPayload")
            .field("v", &self.v)
            .field("relay", &self.relay)
            .field("ws", &self.ws)
            .field("secret", &"<redacted>")
            .field("admin_device", &self.admin_device)
            .finish_non_exhaustive()
    }
}

impl QrPayload {
    /// The text to put in the QR code (base64url of JSON).
    pub fn encode(&self) -> String {
        b64::encode(&serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(text: &str) -> Result<Self> {
        let bytes = b64::decode(text.trim())
            .ok_or_else(|| pairing_error("the QR payload is not base64url"))?;
        let payload: Self = serde_json::from_slice(&bytes)
            .map_err(|_| pairing_error("the QR payload is malformed"))?;
        if payload.v != 1 {
            return Err(pairing_error("unsupported QR payload version"));
        }
        Ok(payload)
    }
}

fn envelope_signing_bytes(ws: &str, device_id: &str, epoch: u32, wrapped: &[u8]) -> Vec<u8> {
    let mut m = b"FV-ENV-1".to_vec();
    for part in [ws.as_bytes(), device_id.as_bytes()] {
        m.extend_from_slice(&(part.len() as u32).to_be_bytes());
        m.extend_from_slice(part);
    }
    m.extend_from_slice(&epoch.to_be_bytes());
    m.extend_from_slice(wrapped);
    m
}

fn envelope_row(ws: &str, device_id: &str) -> Vec<u8> {
    let mut row = Vec::new();
    for part in [ws.as_bytes(), device_id.as_bytes()] {
        row.extend_from_slice(&(part.len() as u32).to_be_bytes());
        row.extend_from_slice(part);
    }
    row
}

fn new_ephemeral() -> Result<(EphemeralPrivateKey, Vec<u8>)> {
    let private = EphemeralPrivateKey::generate(&X25519, &SystemRandom::new())
        .map_err(|_| Error::Crypto("could not generate an X25519 key".into()))?;
    let public = private
        .compute_public_key()
        .map_err(|_| Error::Crypto("could not derive an X25519 public key".into()))?;
    Ok((private, public.as_ref().to_vec()))
}

/// Agrees on the DKK-wrapping key for (ws, device).
fn agree(private: EphemeralPrivateKey, peer_public: &[u8], ws: &str) -> Result<SealKey> {
    let peer = UnparsedPublicKey::new(&X25519, peer_public);
    let shared = agreement::agree_ephemeral(private, &peer, |secret| {
        hkdf_bytes::<32>(secret, ws.as_bytes(), b"fieldvault/dkk-wrap/v1")
    })
    .map_err(|_| pairing_error("key agreement failed"))??;
    SealKey::new(&shared)
}

/// Admin side of one pairing. Keep it in memory until the device has enrolled.
pub struct AdminPairing {
    pub secret: EnrollmentSecret,
    private: EphemeralPrivateKey,
    pub agreement_public: Vec<u8>,
}

impl AdminPairing {
    pub fn new() -> Result<Self> {
        let (private, agreement_public) = new_ephemeral()?;
        Ok(Self {
            secret: EnrollmentSecret::generate()?,
            private,
            agreement_public,
        })
    }

    pub fn qr_payload(
        &self,
        relay: &str,
        ws: &str,
        admin_device: &str,
        admin: &DeviceIdentity,
    ) -> QrPayload {
        QrPayload {
            v: 1,
            relay: relay.into(),
            ws: ws.into(),
            secret: self.secret.expose().to_vec(),
            admin_device: admin_device.into(),
            admin_signing_public: admin.public_key(),
            admin_agreement_public: self.agreement_public.clone(),
        }
    }

    /// Checks the enrolled device's binding and wraps its new DKK (epoch 0 envelope).
    pub fn complete(
        self,
        ws: &str,
        admin: &DeviceIdentity,
        admin_device: &str,
        device: &DeviceInfo,
        dkk: &[u8; 32],
    ) -> Result<KeyEnvelope> {
        if !self.secret.verify_binding(&device.keys, &device.binding)? {
            return Err(pairing_error(
                "the enrolled device's keys do not match the enrollment code",
            ));
        }
        let key = agree(self.private, &device.keys.agreement_public, ws)?;
        let row = envelope_row(ws, &device.keys.device_id);
        let wrapped = key.seal(
            Aad {
                table: b"FV-DKK-1",
                row: &row,
                seq: 0,
            },
            dkk,
        )?;
        let signature = admin.sign(&envelope_signing_bytes(
            ws,
            &device.keys.device_id,
            0,
            &wrapped,
        ));
        Ok(KeyEnvelope {
            device_id: device.keys.device_id.clone(),
            epoch: 0,
            from_device: admin_device.into(),
            wrapped,
            signature,
        })
    }
}

/// Device side of one pairing.
pub struct DevicePairing {
    private: EphemeralPrivateKey,
    pub agreement_public: Vec<u8>,
    pub qr: QrPayload,
}

impl DevicePairing {
    pub fn new(qr: QrPayload) -> Result<Self> {
        let (private, agreement_public) = new_ephemeral()?;
        Ok(Self {
            private,
            agreement_public,
            qr,
        })
    }

    pub fn enroll_request(
        &self,
        identity: &DeviceIdentity,
        device_id: &str,
        device_name: &str,
        app_version: &str,
    ) -> Result<wire::Enroll> {
        let secret = EnrollmentSecret::from_slice(&self.qr.secret)?;
        let keys = DeviceKeys {
            device_id: device_id.into(),
            signing_public: identity.public_key(),
            agreement_public: self.agreement_public.clone(),
        };
        let code_id = secret.code_id()?;
        let at_ms = chrono::Utc::now().timestamp_millis();
        let possession = identity.sign(&wire::enroll_possession_bytes(
            &self.qr.ws,
            &code_id,
            &keys,
            at_ms,
        ));
        Ok(wire::Enroll {
            enroll_token: secret.enroll_token()?,
            binding: secret.binding(&keys)?,
            code_id,
            device: keys,
            device_name: device_name.into(),
            app_version: app_version.into(),
            possession: Some(possession),
            possession_at_ms: Some(at_ms),
        })
    }

    /// Verifies the admin's signature and unwraps this device's DKK.
    pub fn complete(self, envelope: &KeyEnvelope, device_id: &str) -> Result<Zeroizing<[u8; 32]>> {
        let ws = self.qr.ws.clone();
        if envelope.epoch != 0 || envelope.device_id != device_id {
            return Err(pairing_error(
                "the key envelope is not this device's pairing envelope",
            ));
        }
        let signed = envelope_signing_bytes(&ws, device_id, 0, &envelope.wrapped);
        if !identity::verify(&self.qr.admin_signing_public, &signed, &envelope.signature) {
            return Err(pairing_error(
                "the key envelope is not signed by the admin device",
            ));
        }
        let key = agree(self.private, &self.qr.admin_agreement_public, &ws)?;
        let row = envelope_row(&ws, device_id);
        let raw = key
            .open(
                Aad {
                    table: b"FV-DKK-1",
                    row: &row,
                    seq: 0,
                },
                &envelope.wrapped,
            )
            .map(Zeroizing::new)
            .ok_or_else(|| pairing_error("the device key could not be unwrapped"))?;
        let array: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| pairing_error("malformed device key"))?;
        Ok(Zeroizing::new(array))
    }
}

/// Wraps an epoch key for one member under that member's DKK, signed by the admin.
pub fn wrap_epoch_key(
    ws: &str,
    device_id: &str,
    epoch: u32,
    dkk: &[u8; 32],
    wck: &EpochKey,
    admin: &DeviceIdentity,
    admin_device: &str,
) -> Result<KeyEnvelope> {
    let row = envelope_row(ws, device_id);
    let wrapped = SealKey::new(dkk)?.seal(
        Aad {
            table: b"FV-WCK-1",
            row: &row,
            seq: u64::from(epoch),
        },
        wck.expose(),
    )?;
    let signature = admin.sign(&envelope_signing_bytes(ws, device_id, epoch, &wrapped));
    Ok(KeyEnvelope {
        device_id: device_id.into(),
        epoch,
        from_device: admin_device.into(),
        wrapped,
        signature,
    })
}

/// Verifies and unwraps an epoch key delivered to this device.
pub fn unwrap_epoch_key(
    ws: &str,
    device_id: &str,
    envelope: &KeyEnvelope,
    dkk: &[u8; 32],
    admin_signing_public: &[u8],
) -> Result<EpochKey> {
    let signed = envelope_signing_bytes(ws, device_id, envelope.epoch, &envelope.wrapped);
    if envelope.device_id != device_id
        || !identity::verify(admin_signing_public, &signed, &envelope.signature)
    {
        return Err(Error::Corrupted(format!(
            "the key envelope for epoch {}",
            envelope.epoch
        )));
    }
    let row = envelope_row(ws, device_id);
    let raw = SealKey::new(dkk)?
        .open(
            Aad {
                table: b"FV-WCK-1",
                row: &row,
                seq: u64::from(envelope.epoch),
            },
            &envelope.wrapped,
        )
        .map(Zeroizing::new)
        .ok_or_else(|| {
            Error::Corrupted(format!("the key envelope for epoch {}", envelope.epoch))
        })?;
    EpochKey::from_slice(&raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device_info(req: &wire::Enroll) -> DeviceInfo {
        DeviceInfo {
            keys: req.device.clone(),
            role: wire::Role::Member,
            code_id: req.code_id.clone(),
            binding: req.binding.clone(),
            device_name: String::new(),
            app_version: String::new(),
            enrolled_at_ms: 0,
            last_seen_ms: None,
            revoked_at_ms: None,
            wipe_receipt: None,
            key_epochs: vec![],
        }
    }

    #[test]
    fn full_pairing_delivers_the_dkk_and_epoch_keys() {
        let admin = DeviceIdentity::generate().expect("admin");
        let pairing = AdminPairing::new().expect("pairing");
        let qr = QrPayload::decode(
            &pairing
                .qr_payload("http://127.0.0.1:1", "ws", "admin-dev", &admin)
                .encode(),
        )
        .expect("qr");
        let device = DeviceIdentity::generate().expect("device");
        let dp = DevicePairing::new(qr).expect("device pairing");
        let req = dp
            .enroll_request(&device, "dev-2", "phone", "1.0")
            .expect("enroll");
        // What the relay stores lets it check the token, nothing more.
        assert_eq!(
            ring::digest::digest(&ring::digest::SHA256, &req.enroll_token).as_ref(),
            pairing.secret.token_hash().expect("hash").as_slice()
        );
        let dkk = [7u8; 32];
        let env = pairing
            .complete("ws", &admin, "admin-dev", &device_info(&req), &dkk)
            .expect("complete");
        let got = dp.complete(&env, "dev-2").expect("device completes");
        assert_eq!(*got, dkk);

        let wck = EpochKey::new([3; 32]).expect("wck");
        let e1 = wrap_epoch_key("ws", "dev-2", 1, &dkk, &wck, &admin, "admin-dev").expect("wrap");
        let back = unwrap_epoch_key("ws", "dev-2", &e1, &dkk, &admin.public_key()).expect("unwrap");
        assert_eq!(back.expose(), wck.expose());
        // Another device's DKK, a forged signature or a moved envelope fail.
        assert!(unwrap_epoch_key("ws", "dev-2", &e1, &[8; 32], &admin.public_key()).is_err());
        assert!(unwrap_epoch_key("ws", "dev-3", &e1, &dkk, &admin.public_key()).is_err());
        let impostor = DeviceIdentity::generate().expect("impostor");
        assert!(unwrap_epoch_key("ws", "dev-2", &e1, &dkk, &impostor.public_key()).is_err());
    }

    #[test]
    fn a_relay_substituting_device_keys_is_detected() {
        let admin = DeviceIdentity::generate().expect("admin");
        let pairing = AdminPairing::new().expect("pairing");
        let qr = pairing.qr_payload("http://relay", "ws", "admin-dev", &admin);
        let device = DeviceIdentity::generate().expect("device");
        let dp = DevicePairing::new(qr).expect("pairing");
        let req = dp
            .enroll_request(&device, "dev-2", "phone", "1.0")
            .expect("enroll");
        let mut info = device_info(&req);
        let (_, relay_public) = new_ephemeral().expect("relay key");
        info.keys.agreement_public = relay_public; // the relay swaps in its own key
        assert!(pairing
            .complete("ws", &admin, "admin-dev", &info, &[1; 32])
            .is_err());
    }

    #[test]
    fn a_garbled_qr_payload_is_a_typed_error() {
        assert!(matches!(
            QrPayload::decode("!!!"),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            QrPayload::decode(&b64::encode(b"{}")),
            Err(Error::InvalidInput(_))
        ));
    }
}
