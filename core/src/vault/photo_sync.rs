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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::test_support::{bear, vault};

    fn photo_ref() -> PhotoRef {
        PhotoRef {
            id: Uuid::new_v4(),
            sha256_hex: "ab".repeat(32),
            width: 4,
            height: 3,
            byte_size: 5,
            taken_at: None,
            position: None,
            source_format: "image/jpeg".into(),
            flags: Vec::new(),
        }
    }

    /// Queues downloads of `photo` for each of `docs`, as a pull that merged
    /// documents referencing a photo this vault lacks does; returns the
    /// queued thumbnails in the order of `docs`.
    fn queue_thumbnails(v: &Vault, docs: &[DocumentId], photo: &PhotoRef) -> Vec<PhotoTransfer> {
        {
            let mut conn = v.lock();
            let tx = conn.transaction().expect("tx");
            for doc in docs {
                let (row, key, _) =
                    sealed_doc::load_header(&tx, &v.keys, &v.key_cache, doc).expect("header");
                v.queue_missing_photo_downloads(&tx, &row, &key, doc, std::slice::from_ref(photo))
                    .expect("queue");
            }
            tx.commit().expect("commit");
        }
        let queued = v.photo_transfers(Direction::Download).expect("queued");
        assert_eq!(queued.len(), 2 * docs.len(), "thumbnail and display each");
        docs.iter()
            .map(|doc| {
                queued
                    .iter()
                    .find(|t| t.doc == *doc && t.variant == PhotoVariant::Thumbnail)
                    .expect("thumbnail queued")
                    .clone()
            })
            .collect()
    }

    #[test]
    fn a_variant_that_cannot_be_stored_keeps_the_ones_before_it_and_queues_the_rest() {
        let (_tmp, v) = vault("staff-1");
        let docs: Vec<DocumentId> = (0..3).map(|_| bear(&v)).collect();
        let photo = photo_ref();
        let queued = queue_thumbnails(&v, &docs, &photo);
        // The second document's header no longer opens: storing its variant fails.
        let broken = sealed_doc::row_id(&v.keys, &docs[1]);
        v.lock()
            .execute(
                "UPDATE documents SET header = X'00' WHERE doc = ?1",
                [&broken[..]],
            )
            .expect("corrupt");

        let downloads: Vec<(&PhotoTransfer, &[u8])> = vec![
            (&queued[0], b"first".as_slice()),
            (&queued[1], b"second".as_slice()),
            (&queued[2], b"third".as_slice()),
        ];
        let err = v
            .store_downloaded_photos(&downloads)
            .expect_err("broken header");
        assert!(matches!(err, Error::Corrupted(_)), "{err:?}");

        // The first is stored and off the queue; the failed one and the one
        // after it stay queued (and unstored), with the display variants.
        assert_eq!(
            v.photo(&docs[0], &photo.id, PhotoVariant::Thumbnail)
                .expect("stored"),
            b"first"
        );
        let left = v.photo_transfers(Direction::Download).expect("queue");
        assert_eq!(left.len(), 5);
        assert!(!left.contains(&queued[0]));
        assert!(left.contains(&queued[1]) && left.contains(&queued[2]));
        assert!(matches!(
            v.photo(&docs[2], &photo.id, PhotoVariant::Thumbnail),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn a_variant_of_a_document_gone_meanwhile_only_leaves_the_queue() {
        let (_tmp, v) = vault("staff-1");
        let docs: Vec<DocumentId> = (0..2).map(|_| bear(&v)).collect();
        let photo = photo_ref();
        let queued = queue_thumbnails(&v, &docs, &photo);
        v.delete(&docs[0]).expect("delete");

        let stored = v
            .store_downloaded_photos(&[
                (&queued[0], b"gone".as_slice()),
                (&queued[1], b"kept".as_slice()),
            ])
            .expect("store");
        assert_eq!(stored, 1);
        assert_eq!(
            v.photo(&docs[1], &photo.id, PhotoVariant::Thumbnail)
                .expect("stored"),
            b"kept"
        );
        let left = v.photo_transfers(Direction::Download).expect("queue");
        assert_eq!(left.len(), 1, "only the kept document's display variant");
        assert_eq!(left[0].doc, docs[1]);
        assert_eq!(left[0].variant, PhotoVariant::Display);
    }
}
