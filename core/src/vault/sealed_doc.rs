//! Loading and storing one document's rows: key, header, snapshot, changes.
//! This is where plaintext becomes ciphertext and back, with the AAD that pins
//! each blob to its table, document row and sequence number.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use automerge::{AutoCommit, ChangeHash};
use rusqlite::Connection;
use zeroize::Zeroize;

use super::header::{Header, HEADER_VERSION};
use crate::crypto::{Aad, DocKey, VaultKeys};
use crate::error::{Error, Result};
use crate::model::DocumentId;
use crate::store::rows::{self, RowId};

pub(crate) const T_DOC_KEYS: &[u8] = b"documents.wrapped_key";
pub(crate) const T_HEADERS: &[u8] = b"documents.header";
pub(crate) const T_CHANGES: &[u8] = b"changes";
pub(crate) const T_SNAPSHOTS: &[u8] = b"snapshots";
pub(crate) const T_OUTBOX: &[u8] = b"outbox";

/// AAD row of an outbox item: document row and entry id.
pub(crate) fn outbox_row(doc_row: &[u8], entry_id: &[u8]) -> Vec<u8> {
    let mut row = doc_row.to_vec();
    row.extend_from_slice(entry_id);
    row
}

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

/// Unwrapped document keys of this open vault, so listing and reading do not
/// unwrap (and expand) a key per row every time. Keys are zeroized when
/// evicted or when the vault is dropped.
#[derive(Default)]
pub(crate) struct KeyCache(Mutex<HashMap<Vec<u8>, Arc<DocKey>>>);

impl KeyCache {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Arc<DocKey>>> {
        crate::mutex::lock(&self.0)
    }

    /// The key for `row`, unwrapping `wrapped` on a miss; `None` if it does not open.
    /// Borrowing variant for loops over many rows.
    pub fn lookup_ref<'c>(
        cache: &'c mut HashMap<Vec<u8>, Arc<DocKey>>,
        keys: &VaultKeys,
        row: &[u8],
        wrapped: &[u8],
    ) -> Option<&'c DocKey> {
        if !cache.contains_key(row) {
            let key = Arc::new(unwrap_doc_key(keys, row, wrapped)?);
            cache.insert(row.to_vec(), key);
        }
        cache.get(row).map(|k| &**k)
    }

    /// The key for `row`, unwrapping `wrapped` on a miss; `None` if it does not open.
    pub fn get_or_unwrap(
        &self,
        keys: &VaultKeys,
        row: &[u8],
        wrapped: &[u8],
    ) -> Option<Arc<DocKey>> {
        Self::lookup(&mut self.lock(), keys, row, wrapped)
    }

    /// As [`Self::get_or_unwrap`], with the cache already locked (for loops).
    pub fn lookup(
        cache: &mut HashMap<Vec<u8>, Arc<DocKey>>,
        keys: &VaultKeys,
        row: &[u8],
        wrapped: &[u8],
    ) -> Option<Arc<DocKey>> {
        if let Some(k) = cache.get(row) {
            return Some(k.clone());
        }
        let key = Arc::new(unwrap_doc_key(keys, row, wrapped)?);
        cache.insert(row.to_vec(), key.clone());
        Some(key)
    }

    pub fn remove(&self, row: &[u8]) {
        self.lock().remove(row);
    }
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

/// Opens a header inside a scratch buffer (no allocation beyond the parse).
pub(crate) fn open_header_in(
    key: &DocKey,
    row: &[u8],
    sealed: &[u8],
    scratch: &mut Vec<u8>,
) -> Option<Header> {
    scratch.clear();
    scratch.extend_from_slice(sealed);
    let plain = key
        .sealer()
        .open_in_place(aad(T_HEADERS, row, 0), scratch)?;
    let header: Option<Header> = serde_json::from_slice(plain).ok();
    scratch.zeroize();
    header.filter(|h| h.v == HEADER_VERSION)
}

pub(crate) fn open_header(key: &DocKey, row: &[u8], sealed: Vec<u8>) -> Option<Header> {
    let json = zeroize::Zeroizing::new(key.sealer().open_owned(aad(T_HEADERS, row, 0), sealed)?);
    let header: Header = serde_json::from_slice(&json).ok()?;
    (header.v == HEADER_VERSION).then_some(header)
}

/// A document loaded from its rows, with what is needed to append to it.
pub(crate) struct StoredDoc {
    pub row: RowId,
    pub key: Arc<DocKey>,
    /// Set for a document not yet stored: its wrapped key, inserted with the header.
    pub new_wrapped_key: Option<Vec<u8>>,
    pub header: Header,
    pub doc: AutoCommit,
    /// Heads as stored; changes after these are what the next write appends.
    pub stored_heads: Vec<ChangeHash>,
}

/// Reads the key and header of a document (no Automerge work).
pub(crate) fn load_header(
    conn: &Connection,
    keys: &VaultKeys,
    cache: &KeyCache,
    id: &DocumentId,
) -> Result<(RowId, Arc<DocKey>, Header)> {
    let row = row_id(keys, id);
    let stored = rows::get_document(conn, &row)?.ok_or(Error::NotFound(*id))?;
    let key = cache
        .get_or_unwrap(keys, &row, &stored.wrapped_key)
        .ok_or_else(|| corrupted(id, "key"))?;
    let header = open_header(&key, &row, stored.header).ok_or_else(|| corrupted(id, "header"))?;
    if header.id != *id {
        return Err(corrupted(id, "header"));
    }
    Ok((row, key, header))
}

/// Loads snapshot and changes, checking that exactly the rows the header
/// promises are present (a deleted or rolled-back row is corruption).
pub(crate) fn load(
    conn: &Connection,
    keys: &VaultKeys,
    cache: &KeyCache,
    id: &DocumentId,
) -> Result<StoredDoc> {
    let (row, key, mut header) = load_header(conn, keys, cache, id)?;
    // Only look for a snapshot when the header says there is one; a snapshot
    // row the header does not mention is ignored (and never trusted).
    let snapshot = if header.snapshot_seq > 0 {
        rows::get_snapshot(conn, &row)?
    } else {
        None
    };
    // Decrypt snapshot and changes into one buffer and load it in one pass:
    // a single batch apply is much cheaper than load + incremental applies.
    let mut all = zeroize::Zeroizing::new(Vec::new());
    match snapshot {
        Some((upto, sealed)) => {
            if upto != header.snapshot_seq {
                return Err(corrupted(id, "snapshot"));
            }
            let plain = zeroize::Zeroizing::new(
                key.sealer()
                    .open_owned(aad(T_SNAPSHOTS, &row, upto), sealed)
                    .ok_or_else(|| corrupted(id, "snapshot"))?,
            );
            all.extend_from_slice(&plain);
        }
        None if header.snapshot_seq == 0 => {}
        None => return Err(corrupted(id, "snapshot")),
    }
    header.change_rows = Some(load_changes(conn, &key, &row, id, &header, &mut all)?);
    let mut doc = if all.is_empty() {
        AutoCommit::new()
    } else {
        AutoCommit::load(&all).map_err(|_| corrupted(id, "change history"))?
    };
    let stored_heads = doc.get_heads();
    Ok(StoredDoc {
        row,
        key,
        new_wrapped_key: None,
        header,
        doc,
        stored_heads,
    })
}

/// Opens the change rows after the header's snapshot into `all`, in sequence
/// order, and returns their row ids. Exactly `snapshot_seq + 1 ..= head_seq`
/// must be there: a missing, extra, moved or rolled-back row is `Corrupted`.
fn load_changes(
    conn: &Connection,
    key: &DocKey,
    row: &RowId,
    id: &DocumentId,
    header: &Header,
    all: &mut Vec<u8>,
) -> Result<Vec<i64>> {
    let broken = || corrupted(id, "change history");
    let found = match &header.change_rows {
        Some(listed) => {
            let mut found = Vec::with_capacity(listed.len());
            for &rowid in listed {
                let (seq, sealed) = rows::change_at(conn, row, rowid)?.ok_or_else(broken)?;
                found.push((rowid, seq, sealed));
            }
            found
        }
        None => rows::changes_after(conn, row, header.snapshot_seq)?,
    };
    let mut expected = header.snapshot_seq + 1;
    let mut rowids = Vec::with_capacity(found.len());
    for (rowid, seq, sealed) in found {
        if seq != expected {
            return Err(broken());
        }
        let plain = zeroize::Zeroizing::new(
            key.sealer()
                .open_owned(aad(T_CHANGES, row, seq), sealed)
                .ok_or_else(broken)?,
        );
        all.extend_from_slice(&plain);
        rowids.push(rowid);
        expected += 1;
    }
    if expected != header.head_seq + 1 {
        return Err(broken());
    }
    Ok(rowids)
}

impl StoredDoc {
    /// Appends the changes made since loading as one sealed change row and
    /// updates the header; snapshots when `compact_every` changes have piled up.
    /// With `outbox`, the same changes are queued for the relay (sealed under the
    /// document key until they are pushed). Runs inside the caller's
    /// transaction. Returns false when nothing changed.
    ///
    /// A new document's first row (and its first outbox entry) holds the
    /// whole document in Automerge's compressed document format: about a
    /// third smaller than the same changes as change chunks, and about 1.5×
    /// faster to load, here and on every device that pulls it.
    pub fn persist(&mut self, conn: &Connection, compact_every: u64, outbox: bool) -> Result<bool> {
        let first = self.stored_heads.is_empty() && !self.doc.get_heads().is_empty();
        let bytes = zeroize::Zeroizing::new(if first {
            self.doc.save()
        } else {
            self.doc.save_after(&self.stored_heads)
        });
        self.persist_bytes(conn, compact_every, outbox, &bytes)
    }

    /// [`Self::persist`] for a document new here that was loaded from
    /// exactly `received` and not changed since: those bytes are stored as
    /// its first change row instead of encoding the same changes again
    /// (about a quarter of the cost of merging a pulled document).
    pub fn persist_received(
        &mut self,
        conn: &Connection,
        compact_every: u64,
        received: &[u8],
    ) -> Result<bool> {
        if !self.stored_heads.is_empty() || self.header.head_seq != 0 {
            return Err(Error::Internal(
                "received bytes can only start a new document".into(),
            ));
        }
        self.persist_bytes(conn, compact_every, false, received)
    }

    fn persist_bytes(
        &mut self,
        conn: &Connection,
        compact_every: u64,
        outbox: bool,
        bytes: &[u8],
    ) -> Result<bool> {
        let changed = !bytes.is_empty();
        if changed {
            let seq = self.header.head_seq + 1;
            let sealed = self
                .key
                .sealer()
                .seal(aad(T_CHANGES, &self.row, seq), bytes)?;
            let rowid = rows::insert_change(conn, &self.row, seq, &sealed)?;
            if let Some(listed) = self.header.change_rows.as_mut() {
                listed.push(rowid);
            }
            if outbox {
                self.enqueue(conn, bytes)?;
                // Changed since the relay last acknowledged it.
                self.header.acknowledged_at = None;
            }
            self.header.head_seq = seq;
            self.stored_heads = self.doc.get_heads();
            if compact_every > 0 && seq - self.header.snapshot_seq >= compact_every {
                self.write_snapshot(conn)?;
            }
        }
        self.write_header(conn)?;
        Ok(changed)
    }

    /// Queues Automerge bytes of this document for the relay.
    /// A change larger than [`crate::sync::wire::MAX_QUEUED_CHANGE`] could never be
    /// pushed, so it is refused here and the caller's transaction (the edit
    /// that produced it) rolls back.
    pub fn enqueue(&self, conn: &Connection, bytes: &[u8]) -> Result<()> {
        if bytes.len() > crate::sync::wire::MAX_QUEUED_CHANGE {
            return Err(Error::InvalidInput(format!(
                "this change is too large to sync ({:.1} MB; at most {} MB per edit)",
                bytes.len() as f64 / 1e6,
                crate::sync::wire::MAX_QUEUED_CHANGE / (1024 * 1024)
            )));
        }
        let entry_id = crate::crypto::random::bytes::<16>()?;
        let mut payload = zeroize::Zeroizing::new(Vec::with_capacity(16 + bytes.len()));
        payload.extend_from_slice(self.header.id.0.as_bytes());
        payload.extend_from_slice(bytes);
        let row = outbox_row(&self.row, &entry_id);
        let sealed = self.key.sealer().seal(aad(T_OUTBOX, &row, 0), &payload)?;
        rows::insert_outbox(conn, &entry_id, &self.row, 0, &sealed)
    }

    /// Replaces snapshot + changes by one snapshot at `head_seq`.
    pub fn write_snapshot(&mut self, conn: &Connection) -> Result<()> {
        let upto = self.header.head_seq;
        let bytes = zeroize::Zeroizing::new(self.doc.save());
        let sealed = self
            .key
            .sealer()
            .seal(aad(T_SNAPSHOTS, &self.row, upto), &bytes)?;
        let covered = self.header.change_rows.take();
        rows::put_snapshot(conn, &self.row, upto, &sealed, covered.as_deref())?;
        self.header.snapshot_seq = upto;
        self.header.change_rows = Some(Vec::new());
        Ok(())
    }

    /// Writes the header; for a new document, inserts its row with the wrapped key.
    pub fn write_header(&mut self, conn: &Connection) -> Result<()> {
        let sealed = seal_header(&self.key, &self.row, &self.header)?;
        match self.new_wrapped_key.take() {
            Some(wrapped) => {
                if !rows::insert_document(conn, &self.row, &wrapped, &sealed)? {
                    return Err(Error::InvalidInput(format!(
                        "document {} already exists",
                        self.header.id
                    )));
                }
                Ok(())
            }
            None => rows::update_header(conn, &self.row, &sealed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BearSighting;
    use crate::vault::test_support::{self, bear};
    use crate::vault::Vault;

    fn change_rows_of(v: &Vault, id: &DocumentId) -> (RowId, Option<Vec<i64>>) {
        let conn = v.lock();
        let (row, _, header) = load_header(&conn, &v.keys, &v.key_cache, id).expect("header");
        (row, header.change_rows)
    }

    fn count_changes(v: &Vault, row: &RowId) -> i64 {
        v.lock()
            .query_row(
                "SELECT count(*) FROM changes WHERE doc = ?1",
                [&row[..]],
                |r| r.get(0),
            )
            .expect("count")
    }

    /// Rewrites a header the way schema 2 stored it: no list of change rows.
    fn forget_change_rows(v: &Vault, id: &DocumentId) {
        let conn = v.lock();
        let (row, key, mut header) = load_header(&conn, &v.keys, &v.key_cache, id).expect("header");
        header.change_rows = None;
        let sealed = seal_header(&key, &row, &header).expect("seal");
        rows::update_header(&conn, &row, &sealed).expect("write");
    }

    fn vault() -> (tempfile::TempDir, Vault) {
        test_support::vault("staff-1")
    }

    #[test]
    fn headers_list_their_change_rows_and_schema_2_headers_still_load() {
        let (_tmp, v) = vault();
        let (id, other) = (bear(&v), bear(&v));
        v.update::<BearSighting, _>(&id, |d| d.behaviour = "edit 1".into())
            .expect("edit");
        let (row, listed) = change_rows_of(&v, &id);
        assert_eq!(listed.map(|l| l.len()), Some(2), "create + one edit");

        // A file from before schema 3: the (doc, seq) index, headers without a list.
        v.lock()
            .execute_batch("CREATE INDEX legacy_changes ON changes (doc, seq)")
            .expect("index");
        forget_change_rows(&v, &id);
        let before: BearSighting = v.get(&id).expect("a schema-2 header loads by doc");
        assert_eq!(before.behaviour, "edit 1");
        v.update::<BearSighting, _>(&id, |d| d.behaviour = "edit 2".into())
            .expect("edit");
        assert_eq!(
            change_rows_of(&v, &id).1.map(|l| l.len()),
            Some(3),
            "the first write lists every row"
        );

        // Compacting and deleting a schema-2 header remove its rows by doc.
        forget_change_rows(&v, &id);
        v.compact(&id).expect("compact");
        assert_eq!(count_changes(&v, &row), 0);
        assert_eq!(change_rows_of(&v, &id).1, Some(vec![]));
        v.update::<BearSighting, _>(&id, |d| d.behaviour = "edit 3".into())
            .expect("edit");
        assert_eq!(count_changes(&v, &row), 1);
        forget_change_rows(&v, &id);
        v.delete(&id).expect("delete");
        assert_eq!(count_changes(&v, &row), 0);

        // The listed path: delete removes exactly the listed rows.
        let (other_row, _) = change_rows_of(&v, &other);
        assert_eq!(count_changes(&v, &other_row), 1);
        let kept = bear(&v);
        v.delete(&other).expect("delete");
        assert_eq!(count_changes(&v, &other_row), 0);
        assert!(v.get::<BearSighting>(&kept).is_ok());
    }

    #[test]
    fn a_listed_row_of_another_document_is_corruption() {
        let (_tmp, v) = vault();
        let (a, b) = (bear(&v), bear(&v));
        let (_, b_rows) = change_rows_of(&v, &b);
        let b_rows = b_rows.expect("listed");
        {
            // Point a's header at b's change row (a header edit only the key
            // holder can make; here to show the row's `doc` and AAD are checked).
            let conn = v.lock();
            let (row, key, mut header) =
                load_header(&conn, &v.keys, &v.key_cache, &a).expect("header");
            header.change_rows = Some(b_rows);
            let sealed = seal_header(&key, &row, &header).expect("seal");
            rows::update_header(&conn, &row, &sealed).expect("write");
        }
        assert!(matches!(
            v.get::<BearSighting>(&a),
            Err(Error::Corrupted(_))
        ));
        assert!(v.get::<BearSighting>(&b).is_ok());
    }

    #[test]
    fn documents_new_here_keep_the_received_bytes_and_stay_editable() {
        let (_tmp_a, source) = vault();
        let (_tmp_b, v) = vault();
        let (one, two) = (bear(&source), bear(&source));
        source
            .update::<BearSighting, _>(&two, |d| d.behaviour = "edited at the source".into())
            .expect("edit");
        // A whole saved document (what enabling sync queues) and bare change
        // chunks (what later edits queue).
        let saved = source.export_changes(&one).expect("export");
        let changes = automerge::AutoCommit::load(&source.export_changes(&two).expect("export"))
            .expect("load")
            .save_after(&[]);
        let results = v
            .merge_batch_from_relay(&[(one, &saved[..]), (two, &changes[..])])
            .expect("merge");
        assert!(results.iter().all(|r| matches!(r, Ok(true))), "{results:?}");

        for (id, bytes) in [(one, &saved), (two, &changes)] {
            assert_eq!(
                v.get::<BearSighting>(&id).expect("read"),
                source.get::<BearSighting>(&id).expect("read")
            );
            // Stored as received: one change row holding exactly those bytes.
            let (row, listed) = change_rows_of(&v, &id);
            let listed = listed.expect("listed rows");
            assert_eq!(listed.len(), 1);
            let conn = v.lock();
            let (_, key, _) = load_header(&conn, &v.keys, &v.key_cache, &id).expect("header");
            let (seq, sealed) = rows::change_at(&conn, &row, listed[0])
                .expect("row")
                .expect("present");
            assert_eq!(seq, 1);
            let plain = key
                .sealer()
                .open_owned(aad(T_CHANGES, &row, 1), sealed)
                .expect("opens");
            assert_eq!(&plain, bytes);
        }

        // Edits, a duplicate delivery, compaction and reloading all work on them.
        v.update::<BearSighting, _>(&one, |d| d.behaviour = "edited here".into())
            .expect("edit here");
        let again = v
            .merge_batch_from_relay(&[(two, &changes[..])])
            .expect("dup");
        assert!(matches!(again[0], Ok(true)));
        v.compact(&one).expect("compact");
        assert_eq!(
            v.get::<BearSighting>(&one).expect("read").behaviour,
            "edited here"
        );
        assert_eq!(
            v.get::<BearSighting>(&two).expect("read").behaviour,
            "edited at the source"
        );
    }
}
