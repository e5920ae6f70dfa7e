//! Admin operations: the device registry, revocation and key rotation.
//!
//! Rotation starts a new epoch with a fresh random key, wrapped only for the
//! devices that remain (under each one's key-wrap key, which the relay never
//! saw), so a revoked device — or anyone holding a copy of its files and of
//! the relay database — cannot read anything sealed afterwards.
use std::sync::Arc;

use super::client::{ClientConfig, RelayClient};
use super::identity::DeviceIdentity;
use super::rotation::{Rotator, ROTATED_AT};
use super::wire::{DeviceList, Role};
use crate::error::{Error, Result};
use crate::vault::{SyncSettings, Vault};

/// The settings, a signed client and the identity of an admin vault; a
/// clear error for a vault that is not enrolled or not the admin.
pub(crate) fn admin(
    vault: &Vault,
    config: &ClientConfig,
) -> Result<(SyncSettings, RelayClient, Arc<DeviceIdentity>)> {
    let settings = vault.enrolment()?;
    if settings.role != Role::Admin {
        return Err(Error::InvalidInput(
            "only the workspace admin device can do this".into(),
        ));
    }
    let identity = Arc::new(vault.device_identity()?);
    let client = RelayClient::new(
        config,
        &settings.workspace_id,
        &vault.device_id(),
        identity.clone(),
    )?;
    Ok((settings, client, identity))
}

/// The workspace's devices as the relay knows them.
pub async fn list_devices(vault: &Vault, config: &ClientConfig) -> Result<DeviceList> {
    let (_, client, _) = admin(vault, config)?;
    client.devices().await
}

/// One row of the admin's device registry: what the relay knows (name,
/// enrolment, last contact, revocation, version) joined with what the device
/// reported about itself inside its sealed audit-log document (staff member,
/// pending uploads), which the relay cannot read.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRecord {
    pub device_id: String,
    pub name: String,
    pub role: Role,
    pub app_version: String,
    pub enrolled_at_ms: i64,
    pub last_seen_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    /// When the device wiped itself, from its verified signed receipt.
    pub wiped_at_ms: Option<i64>,
    /// From the device's last synced self-report (`None` before its first sync).
    pub staff_id: Option<String>,
    pub pending_changes: Option<u64>,
    pub pending_photos: Option<u64>,
    pub reported_at: Option<crate::model::Timestamp>,
}

/// When `device` wiped itself, from its wipe receipt: `None` without a
/// receipt, or when the receipt's signature does not verify against the
/// device's enrolled key for this workspace and device (a receipt the relay
/// merely stores, or one forged into its database, never counts).
pub fn verified_wipe_ms(device: &super::wire::DeviceInfo, workspace_id: &str) -> Option<i64> {
    device.wipe_receipt.as_deref().and_then(|r| {
        super::engine::verify_wipe_receipt(
            r,
            &device.keys.signing_public,
            workspace_id,
            &device.keys.device_id,
        )
    })
}

/// The device registry (admin only). Sync the admin vault first for fresh
/// self-reports.
pub async fn device_registry(vault: &Vault, config: &ClientConfig) -> Result<Vec<DeviceRecord>> {
    let (settings, client, _) = admin(vault, config)?;
    let list = client.devices().await?;
    let mut reports = vault.device_reports()?;
    Ok(list
        .devices
        .into_iter()
        .map(|d| {
            let id = d.keys.device_id.clone();
            let report = reports.remove(&id);
            let wiped_at_ms = verified_wipe_ms(&d, &settings.workspace_id);
            DeviceRecord {
                device_id: id,
                name: d.device_name,
                role: d.role,
                app_version: d.app_version,
                enrolled_at_ms: d.enrolled_at_ms,
                last_seen_ms: d.last_seen_ms,
                revoked_at_ms: d.revoked_at_ms,
                wiped_at_ms,
                staff_id: report.as_ref().map(|r| r.staff_id.clone()),
                pending_changes: report.as_ref().map(|r| r.pending_changes),
                pending_photos: report.as_ref().map(|r| r.pending_photos),
                reported_at: report.map(|r| r.reported_at),
            }
        })
        .collect())
}

/// Revokes a device and rotates the workspace key until an epoch whose key
/// the device never had is current. Returns that epoch.
///
/// Safe to call again after a failure: it finishes what the first call
/// started, and so does the admin's next sync pass
/// ([`super::rotation`]). Revoking a device whose revocation finished
/// earlier is the relay's 409, as before.
pub async fn revoke_device(vault: &Vault, config: &ClientConfig, device_id: &str) -> Result<u32> {
    rotator(vault, config)?.revoke(device_id).await
}

/// Starts a new key epoch (also usable on a schedule). Returns it. Safe to
/// retry: the new epoch is always the relay's current one plus one.
pub async fn rotate_key(vault: &Vault, config: &ClientConfig) -> Result<u32> {
    rotator(vault, config)?.rotate().await
}

fn rotator<'a>(vault: &'a Vault, config: &ClientConfig) -> Result<Rotator<'a>> {
    let (settings, client, identity) = admin(vault, config)?;
    Ok(Rotator {
        vault,
        client: Arc::new(client),
        settings,
        identity,
    })
}

/// Scheduled rotation: starts a new epoch if the current one is older than
/// `max_age` (by the vault's clock). Call it from the admin's sync loop or a
/// timer. Returns the new epoch, or `None` when not due. The first call on a
/// vault that has no record starts counting from now.
pub async fn rotate_key_if_due(
    vault: &Vault,
    config: &ClientConfig,
    max_age: chrono::Duration,
) -> Result<Option<u32>> {
    admin(vault, config)?;
    let now = vault.now_ms();
    let last = vault
        .get_sealed_meta(ROTATED_AT)?
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map(i64::from_be_bytes);
    match last {
        None => {
            vault.put_sealed_meta(ROTATED_AT, &now.to_be_bytes())?;
            Ok(None)
        }
        Some(at) if now.saturating_sub(at) < max_age.num_milliseconds() => Ok(None),
        Some(_) => rotate_key(vault, config).await.map(Some),
    }
}
