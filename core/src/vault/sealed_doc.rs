//! Loading and storing one document's rows: key, header, snapshot, changes.
//! This is where plaintext becomes ciphertext and back, with the AAD that pins
//! each blob to its table, document row and sequence number.
use automerge::{AutoCommit, ChangeHash};
use rusqlite::Connection;

use super::header::{Header, HEADER_VERSION};
use crate::crypto::{Aad, DocKey, VaultKeys};
use crate::error::{Error, Result};
use crate::model::DocumentId;
use crate::store::rows::{self, RowId};

pub(crate) const T_DOC_KEYS: &[u8] = b"doc_keys";
pub(crate) const T_HEADERS: &[u8] = b"headers";
pub(crate) const T_CHANGES: &[u8] = b"changes";
pub(crate) const T_SNAPSHOTS: &[u8] = b"snapshots";

/// Row id of a document: a keyed hash of its UUID.
pub(crate) fn row_id(keys: &VaultKeys, id: &DocumentId) -> RowId {
    keys.lookup(b"doc", id.0.as_bytes())
}

fn corrupted(id: &DocumentId, part: &str) -> Error {
    Error::Corrupted(format!("the {part} of document {id}"))
}

pub(crate) fn wrap_doc_key(keys: &VaultKeys, row: &RowId, key: &DocKey) -> Result<Vec<u8>> {
    keys.doc_keys.seal(aad(T_DOC_KEYS, row, 0), key.expose())
}

pub(crate) fn unwrap_doc_key(keys: &VaultKeys, row: &[u8], wrapped: &[u8]) -> Option<DocKey> {
    let raw = zeroize::Zeroizing::new(keys.doc_keys.open(aad(T_DOC_KEYS, row, 0), wrapped)?);
    DocKey::from_slice(&raw)
}

pub(crate) fn aad<'a>(table: &'a [u8], row: &'a [u8], seq: u64) -> Aad<'a> {
    Aad { table, row, seq }
}

pub(crate) fn seal_header(key: &DocKey, row: &RowId, header: &Header) -> Result<Vec<u8>> {
    let json = zeroize::Zeroizing::new(
        serde_json::to_vec(header).map_err(|e| Error::Internal(e.to_string()))?,
    );
    key.sealer().seal(aad(T_HEADERS, row, 0), &json)
}

pub(crate) fn open_header(key: &DocKey, row: &[u8], sealed: &[u8]) -> Option<Header> {
    let json = zeroize::Zeroizing::new(key.sealer().open(aad(T_HEADERS, row, 0), sealed)?);
    let header: Header = serde_json::from_slice(&json).ok()?;
    (header.v == HEADER_VERSION).then_some(header)
}

/// A document loaded from its rows, with what is needed to append to it.
pub(crate) struct StoredDoc {
    pub row: RowId,
    pub key: DocKey,
    pub header: Header,
    pub doc: AutoCommit,
    /// Heads as stored; changes after these are what the next write appends.
    pub stored_heads: Vec<ChangeHash>,
}

/// Reads the key and header of a document (no Automerge work).
pub(crate) fn load_header(
    conn: &Connection,
    keys: &VaultKeys,
    id: &DocumentId,
) -> Result<(RowId, DocKey, Header)> {
    let row = row_id(keys, id);
    let wrapped = rows::get_doc_key(conn, &row)?.ok_or(Error::NotFound(*id))?;
    let key = unwrap_doc_key(keys, &row, &wrapped).ok_or_else(|| corrupted(id, "key"))?;
    let sealed = rows::get_header(conn, &row)?.ok_or_else(|| corrupted(id, "header"))?;
    let header = open_header(&key, &row, &sealed).ok_or_else(|| corrupted(id, "header"))?;
    if header.id != *id {
        return Err(corrupted(id, "header"));
    }
    Ok((row, key, header))
}

/// Loads snapshot and changes, checking that exactly the rows the header
/// promises are present (a deleted or rolled-back row is corruption).
pub(crate) fn load(conn: &Connection, keys: &VaultKeys, id: &DocumentId) -> Result<StoredDoc> {
    let (row, key, header) = load_header(conn, keys, id)?;
    let mut doc = match rows::get_snapshot(conn, &row)? {
        Some((upto, sealed)) => {
            if upto != header.snapshot_seq {
                return Err(corrupted(id, "snapshot"));
            }
            let bytes = zeroize::Zeroizing::new(
                key.sealer()
                    .open(aad(T_SNAPSHOTS, &row, upto), &sealed)
                    .ok_or_else(|| corrupted(id, "snapshot"))?,
            );
            AutoCommit::load(&bytes).map_err(|_| corrupted(id, "snapshot"))?
        }
        None if header.snapshot_seq == 0 => AutoCommit::new(),
        None => return Err(corrupted(id, "snapshot")),
    };
    let mut expected = header.snapshot_seq + 1;
    for (seq, sealed) in rows::changes_after(conn, &row, header.snapshot_seq)? {
        if seq != expected {
            return Err(corrupted(id, "change history"));
        }
        let bytes = zeroize::Zeroizing::new(
            key.sealer()
                .open(aad(T_CHANGES, &row, seq), &sealed)
                .ok_or_else(|| corrupted(id, "change history"))?,
        );
        doc.load_incremental(&bytes)
            .map_err(|_| corrupted(id, "change history"))?;
        expected += 1;
    }
    if expected != header.head_seq + 1 {
        return Err(corrupted(id, "change history"));
    }
    let stored_heads = doc.get_heads();
    Ok(StoredDoc {
        row,
        key,
        header,
        doc,
        stored_heads,
    })
}

impl StoredDoc {
    /// Appends the changes made since loading as one sealed change row and
    /// updates the header; snapshots when `compact_every` changes have piled up.
    /// Runs inside the caller's transaction. Returns false when nothing changed.
    pub fn persist(&mut self, conn: &Connection, compact_every: u64) -> Result<bool> {
        let bytes = zeroize::Zeroizing::new(self.doc.save_after(&self.stored_heads));
        let changed = !bytes.is_empty();
        if changed {
            let seq = self.header.head_seq + 1;
            let sealed = self
                .key
                .sealer()
                .seal(aad(T_CHANGES, &self.row, seq), &bytes)?;
            rows::insert_change(conn, &self.row, seq, &sealed)?;
            self.header.head_seq = seq;
            self.stored_heads = self.doc.get_heads();
            if compact_every > 0 && seq - self.header.snapshot_seq >= compact_every {
                self.write_snapshot(conn)?;
            }
        }
        self.write_header(conn)?;
        Ok(changed)
    }

    /// Replaces snapshot + changes by one snapshot at `head_seq`.
    pub fn write_snapshot(&mut self, conn: &Connection) -> Result<()> {
        let upto = self.header.head_seq;
        let bytes = zeroize::Zeroizing::new(self.doc.save());
        let sealed = self
            .key
            .sealer()
            .seal(aad(T_SNAPSHOTS, &self.row, upto), &bytes)?;
        rows::put_snapshot(conn, &self.row, upto, &sealed)?;
        self.header.snapshot_seq = upto;
        Ok(())
    }

    pub fn write_header(&self, conn: &Connection) -> Result<()> {
        let sealed = seal_header(&self.key, &self.row, &self.header)?;
        rows::put_header(conn, &self.row, &sealed)
    }
}
