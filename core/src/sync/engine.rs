//! The device sync engine: pushes the vault's outbox, pulls what other devices
//! wrote, and keeps an observable state. One pass is [`SyncEngine::sync_once`];
//! [`SyncEngine::run`] loops in the background, woken by local changes, by the
//! app's connectivity callback or by a timer, backing off exponentially (with
//! jitter) after failures. Every request is idempotent (entry ids are chosen
//! when a change is queued), so a retry after a broken connection never
//! duplicates anything.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{watch, Notify};

use super::client::{ClientConfig, RelayClient};
use super::identity::DeviceIdentity;
use super::pairing;
use super::wire::{self, Role, MAX_PULL_LIMIT};
use crate::crypto::random;
use crate::error::{Error, Result};
use crate::vault::photo_sync::{Direction, PhotoTransfer};
use crate::vault::{SyncSettings, Vault};

/// What the engine is doing, for a status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    #[default]
    Idle,
    Pushing,
    Pulling,
    /// Waiting before the next attempt after a failure.
    Backoff,
    /// The app reported no connectivity.
    Offline,
    /// The admin revoked this device.
    Revoked,
}

/// Observable sync state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SyncState {
    pub phase: SyncPhase,
    pub online: bool,
    /// Change sets waiting to be pushed, and their size in bytes.
    pub pending_changes: u64,
    pub pending_bytes: u64,
    /// Human-readable description of the transfer in progress.
    pub current_transfer: Option<String>,
    pub last_success_ms: Option<i64>,
    pub last_error: Option<String>,
    /// Consecutive failed attempts.
    pub failures: u32,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub pushed: usize,
    pub pulled: usize,
    /// Pulled entries that could not be opened or merged (skipped, reported).
    pub rejected: usize,
    /// Pulled entries of documents purged on this device (not brought back).
    pub skipped_purged: usize,
    pub purged: usize,
    /// Photo variants fully uploaded / downloaded in this pass.
    pub photos_uploaded: usize,
    pub photos_downloaded: usize,
    /// Chunks actually sent (resumed uploads skip what the relay holds).
    pub chunks_uploaded: usize,
    /// Photo variants whose download failed in a way retrying now would
    /// not mend (a chunk that does not open, one the relay no longer has).
    /// They stay queued for later passes; the other photos and the rest of
    /// the pass go on.
    pub photos_failed: usize,
}

/// Photo chunk requests in flight at once, each on its own connection. On a
/// mobile link most of a request's time is the round trip, so several in
/// flight move photos several times faster. A request carries at most one
/// chunk of each variant, so an interrupted upload re-sends at most the
/// chunk that was in flight (ADR 0011; docs/performance.md, "Sync vs curl").
pub const PHOTOS_IN_FLIGHT: usize = 8;

/// Change sets per push request: few requests (each a round trip and a
/// relay commit), while the pending count still moves during a long push.
const PUSH_BATCH: usize = 500;

/// Change bytes per push request (the first entry goes whatever its size;
/// the vault never queues one above [`wire::MAX_QUEUED_CHANGE`]). Sealing
/// adds 44 bytes per entry and JSON base64 a third, so a full batch stays
/// under the relay's [`wire::MAX_ENTRIES_BODY`]; before this budget, 200
/// large change sets could exceed it and the relay's 413 would have stalled
/// the queue for good.
const PUSH_BYTE_BUDGET: usize = wire::MAX_QUEUED_CHANGE;
const _: () = assert!(
    PUSH_BYTE_BUDGET / 3 * 4 + PUSH_BATCH * 200 < wire::MAX_ENTRIES_BODY
        && PUSH_BATCH <= wire::MAX_ENTRIES_PER_PUSH
);

/// An entry's plaintext: the document UUID, then Automerge change bytes.
fn split_entry(payload: &[u8]) -> Result<(crate::model::DocumentId, &[u8])> {
    if payload.len() < 16 {
        return Err(Error::Corrupted("a synced entry".into()));
    }
    let (id, bytes) = payload.split_at(16);
    let id = uuid::Uuid::from_slice(id).map_err(|_| Error::Corrupted("a synced entry".into()))?;
    Ok((crate::model::DocumentId(id), bytes))
}

/// Backoff after `failures` consecutive failures: 1 s doubling to 5 min, with
/// ±25 % jitter so many devices coming back online do not stampede the relay.
pub fn backoff_delay(failures: u32) -> Duration {
    let base_ms = 1000u64.saturating_mul(1u64 << failures.min(9)).min(300_000);
    let jitter = random::bytes::<2>().map(u16::from_le_bytes).unwrap_or(0);
    let factor = 0.75 + (f64::from(jitter) / f64::from(u16::MAX)) * 0.5;
    Duration::from_millis((base_ms as f64 * factor) as u64)
}

pub struct SyncEngine {
    vault: Arc<Vault>,
    /// Replaced when the vault's recorded root certificate changes
    /// ([`Self::follow_recorded_certificate`]); a pass keeps the client it
    /// started with for each request it makes.
    client: Mutex<Arc<RelayClient>>,
    /// How the engine was told to reach the relay, and the device's key:
    /// what a replacement client is built from.
    config: ClientConfig,
    identity: Arc<DeviceIdentity>,
    /// The vault's recorded root certificate when the client was built.
    followed_certificate: Mutex<Option<String>>,
    state: watch::Sender<SyncState>,
    wake: Notify,
    cancel: watch::Sender<bool>,
    /// Serialises passes: a pass started while another runs waits for it.
    pass: tokio::sync::Mutex<()>,
    settings: Mutex<SyncSettings>,
}

impl SyncEngine {
    /// An engine for an enrolled vault.
    pub fn new(vault: Arc<Vault>, config: ClientConfig) -> Result<Arc<Self>> {
        let settings = vault.enrolment()?;
        let identity = Arc::new(vault.device_identity()?);
        let client = RelayClient::new(
            &config,
            &settings.workspace_id,
            &vault.device_id(),
            identity.clone(),
        )?;
        let (pending_changes, pending_bytes) = vault.outbox_size()?;
        let state = SyncState {
            online: true,
            pending_changes,
            pending_bytes,
            last_success_ms: settings.last_success_ms,
            ..Default::default()
        };
        Ok(Arc::new(Self {
            vault,
            client: Mutex::new(Arc::new(client)),
            config,
            identity,
            followed_certificate: Mutex::new(settings.relay_root_certificate_pem.clone()),
            state: watch::channel(state).0,
            wake: Notify::new(),
            cancel: watch::channel(false).0,
            pass: tokio::sync::Mutex::new(()),
            settings: Mutex::new(settings),
        }))
    }

    pub fn vault(&self) -> &Arc<Vault> {
        &self.vault
    }

    /// The client this engine's requests go through now.
    pub fn client(&self) -> Arc<RelayClient> {
        crate::mutex::lock(&self.client).clone()
    }

    /// If the vault's recorded root certificate changed since the client was
    /// built (`Vault::set_relay_root_certificate`, a town's CA renewed), the
    /// engine trusts the new one from this pass on; the relay and the
    /// timeouts stay as the engine was given them.
    fn follow_recorded_certificate(&self) -> Result<()> {
        let recorded = self.vault.enrolment()?.relay_root_certificate_pem;
        let mut followed = crate::mutex::lock(&self.followed_certificate);
        if *followed == recorded {
            return Ok(());
        }
        let config = ClientConfig {
            root_certificate_pem: recorded.clone(),
            ..self.config.clone()
        };
        let client = RelayClient::new(
            &config,
            &self.settings().workspace_id,
            &self.vault.device_id(),
            self.identity.clone(),
        )?;
        *crate::mutex::lock(&self.client) = Arc::new(client);
        *followed = recorded;
        Ok(())
    }

    /// Subscribe to state changes.
    pub fn subscribe(&self) -> watch::Receiver<SyncState> {
        self.state.subscribe()
    }

    pub fn state(&self) -> SyncState {
        self.state.borrow().clone()
    }

    pub(super) fn update(&self, f: impl FnOnce(&mut SyncState)) {
        self.state.send_modify(f);
    }

    /// The app's connectivity callback. Coming online triggers a sync.
    pub fn notify_connectivity(&self, online: bool) {
        self.update(|s| {
            s.online = online;
            if !online {
                s.phase = SyncPhase::Offline;
            } else if s.phase == SyncPhase::Offline {
                s.phase = SyncPhase::Idle;
            }
        });
        if online {
            self.wake.notify_one();
        }
    }

    /// Asks the background loop to sync soon (for example after a local edit).
    pub fn request_sync(&self) {
        self.wake.notify_one();
    }

    /// Stops the background loop and aborts a pass between requests.
    pub fn cancel(&self) {
        let _ = self.cancel.send(true);
        self.wake.notify_one();
    }

    pub(super) fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    pub(super) fn settings(&self) -> SyncSettings {
        crate::mutex::lock(&self.settings).clone()
    }

    /// Changes the engine's fields of the settings (cursor, last success) in
    /// the vault's current record, so that a change made meanwhile through
    /// the vault (the root certificate) is kept.
    fn save_settings(&self, f: impl FnOnce(&mut SyncSettings)) -> Result<()> {
        let mut guard = crate::mutex::lock(&self.settings);
        *guard = self.vault.update_sync_settings(f)?;
        Ok(())
    }

    /// One full pass. Errors leave everything consistent: what was acknowledged
    /// is recorded, the rest is retried on the next pass.
    pub async fn sync_once(&self) -> Result<SyncReport> {
        let _pass = self.pass.lock().await;
        let result = self.pass_inner().await;
        if matches!(result, Err(Error::Revoked)) {
            // Whichever request learnt it (the status call, or one made
            // after the admin revoked this device mid-pass).
            self.wipe_after_revocation().await;
        }
        match &result {
            Ok(_) => {
                let now = self.record_check_in()?;
                let (pending_changes, pending_bytes) = self.vault.outbox_size()?;
                self.update(|s| {
                    s.phase = SyncPhase::Idle;
                    s.current_transfer = None;
                    s.last_success_ms = Some(now);
                    s.last_error = None;
                    s.failures = 0;
                    s.pending_changes = pending_changes;
                    s.pending_bytes = pending_bytes;
                });
            }
            Err(e) => {
                if matches!(e, Error::AwaitingKey { .. }) {
                    // The relay answered and did not refuse this device:
                    // the offline lease (there so a revoked device notices)
                    // is renewed, so tax forms do not lock while a key is
                    // on its way.
                    self.record_check_in()?;
                }
                let revoked = matches!(e, Error::Revoked);
                let message = e.to_string();
                self.update(|s| {
                    s.phase = if revoked {
                        SyncPhase::Revoked
                    } else {
                        SyncPhase::Backoff
                    };
                    s.current_transfer = None;
                    s.last_error = Some(message);
                    s.failures = s.failures.saturating_add(1);
                });
            }
        }
        result
    }

    /// Records that the relay was reached and did not refuse this device:
    /// the offline lease runs from now (by the vault's clock, so it follows
    /// injected time). Returns now.
    fn record_check_in(&self) -> Result<i64> {
        let now = self.vault.now_ms();
        self.save_settings(|s| s.last_success_ms = Some(now))?;
        Ok(now)
    }

    /// Runs blocking vault work (SQLite writes that wait on `fsync`,
    /// Automerge merges, sealing) on tokio's blocking pool, so the runtime's
    /// workers keep driving network I/O and the app's other calls meanwhile.
    /// Measured reason: with the work inline, a few devices merging on a
    /// two-worker runtime starved every other request until it timed out
    /// (docs/performance.md, "Relay under load"). A panic inside `f` is
    /// resumed here, as if the work had run inline.
    pub(super) async fn on_vault<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Vault) -> Result<T> + Send + 'static,
    {
        let vault = Arc::clone(&self.vault);
        match tokio::task::spawn_blocking(move || f(&vault)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(Error::Cancelled),
        }
    }

    async fn pass_inner(&self) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        self.follow_recorded_certificate()?;
        let relay_epoch = self.refresh_keys().await?;
        let epoch = self.finish_rotation(relay_epoch).await?;
        // This device's audit entries travel as its audit-log document.
        self.on_vault(Vault::publish_audit).await?;
        // Everything new is sealed under the relay's current epoch, never
        // an older one (which a revoked device may hold): without its key,
        // nothing is pushed until the admin's envelope arrives.
        let settings = self.settings();
        let held = self
            .vault
            .workspace_keys(&settings.workspace_id)?
            .has_epoch(epoch);
        if held {
            self.push(epoch, &mut report).await?;
            self.push_photos(epoch, &mut report).await?;
        }
        self.pull(&mut report).await?;
        self.pull_photos(&mut report).await?;
        report.purged = self.on_vault(Vault::apply_retention).await?.len();
        if !held {
            return Err(Error::AwaitingKey { epoch });
        }
        Ok(report)
    }

    /// On the admin device: finishes what revocations or an interrupted
    /// rotation still owe and sends members any key envelope they lack
    /// ([`super::rotation::Rotator::catch_up`]), so a revocation is never
    /// left half done and no member waits for its key. Returns the epoch to
    /// seal under.
    async fn finish_rotation(&self, relay_epoch: u32) -> Result<u32> {
        let settings = self.settings();
        if settings.role != Role::Admin {
            return Ok(relay_epoch);
        }
        super::rotation::Rotator {
            vault: &self.vault,
            client: self.client(),
            settings,
            identity: Arc::clone(&self.identity),
        }
        .catch_up(relay_epoch)
        .await
    }

    /// The admin revoked this device: shred the vault, then tell the admin with
    /// a receipt signed by the device key (which is read before the wipe).
    async fn wipe_after_revocation(&self) {
        let settings = self.settings();
        let identity = self.vault.device_identity();
        if let Err(e) = self.vault.wipe() {
            tracing::error!(target: "fieldvault::sync", "wipe after revocation failed: {e}");
            return;
        }
        if let Ok(identity) = identity {
            let receipt = wipe_receipt(
                &identity,
                &settings.workspace_id,
                &self.vault.device_id(),
                chrono::Utc::now().timestamp_millis(),
            );
            if let Err(e) = self.client().post_wipe_receipt(receipt).await {
                tracing::warn!(target: "fieldvault::sync", "could not report the wipe: {e}");
            }
        }
    }

    /// Fetches key envelopes when this device lacks the key of any epoch up
    /// to the relay's current one (the current epoch after a rotation, or an
    /// older one whose envelope arrived late). Returns the relay's current
    /// epoch.
    async fn refresh_keys(&self) -> Result<u32> {
        let settings = self.settings();
        let status = self.client().status().await?;
        let keys = self.vault.workspace_keys(&settings.workspace_id)?;
        if (1..=status.current_epoch).all(|e| keys.has_epoch(e)) {
            return Ok(status.current_epoch);
        }
        let Some(dkk) = self.vault.device_key_wrap_key()? else {
            // The admin device creates epochs itself and holds them all.
            return Ok(status.current_epoch);
        };
        for envelope in self.client().key_envelopes().await?.envelopes {
            if envelope.epoch == 0 || keys.has_epoch(envelope.epoch) {
                continue;
            }
            let key = pairing::unwrap_epoch_key(
                &settings.workspace_id,
                &self.vault.device_id(),
                &envelope,
                &dkk,
                &settings.admin_signing_public,
            )?;
            self.vault.add_epoch_key(envelope.epoch, &key)?;
        }
        Ok(status.current_epoch)
    }

    /// Sends the outbox, sealed under `epoch`.
    async fn push(&self, epoch: u32, report: &mut SyncReport) -> Result<()> {
        let settings = self.settings();
        let keys = self.vault.workspace_keys(&settings.workspace_id)?;
        loop {
            if self.cancelled() {
                return Err(Error::Cancelled);
            }
            let (items, (pending_changes, pending_bytes)) = self
                .on_vault(move |v| {
                    Ok((
                        v.outbox_items(PUSH_BATCH, PUSH_BYTE_BUDGET)?,
                        v.outbox_size()?,
                    ))
                })
                .await?;
            if items.is_empty() {
                return Ok(());
            }
            self.update(|s| {
                s.phase = SyncPhase::Pushing;
                s.pending_changes = pending_changes;
                s.pending_bytes = pending_bytes;
                s.current_transfer = Some(format!("sending {} change sets", items.len()));
            });
            let mut entries = Vec::with_capacity(items.len());
            let mut sent = Vec::with_capacity(items.len());
            for item in &items {
                let doc_id = keys.doc_id(&item.doc.0)?;
                let mut payload =
                    zeroize::Zeroizing::new(Vec::with_capacity(16 + item.bytes.len()));
                payload.extend_from_slice(item.doc.0.as_bytes());
                payload.extend_from_slice(&item.bytes);
                let sealed = keys.seal_entry(epoch, &doc_id, &item.entry_id, &payload)?;
                entries.push(wire::Entry {
                    entry_id: item.entry_id.clone(),
                    doc_id,
                    epoch,
                    sealed,
                });
                sent.push((item.entry_id.clone(), item.doc));
            }
            let result = self.client().push(entries).await?;
            let acked: Vec<(Vec<u8>, crate::model::DocumentId)> = sent
                .into_iter()
                .filter(|(entry_id, _)| result.acked.iter().any(|a| &a.entry_id == entry_id))
                .collect();
            if acked.is_empty() {
                return Err(Error::Network("the relay acknowledged nothing".into()));
            }
            report.pushed += acked.len();
            self.on_vault(move |v| v.outbox_acknowledged(&acked))
                .await?;
        }
    }

    /// Removes finished transfers from the queue of `direction` (one commit).
    pub(super) async fn transfers_done(
        &self,
        direction: Direction,
        done: Vec<PhotoTransfer>,
    ) -> Result<()> {
        self.on_vault(move |v| v.photo_transfers_done(direction, &done))
            .await
    }

    /// The relay's status of each queued transfer's blob, asked in one round
    /// trip (per 500 photos) instead of one per photo; with the blob ids.
    pub(super) async fn blob_statuses(
        &self,
        keys: &super::workspace_keys::WorkspaceKeys,
        transfers: &[crate::vault::photo_sync::PhotoTransfer],
    ) -> Result<Vec<(Vec<u8>, Option<wire::BlobStatus>)>> {
        if transfers.is_empty() {
            return Ok(Vec::new());
        }
        let ids = transfers
            .iter()
            .map(|t| keys.blob_id(&t.photo, t.variant.as_str()))
            .collect::<Result<Vec<_>>>()?;
        let statuses = self.client().blob_statuses(&ids).await?;
        Ok(ids.into_iter().zip(statuses).collect())
    }

    /// Pulls pages of entries after the saved cursor and merges them. While
    /// one page is merged (CPU and disk, on the blocking pool) the next is
    /// already being fetched, so on a slow link the device does not sit idle
    /// for a round trip per page. The cursor is saved after each merged page.
    async fn pull(&self, report: &mut SyncReport) -> Result<()> {
        let settings = self.settings();
        let keys = Arc::new(self.vault.workspace_keys(&settings.workspace_id)?);
        let mut cursor = settings.cursor;
        self.update(|s| {
            s.phase = SyncPhase::Pulling;
            s.current_transfer = Some("receiving changes".into());
        });
        let client = self.client();
        let mut page = client.pull(cursor, MAX_PULL_LIMIT).await?;
        loop {
            if self.cancelled() {
                return Err(Error::Cancelled);
            }
            // The relay may return fewer than asked (it caps pages by bytes
            // too), so a short page is not the end: pull until a page is
            // empty (one extra small round trip per pass).
            let Some(last) = page.entries.last().map(|e| e.seq) else {
                // Nothing for this device, but the relay may have moved the
                // cursor past this device's own entries.
                if page.last_seq > cursor {
                    cursor = page.last_seq;
                    self.save_settings(|s| s.cursor = cursor)?;
                }
                return Ok(());
            };
            let next_after = last.max(page.last_seq);
            let merge = self.merge_page(Arc::clone(&keys), page.entries);
            let (merged, next) = tokio::join!(merge, client.pull(next_after, MAX_PULL_LIMIT));
            for (seq, result) in merged? {
                match result {
                    Ok(true) => report.pulled += 1,
                    Ok(false) => report.skipped_purged += 1,
                    // A purged or shredded document must not block the queue,
                    // nor must one bad entry from another device.
                    Err(Error::Corrupted(_) | Error::InvalidInput(_) | Error::Validation(_)) => {
                        report.rejected += 1;
                        tracing::warn!(target: "fieldvault::sync", seq, "skipped an entry that does not open or merge");
                    }
                    // Sealed under an epoch whose key has not arrived: stop
                    // before it, so it is pulled again once the key is here
                    // (the entries after it in this page were merged and
                    // merge again harmlessly).
                    Err(e @ Error::AwaitingKey { .. }) => {
                        self.save_settings(|s| s.cursor = cursor)?;
                        return Err(e);
                    }
                    Err(other) => return Err(other),
                }
                cursor = seq;
            }
            cursor = next_after;
            self.save_settings(|s| s.cursor = cursor)?;
            page = next?;
        }
    }

    /// Opens a page of pulled entries and merges them in one transaction;
    /// returns each entry's relay sequence number with its outcome, in order.
    async fn merge_page(
        &self,
        keys: Arc<super::workspace_keys::WorkspaceKeys>,
        entries: Vec<wire::PulledEntry>,
    ) -> Result<Vec<(i64, Result<bool>)>> {
        self.on_vault(move |v| {
            let opened: Vec<(i64, Result<(crate::model::DocumentId, _)>)> = entries
                .into_iter()
                .map(|pulled| {
                    let e = pulled.entry;
                    let payload = keys
                        .open_entry(e.epoch, &e.doc_id, &e.entry_id, e.sealed)
                        .and_then(|payload| {
                            let (id, _) = split_entry(&payload)?;
                            if keys.doc_id(&id.0)? != e.doc_id {
                                return Err(Error::Corrupted("a synced entry".into()));
                            }
                            Ok((id, payload))
                        });
                    (pulled.seq, payload)
                })
                .collect();
            let batch: Vec<(crate::model::DocumentId, &[u8])> = opened
                .iter()
                .filter_map(|(_, p)| p.as_ref().ok())
                .map(|(id, payload)| (*id, &payload[16..]))
                .collect();
            let results = v.merge_batch_from_relay(&batch)?;
            drop(batch);
            let mut merged = results.into_iter();
            Ok(opened
                .into_iter()
                .map(|(seq, payload)| {
                    let result = match payload {
                        Ok(_) => merged.next().unwrap_or_else(|| {
                            Err(Error::Internal("merge results out of step".into()))
                        }),
                        Err(e) => Err(e),
                    };
                    (seq, result)
                })
                .collect())
        })
        .await
    }

    /// Runs until cancelled: a pass whenever woken (local change, coming
    /// online) or every `interval`, with backoff after failures. Stops for good
    /// once the device is revoked.
    pub async fn run(self: Arc<Self>, interval: Duration) {
        let mut cancel = self.cancel.subscribe();
        loop {
            if *cancel.borrow() {
                return;
            }
            let online = self.state.borrow().online;
            let wait = if online {
                match self.sync_once().await {
                    Ok(_) => interval,
                    Err(Error::Revoked) => return,
                    Err(Error::Cancelled) => return,
                    Err(_) => backoff_delay(self.state.borrow().failures.saturating_sub(1)),
                }
            } else {
                interval
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = cancel.changed() => {}
            }
        }
    }
}

/// The signed statement a revoked device sends after wiping itself:
/// `"FV-WIPE-1" || ws || device || time (ms, BE)` followed by its Ed25519 signature.
pub fn wipe_receipt(
    identity: &super::identity::DeviceIdentity,
    ws: &str,
    device_id: &str,
    at_ms: i64,
) -> Vec<u8> {
    let mut message = wipe_message(ws, device_id, at_ms);
    let signature = identity.sign(&message);
    message.extend_from_slice(&signature);
    message
}

fn wipe_message(ws: &str, device_id: &str, at_ms: i64) -> Vec<u8> {
    let mut m = b"FV-WIPE-1".to_vec();
    for part in [ws.as_bytes(), device_id.as_bytes()] {
        m.extend_from_slice(&(part.len() as u32).to_be_bytes());
        m.extend_from_slice(part);
    }
    m.extend_from_slice(&at_ms.to_be_bytes());
    m
}

/// Checks a wipe receipt against the device's public key; returns its time.
pub fn verify_wipe_receipt(
    receipt: &[u8],
    signing_public: &[u8],
    ws: &str,
    device_id: &str,
) -> Option<i64> {
    let body_len = receipt.len().checked_sub(64)?;
    let (message, signature) = receipt.split_at(body_len);
    let at_bytes: [u8; 8] = message
        .get(message.len().checked_sub(8)?..)?
        .try_into()
        .ok()?;
    let at_ms = i64::from_be_bytes(at_bytes);
    (message == wipe_message(ws, device_id, at_ms).as_slice()
        && super::identity::verify(signing_public, message, signature))
    .then_some(at_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipe_receipts_verify_only_for_their_device() {
        let id = super::super::identity::DeviceIdentity::generate().expect("id");
        let r = wipe_receipt(&id, "ws", "dev", 1234);
        assert_eq!(
            verify_wipe_receipt(&r, &id.public_key(), "ws", "dev"),
            Some(1234)
        );
        assert_eq!(
            verify_wipe_receipt(&r, &id.public_key(), "ws", "other"),
            None
        );
        let mut bad = r.clone();
        bad[12] ^= 1;
        assert_eq!(
            verify_wipe_receipt(&bad, &id.public_key(), "ws", "dev"),
            None
        );
        assert_eq!(
            verify_wipe_receipt(&r[..10], &id.public_key(), "ws", "dev"),
            None
        );
    }

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let d0 = backoff_delay(0).as_millis();
        assert!((750..=1250).contains(&d0), "{d0}");
        let d3 = backoff_delay(3).as_millis();
        assert!((6000..=10000).contains(&d3), "{d3}");
        let big = backoff_delay(40).as_millis();
        assert!((225_000..=375_000).contains(&big), "{big}");
        let samples: std::collections::HashSet<u128> =
            (0..20).map(|_| backoff_delay(5).as_millis()).collect();
        assert!(samples.len() > 1, "jitter varies the delay");
    }
}
