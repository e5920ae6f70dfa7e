//! Key rotation and revocation as the admin device runs them, safe to
//! interrupt at any step.
//!
//! - A new epoch is always the relay's current one plus one. Its key is kept
//!   in the admin's vault first, its envelopes (and those of any older epoch
//!   a remaining member has none for) are posted next, and only then does
//!   the relay start the epoch, so a member that sees the new epoch finds
//!   its key waiting. A key made for an epoch the relay never started is
//!   reused by the next attempt; a lost answer to the bump is recognised
//!   from the relay's status.
//! - A revocation forgets the device's key-wrap key first (no later envelope
//!   for it, whatever the relay's device list says) and records, sealed in
//!   the vault, what is still owed: the device's revocation at the relay and
//!   an epoch whose key was made after the forgetting. A key made earlier
//!   (an interrupted rotation's) may already have been wrapped for that
//!   device, so it does not count. The record is cleared only once both are
//!   done — by the call itself, a repeated call, or the admin's next pass.
//! - Rotations of a process run one at a time (the app's call and the sync
//!   pass could otherwise make two keys for one epoch).
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::client::RelayClient;
use super::identity::DeviceIdentity;
use super::pairing;
use super::wire::{DeviceInfo, DeviceList, KeyEnvelope, Role, MAX_ENVELOPES_PER_POST};
use super::workspace_keys::{EpochKey, WorkspaceKeys};
use crate::crypto::random;
use crate::error::{Error, Result};
use crate::vault::{SyncSettings, Vault};

/// Sealed meta record: when the admin last started a key epoch (ms).
pub(crate) const ROTATED_AT: &str = "sync.key_rotated_at";

/// Sealed meta record: [`RevocationsDue`], while anything is owed.
pub(crate) const REVOCATIONS_DUE: &str = "sync.revocations_due";

/// What revocations still owe.
#[derive(Debug, Default, Serialize, Deserialize)]
struct RevocationsDue {
    /// Devices whose revocation the relay may not have recorded yet.
    devices: Vec<String>,
    /// Devices whose revocation the relay has recorded, while the fresh
    /// epoch is still owed (so a repeated call, answered 409, goes on).
    #[serde(default)]
    recorded: Vec<String>,
    /// The first epoch whose key was made after the revoked devices'
    /// key-wrap keys were forgotten; the relay must reach it.
    fresh_from: u32,
}

impl RevocationsDue {
    fn load(vault: &Vault) -> Result<Self> {
        Ok(vault.sealed_json(REVOCATIONS_DUE)?.unwrap_or_default())
    }

    /// Whether `device_id`'s revocation is owed, sent or not.
    fn includes(&self, device_id: &str) -> bool {
        self.devices
            .iter()
            .chain(&self.recorded)
            .any(|d| d == device_id)
    }
}

/// Whether revoking `device_id` is still under way on this admin device
/// (the relay may not have recorded it, or the fresh epoch is not current
/// yet). Pairing such a device again would hand it the keys its revocation
/// is meant to take away.
pub(crate) fn revocation_owed(vault: &Vault, device_id: &str) -> Result<bool> {
    Ok(RevocationsDue::load(vault)?.includes(device_id))
}

/// One rotation at a time in this process (and no pairing's key delivery
/// during one).
pub(crate) static ROTATION: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The admin device's view for rotating: its vault, a signed client, its
/// settings and identity.
pub(crate) struct Rotator<'a> {
    pub vault: &'a Vault,
    pub client: Arc<RelayClient>,
    pub settings: SyncSettings,
    pub identity: Arc<DeviceIdentity>,
}

impl Rotator<'_> {
    /// Revokes `device_id` and rotates until an epoch with a fresh key is
    /// current. Returns that epoch. The relay's 409 "already revoked" counts
    /// as progress only while this device's revocation is owed (a repeated
    /// call after a failure); otherwise it is returned, as is any definitive
    /// refusal (400, 403, 404), which also drops what this call recorded.
    /// On any other failure (network, 5xx, timeout) the record stays and the
    /// admin's next pass finishes the job.
    pub async fn revoke(&self, device_id: &str) -> Result<u32> {
        if device_id == self.vault.device_id() {
            return Err(Error::InvalidInput(
                "the admin device cannot revoke itself".into(),
            ));
        }
        let _one = ROTATION.lock().await;
        self.vault.forget_member_key_wrap_key(device_id)?;
        let mut due = self.due()?;
        let owed = due.includes(device_id);
        if !owed {
            due.devices.push(device_id.to_owned());
            // Any key held now may have been wrapped for this device; a
            // repeated call keeps the bound its first call set.
            let newest = self.keys()?.current_epoch().unwrap_or(0);
            due.fresh_from = due.fresh_from.max(newest.saturating_add(1));
        }
        self.save_due(&due)?;
        match self.client.revoke(device_id).await {
            Ok(()) => {}
            Err(Error::Relay { status: 409, .. }) if owed => {}
            Err(
                e @ Error::Relay {
                    status: 400 | 403 | 404 | 409,
                    ..
                },
            ) => {
                due.devices.retain(|d| d != device_id);
                if due.devices.is_empty() && due.recorded.is_empty() {
                    self.vault.delete_sealed_meta(REVOCATIONS_DUE)?;
                } else {
                    self.save_due(&due)?;
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        // Recorded at the relay: only the fresh epoch is still owed for it
        // (the record stays until then), so `settle_due` does not send
        // this revocation a second time.
        if due.devices.iter().any(|d| d == device_id) {
            due.devices.retain(|d| d != device_id);
            due.recorded.push(device_id.to_owned());
            self.save_due(&due)?;
        }
        self.settle_due().await
    }

    /// Starts a new epoch (after finishing any revocation still owed).
    pub async fn rotate(&self) -> Result<u32> {
        let _one = ROTATION.lock().await;
        if self.vault.get_sealed_meta(REVOCATIONS_DUE)?.is_some() {
            return self.settle_due().await;
        }
        let relay_epoch = self.client.status().await?.current_epoch;
        self.start_epoch(relay_epoch).await
    }

    /// The admin's sync pass: finishes what revocations still owe, or a
    /// rotation that stopped before the relay started its epoch, then posts
    /// any envelope a paired member lacks (a post that never arrived would
    /// otherwise keep that member waiting for its key). Returns the relay's
    /// current epoch afterwards.
    pub async fn catch_up(&self, relay_epoch: u32) -> Result<u32> {
        let _one = ROTATION.lock().await;
        // Rotations hold the lock, so the admin's keys stay as read here
        // unless this call adds one.
        let newest = self.keys()?.current_epoch().unwrap_or(0);
        let epoch = if self.vault.get_sealed_meta(REVOCATIONS_DUE)?.is_some() {
            self.settle_due().await?
        } else if newest > relay_epoch {
            // Asked again under the lock: a revocation that ran since the
            // pass read it may have moved the relay on.
            let now = self.client.status().await?.current_epoch;
            if newest > now {
                self.start_epoch(now).await?
            } else {
                now
            }
        } else {
            relay_epoch
        };
        let devices = self.client.devices().await?;
        let keys = self.keys()?;
        let missing = self.envelopes(&devices, &keys, |device, e| {
            e <= epoch && !device.key_epochs.contains(&e)
        })?;
        self.post(missing).await?;
        Ok(epoch)
    }

    /// Sends every owed revocation again and starts epochs until the fresh
    /// one is current; then drops the record. The relay's 409 means it was
    /// recorded already; a definitive refusal (400, 403, 404: no such
    /// device, or one that may not be revoked) leaves nothing to revoke and
    /// must not stop every later pass.
    async fn settle_due(&self) -> Result<u32> {
        let due = self.due()?;
        for device_id in &due.devices {
            match self.client.revoke(device_id).await {
                Ok(()) | Err(Error::Relay { status: 409, .. }) => {}
                Err(Error::Relay {
                    status: status @ (400 | 403 | 404),
                    ..
                }) => {
                    tracing::warn!(target: "fieldvault::sync", status, "the relay refused an owed revocation; dropped");
                }
                Err(e) => return Err(e),
            }
        }
        let mut epoch = self.client.status().await?.current_epoch;
        while epoch < due.fresh_from {
            epoch = self.start_epoch(epoch).await?;
        }
        self.vault.delete_sealed_meta(REVOCATIONS_DUE)?;
        Ok(epoch)
    }

    /// Starts epoch `relay_epoch + 1` (see the module's description).
    async fn start_epoch(&self, relay_epoch: u32) -> Result<u32> {
        let epoch = relay_epoch
            .checked_add(1)
            .ok_or_else(|| Error::InvalidInput("no key epoch is left".into()))?;
        // Keep the key before telling anyone about the epoch: a crash in
        // between must not leave an epoch that nobody holds.
        let mut keys = self.keys()?;
        if !keys.has_epoch(epoch) {
            let key = EpochKey::new(random::bytes::<32>()?)?;
            self.vault.add_epoch_key(epoch, &key)?;
            keys.insert(epoch, key)?;
        }
        let devices = self.client.devices().await?;
        // The new epoch, and any earlier one whose envelope a device lacks:
        // without it, what was sealed under that epoch never opens there.
        let envelopes = self.envelopes(&devices, &keys, |device, e| {
            e == epoch || (e < epoch && !device.key_epochs.contains(&e))
        })?;
        self.post(envelopes).await?;
        if let Err(e) = self.client.bump_epoch(epoch).await {
            // The relay may have started the epoch and lost its answer.
            if self.client.status().await?.current_epoch != epoch {
                return Err(e);
            }
        }
        self.vault
            .put_sealed_meta(ROTATED_AT, &self.vault.now_ms().to_be_bytes())?;
        Ok(epoch)
    }

    /// Envelopes of the held epochs `wanted` for each member this admin
    /// paired (it holds the member's key-wrap key) that the relay does not
    /// list as revoked.
    fn envelopes(
        &self,
        devices: &DeviceList,
        keys: &WorkspaceKeys,
        wanted: impl Fn(&DeviceInfo, u32) -> bool,
    ) -> Result<Vec<KeyEnvelope>> {
        let mut envelopes = Vec::new();
        for device in devices
            .devices
            .iter()
            .filter(|d| d.revoked_at_ms.is_none() && d.role != Role::Admin)
        {
            let device_id = &device.keys.device_id;
            let Some(dkk) = self.vault.member_key_wrap_key(device_id)? else {
                // Never paired with this admin, or revoked by it: no key.
                continue;
            };
            for (epoch, key) in keys.epochs().filter(|(e, _)| wanted(device, *e)) {
                envelopes.push(pairing::wrap_epoch_key(
                    &self.settings.workspace_id,
                    device_id,
                    epoch,
                    &dkk,
                    key,
                    &self.identity,
                    &self.vault.device_id(),
                )?);
            }
        }
        Ok(envelopes)
    }

    async fn post(&self, envelopes: Vec<KeyEnvelope>) -> Result<()> {
        for batch in envelopes.chunks(MAX_ENVELOPES_PER_POST) {
            self.client.post_key_envelopes(batch.to_vec()).await?;
        }
        Ok(())
    }

    fn keys(&self) -> Result<WorkspaceKeys> {
        self.vault.workspace_keys(&self.settings.workspace_id)
    }

    fn due(&self) -> Result<RevocationsDue> {
        RevocationsDue::load(self.vault)
    }

    fn save_due(&self, due: &RevocationsDue) -> Result<()> {
        self.vault.put_sealed_json(REVOCATIONS_DUE, due)
    }
}
