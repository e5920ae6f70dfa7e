//! Photo storage: the sanitized display image and thumbnail of each photo,
//! sealed in fixed-size chunks under the document's key.
//!
//! Each chunk's AAD names the document row, the blob (a keyed hash of photo id
//! and variant), the chunk index and the chunk count, so a chunk moved to
//! another photo, reordered, or a photo cut short fails to open. Deleting the
//! document deletes its chunks and shreds its key.
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::sealed_doc::{self, aad};
use super::Vault;
use crate::crypto::DocKey;
use crate::error::{Error, Result};
use crate::model::{DocumentId, PhotoRef};
use crate::photo::{self, PhotoPolicy};
use crate::store::rows::RowId;

const T_PHOTO_CHUNKS: &[u8] = b"photo_chunks";
/// Plaintext bytes per stored chunk.
pub const PHOTO_CHUNK_SIZE: usize = 256 * 1024;

/// Which stored image of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhotoVariant {
    /// Long edge 2048 px by default.
    Display,
    /// Long edge 320 px by default.
    Thumbnail,
}

impl PhotoVariant {
    fn tag(self) -> &'static [u8] {
        self.as_str().as_bytes()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PhotoVariant::Display => "display",
            PhotoVariant::Thumbnail => "thumbnail",
        }
    }

    /// Transfer order: thumbnails before display images.
    pub(crate) fn rank(self) -> i64 {
        match self {
            PhotoVariant::Thumbnail => 0,
            PhotoVariant::Display => 1,
        }
    }

    pub(crate) fn from_rank(rank: i64) -> Option<Self> {
        match rank {
            0 => Some(PhotoVariant::Thumbnail),
            1 => Some(PhotoVariant::Display),
            _ => None,
        }
    }
}

fn chunk_seq(index: u32, count: u32) -> u64 {
    (u64::from(count) << 32) | u64::from(index)
}

impl Vault {
    pub(crate) fn blob_row(
        &self,
        doc_row: &RowId,
        photo_id: &Uuid,
        variant: PhotoVariant,
    ) -> Vec<u8> {
        let mut material = doc_row.to_vec();
        material.extend_from_slice(photo_id.as_bytes());
        material.extend_from_slice(variant.tag());
        self.keys.lookup(b"photo", &material).to_vec()
    }

    /// Sanitizes, resizes and stores a photo for a document, and adds its
    /// `PhotoRef` to the document. `policy` defaults to the document kind's
    /// (no position for tax-help forms). Ingesting the same picture twice into
    /// one document stores it once and returns the existing reference.
    pub fn ingest_photo(
        &self,
        id: &DocumentId,
        bytes: &[u8],
        policy: Option<&PhotoPolicy>,
    ) -> Result<PhotoRef> {
        let kind = self.summary(id)?.kind;
        self.check_lease(id, kind)?;
        let default_policy;
        let policy = match policy {
            Some(p) => p,
            None => {
                default_policy = PhotoPolicy::for_kind(kind);
                &default_policy
            }
        };
        // The heavy work runs without the vault lock.
        let processed = photo::process(bytes, policy)?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &processed.display_jpeg);
        let sha256_hex = crate::sync::wire::hex(digest.as_ref());

        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let (row, key, _) = sealed_doc::load_header(&tx, &self.keys, &self.key_cache, id)?;
        let existing = self.update_envelope_in(&tx, id, kind, |env| {
            env.photos
                .iter()
                .find(|p| p.sha256_hex == sha256_hex)
                .cloned()
        })?;
        if let Some(existing) = existing {
            return Ok(existing);
        }
        let photo_ref = PhotoRef {
            id: Uuid::new_v4(),
            sha256_hex,
            width: processed.display_width,
            height: processed.display_height,
            byte_size: processed.display_jpeg.len() as u64,
            taken_at: processed.metadata.taken_at.clone(),
            position: processed.metadata.position,
            source_format: processed.source_format.as_str().to_owned(),
            flags: processed.metadata.flags.clone(),
        };
        for (variant, data) in [
            (PhotoVariant::Display, &processed.display_jpeg),
            (PhotoVariant::Thumbnail, &processed.thumbnail_jpeg),
        ] {
            let blob = self.blob_row(&row, &photo_ref.id, variant);
            store_chunks(&tx, &key, &row, &blob, data)?;
        }
        let added = photo_ref.clone();
        self.update_envelope_in(&tx, id, kind, move |env| env.photos.push(added))?;
        if self.outbox_enabled() {
            for variant in [PhotoVariant::Thumbnail, PhotoVariant::Display] {
                self.queue_photo_transfer(
                    &tx,
                    super::photo_sync::Direction::Upload,
                    &row,
                    &key,
                    id,
                    &photo_ref,
                    variant,
                )?;
            }
        }
        tx.commit()?;
        Ok(photo_ref)
    }

    /// Reads a stored photo variant whole.
    pub fn photo(
        &self,
        id: &DocumentId,
        photo_id: &Uuid,
        variant: PhotoVariant,
    ) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_photo(id, photo_id, variant, |chunk| {
            out.extend_from_slice(chunk);
            Ok(())
        })?;
        Ok(out)
    }

    /// Streams a stored photo variant chunk by chunk (≤ 256 KiB each) to `sink`.
    pub fn read_photo(
        &self,
        id: &DocumentId,
        photo_id: &Uuid,
        variant: PhotoVariant,
        sink: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        self.check_lease_of(id)?;
        self.read_photo_unleased(id, photo_id, variant, sink)
    }

    /// [`Vault::read_photo`] without the offline-lease check: for sync,
    /// which must upload a locked tax form's photos to check in and renew
    /// the lease (as merging pulled changes does).
    pub(crate) fn read_photo_unleased(
        &self,
        id: &DocumentId,
        photo_id: &Uuid,
        variant: PhotoVariant,
        mut sink: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let conn = self.lock();
        let (row, key, _) = sealed_doc::load_header(&conn, &self.keys, &self.key_cache, id)?;
        let blob = self.blob_row(&row, photo_id, variant);
        let corrupted = || Error::Corrupted(format!("photo {photo_id} of document {id}"));
        let count: Option<u32> = conn
            .query_row(
                "SELECT count FROM photo_chunks WHERE doc = ?1 AND blob = ?2 AND idx = 0",
                params![&row[..], &blob],
                |r| r.get(0),
            )
            .optional()?;
        let Some(count) = count else {
            return Err(Error::InvalidInput(format!(
                "document {id} has no photo {photo_id}"
            )));
        };
        let mut stmt = conn.prepare_cached(
            "SELECT idx, sealed FROM photo_chunks WHERE doc = ?1 AND blob = ?2 ORDER BY idx",
        )?;
        let mut rows = stmt.query(params![&row[..], &blob])?;
        let mut expected = 0u32;
        while let Some(r) = rows.next()? {
            let index: u32 = r.get(0)?;
            let sealed: Vec<u8> = r.get(1)?;
            if index != expected {
                return Err(corrupted());
            }
            let plain = zeroize::Zeroizing::new(
                key.sealer()
                    .open_owned(aad_for(&blob, index, count), sealed)
                    .ok_or_else(corrupted)?,
            );
            sink(&plain)?;
            expected += 1;
        }
        if expected != count {
            return Err(corrupted());
        }
        Ok(())
    }
}

/// The blob id is a keyed hash of document row, photo id and variant, so it
/// binds the chunk to all three; the sequence binds index and count.
fn aad_for(blob: &[u8], index: u32, count: u32) -> crate::crypto::Aad<'_> {
    aad(T_PHOTO_CHUNKS, blob, chunk_seq(index, count))
}

pub(crate) fn store_chunks(
    tx: &Connection,
    key: &DocKey,
    row: &RowId,
    blob: &[u8],
    data: &[u8],
) -> Result<()> {
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[][..]]
    } else {
        data.chunks(PHOTO_CHUNK_SIZE).collect()
    };
    let count =
        u32::try_from(chunks.len()).map_err(|_| Error::InvalidInput("photo too large".into()))?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO photo_chunks (doc, blob, idx, count, sealed) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (index, chunk) in chunks.into_iter().enumerate() {
        let index = index as u32;
        let sealed = key.sealer().seal(aad_for(blob, index, count), chunk)?;
        stmt.execute(params![&row[..], blob, index, count, sealed])?;
    }
    Ok(())
}
