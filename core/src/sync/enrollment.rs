//! Creating a workspace (admin), pairing devices, and joining (new device).
use std::sync::Arc;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::client::{ClientConfig, RelayClient, UnsignedClient};
use super::pairing::{self, AdminPairing, DevicePairing, QrPayload};
use super::wire::{self, DeviceKeys, Role};
use super::workspace_keys::EpochKey;
use crate::crypto::random;
use crate::error::{Error, Result};
use crate::vault::{EnrolmentKeys, SyncSettings, Vault};

const POLL_EVERY: Duration = Duration::from_millis(200);

/// Makes `vault` the admin device of a new workspace on the relay and
/// generates the first workspace key (epoch 1), which never leaves the devices.
/// `config`'s root certificate, if any, is recorded with the settings.
pub async fn create_workspace(
    vault: &Vault,
    config: &ClientConfig,
    operator_token: &str,
    lease_hours: u32,
) -> Result<SyncSettings> {
    if vault.sync_settings()?.is_some() {
        return Err(Error::InvalidInput(
            "this vault already belongs to a workspace".into(),
        ));
    }
    // Before the relay is asked: a document that cannot be synced is
    // reported while nothing exists yet (create again once it is fixed).
    vault.check_enable_sync()?;
    let identity = vault.device_identity()?;
    let first_key = EpochKey::new(random::bytes::<32>()?)?;
    let workspace_id = uuid::Uuid::new_v4().to_string();
    let request = wire::CreateWorkspace {
        workspace_id: workspace_id.clone(),
        admin: DeviceKeys {
            device_id: vault.device_id(),
            signing_public: identity.public_key(),
            // The admin's pairing keys are per code; this field is unused for it.
            agreement_public: random::bytes::<32>()?.to_vec(),
        },
        lease_hours,
        app_version: env!("CARGO_PKG_VERSION").into(),
    };
    UnsignedClient::new(config)?
        .create_workspace(operator_token, &request)
        .await?;
    let settings = SyncSettings {
        relay_url: config.relay_url.clone(),
        workspace_id,
        role: Role::Admin,
        admin_device_id: vault.device_id(),
        admin_signing_public: identity.public_key(),
        cursor: 0,
        lease_hours,
        // Enrolment is a check-in: the offline lease starts now.
        last_success_ms: Some(vault.now_ms()),
        relay_root_certificate_pem: config.root_certificate_pem.clone(),
    };
    vault.enable_sync(
        &settings,
        &EnrolmentKeys {
            device_key_wrap_key: None,
            epochs: &[(1, first_key)],
        },
    )?;
    Ok(settings)
}

/// Admin: issues a single-use enrollment code and returns the pairing state
/// (keep it in memory) and the QR payload to show.
pub async fn start_pairing(
    vault: &Vault,
    config: &ClientConfig,
    valid_for: Duration,
) -> Result<(AdminPairing, QrPayload)> {
    let (settings, client, identity) = super::admin::admin(vault, config)?;
    let pairing = AdminPairing::new()?;
    let expires = chrono::Utc::now().timestamp_millis() + valid_for.as_millis() as i64;
    client
        .issue_code(&wire::IssueCode {
            code_id: pairing.secret.code_id()?,
            token_hash: pairing.secret.token_hash()?,
            expires_at_ms: expires,
        })
        .await?;
    let qr = pairing.qr_payload(
        &settings.relay_url,
        &settings.workspace_id,
        &vault.device_id(),
        &identity,
    );
    Ok((pairing, qr))
}

/// Admin: waits (bounded) for the device to enroll with the code, checks its
/// keys against the code, and sends it its key-wrap key and every epoch key.
/// Returns the new device's id.
pub async fn complete_pairing(
    vault: &Vault,
    config: &ClientConfig,
    pairing: AdminPairing,
    timeout: Duration,
) -> Result<String> {
    let (settings, client, identity) = super::admin::admin(vault, config)?;
    let code_id = pairing.secret.code_id()?;
    let deadline = Instant::now() + timeout;
    let device = loop {
        let list = client.devices().await?;
        if let Some(d) = list.devices.into_iter().find(|d| d.code_id == code_id) {
            break d;
        }
        if Instant::now() >= deadline {
            return Err(Error::Network(
                "the new device did not enroll in time".into(),
            ));
        }
        tokio::time::sleep(POLL_EVERY).await;
    };
    let device_id = device.keys.device_id.clone();
    // Not while the admin's own pass posts envelopes: a device enrolling
    // again (its earlier pairing broke off) must not get envelopes under its
    // old key-wrap key after those under the new one.
    let _one = super::rotation::ROTATION.lock().await;
    if super::rotation::revocation_owed(vault, &device_id)? {
        return Err(Error::InvalidInput(format!(
            "device {device_id} is being revoked; it cannot be paired again"
        )));
    }
    let dkk = Zeroizing::new(random::bytes::<32>()?);
    let mut envelopes = vec![pairing.complete(
        &settings.workspace_id,
        &identity,
        &vault.device_id(),
        &device,
        &dkk,
    )?];
    let keys = vault.workspace_keys(&settings.workspace_id)?;
    for (epoch, key) in keys.epochs() {
        envelopes.push(pairing::wrap_epoch_key(
            &settings.workspace_id,
            &device_id,
            epoch,
            &dkk,
            key,
            &identity,
            &vault.device_id(),
        )?);
    }
    vault.set_member_key_wrap_key(&device_id, &dkk)?;
    client.post_key_envelopes(envelopes).await?;
    Ok(device_id)
}

/// New device: enrolls with the QR payload, waits (bounded) for the admin to
/// deliver its keys, stores them, and turns sync on. `root_certificate_pem`
/// (a private CA for the relay) is recorded with the settings, so that
/// [`ClientConfig::for_enrolment`] uses it for every later connection.
pub async fn join_workspace(
    vault: &Vault,
    qr_text: &str,
    device_name: &str,
    timeout: Duration,
    root_certificate_pem: Option<String>,
) -> Result<SyncSettings> {
    if vault.sync_settings()?.is_some() {
        return Err(Error::InvalidInput(
            "this vault already belongs to a workspace".into(),
        ));
    }
    let qr = QrPayload::decode(qr_text)?;
    // Everything that can be checked here is checked before the relay uses
    // up the enrollment code: a document that cannot be synced (too large,
    // unreadable) is reported now, and the code still works once it is fixed.
    vault.check_enable_sync()?;
    let mut config = ClientConfig::new(qr.relay.clone());
    config.root_certificate_pem = root_certificate_pem;
    let identity = Arc::new(vault.device_identity()?);
    let device_id = vault.device_id();
    let pairing = DevicePairing::new(qr.clone())?;
    let request = pairing.enroll_request(
        &identity,
        &device_id,
        device_name,
        env!("CARGO_PKG_VERSION"),
    )?;
    UnsignedClient::new(&config)?
        .enroll(&qr.ws, &request)
        .await?;

    let client = RelayClient::new(&config, &qr.ws, &device_id, identity)?;
    let deadline = Instant::now() + timeout;
    let envelopes = loop {
        let got = client.key_envelopes().await?.envelopes;
        if got.iter().any(|e| e.epoch == 0) {
            break got;
        }
        if Instant::now() >= deadline {
            return Err(Error::Network(
                "the admin device did not deliver the workspace keys in time".into(),
            ));
        }
        tokio::time::sleep(POLL_EVERY).await;
    };
    let pairing_envelope = envelopes
        .iter()
        .find(|e| e.epoch == 0)
        .ok_or_else(|| Error::Internal("pairing envelope vanished".into()))?;
    let dkk = pairing.complete(pairing_envelope, &device_id)?;
    let mut epoch_keys = Vec::new();
    for envelope in envelopes.iter().filter(|e| e.epoch > 0) {
        let key = pairing::unwrap_epoch_key(
            &qr.ws,
            &device_id,
            envelope,
            &dkk,
            &qr.admin_signing_public,
        )?;
        epoch_keys.push((envelope.epoch, key));
    }
    let status = client.status().await?;
    let settings = SyncSettings {
        relay_url: qr.relay.clone(),
        workspace_id: qr.ws.clone(),
        role: Role::Member,
        admin_device_id: qr.admin_device.clone(),
        admin_signing_public: qr.admin_signing_public.clone(),
        cursor: 0,
        lease_hours: status.lease_hours,
        last_success_ms: Some(vault.now_ms()),
        relay_root_certificate_pem: config.root_certificate_pem,
    };
    // Keys and settings in one transaction: nothing of this workspace is
    // kept unless all of it is.
    vault.enable_sync(
        &settings,
        &EnrolmentKeys {
            device_key_wrap_key: Some(&dkk),
            epochs: &epoch_keys,
        },
    )?;
    Ok(settings)
}
