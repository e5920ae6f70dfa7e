//! Merging Automerge bytes from other replicas (another device through the
//! relay, or bytes handed over by the app): load, check against the schema,
//! store sealed. Bytes that do not form a valid document of a known kind are
//! refused and nothing of them is stored.
//!
//! A page pulled from the relay is merged in one transaction. Documents that
//! are new on this device are loaded and validated on several cores first
//! (that is most of the work when a device joins a busy workspace); the
//! writes stay on the vault's one connection.
use std::collections::HashSet;

use automerge::AutoCommit;
use rusqlite::Connection;

use super::documents::{hydrate, hydrate_any, new_header, refresh_header};
use super::field_reader::hydrate_envelope;
use super::sealed_doc::{self, StoredDoc};
use super::Vault;
use crate::error::{Error, Result};
use crate::model::{AnyDocument, AuditAction, AuditLog, DocumentId, DocumentKind, Envelope};
use crate::parallel::map_on_cores;
use crate::store::rows;

/// Entries of a pulled page prepared together: enough to keep four cores
/// busy, few enough that the loaded documents held at once stay small
/// (a page may hold 1,000 entries).
const PREPARE_WINDOW: usize = 128;

fn refused(why: &str) -> Error {
    Error::InvalidInput(format!("merge refused: {why}"))
}

/// What a merged document holds, read back and checked against its schema.
struct Validated {
    envelope: Envelope,
    title: String,
    /// `None` for an audit log (not an [`AnyDocument`]).
    body: Option<AnyDocument>,
}

/// Reads the whole document as `kind` and checks that it is what it claims.
fn validate(doc: &AutoCommit, kind: DocumentKind, id: &DocumentId) -> Result<Validated> {
    let schema = || refused("the merged document does not match its schema");
    let validated = if kind == DocumentKind::AuditLog {
        let log: AuditLog = hydrate(doc, id).map_err(|_| schema())?;
        let title = crate::model::DocumentBody::title(&log);
        Validated {
            envelope: log.envelope,
            title,
            body: None,
        }
    } else {
        let any = hydrate_any(doc, kind, id).map_err(|_| schema())?;
        Validated {
            envelope: any.envelope().clone(),
            title: any.title(),
            body: Some(any),
        }
    };
    if validated.envelope.kind != kind || validated.envelope.id != *id {
        return Err(refused(
            "the document kind or id differs from the stored one",
        ));
    }
    Ok(validated)
}

/// A document new here, loaded from exactly the received bytes and validated.
/// Needs no vault state, so pages of them can be prepared on several cores.
struct NewDocument {
    doc: AutoCommit,
    validated: Validated,
}

/// Loads bytes that must form a whole document, with its envelope.
fn load_with_envelope(bytes: &[u8]) -> Result<(AutoCommit, Envelope)> {
    let doc = AutoCommit::load(bytes).map_err(|_| refused("not valid Automerge data"))?;
    let envelope = hydrate_envelope(&doc)
        .map_err(|_| refused("the data has no readable document envelope"))?;
    Ok((doc, envelope))
}

fn load_new(id: &DocumentId, bytes: &[u8]) -> Result<NewDocument> {
    let (doc, envelope) = load_with_envelope(bytes)?;
    if envelope.id != *id {
        return Err(refused("the data belongs to another document"));
    }
    let validated = validate(&doc, envelope.kind, id)?;
    Ok(NewDocument { doc, validated })
}

impl Vault {
    /// Merges changes from another replica (Automerge document or change
    /// bytes). Creates the document if it is new here. Bytes that are not a
    /// valid document of a known kind are refused and nothing is stored.
    pub fn merge_changes(&self, bytes: &[u8]) -> Result<DocumentId> {
        let (_, envelope) = load_with_envelope(bytes)?;
        self.merge_changes_for(&envelope.id, bytes, false)?;
        self.record_audit(AuditAction::Merged, Some(&envelope.id), "")?;
        Ok(envelope.id)
    }

    /// Merges change bytes into document `id`: incremental changes when the
    /// document exists here, a whole document otherwise. Changes pulled from
    /// the relay are not queued back to it, and documents purged here are not
    /// brought back (they return `Ok(false)`).
    pub(crate) fn merge_changes_for(
        &self,
        id: &DocumentId,
        bytes: &[u8],
        from_relay: bool,
    ) -> Result<bool> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let merged = self.merge_in(&tx, id, bytes, from_relay)?;
        tx.commit()?;
        Ok(merged)
    }

    /// Merges a page of entries from the relay in one transaction (one disk
    /// sync instead of one per entry). Each entry runs under its own
    /// savepoint, so a refused entry is rolled back alone and reported in its
    /// slot while the others are kept.
    pub(crate) fn merge_batch_from_relay(
        &self,
        items: &[(DocumentId, &[u8])],
    ) -> Result<Vec<Result<bool>>> {
        let mut conn = self.lock();
        let mut tx = conn.transaction()?;
        let mut out = Vec::with_capacity(items.len());
        // Windows bound how many loaded documents are held at once. The
        // connection stays locked until the commit, so which documents are
        // new here cannot change between preparing and merging them; a
        // document written by an earlier window is found by the next one's
        // check (same transaction).
        for window in items.chunks(PREPARE_WINDOW) {
            let mut prepared = self.prepare_new_documents(&tx, window)?;
            for ((id, bytes), prepared) in window.iter().zip(prepared.iter_mut()) {
                let sp = tx.savepoint()?;
                let result = match prepared.take() {
                    Some(Ok(new)) => self.merge_new(&sp, id, bytes, new, true),
                    Some(Err(e)) => Err(e),
                    None => self.merge_in(&sp, id, bytes, true),
                };
                match result {
                    Ok(merged) => {
                        sp.commit()?;
                        out.push(Ok(merged));
                    }
                    // Dropping the savepoint rolls this entry back.
                    Err(e) => out.push(Err(e)),
                }
            }
        }
        if let Err(e) = tx.commit() {
            // Keys unwrapped from rows that were never committed must not
            // outlive the failed transaction.
            self.key_cache.lock().clear();
            return Err(e.into());
        }
        Ok(out)
    }

    /// Loads and validates, on several cores, the entries of `items` that
    /// start a document new here (the first entry of each document that has
    /// no row and was not purged here); `None` for every other entry, which
    /// merges the usual way.
    fn prepare_new_documents(
        &self,
        conn: &Connection,
        items: &[(DocumentId, &[u8])],
    ) -> Result<Vec<Option<Result<NewDocument>>>> {
        let mut seen = HashSet::with_capacity(items.len());
        let mut new_here = Vec::new();
        for (i, (id, _)) in items.iter().enumerate() {
            // A later entry of the same document merges into the first one.
            if !seen.insert(*id) {
                continue;
            }
            let row = sealed_doc::row_id(&self.keys, id);
            if !rows::document_exists(conn, &row)? && !rows::is_purged(conn, &row)? {
                new_here.push(i);
            }
        }
        let loaded = map_on_cores(&new_here, |&i| load_new(&items[i].0, items[i].1));
        let mut out: Vec<Option<Result<NewDocument>>> = items.iter().map(|_| None).collect();
        for (i, new) in new_here.into_iter().zip(loaded) {
            out[i] = Some(new);
        }
        Ok(out)
    }

    fn merge_in(
        &self,
        tx: &Connection,
        id: &DocumentId,
        bytes: &[u8],
        from_relay: bool,
    ) -> Result<bool> {
        let row = sealed_doc::row_id(&self.keys, id);
        if from_relay && rows::is_purged(tx, &row)? {
            return Ok(false);
        }
        match sealed_doc::load(tx, &self.keys, &self.key_cache, id) {
            Ok(mut stored) => {
                stored.doc.set_actor(self.actor.clone());
                stored
                    .doc
                    .load_incremental(bytes)
                    .map_err(|_| refused("the changes do not apply"))?;
                let validated = validate(&stored.doc, stored.header.kind, id)?;
                self.finish_merge(tx, id, stored, validated, None, from_relay)
            }
            Err(Error::NotFound(_)) => {
                self.merge_new(tx, id, bytes, load_new(id, bytes)?, from_relay)
            }
            Err(e) => Err(e),
        }
    }

    /// Stores a document new here under a fresh document key.
    fn merge_new(
        &self,
        tx: &Connection,
        id: &DocumentId,
        bytes: &[u8],
        new: NewDocument,
        from_relay: bool,
    ) -> Result<bool> {
        let NewDocument { mut doc, validated } = new;
        doc.set_actor(self.actor.clone());
        let row = sealed_doc::row_id(&self.keys, id);
        let header = new_header(&validated.envelope, String::new());
        let stored = self.new_stored(row, header, doc)?;
        self.finish_merge(tx, id, stored, validated, Some(bytes), from_relay)
    }

    /// Header, retention and storage of a merged document. `received`: the
    /// document is new here and was loaded from exactly these bytes.
    fn finish_merge(
        &self,
        tx: &Connection,
        id: &DocumentId,
        mut stored: StoredDoc,
        validated: Validated,
        received: Option<&[u8]>,
        from_relay: bool,
    ) -> Result<bool> {
        let Validated {
            envelope,
            title,
            body,
        } = validated;
        refresh_header(&mut stored.header, &envelope, title);
        if let Some(AnyDocument::TaxAssist(t)) = &body {
            if super::documents::is_filed(t.envelope.status) {
                self.forget_my_number_in(tx, &stored.row)?;
            }
        }
        let outbox = !from_relay && self.outbox_enabled();
        match received {
            Some(bytes) if !outbox => {
                stored.persist_received(tx, self.options.compact_every, bytes)?;
            }
            _ => {
                stored.persist(tx, self.options.compact_every, outbox)?;
            }
        }
        if from_relay && !envelope.photos.is_empty() {
            let photos = &envelope.photos;
            self.queue_missing_photo_downloads(tx, &stored.row, &stored.key, id, photos)?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BearSighting;
    use crate::vault::test_support::{bear, vault};

    /// The changes `edit` makes to `id` at `source`, as bare change chunks.
    fn edit_at(source: &Vault, id: &DocumentId, edit: impl FnOnce(&mut BearSighting)) -> Vec<u8> {
        let before = AutoCommit::load(&source.export_changes(id).expect("export"))
            .expect("load")
            .get_heads();
        source.update::<BearSighting, _>(id, edit).expect("edit");
        AutoCommit::load(&source.export_changes(id).expect("export"))
            .expect("load")
            .save_after(&before)
    }

    #[test]
    fn a_mixed_page_merges_every_entry_in_its_own_slot() {
        let (_tmp_a, source) = vault("source");
        let (_tmp_b, v) = vault("target");
        // Enough new documents that the page is prepared on several threads
        // and spans two windows (the last entry, a later edit of a document
        // new in the first window, lands in the second).
        let fresh: Vec<DocumentId> = (0..PREPARE_WINDOW + 12).map(|_| bear(&source)).collect();
        let fresh_bytes: Vec<Vec<u8>> = fresh
            .iter()
            .map(|id| source.export_changes(id).expect("export"))
            .collect();
        // Known here already; the page brings an edit.
        let known = bear(&source);
        v.merge_changes(&source.export_changes(&known).expect("export"))
            .expect("first merge");
        let known_edit = edit_at(&source, &known, |d| d.behaviour = "known, edited".into());
        // New here, and edited again further down the same page.
        let twice = bear(&source);
        let twice_first = source.export_changes(&twice).expect("export");
        let twice_edit = edit_at(&source, &twice, |d| d.behaviour = "twice, edited".into());
        // Purged here earlier: must not come back.
        let purged = bear(&source);
        {
            let conn = v.lock();
            rows::mark_purged(&conn, &sealed_doc::row_id(&v.keys, &purged)).expect("mark");
        }
        let purged_bytes = source.export_changes(&purged).expect("export");
        // Not Automerge; and another document's bytes under this id.
        let (garbage, wrong) = (DocumentId::new(), DocumentId::new());

        let mut page: Vec<(DocumentId, &[u8])> = vec![
            (twice, &twice_first[..]),
            (garbage, b"not automerge".as_slice()),
            (known, &known_edit[..]),
            (wrong, &fresh_bytes[0][..]),
            (purged, &purged_bytes[..]),
        ];
        page.extend(fresh.iter().zip(&fresh_bytes).map(|(id, b)| (*id, &b[..])));
        page.push((twice, &twice_edit[..]));

        let results = v.merge_batch_from_relay(&page).expect("merge");
        assert_eq!(results.len(), page.len());
        assert!(matches!(results[0], Ok(true)), "{:?}", results[0]);
        assert!(
            matches!(results[1], Err(Error::InvalidInput(_))),
            "{:?}",
            results[1]
        );
        assert!(matches!(results[2], Ok(true)), "{:?}", results[2]);
        assert!(
            matches!(results[3], Err(Error::InvalidInput(_))),
            "{:?}",
            results[3]
        );
        assert!(matches!(results[4], Ok(false)), "{:?}", results[4]);
        assert!(
            results[5..].iter().all(|r| matches!(r, Ok(true))),
            "{results:?}"
        );

        for id in fresh.iter().chain([&known, &twice]) {
            assert_eq!(
                v.get::<BearSighting>(id).expect("read"),
                source.get::<BearSighting>(id).expect("read")
            );
        }
        assert_eq!(
            v.get::<BearSighting>(&twice).expect("read").behaviour,
            "twice, edited"
        );
        for refused in [&garbage, &wrong, &purged] {
            assert!(matches!(
                v.get::<BearSighting>(refused),
                Err(Error::NotFound(_))
            ));
        }
        // The listing holds exactly the merged documents.
        assert_eq!(
            v.list(&Default::default()).expect("list").documents.len(),
            fresh.len() + 2
        );
    }
}
