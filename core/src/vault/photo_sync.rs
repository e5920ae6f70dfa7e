//! Photo transfers queued for sync: uploads of photos taken here and
//! downloads of photos other devices took. Each queue row names the document
//! and blob by keyed hash only; what is needed to do the transfer (document
//! and photo ids, expected hash) is sealed under the document's key.
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::photos::{store_chunks, PhotoVariant};
use super::sealed_doc::{self, aad};
use super::Vault;
use crate::crypto::DocKey;
use crate::error::{Error, Result};
use crate::model::{DocumentId, PhotoRef};
use crate::store::rows::RowId;

const T_TRANSFERS: &[u8] = b"photo_transfers";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Upload = 0,
    Download = 1,
}

/// One queued photo transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoTransfer {
    pub doc: DocumentId,
    pub photo: Uuid,
    #[serde(skip, default = "default_variant")]
    pub variant: PhotoVariant,
    pub sha256_hex: String,
}

fn default_variant() -> PhotoVariant {
    PhotoVariant::Thumbnail
}

impl Vault {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn queue_photo_transfer(
        &self,
        tx: &Connection,
        direction: Direction,
        row: &RowId,
        key: &DocKey,
        doc: &DocumentId,
        photo: &PhotoRef,
        variant: PhotoVariant,
    ) -> Result<()> {
        let blob = self.blob_row(row, &photo.id, variant);
        let item = PhotoTransfer {
            doc: *doc,
            photo: photo.id,
            variant,
            sha256_hex: photo.sha256_hex.clone(),
        };
        let json =
            Zeroizing::new(serde_json::to_vec(&item).map_err(|e| Error::Internal(e.to_string()))?);
        let sealed = key
            .sealer()
            .seal(aad(T_TRANSFERS, &blob, direction as u64), &json)?;
        tx.prepare_cached(
            "INSERT OR IGNORE INTO photo_transfers (direction, doc, blob, variant, sealed) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![direction as i64, &row[..], &blob, variant.rank(), sealed])?;
        Ok(())
    }

    pub(crate) fn photo_transfers(&self, direction: Direction) -> Result<Vec<PhotoTransfer>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT t.blob, t.variant, t.sealed, d.wrapped_key, t.doc FROM photo_transfers t
             JOIN documents d ON d.doc = t.doc WHERE t.direction = ?1 ORDER BY t.variant",
        )?;
        let mut rows = stmt.query([direction as i64])?;
        let mut out = Vec::new();
        let mut cache = self.key_cache.lock();
        while let Some(r) = rows.next()? {
            let (blob, rank, mut sealed, wrapped, doc): (Vec<u8>, i64, Vec<u8>, Vec<u8>, Vec<u8>) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
            let corrupted = || Error::Corrupted("a queued photo transfer".into());
            let key = sealed_doc::KeyCache::lookup_ref(&mut cache, &self.keys, &doc, &wrapped)
                .ok_or_else(corrupted)?;
            let plain = key
                .sealer()
                .open_in_place(aad(T_TRANSFERS, &blob, direction as u64), &mut sealed)
                .ok_or_else(corrupted)?;
            let mut item: PhotoTransfer = serde_json::from_slice(plain).map_err(|_| corrupted())?;
            item.variant = PhotoVariant::from_rank(rank).ok_or_else(corrupted)?;
            out.push(item);
        }
        Ok(out)
    }

    /// Removes finished transfers from the queue of `direction`, in one
    /// transaction (one commit for a whole round of a sync pass).
    pub(crate) fn photo_transfers_done(
        &self,
        direction: Direction,
        done: &[PhotoTransfer],
    ) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for t in done {
            self.dequeue(&tx, direction, t)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn dequeue(&self, tx: &Connection, direction: Direction, t: &PhotoTransfer) -> Result<()> {
        let row = sealed_doc::row_id(&self.keys, &t.doc);
        let blob = self.blob_row(&row, &t.photo, t.variant);
        tx.prepare_cached(
            "DELETE FROM photo_transfers WHERE direction = ?1 AND doc = ?2 AND blob = ?3",
        )?
        .execute(params![direction as i64, &row[..], &blob])?;
        Ok(())
    }

    /// Queues downloads for photos a document references but this vault lacks.
    pub(crate) fn queue_missing_photo_downloads(
        &self,
        tx: &Connection,
        row: &RowId,
        key: &DocKey,
        doc: &DocumentId,
        photos: &[PhotoRef],
    ) -> Result<()> {
        for photo in photos {
            for variant in [PhotoVariant::Thumbnail, PhotoVariant::Display] {
                let blob = self.blob_row(row, &photo.id, variant);
                if !has_chunks(tx, row, &blob)? {
                    self.queue_photo_transfer(
                        tx,
                        Direction::Download,
                        row,
                        key,
                        doc,
                        photo,
                        variant,
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Stores downloaded photo variants (each sealed under its document's
    /// key) and takes them off the download queue, in one transaction. A
    /// variant whose document is gone (deleted or purged meanwhile) is only
    /// taken off the queue. Returns how many variants were stored. If one
    /// variant cannot be stored, the ones before it are kept (committed),
    /// it and the rest stay queued, and its error is returned.
    pub(crate) fn store_downloaded_photos(
        &self,
        downloads: &[(&PhotoTransfer, &[u8])],
    ) -> Result<usize> {
        let mut conn = self.lock();
        let mut tx = conn.transaction()?;
        let mut stored = 0;
        let mut failure = None;
        for (t, bytes) in downloads {
            let mut savepoint = tx.savepoint()?;
            match self.store_downloaded(&savepoint, t, bytes) {
                Ok(()) => stored += 1,
                Err(Error::NotFound(_)) => savepoint.rollback()?,
                Err(e) => {
                    failure = Some(e);
                    break; // the savepoint rolls back as it drops
                }
            }
            self.dequeue(&savepoint, Direction::Download, t)?;
            savepoint.commit()?;
        }
        tx.commit()?;
        failure.map_or(Ok(stored), Err)
    }

    fn store_downloaded(&self, tx: &Connection, t: &PhotoTransfer, bytes: &[u8]) -> Result<()> {
        let (row, key, _) = sealed_doc::load_header(tx, &self.keys, &self.key_cache, &t.doc)?;
        let blob = self.blob_row(&row, &t.photo, t.variant);
        if !has_chunks(tx, &row, &blob)? {
            store_chunks(tx, &key, &row, &blob, bytes)?;
        }
        Ok(())
    }

    /// Plaintext chunks of a stored photo variant (for re-sealing to the relay).
    pub(crate) fn photo_chunks_plain(
        &self,
        doc: &DocumentId,
        photo: &Uuid,
        variant: PhotoVariant,
    ) -> Result<Vec<Zeroizing<Vec<u8>>>> {
        let mut chunks = Vec::new();
        self.read_photo_unleased(doc, photo, variant, |c| {
            chunks.push(Zeroizing::new(c.to_vec()));
            Ok(())
        })?;
        Ok(chunks)
    }

    /// (uploads, downloads) waiting.
    pub fn photo_transfers_pending(&self) -> Result<(u64, u64)> {
        let conn = self.lock();
        let count = |d: Direction| -> Result<u64> {
            Ok(conn.query_row(
                "SELECT COUNT(*) FROM photo_transfers WHERE direction = ?1",
                [d as i64],
                |r| r.get::<_, i64>(0),
            )? as u64)
        };
        Ok((count(Direction::Upload)?, count(Direction::Download)?))
    }
}

/// Whether this vault holds any chunk of the photo variant `blob` of the
/// document `row`.
fn has_chunks(tx: &Connection, row: &RowId, blob: &[u8]) -> Result<bool> {
    let have: i64 = tx.query_row(
        "SELECT COUNT(*) FROM photo_chunks WHERE doc = ?1 AND blob = ?2",
        params![&row[..], blob],
        |r| r.get(0),
    )?;
    Ok(have > 0)
}
