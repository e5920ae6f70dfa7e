//! Document operations: create, read, edit, list, merge, delete.
use automerge::{transaction::CommitOptions, AutoCommit};
use rusqlite::Connection;

use super::field_reader::hydrate_fields;
use super::header::{Header, ListFilter, Listing, HEADER_VERSION};
use super::history::{self, ChangeNote, HistoryEntry};
use super::sealed_doc::{self, StoredDoc};
use super::{field_diff, Vault};
use crate::crypto::DocKey;
use crate::error::{Error, Result};
use crate::model::{
    AnyDocument, AuditAction, AuditLog, BearSighting, DamageReport, DocumentBody, DocumentId,
    DocumentKind, Envelope, Status, TaxAssist,
};
use crate::store::{self, rows};

/// Reads a typed document (one pass per object, see [`hydrate_fields`]).
pub(super) fn hydrate<T: DocumentBody>(doc: &AutoCommit, id: &DocumentId) -> Result<T> {
    hydrate_fields(doc).map_err(|_| Error::Corrupted(format!("the content of document {id}")))
}

pub(crate) fn hydrate_any(
    doc: &AutoCommit,
    kind: DocumentKind,
    id: &DocumentId,
) -> Result<AnyDocument> {
    Ok(match kind {
        DocumentKind::TaxAssist => AnyDocument::TaxAssist(hydrate(doc, id)?),
        DocumentKind::BearSighting => AnyDocument::BearSighting(hydrate(doc, id)?),
        DocumentKind::DamageReport => AnyDocument::DamageReport(hydrate(doc, id)?),
        DocumentKind::AuditLog => {
            return Err(Error::InvalidInput(format!(
                "document {id} is an audit log; read it with Vault::device_audit_logs"
            )))
        }
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::Internal(e.to_string()))
}

/// Writes `body` into `doc`, recording only fields that actually changed.
fn reconcile<T: DocumentBody>(doc: &mut AutoCommit, body: &T) -> Result<()> {
    autosurgeon::reconcile(&mut super::minimal_puts::MinimalPuts(doc), body)
        .map_err(|e| Error::Internal(format!("could not write the document: {e}")))
}

/// Rebuilds the list-view fields of a header from the document's envelope.
pub(super) fn refresh_header(header: &mut Header, envelope: &Envelope, title: String) {
    header.kind = envelope.kind;
    header.schema_version = envelope.schema_version;
    header.title = title;
    header.status = envelope.status;
    header.municipality_code = envelope.municipality_code.clone();
    header.created_at = envelope.created_at.clone();
    header.updated_at = envelope.updated_at.clone();
    header.photo_count = u32::try_from(envelope.photos.len()).unwrap_or(u32::MAX);
}

pub(super) fn new_header(envelope: &Envelope, title: String) -> Header {
    let mut header = Header {
        v: HEADER_VERSION,
        id: envelope.id,
        kind: envelope.kind,
        schema_version: envelope.schema_version,
        title: String::new(),
        status: envelope.status,
        municipality_code: String::new(),
        created_at: envelope.created_at.clone(),
        updated_at: envelope.updated_at.clone(),
        photo_count: 0,
        head_seq: 0,
        snapshot_seq: 0,
        acknowledged_at: None,
        change_rows: Some(Vec::new()),
    };
    refresh_header(&mut header, envelope, title);
    header
}

impl Vault {
    /// A fresh envelope for a new document of kind `T`, authored here and now.
    pub fn new_envelope<T: DocumentBody>(&self, municipality_code: &str) -> Envelope {
        Envelope::new(
            T::KIND,
            T::SCHEMA_VERSION,
            municipality_code,
            self.options.staff_id.clone(),
            self.device_id(),
            self.options.clock.now(),
        )
    }

    pub(super) fn note(&self, op: &str, fields: Vec<String>) -> CommitOptions {
        let note = ChangeNote {
            op: op.into(),
            staff: self.options.staff_id.clone(),
            device: self.device_id(),
            at: self.options.clock.now(),
            fields,
        };
        CommitOptions::default()
            .with_message(note.to_message())
            .with_time(note.at.0.timestamp())
    }

    /// Stores a new document. The vault sets kind, schema version, device and
    /// times; the author defaults to this handle's staff id.
    pub fn insert<T: DocumentBody>(&self, body: T) -> Result<DocumentId> {
        let kind = T::KIND;
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let id = self.insert_in(&tx, body)?;
        self.audit_in(&tx, AuditAction::Created, Some((id, kind)), "")?;
        tx.commit()?;
        Ok(id)
    }

    /// [`Self::insert`] inside the caller's transaction, without an audit entry.
    pub(crate) fn insert_in<T: DocumentBody>(
        &self,
        tx: &Connection,
        mut body: T,
    ) -> Result<DocumentId> {
        let now = self.options.clock.now();
        {
            let env = body.envelope_mut();
            env.kind = T::KIND;
            env.schema_version = T::SCHEMA_VERSION;
            env.device_id = self.device_id();
            env.created_at = now.clone();
            env.updated_at = now;
            if env.author_staff_id.is_empty() {
                env.author_staff_id = self.options.staff_id.clone();
            }
        }
        body.validate_for_storage().map_err(Error::Validation)?;
        let id = body.envelope().id;
        let mut doc = AutoCommit::new();
        doc.set_actor(self.actor.clone());
        reconcile(&mut doc, &body)?;
        doc.commit_with(self.note("create", Vec::new()));

        let row = sealed_doc::row_id(&self.keys, &id);
        let mut stored = self.new_stored(row, new_header(body.envelope(), body.title()), doc)?;
        stored.persist(tx, self.options.compact_every, self.outbox_enabled())?;
        Ok(id)
    }

    pub(super) fn new_stored(
        &self,
        row: rows::RowId,
        header: Header,
        doc: AutoCommit,
    ) -> Result<StoredDoc> {
        let key = std::sync::Arc::new(DocKey::generate()?);
        let wrapped = sealed_doc::wrap_doc_key(&self.keys, &row, &key)?;
        Ok(StoredDoc {
            row,
            key,
            new_wrapped_key: Some(wrapped),
            header,
            doc,
            stored_heads: Vec::new(),
        })
    }

    fn load_typed<T: DocumentBody>(
        &self,
        conn: &Connection,
        id: &DocumentId,
    ) -> Result<(StoredDoc, T)> {
        let stored = sealed_doc::load(conn, &self.keys, &self.key_cache, id)?;
        if stored.header.kind != T::KIND {
            return Err(Error::WrongKind {
                id: *id,
                expected: T::KIND,
                actual: stored.header.kind,
            });
        }
        let body = hydrate(&stored.doc, id)?;
        Ok((stored, body))
    }

    /// Reads a document of a known kind. Reading a sensitive kind is
    /// recorded in the audit log and refused while the offline lease has
    /// expired (`Locked`).
    pub fn get<T: DocumentBody>(&self, id: &DocumentId) -> Result<T> {
        self.check_lease(id, T::KIND)?;
        let conn = self.lock();
        let body = self.load_typed::<T>(&conn, id)?.1;
        drop(conn);
        self.audit_open(id, T::KIND);
        Ok(body)
    }

    /// Reads a document of any kind (see [`Self::get`]).
    pub fn get_any(&self, id: &DocumentId) -> Result<AnyDocument> {
        let conn = self.lock();
        let stored = sealed_doc::load(&conn, &self.keys, &self.key_cache, id)?;
        drop(conn);
        let kind = stored.header.kind;
        self.check_lease(id, kind)?;
        let any = hydrate_any(&stored.doc, kind, id)?;
        self.audit_open(id, kind);
        Ok(any)
    }

    /// The list-view summary of one document.
    pub fn summary(&self, id: &DocumentId) -> Result<super::DocumentSummary> {
        let conn = self.lock();
        let summary = sealed_doc::load_header(&conn, &self.keys, &self.key_cache, id)?
            .2
            .summary();
        drop(conn);
        Ok(summary.lock_if(self.lease_status().expired))
    }

    /// Edits a document in place. The closure gets the current state; what it
    /// changes is written as one change. Identity fields (id, kind, schema
    /// version, creation time, author) cannot be changed. The closure runs
    /// with the vault locked and must not call back into the vault.
    pub fn update<T: DocumentBody, R>(
        &self,
        id: &DocumentId,
        edit: impl FnOnce(&mut T) -> R,
    ) -> Result<R> {
        self.check_lease(id, T::KIND)?;
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let (out, changed) = self.update_in_tracked::<T, R>(&tx, id, edit)?;
        if changed && T::KIND != DocumentKind::AuditLog {
            self.audit_in(&tx, AuditAction::Edited, Some((*id, T::KIND)), "")?;
        }
        tx.commit()?;
        Ok(out)
    }

    /// [`Self::update`] inside the caller's transaction, without an audit entry.
    pub(crate) fn update_in<T: DocumentBody, R>(
        &self,
        tx: &Connection,
        id: &DocumentId,
        edit: impl FnOnce(&mut T) -> R,
    ) -> Result<R> {
        Ok(self.update_in_tracked::<T, R>(tx, id, edit)?.0)
    }

    /// Applies `edit`; the flag tells whether anything changed.
    fn update_in_tracked<T: DocumentBody, R>(
        &self,
        tx: &Connection,
        id: &DocumentId,
        edit: impl FnOnce(&mut T) -> R,
    ) -> Result<(R, bool)> {
        let (mut stored, before) = self.load_typed::<T>(tx, id)?;
        stored.doc.set_actor(self.actor.clone());
        let mut after = before.clone();
        let out = edit(&mut after);
        {
            let (old, new) = (before.envelope(), after.envelope_mut());
            new.id = old.id;
            new.kind = old.kind;
            new.schema_version = old.schema_version;
            new.created_at = old.created_at.clone();
            new.author_staff_id = old.author_staff_id.clone();
            new.updated_at = self.options.clock.now();
            new.device_id = self.device_id();
        }
        let fields = field_diff::changed_fields(&to_json(&before)?, &to_json(&after)?);
        if fields.is_empty() {
            return Ok((out, false));
        }
        after.validate_for_storage().map_err(Error::Validation)?;
        let op = if fields.iter().all(|f| f == "envelope.status") {
            "status"
        } else {
            "edit"
        };
        reconcile(&mut stored.doc, &after)?;
        stored.doc.commit_with(self.note(op, fields));
        refresh_header(&mut stored.header, after.envelope(), after.title());
        if T::KIND == DocumentKind::TaxAssist && is_filed(after.envelope().status) {
            self.forget_my_number_in(tx, &stored.row)?;
        }
        stored.persist(tx, self.options.compact_every, self.outbox_enabled())?;
        Ok((out, true))
    }

    /// Edits the envelope of a document of any kind inside `tx`.
    pub(crate) fn update_envelope_in<R>(
        &self,
        tx: &Connection,
        id: &DocumentId,
        kind: DocumentKind,
        edit: impl FnOnce(&mut Envelope) -> R,
    ) -> Result<R> {
        match kind {
            DocumentKind::TaxAssist => {
                self.update_in::<TaxAssist, R>(tx, id, |d| edit(&mut d.envelope))
            }
            DocumentKind::BearSighting => {
                self.update_in::<BearSighting, R>(tx, id, |d| edit(&mut d.envelope))
            }
            DocumentKind::DamageReport => {
                self.update_in::<DamageReport, R>(tx, id, |d| edit(&mut d.envelope))
            }
            DocumentKind::AuditLog => {
                self.update_in::<AuditLog, R>(tx, id, |d| edit(&mut d.envelope))
            }
        }
    }

    /// Replaces a document's content with `value` (what a form screen submits).
    /// Only the differences are recorded; free text merges character by character.
    pub fn put<T: DocumentBody>(&self, value: T) -> Result<()> {
        let id = value.envelope().id;
        self.update::<T, ()>(&id, move |doc| *doc = value)
    }

    /// Sets the status of a document of any kind.
    pub fn set_status(&self, id: &DocumentId, status: Status) -> Result<()> {
        match self.summary(id)?.kind {
            DocumentKind::TaxAssist => {
                self.update::<TaxAssist, _>(id, |d| d.envelope.status = status)
            }
            DocumentKind::BearSighting => {
                self.update::<BearSighting, _>(id, |d| d.envelope.status = status)
            }
            DocumentKind::DamageReport => {
                self.update::<DamageReport, _>(id, |d| d.envelope.status = status)
            }
            DocumentKind::AuditLog => {
                self.update::<AuditLog, _>(id, |d| d.envelope.status = status)
            }
        }
    }

    /// Lists documents matching `filter`, most recently updated first.
    /// Rows that fail to decrypt are counted in `unreadable`, never fatal.
    pub fn list(&self, filter: &ListFilter) -> Result<Listing> {
        let expired = self.lease_status().expired;
        let conn = self.lock();
        self.list_in(&conn, filter, expired)
    }

    /// [`Vault::list`] on the caller's connection (or transaction).
    pub(crate) fn list_in(
        &self,
        conn: &rusqlite::Connection,
        filter: &ListFilter,
        expired: bool,
    ) -> Result<Listing> {
        let mut listing = Listing::default();
        let mut cache = self.key_cache.lock();
        let mut scratch = Vec::with_capacity(1024);
        rows::for_each_document(conn, |doc, wrapped, sealed| {
            // The AAD binds each header to its row, so a header moved to
            // another row fails to open here.
            let header = sealed_doc::KeyCache::lookup_ref(&mut cache, &self.keys, doc, wrapped)
                .and_then(|key| sealed_doc::open_header_in(key, doc, sealed, &mut scratch));
            match header {
                Some(h) if filter.matches(&h) => {
                    listing.documents.push(h.into_summary().lock_if(expired))
                }
                Some(_) => {}
                None => listing.unreadable += 1,
            }
        })?;
        drop(cache);
        listing
            .documents
            .sort_by(|a, b| b.updated_at.0.cmp(&a.updated_at.0).then(a.id.cmp(&b.id)));
        Ok(listing)
    }

    /// Who changed which fields of a document, oldest first.
    pub fn history(&self, id: &DocumentId) -> Result<Vec<HistoryEntry>> {
        self.check_lease_of(id)?;
        let conn = self.lock();
        let mut stored = sealed_doc::load(&conn, &self.keys, &self.key_cache, id)?;
        Ok(history::read(&mut stored.doc))
    }

    /// All of a document's changes, as Automerge bytes, for another replica.
    /// The bytes are plaintext: seal them before they leave the process.
    pub fn export_changes(&self, id: &DocumentId) -> Result<Vec<u8>> {
        self.check_lease_of(id)?;
        let conn = self.lock();
        let mut stored = sealed_doc::load(&conn, &self.keys, &self.key_cache, id)?;
        Ok(stored.doc.save())
    }

    /// Rewrites a document as a single encrypted snapshot.
    pub fn compact(&self, id: &DocumentId) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut stored = sealed_doc::load(&tx, &self.keys, &self.key_cache, id)?;
        stored.write_snapshot(&tx)?;
        stored.write_header(&tx)?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes a document by destroying its key (crypto-shredding): the key row
    /// goes first, then every row of the document, then the WAL is truncated
    /// so no page image of the key survives in it. `secure_delete` zeroes the
    /// freed pages in the database file.
    pub fn delete(&self, id: &DocumentId) -> Result<()> {
        self.delete_as(id, AuditAction::Deleted)
    }

    /// [`Self::delete`], audited as `action` (deleted by a user, or purged).
    pub(crate) fn delete_as(&self, id: &DocumentId, action: AuditAction) -> Result<()> {
        self.delete_if(id, action, |_, _| Ok(true)).map(drop)
    }

    /// Deletes the document if `condition` (given the transaction and the
    /// document's row) holds, checked in the same transaction as the
    /// deletion, so nothing written in between is lost with it. `Ok(false)`
    /// if it did not hold.
    pub(crate) fn delete_if(
        &self,
        id: &DocumentId,
        action: AuditAction,
        condition: impl FnOnce(&rusqlite::Connection, &rows::RowId) -> Result<bool>,
    ) -> Result<bool> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let (row, _, header) = sealed_doc::load_header(&tx, &self.keys, &self.key_cache, id)?;
        if !condition(&tx, &row)? {
            return Ok(false);
        }
        let kind = header.kind;
        if !rows::delete_document(&tx, &row, header.change_rows.as_deref())? {
            return Err(Error::NotFound(*id));
        }
        rows::mark_purged(&tx, &row)?;
        self.audit_in(&tx, action, Some((*id, kind)), "")?;
        tx.commit()?;
        self.key_cache.remove(&row);
        store::checkpoint_truncate(&conn)?;
        Ok(true)
    }
}

/// A tax form counts as filed once submitted (or acknowledged after submission).
pub(crate) fn is_filed(status: Status) -> bool {
    matches!(status, Status::Submitted | Status::Acknowledged)
}
