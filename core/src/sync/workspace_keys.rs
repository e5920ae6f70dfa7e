//! Workspace content keys (one per epoch) and what they seal for the relay:
//! document entries and photo chunks, each bound by its AAD to workspace,
//! opaque id, position and epoch (see `docs/protocol.md`).
use std::collections::BTreeMap;

use ring::{hkdf, hmac};
use zeroize::Zeroizing;

use crate::crypto::{Aad, SealKey};
use crate::error::{Error, Result};

pub struct EpochKey {
    raw: Zeroizing<[u8; 32]>,
    seal: SealKey,
}

impl EpochKey {
    pub fn new(raw: [u8; 32]) -> Result<Self> {
        let raw = Zeroizing::new(raw);
        Ok(Self {
            seal: SealKey::new(&raw)?,
            raw,
        })
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let raw: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::Corrupted("a workspace key".into()))?;
        Self::new(raw)
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.raw
    }

    pub fn sealer(&self) -> &SealKey {
        &self.seal
    }
}

/// All epochs of a workspace this device may read, and the lookup key that
/// turns document and photo ids into the opaque ids the relay sees.
pub struct WorkspaceKeys {
    pub workspace_id: String,
    epochs: BTreeMap<u32, EpochKey>,
    lookup: Option<hmac::Key>,
}

fn entry_aad(ws: &str, doc_id: &[u8], entry_id: &[u8], epoch: u32) -> Vec<u8> {
    let mut row = Vec::with_capacity(ws.len() + doc_id.len() + entry_id.len() + 8);
    for part in [ws.as_bytes(), doc_id, entry_id] {
        row.extend_from_slice(&(part.len() as u16).to_be_bytes());
        row.extend_from_slice(part);
    }
    row.extend_from_slice(&epoch.to_be_bytes());
    row
}

impl WorkspaceKeys {
    pub fn new(workspace_id: impl Into<String>) -> Self {
        Self {
            workspace_id: workspace_id.into(),
            epochs: BTreeMap::new(),
            lookup: None,
        }
    }

    /// Adds the key of an epoch; epoch 1 also yields the lookup key, which
    /// stays the same across rotations so document ids remain stable.
    pub fn insert(&mut self, epoch: u32, key: EpochKey) -> Result<()> {
        if epoch == 1 {
            let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, self.workspace_id.as_bytes())
                .extract(key.expose());
            let okm = prk
                .expand(&[b"fieldvault/doc-ids/v1"], hkdf::HKDF_SHA256)
                .map_err(|_| Error::Crypto("HKDF expand failed".into()))?;
            let mut bytes = Zeroizing::new([0u8; 32]);
            okm.fill(bytes.as_mut())
                .map_err(|_| Error::Crypto("HKDF fill failed".into()))?;
            self.lookup = Some(hmac::Key::new(hmac::HMAC_SHA256, bytes.as_ref()));
        }
        self.epochs.insert(epoch, key);
        Ok(())
    }

    pub fn epochs(&self) -> impl Iterator<Item = (u32, &EpochKey)> {
        self.epochs.iter().map(|(e, k)| (*e, k))
    }

    pub fn current_epoch(&self) -> Option<u32> {
        self.epochs.keys().next_back().copied()
    }

    pub fn has_epoch(&self, epoch: u32) -> bool {
        self.epochs.contains_key(&epoch)
    }

    /// The key of `epoch`; [`Error::AwaitingKey`] if this device lacks it.
    pub(crate) fn key(&self, epoch: u32) -> Result<&EpochKey> {
        self.epochs.get(&epoch).ok_or(Error::AwaitingKey { epoch })
    }

    fn lookup_key(&self) -> Result<&hmac::Key> {
        self.lookup
            .as_ref()
            .ok_or_else(|| Error::InvalidInput("the workspace key of epoch 1 is missing".into()))
    }

    /// The opaque id the relay sees for a document.
    pub fn doc_id(&self, uuid: &uuid::Uuid) -> Result<Vec<u8>> {
        let mut ctx = hmac::Context::with_key(self.lookup_key()?);
        ctx.update(b"doc\0");
        ctx.update(uuid.as_bytes());
        Ok(ctx.sign().as_ref().to_vec())
    }

    /// The opaque id the relay sees for a photo variant.
    pub fn blob_id(&self, photo_id: &uuid::Uuid, variant: &str) -> Result<Vec<u8>> {
        let mut ctx = hmac::Context::with_key(self.lookup_key()?);
        ctx.update(b"blob\0");
        ctx.update(photo_id.as_bytes());
        ctx.update(variant.as_bytes());
        Ok(ctx.sign().as_ref().to_vec())
    }

    pub fn seal_entry(
        &self,
        epoch: u32,
        doc_id: &[u8],
        entry_id: &[u8],
        plain: &[u8],
    ) -> Result<Vec<u8>> {
        let row = entry_aad(&self.workspace_id, doc_id, entry_id, epoch);
        self.key(epoch)?.sealer().seal(
            Aad {
                table: b"FV-ENTRY-1",
                row: &row,
                seq: 0,
            },
            plain,
        )
    }

    pub fn open_entry(
        &self,
        epoch: u32,
        doc_id: &[u8],
        entry_id: &[u8],
        sealed: Vec<u8>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let row = entry_aad(&self.workspace_id, doc_id, entry_id, epoch);
        self.key(epoch)?
            .sealer()
            .open_owned(
                Aad {
                    table: b"FV-ENTRY-1",
                    row: &row,
                    seq: 0,
                },
                sealed,
            )
            .map(Zeroizing::new)
            .ok_or_else(|| Error::Corrupted("a synced entry".into()))
    }

    pub fn seal_chunk(
        &self,
        epoch: u32,
        blob_id: &[u8],
        index: u32,
        count: u32,
        plain: &[u8],
    ) -> Result<Vec<u8>> {
        let row = entry_aad(&self.workspace_id, blob_id, &count.to_be_bytes(), epoch);
        self.key(epoch)?.sealer().seal(
            Aad {
                table: b"FV-CHUNK-1",
                row: &row,
                seq: u64::from(index),
            },
            plain,
        )
    }

    pub fn open_chunk(
        &self,
        epoch: u32,
        blob_id: &[u8],
        index: u32,
        count: u32,
        sealed: Vec<u8>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let row = entry_aad(&self.workspace_id, blob_id, &count.to_be_bytes(), epoch);
        self.key(epoch)?
            .sealer()
            .open_owned(
                Aad {
                    table: b"FV-CHUNK-1",
                    row: &row,
                    seq: u64::from(index),
                },
                sealed,
            )
            .map(Zeroizing::new)
            .ok_or_else(|| Error::Corrupted("a synced photo chunk".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> WorkspaceKeys {
        let mut k = WorkspaceKeys::new("ws-1");
        k.insert(1, EpochKey::new([1; 32]).expect("key"))
            .expect("insert");
        k.insert(2, EpochKey::new([2; 32]).expect("key"))
            .expect("insert");
        k
    }

    #[test]
    fn entries_are_bound_to_workspace_doc_entry_and_epoch() {
        let k = keys();
        let sealed = k.seal_entry(2, b"doc", b"entry", b"changes").expect("seal");
        assert_eq!(
            &**k.open_entry(2, b"doc", b"entry", sealed.clone())
                .expect("open"),
            b"changes"
        );
        assert!(
            k.open_entry(1, b"doc", b"entry", sealed.clone()).is_err(),
            "epoch"
        );
        assert!(
            k.open_entry(2, b"dod", b"entry", sealed.clone()).is_err(),
            "doc"
        );
        assert!(
            k.open_entry(2, b"doc", b"entrz", sealed.clone()).is_err(),
            "entry"
        );
        let mut other = WorkspaceKeys::new("ws-2");
        other
            .insert(2, EpochKey::new([2; 32]).expect("key"))
            .expect("insert");
        assert!(
            other.open_entry(2, b"doc", b"entry", sealed).is_err(),
            "workspace"
        );
    }

    #[test]
    fn ids_are_stable_across_epochs_and_distinct() {
        let k = keys();
        let u = uuid::Uuid::from_bytes([9; 16]);
        assert_eq!(k.doc_id(&u).expect("id"), keys().doc_id(&u).expect("id"));
        assert_ne!(
            k.doc_id(&u).expect("id"),
            k.blob_id(&u, "display").expect("id")
        );
        assert_ne!(
            k.blob_id(&u, "display").expect("id"),
            k.blob_id(&u, "thumbnail").expect("id")
        );
    }

    #[test]
    fn chunks_are_bound_to_index_and_count() {
        let k = keys();
        let sealed = k.seal_chunk(1, b"blob", 3, 5, b"bytes").expect("seal");
        assert!(k.open_chunk(1, b"blob", 3, 5, sealed.clone()).is_ok());
        assert!(k.open_chunk(1, b"blob", 2, 5, sealed.clone()).is_err());
        assert!(k.open_chunk(1, b"blob", 3, 4, sealed).is_err());
    }
}
