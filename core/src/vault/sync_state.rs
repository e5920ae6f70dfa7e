//! What the vault keeps for sync: settings, the device identity, workspace
//! keys, and the outbox. All of it sealed under the vault's meta key (settings
//! and keys) or the document's key (outbox items).
use std::collections::HashSet;
use std::sync::atomic::Ordering;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::sealed_doc::{self, aad, outbox_row, T_OUTBOX};
use super::{meta_aad, Vault};
use crate::crypto::aead::{NONCE_LEN, TAG_LEN};
use crate::error::{Error, Result};
use crate::model::DocumentId;
use crate::store::rows;
use crate::sync::identity::DeviceIdentity;
use crate::sync::wire::{b64, Role};
use crate::sync::workspace_keys::{EpochKey, WorkspaceKeys};

const SETTINGS: &str = "sync.settings";
const IDENTITY: &str = "sync.identity";
const DKK: &str = "sync.dkk";
const EPOCHS: &str = "sync.epochs";
const EPOCH_KEY_PREFIX: &str = "sync.wck.";
const MEMBER_DKK_PREFIX: &str = "sync.member_dkk.";

fn epoch_key_name(epoch: u32) -> String {
    format!("{EPOCH_KEY_PREFIX}{epoch}")
}

fn member_dkk_name(device_id: &str) -> String {
    format!("{MEMBER_DKK_PREFIX}{device_id}")
}

/// The keys a vault is given when it creates or joins a workspace, stored by
/// [`Vault::enable_sync`] together with the settings.
pub(crate) struct EnrolmentKeys<'a> {
    /// This device's key-wrap key (members; the admin has none).
    pub device_key_wrap_key: Option<&'a [u8; 32]>,
    /// Every workspace epoch key received, by epoch.
    pub epochs: &'a [(u32, EpochKey)],
}

fn not_enrolled() -> Error {
    Error::InvalidInput("this vault is not enrolled in a workspace".into())
}

/// How this vault syncs. Stored sealed; never logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSettings {
    pub relay_url: String,
    pub workspace_id: String,
    pub role: Role,
    pub admin_device_id: String,
    #[serde(with = "b64")]
    pub admin_signing_public: Vec<u8>,
    /// Relay sequence number of the last applied entry.
    pub cursor: i64,
    pub lease_hours: u32,
    pub last_success_ms: Option<i64>,
    /// PEM root certificate trusted for the relay besides the built-in roots
    /// (a town's private CA on a closed government network), as given at
    /// enrolment; every later connection of this vault uses it.
    #[serde(default)]
    pub relay_root_certificate_pem: Option<String>,
}

/// A queued change set, decrypted for pushing.
pub struct OutboxItem {
    pub entry_id: Vec<u8>,
    pub doc: DocumentId,
    pub bytes: Zeroizing<Vec<u8>>,
}

impl Vault {
    pub(crate) fn outbox_enabled(&self) -> bool {
        self.sync_enabled.load(Ordering::Relaxed)
    }

    pub(crate) fn put_sealed_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        self.put_sealed_meta_in(&self.lock(), name, value)
    }

    fn put_sealed_meta_in(&self, conn: &Connection, name: &str, value: &[u8]) -> Result<()> {
        rows::put_meta(conn, name, &self.keys.meta.seal(meta_aad(name), value)?)
    }

    pub(crate) fn get_sealed_meta(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        self.get_sealed_meta_in(&self.lock(), name)
    }

    fn get_sealed_meta_in(
        &self,
        conn: &Connection,
        name: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>> {
        match rows::get_meta(conn, name)? {
            None => Ok(None),
            Some(sealed) => self
                .keys
                .meta
                .open_owned(meta_aad(name), sealed)
                .map(|v| Some(Zeroizing::new(v)))
                .ok_or_else(|| Error::Corrupted(format!("the vault record {name}"))),
        }
    }

    /// A sealed vault record holding JSON; `Corrupted` if it does not open
    /// or parse.
    pub(crate) fn sealed_json_in<T: serde::de::DeserializeOwned>(
        &self,
        conn: &Connection,
        name: &str,
    ) -> Result<Option<T>> {
        self.get_sealed_meta_in(conn, name)?
            .map(|plain| {
                serde_json::from_slice(&plain)
                    .map_err(|_| Error::Corrupted(format!("the vault record {name}")))
            })
            .transpose()
    }

    /// Seals `value` as JSON into the vault record `name` (the JSON is
    /// zeroized after sealing).
    pub(crate) fn put_sealed_json_in<T: Serialize>(
        &self,
        conn: &Connection,
        name: &str,
        value: &T,
    ) -> Result<()> {
        let json =
            Zeroizing::new(serde_json::to_vec(value).map_err(|e| Error::Internal(e.to_string()))?);
        self.put_sealed_meta_in(conn, name, &json)
    }

    pub(crate) fn sealed_json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>> {
        self.sealed_json_in(&self.lock(), name)
    }

    pub(crate) fn put_sealed_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        self.put_sealed_json_in(&self.lock(), name, value)
    }

    pub fn sync_settings(&self) -> Result<Option<SyncSettings>> {
        self.sync_settings_in(&self.lock())
    }

    /// The sync settings of an enrolled vault; `InvalidInput` before it
    /// joins a workspace.
    pub fn enrolment(&self) -> Result<SyncSettings> {
        self.sync_settings()?.ok_or_else(not_enrolled)
    }

    fn sync_settings_in(&self, conn: &Connection) -> Result<Option<SyncSettings>> {
        self.get_sealed_meta_in(conn, SETTINGS)?
            .map(|json| {
                serde_json::from_slice(&json)
                    .map_err(|_| Error::Corrupted("the sync settings".into()))
            })
            .transpose()
    }

    fn put_sync_settings_in(&self, conn: &Connection, settings: &SyncSettings) -> Result<()> {
        self.put_sealed_json_in(conn, SETTINGS, settings)
    }

    /// Reads, changes and writes the sync settings in one step under the
    /// vault's lock, so that two writers (a sync engine moving its cursor, the
    /// app replacing the relay's root certificate) never undo each other.
    pub(crate) fn update_sync_settings(
        &self,
        f: impl FnOnce(&mut SyncSettings),
    ) -> Result<SyncSettings> {
        let settings = {
            let conn = self.lock();
            let mut settings = self.sync_settings_in(&conn)?.ok_or_else(not_enrolled)?;
            f(&mut settings);
            self.put_sync_settings_in(&conn, &settings)?;
            settings
        };
        self.lease.update(&settings);
        Ok(settings)
    }

    /// Replaces the root certificate(s) trusted for this vault's relay
    /// besides the built-in roots (Mozilla's list compiled into the library,
    /// not the operating system's store) (PEM; `None`: the built-in roots only), for a
    /// town whose private CA is renewed or replaced. Checked before it is
    /// recorded: text with no certificate is `InvalidInput` and changes
    /// nothing. A running sync engine uses it from its next pass.
    pub fn set_relay_root_certificate(&self, pem: Option<String>) -> Result<()> {
        if let Some(pem) = &pem {
            crate::sync::client::root_certificates(pem)?;
        }
        self.update_sync_settings(|s| s.relay_root_certificate_pem = pem)?;
        Ok(())
    }

    /// Now, in Unix milliseconds, by the vault's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.options.clock.now().0.timestamp_millis()
    }

    /// This device's signing identity, created on first use.
    pub fn device_identity(&self) -> Result<DeviceIdentity> {
        if let Some(pkcs8) = self.get_sealed_meta(IDENTITY)? {
            return DeviceIdentity::from_pkcs8(&pkcs8);
        }
        let identity = DeviceIdentity::generate()?;
        self.put_sealed_meta(IDENTITY, identity.pkcs8())?;
        Ok(identity)
    }

    pub(crate) fn device_key_wrap_key(&self) -> Result<Option<Zeroizing<[u8; 32]>>> {
        Ok(self
            .get_sealed_meta(DKK)?
            .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok().map(Zeroizing::new)))
    }

    /// Key-wrap key of a member device (admin vaults only).
    pub(crate) fn member_key_wrap_key(
        &self,
        device_id: &str,
    ) -> Result<Option<Zeroizing<[u8; 32]>>> {
        Ok(self
            .get_sealed_meta(&member_dkk_name(device_id))?
            .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok().map(Zeroizing::new)))
    }

    pub(crate) fn set_member_key_wrap_key(&self, device_id: &str, dkk: &[u8; 32]) -> Result<()> {
        self.put_sealed_meta(&member_dkk_name(device_id), dkk)
    }

    /// Forgets a member's key-wrap key (on revocation), so no later epoch
    /// key is wrapped for that device.
    pub(crate) fn forget_member_key_wrap_key(&self, device_id: &str) -> Result<()> {
        self.delete_sealed_meta(&member_dkk_name(device_id))
    }

    pub(crate) fn delete_sealed_meta(&self, name: &str) -> Result<()> {
        rows::delete_meta(&self.lock(), name)
    }

    fn epoch_list(&self) -> Result<Vec<u32>> {
        self.epoch_list_in(&self.lock())
    }

    fn epoch_list_in(&self, conn: &Connection) -> Result<Vec<u32>> {
        Ok(self.sealed_json_in(conn, EPOCHS)?.unwrap_or_default())
    }

    /// Stores the key of a workspace epoch.
    pub(crate) fn add_epoch_key(&self, epoch: u32, key: &EpochKey) -> Result<()> {
        self.add_epoch_keys_in(&self.lock(), [(epoch, key)])
    }

    /// Stores the keys of the epochs this vault does not hold yet (the first
    /// given for an epoch wins) and the epoch list, on `conn`.
    fn add_epoch_keys_in<'k>(
        &self,
        conn: &Connection,
        keys: impl IntoIterator<Item = (u32, &'k EpochKey)>,
    ) -> Result<()> {
        let mut epochs = self.epoch_list_in(conn)?;
        let held = epochs.len();
        for (epoch, key) in keys {
            if !epochs.contains(&epoch) {
                self.put_sealed_meta_in(conn, &epoch_key_name(epoch), key.expose())?;
                epochs.push(epoch);
            }
        }
        if epochs.len() > held {
            epochs.sort_unstable();
            self.put_sealed_json_in(conn, EPOCHS, &epochs)?;
        }
        Ok(())
    }

    /// Every workspace epoch key this vault holds.
    pub fn workspace_keys(&self, workspace_id: &str) -> Result<WorkspaceKeys> {
        let mut keys = WorkspaceKeys::new(workspace_id);
        for epoch in self.epoch_list()? {
            let raw = self
                .get_sealed_meta(&epoch_key_name(epoch))?
                .ok_or_else(|| Error::Corrupted(format!("the workspace key of epoch {epoch}")))?;
            keys.insert(epoch, EpochKey::from_slice(&raw)?)?;
        }
        Ok(keys)
    }

    /// Checks, without changing anything, that [`Vault::enable_sync`] would
    /// succeed for the documents stored now: run before the relay is asked
    /// to enroll this vault, so that a document that cannot be synced is
    /// reported while the enrollment code is still unused.
    pub(crate) fn check_enable_sync(&self) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        self.queue_every_document(&tx)
        // Dropping `tx` rolls it back.
    }

    /// Turns sync on: stores the workspace keys and the settings and queues
    /// every existing document whole, so what was recorded before enrollment
    /// reaches the relay too. One transaction under the vault's lock: either
    /// the vault is enrolled with its keys and every document queued, or (a
    /// document too large to sync, an unreadable one, a full disk) nothing
    /// changed; and no document written meanwhile can fall between the
    /// listing and the switch. Sync keys left by an earlier attempt that
    /// failed before this point are removed first, so a key of another
    /// workspace can never stand in for one of this workspace's epochs. A
    /// document is never left out: one that never reached the relay whole
    /// could later be purged as acknowledged once a small edit of it was.
    pub(crate) fn enable_sync(
        &self,
        settings: &SyncSettings,
        keys: &EnrolmentKeys<'_>,
    ) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        if self.sync_settings_in(&tx)?.is_some() {
            return Err(Error::InvalidInput(
                "this vault already belongs to a workspace".into(),
            ));
        }
        for name in [
            DKK,
            EPOCHS,
            crate::sync::rotation::REVOCATIONS_DUE,
            crate::sync::rotation::ROTATED_AT,
        ] {
            rows::delete_meta(&tx, name)?;
        }
        rows::delete_meta_prefixed(&tx, EPOCH_KEY_PREFIX)?;
        rows::delete_meta_prefixed(&tx, MEMBER_DKK_PREFIX)?;
        if let Some(dkk) = keys.device_key_wrap_key {
            self.put_sealed_meta_in(&tx, DKK, dkk)?;
        }
        self.add_epoch_keys_in(&tx, keys.epochs.iter().map(|(epoch, key)| (*epoch, key)))?;
        if settings.role == Role::Admin {
            // The admin's first epoch starts now (for scheduled rotation).
            self.put_sealed_meta_in(
                &tx,
                crate::sync::rotation::ROTATED_AT,
                &self.now_ms().to_be_bytes(),
            )?;
        }
        self.queue_every_document(&tx)?;
        self.put_sync_settings_in(&tx, settings)?;
        tx.commit()?;
        self.sync_enabled.store(true, Ordering::Relaxed);
        drop(conn);
        self.lease.update(settings);
        Ok(())
    }

    fn queue_every_document(&self, tx: &Connection) -> Result<()> {
        let ids: Vec<DocumentId> = self
            .list_in(tx, &Default::default(), false)?
            .documents
            .into_iter()
            .map(|d| d.id)
            .collect();
        for id in ids {
            self.queue_whole(tx, &id)?;
        }
        Ok(())
    }

    /// Queues document `id` whole (its change sets and its photos) for the
    /// relay, inside the caller's transaction.
    fn queue_whole(&self, tx: &Connection, id: &DocumentId) -> Result<()> {
        let mut stored = sealed_doc::load(tx, &self.keys, &self.key_cache, id)?;
        let all = Zeroizing::new(stored.doc.save());
        stored.enqueue(tx, &all)?;
        let body = super::documents::hydrate_any(&stored.doc, stored.header.kind, id)?;
        for photo in &body.envelope().photos {
            for variant in [super::PhotoVariant::Thumbnail, super::PhotoVariant::Display] {
                self.queue_photo_transfer(
                    tx,
                    super::photo_sync::Direction::Upload,
                    &stored.row,
                    &stored.key,
                    id,
                    photo,
                    variant,
                )?;
            }
        }
        stored.header.acknowledged_at = None;
        stored.write_header(tx)
    }

    /// Up to `limit` queued items, oldest first, decrypted for pushing, and
    /// no more than `byte_budget` bytes of change data in all — except that
    /// the first item is always returned, whatever its size, so one large
    /// change cannot hold the queue back. Items of documents deleted
    /// meanwhile are gone with their key.
    pub(crate) fn outbox_items(&self, limit: usize, byte_budget: usize) -> Result<Vec<OutboxItem>> {
        let conn = self.lock();
        let mut out: Vec<OutboxItem> = Vec::new();
        let mut bytes = 0usize;
        let mut cache = self.key_cache.lock();
        for row in rows::outbox_batch(&conn, limit)? {
            // Known before opening: nonce, document id and tag around the change.
            let size = row.sealed.len().saturating_sub(NONCE_LEN + 16 + TAG_LEN);
            if !out.is_empty() && bytes.saturating_add(size) > byte_budget {
                break;
            }
            let Some(stored) = rows::get_document(&conn, &row_id(&row.doc)?)? else {
                rows::delete_outbox(&conn, &row.entry_id)?;
                continue;
            };
            let key =
                sealed_doc::KeyCache::lookup(&mut cache, &self.keys, &row.doc, &stored.wrapped_key)
                    .ok_or_else(|| Error::Corrupted("a queued change".into()))?;
            let payload = Zeroizing::new(
                key.sealer()
                    .open_owned(
                        aad(T_OUTBOX, &outbox_row(&row.doc, &row.entry_id), 0),
                        row.sealed,
                    )
                    .ok_or_else(|| Error::Corrupted("a queued change".into()))?,
            );
            if payload.len() < 16 {
                return Err(Error::Corrupted("a queued change".into()));
            }
            let uuid = uuid::Uuid::from_slice(&payload[..16])
                .map_err(|_| Error::Corrupted("a queued change".into()))?;
            bytes = bytes.saturating_add(size);
            out.push(OutboxItem {
                entry_id: row.entry_id,
                doc: DocumentId(uuid),
                bytes: Zeroizing::new(payload[16..].to_vec()),
            });
        }
        Ok(out)
    }

    /// Removes acknowledged items; documents with nothing left queued are
    /// marked acknowledged (retention may then purge them). One transaction
    /// for the whole batch: on a phone's flash every commit is an `fsync`
    /// of several milliseconds, and a push acknowledges up to 500 documents.
    pub(crate) fn outbox_acknowledged(&self, items: &[(Vec<u8>, DocumentId)]) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for (entry_id, _) in items {
            rows::delete_outbox(&tx, entry_id)?;
        }
        let still_queued = rows::outbox_docs(&tx)?;
        let mut done: HashSet<DocumentId> = HashSet::new();
        for (_, doc) in items {
            if !done.insert(*doc) {
                continue;
            }
            if still_queued.contains(&sealed_doc::row_id(&self.keys, doc)[..]) {
                continue;
            }
            match self.mark_acknowledged_in(&tx, doc) {
                // Deleted here meanwhile: nothing left to mark.
                Ok(()) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// (queued change sets, their sealed bytes).
    pub fn outbox_size(&self) -> Result<(u64, u64)> {
        rows::outbox_size(&self.lock())
    }
}

fn row_id(bytes: &[u8]) -> Result<rows::RowId> {
    bytes
        .try_into()
        .map_err(|_| Error::Corrupted("an outbox row".into()))
}

#[cfg(test)]
mod tests {
    use crate::model::BearSighting;
    use crate::vault::test_support;

    fn settings() -> super::SyncSettings {
        super::SyncSettings {
            relay_root_certificate_pem: None,
            relay_url: "http://127.0.0.1:9".into(),
            workspace_id: "ws".into(),
            role: crate::sync::wire::Role::Member,
            admin_device_id: "admin".into(),
            admin_signing_public: vec![0; 32],
            cursor: 0,
            lease_hours: 72,
            last_success_ms: None,
        }
    }

    #[test]
    fn enabling_sync_replaces_keys_left_by_an_earlier_attempt() {
        use crate::sync::workspace_keys::EpochKey;
        let (_tmp, v) = test_support::vault("staff-1");
        // What an attempt that failed after receiving keys of another
        // workspace used to leave behind.
        let stale = EpochKey::new([7; 32]).expect("key");
        v.add_epoch_key(1, &stale).expect("stale epoch 1");
        v.add_epoch_key(2, &stale).expect("stale epoch 2");
        v.set_member_key_wrap_key("old-member", &[9; 32])
            .expect("stale member key");
        v.put_sealed_meta("sync.dkk", &[8; 32]).expect("stale dkk");

        let fresh = EpochKey::new([1; 32]).expect("key");
        v.enable_sync(
            &settings(),
            &super::EnrolmentKeys {
                device_key_wrap_key: Some(&[3; 32]),
                epochs: &[(1, fresh)],
            },
        )
        .expect("sync on");
        let keys = v.workspace_keys("ws").expect("keys");
        let held: Vec<(u32, [u8; 32])> = keys.epochs().map(|(e, k)| (e, *k.expose())).collect();
        assert_eq!(held, vec![(1, [1; 32])], "a stale epoch key survived");
        assert!(v.member_key_wrap_key("old-member").expect("read").is_none());
        assert_eq!(
            v.device_key_wrap_key().expect("read").map(|k| *k),
            Some([3; 32])
        );

        // Enabling again is refused and changes nothing.
        let other = EpochKey::new([2; 32]).expect("key");
        assert!(matches!(
            v.enable_sync(
                &settings(),
                &super::EnrolmentKeys {
                    device_key_wrap_key: None,
                    epochs: &[(1, other)],
                },
            ),
            Err(crate::Error::InvalidInput(_))
        ));
        let keys = v.workspace_keys("ws").expect("keys");
        assert_eq!(
            keys.epochs().map(|(_, k)| *k.expose()).collect::<Vec<_>>(),
            vec![[1; 32]]
        );
        assert_eq!(
            v.device_key_wrap_key().expect("read").map(|k| *k),
            Some([3; 32])
        );
    }

    #[test]
    fn outbox_batches_stop_at_the_byte_budget_but_never_come_back_empty() {
        let (_tmp, v) = test_support::vault("staff-1");
        v.enable_sync(
            &settings(),
            &super::EnrolmentKeys {
                device_key_wrap_key: None,
                epochs: &[],
            },
        )
        .expect("sync on");
        for _ in 0..5 {
            test_support::bear(&v);
        }
        let all = v.outbox_items(100, usize::MAX).expect("all");
        assert_eq!(all.len(), 5);
        let size = |n: usize| all[..n].iter().map(|i| i.bytes.len()).sum::<usize>();

        // A budget of two items' change data gives exactly those two, in order.
        let two = v.outbox_items(100, size(2)).expect("two");
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].entry_id, all[1].entry_id);
        assert_eq!(v.outbox_items(100, size(2) - 1).expect("one").len(), 1);
        // The first item comes even when it alone exceeds the budget.
        let first = v.outbox_items(100, 1).expect("first");
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].entry_id, all[0].entry_id);
        // The count limit still applies.
        assert_eq!(v.outbox_items(3, usize::MAX).expect("three").len(), 3);

        // An edit whose change could never be pushed is refused, and
        // nothing of it is stored or queued.
        let id = all[0].doc;
        let before = v.get::<BearSighting>(&id).expect("read");
        let queued = v.outbox_size().expect("size");
        // 12 Mi hex digits from a xorshift generator: ~6 MB even compressed.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let noise: String = (0..12 * 1024 * 1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b"0123456789abcdef"[(state & 15) as usize])
            })
            .collect();
        let refused = v.update::<BearSighting, _>(&id, |d| d.behaviour = noise);
        assert!(
            matches!(&refused, Err(crate::Error::InvalidInput(m)) if m.contains("too large to sync")),
            "{refused:?}"
        );
        assert_eq!(v.get::<BearSighting>(&id).expect("read"), before);
        assert_eq!(v.outbox_size().expect("size"), queued);
    }
}
