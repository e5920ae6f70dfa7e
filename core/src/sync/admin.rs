//! Admin operations: the device registry, revocation and key rotation.
//!
//! Rotation starts a new epoch with a fresh random key, wrapped only for the
//! devices that remain (under each one's key-wrap key, which the relay never
//! saw), so a revoked device — or anyone holding a copy of its files and of
//! the relay database — cannot read anything sealed afterwards.
use std::sync::Arc;

use super::client::{ClientConfig, RelayClient};
use super::identity::DeviceIdentity;
use super::pairing;
use super::wire::{DeviceList, Role};
use super::workspace_keys::EpochKey;
use crate::crypto::random;
use crate::error::{Error, Result};
use crate::vault::{SyncSettings, Vault};

/// The settings, a signed client and the identity of an admin vault; a
/// clear error for a vault that is not enrolled or not the admin.
pub(crate) fn admin(
    vault: &Vault,
    config: &ClientConfig,
) -> Result<(SyncSettings, RelayClient, Arc<DeviceIdentity>)> {
    let settings = vault
        .sync_settings()?
        .ok_or_else(|| Error::InvalidInput("this vault is not enrolled in a workspace".into()))?;
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

/// Revokes a device and rotates the workspace key. Returns the new epoch.
pub async fn revoke_device(vault: &Vault, config: &ClientConfig, device_id: &str) -> Result<u32> {
    let (_, client, _) = admin(vault, config)?;
    client.revoke(device_id).await?;
    rotate_key(vault, config).await
}

/// Starts a new key epoch (also usable on a schedule). Returns it.
pub async fn rotate_key(vault: &Vault, config: &ClientConfig) -> Result<u32> {
    let (settings, client, identity) = admin(vault, config)?;
    let keys = vault.workspace_keys(&settings.workspace_id)?;
    let epoch = keys.current_epoch().unwrap_or(0) + 1;
    let key = EpochKey::new(random::bytes::<32>()?)?;
    let devices = client.devices().await?;
    let mut envelopes = Vec::new();
    for device in devices
        .devices
        .iter()
        .filter(|d| d.revoked_at_ms.is_none() && d.role != Role::Admin)
    {
        let device_id = &device.keys.device_id;
        let Some(dkk) = vault.member_key_wrap_key(device_id)? else {
            // Enrolled but never paired with this admin: it gets no key.
            continue;
        };
        envelopes.push(pairing::wrap_epoch_key(
            &settings.workspace_id,
            device_id,
            epoch,
            &dkk,
            &key,
            &identity,
            &vault.device_id(),
        )?);
    }
    // Keep the key before telling anyone about the epoch: a crash in between
    // must not leave an epoch that nobody holds.
    vault.add_epoch_key(epoch, &key)?;
    client.bump_epoch(epoch).await?;
    if !envelopes.is_empty() {
        client.post_key_envelopes(envelopes).await?;
    }
    Ok(epoch)
}
