//! Appending to this device's published [`AuditLog`] document without
//! reading it whole.
//!
//! New entries are inserted at the end of the document's `entries` list;
//! only the device report (when it changed) and the envelope's time and
//! device are rewritten. Reconciling the whole log instead compared every
//! published entry with the document at each sync: 0.3 s with 2,000 entries
//! and 2.3 s with 12,000 on the development machine, growing with every
//! record a device ever wrote (see docs/performance.md, "Audit log").
use automerge::transaction::Transactable;
use std::collections::HashMap;

use automerge::{hydrate, AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};
use rusqlite::Connection;

use super::sealed_doc;
use super::Vault;
use crate::error::{Error, Result};
use crate::model::{AuditEntry, DeviceReport, DocumentId, DocumentKind};

/// Whether `new` tells the admin anything `old` did not (its time aside), so
/// an idle device does not push a new version of its log at every sync.
fn same_report(old: Option<&DeviceReport>, new: &DeviceReport) -> bool {
    old.is_some_and(|o| {
        (
            &o.staff_id,
            &o.app_version,
            o.pending_changes,
            o.pending_photos,
        ) == (
            &new.staff_id,
            &new.app_version,
            new.pending_changes,
            new.pending_photos,
        )
    })
}

/// The device report published in an audit-log document, `None` when there
/// is none, including in logs published before reports existed (no `report`
/// key, which autosurgeon would refuse for an `Option`).
pub(super) fn published_report(
    doc: &AutoCommit,
) -> std::result::Result<Option<DeviceReport>, autosurgeon::HydrateError> {
    if doc.get(ROOT, "report").ok().flatten().is_none() {
        return Ok(None);
    }
    autosurgeon::hydrate_prop(doc, ROOT, "report")
}

/// The object of type `ty` at `key` of `parent`.
fn object_at(doc: &AutoCommit, parent: &ObjId, key: &str, ty: ObjType) -> Option<ObjId> {
    match doc.get(parent, key).ok()?? {
        (Value::Object(found), id) if found == ty => Some(id),
        _ => None,
    }
}

/// `entries` as the Automerge values their `Reconcile` impl writes (a map
/// of scalars per entry), built directly so that they can be spliced into
/// the log in one batch: inserting entry by entry cost ~0.2 ms each in a
/// large log, and reconciling into a scratch document and reading it back
/// was about half of a 1,000-entry publish. A test checks these values
/// against the `Reconcile` impl for every field and action.
fn as_values(entries: &[AuditEntry]) -> Vec<hydrate::Value> {
    entries.iter().map(entry_value).collect()
}

fn entry_value(e: &AuditEntry) -> hydrate::Value {
    let text = |s: &str| hydrate::Value::scalar(s);
    let optional = |s: &Option<String>| {
        s.as_deref()
            .map_or(hydrate::Value::scalar(ScalarValue::Null), text)
    };
    hydrate::Value::from(HashMap::from([
        ("seq", hydrate::Value::scalar(e.seq)),
        ("at", text(&e.at.to_rfc3339())),
        ("staff_id", text(&e.staff_id)),
        ("device_id", text(&e.device_id)),
        ("action", text(e.action.as_str())),
        ("document_id", optional(&e.document_id)),
        ("document_kind", optional(&e.document_kind)),
        ("detail", text(&e.detail)),
        ("prev_hash", text(&e.prev_hash)),
        ("hash", text(&e.hash)),
    ]))
}

impl Vault {
    /// Appends `fresh` to this device's audit log document `id` and records
    /// `report`, if given, when it differs from the published one; queues the
    /// change for the relay like any edit. Returns false when nothing changed.
    pub(super) fn append_to_audit_log_in(
        &self,
        tx: &Connection,
        id: &DocumentId,
        fresh: &[AuditEntry],
        report: Option<DeviceReport>,
    ) -> Result<bool> {
        let mut stored = sealed_doc::load(tx, &self.keys, &self.key_cache, id)?;
        if stored.header.kind != DocumentKind::AuditLog {
            return Err(Error::WrongKind {
                id: *id,
                expected: DocumentKind::AuditLog,
                actual: stored.header.kind,
            });
        }
        let corrupted = || Error::Corrupted(format!("the audit log document {id}"));
        let write = |e: &dyn std::fmt::Display| {
            Error::Internal(format!("could not append to the audit log: {e}"))
        };
        let doc = &mut stored.doc;
        doc.set_actor(self.actor.clone());
        let report = match report {
            Some(new) => {
                let old = published_report(doc).map_err(|_| corrupted())?;
                (!same_report(old.as_ref(), &new)).then_some(new)
            }
            None => None,
        };
        if fresh.is_empty() && report.is_none() {
            return Ok(false);
        }
        let mut fields = Vec::new();
        if !fresh.is_empty() {
            let list = object_at(doc, &ROOT, "entries", ObjType::List).ok_or_else(corrupted)?;
            let end = doc.length(&list);
            doc.splice(&list, end, 0, as_values(fresh))
                .map_err(|e| write(&e))?;
            fields.push("entries".to_string());
        }
        if let Some(report) = report {
            autosurgeon::reconcile_prop(doc, ROOT, "report", Some(report))
                .map_err(|e| write(&e))?;
            fields.push("report".to_string());
        }
        let now = self.options.clock.now();
        let envelope = object_at(doc, &ROOT, "envelope", ObjType::Map).ok_or_else(corrupted)?;
        autosurgeon::reconcile_prop(doc, &envelope, "updated_at", &now).map_err(|e| write(&e))?;
        autosurgeon::reconcile_prop(doc, &envelope, "device_id", self.device_id())
            .map_err(|e| write(&e))?;
        doc.commit_with(self.note("edit", fields));
        stored.header.updated_at = now;
        stored.persist(tx, self.options.compact_every, self.outbox_enabled())?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{verify_chain, AuditLog};
    use crate::vault::test_support::{bear, vault};

    /// The published log as stored (read whole, the way an admin reads it).
    fn published(v: &Vault) -> (DocumentId, AuditLog, usize) {
        let id = v.audit_log_document().expect("id").expect("published");
        let mut doc = AutoCommit::load(&v.export_changes(&id).expect("export")).expect("load");
        let log: AuditLog = autosurgeon::hydrate(&doc).expect("hydrate");
        let changes = doc.get_changes(&[]).len();
        (id, log, changes)
    }

    /// The values `as_values` builds are exactly what the entries' own
    /// `Reconcile` impl writes, for every action and with and without the
    /// optional fields.
    #[test]
    fn entry_values_match_the_reconcile_impl() {
        use crate::model::AuditAction::*;
        #[derive(autosurgeon::Reconcile)]
        struct Scratch<'a> {
            entries: &'a [AuditEntry],
        }
        let actions = [
            Created,
            Opened,
            Edited,
            Merged,
            Exported,
            Purged,
            Deleted,
            RevealedMyNumber,
        ];
        let entries: Vec<AuditEntry> = actions
            .iter()
            .enumerate()
            .map(|(i, action)| AuditEntry {
                seq: u64::MAX - i as u64,
                at: crate::model::Timestamp::now(),
                staff_id: format!("staff-{i}"),
                device_id: "device-1".into(),
                action: *action,
                document_id: (i % 2 == 0).then(|| uuid::Uuid::new_v4().to_string()),
                document_kind: (i % 3 == 0).then(|| "tax_assist".into()),
                detail: if i == 4 { "csv".into() } else { String::new() },
                prev_hash: "0".repeat(64),
                hash: "f".repeat(64),
            })
            .collect();
        let mut scratch = AutoCommit::new();
        autosurgeon::reconcile(&mut scratch, Scratch { entries: &entries }).expect("reconcile");
        let list = object_at(&scratch, &ROOT, "entries", ObjType::List).expect("list");
        let hydrate::Value::List(written) = scratch.hydrate(&list, None).expect("hydrate") else {
            panic!("entries are not a list");
        };
        let written: Vec<hydrate::Value> = written.iter().map(|v| v.value.clone()).collect();
        assert_eq!(as_values(&entries), written);
    }

    #[test]
    fn each_publish_appends_the_new_entries_in_one_change() {
        let (_tmp, v) = vault("staff-1");
        for _ in 0..3 {
            bear(&v);
        }
        assert_eq!(v.publish_audit().expect("publish"), 3);
        let (id, first, changes) = published(&v);
        assert_eq!(first.entries, v.audit_log().expect("local"));
        let report = first.report.clone().expect("report");
        assert_eq!(report.staff_id, "staff-1");

        // Nothing new and the same report: no new version of the log.
        assert_eq!(v.publish_audit().expect("publish"), 0);
        assert_eq!(published(&v).2, changes);

        for _ in 0..2 {
            bear(&v);
        }
        assert_eq!(v.publish_audit().expect("publish"), 2);
        let (same_id, log, after) = published(&v);
        assert_eq!(same_id, id);
        assert_eq!(after, changes + 1, "one change per publish");
        assert_eq!(log.entries.len(), 5);
        assert_eq!(log.entries[..3], first.entries[..]);
        assert_eq!(log.entries, v.audit_log().expect("local"));
        assert_eq!(verify_chain(&log.entries), vec![]);
        // The envelope moved on; the rest of it, and the device, did not.
        assert!(log.envelope.updated_at >= first.envelope.updated_at);
        assert_eq!(log.envelope.created_at, first.envelope.created_at);
        assert_eq!(log.device_id, first.device_id);
        assert_eq!(log.report, Some(report), "unchanged report kept");
        // The listing's header follows the document.
        let listed = v
            .list(&crate::vault::header::ListFilter {
                kind: Some(DocumentKind::AuditLog),
                ..Default::default()
            })
            .expect("list");
        assert_eq!(listed.documents.len(), 1);
        assert_eq!(listed.documents[0].updated_at, log.envelope.updated_at);
    }

    #[test]
    fn a_changed_report_alone_is_published() {
        let (_tmp, v) = vault("staff-1");
        bear(&v);
        v.publish_audit().expect("publish");
        let (id, before, changes) = published(&v);
        {
            let conn = v.lock();
            let changed = DeviceReport {
                pending_changes: 99,
                ..before.report.clone().expect("report")
            };
            assert!(v
                .append_to_audit_log_in(&conn, &id, &[], Some(changed))
                .expect("append"));
        }
        let (_, after, now) = published(&v);
        assert_eq!(now, changes + 1);
        assert_eq!(after.entries, before.entries);
        assert_eq!(after.report.expect("report").pending_changes, 99);
    }

    /// Logs published before device reports existed have no `report` key;
    /// publishing into one adds the report (it used to fail as corrupted).
    #[test]
    fn a_log_published_before_reports_receives_one() {
        let (_tmp, v) = vault("staff-1");
        bear(&v);
        v.publish_audit().expect("publish");
        let (id, before, _) = published(&v);
        {
            let conn = v.lock();
            let mut stored = sealed_doc::load(&conn, &v.keys, &v.key_cache, &id).expect("load");
            stored.doc.delete(ROOT, "report").expect("delete");
            stored.doc.commit();
            stored
                .persist(&conn, v.options.compact_every, v.outbox_enabled())
                .expect("persist");
        }
        let (_, legacy, _) = published(&v);
        assert_eq!(legacy.report, None);

        bear(&v);
        assert_eq!(v.publish_audit().expect("publish"), 1);
        let (_, after, _) = published(&v);
        assert_eq!(after.entries.len(), before.entries.len() + 1);
        assert_eq!(after.report.expect("report").staff_id, "staff-1");
    }

    #[test]
    fn a_document_that_is_not_an_audit_log_is_refused() {
        let (_tmp, v) = vault("staff-1");
        let id = bear(&v);
        let report = DeviceReport {
            staff_id: "staff-1".into(),
            app_version: "0".into(),
            pending_changes: 0,
            pending_photos: 0,
            reported_at: crate::model::Timestamp::now(),
        };
        let conn = v.lock();
        assert!(matches!(
            v.append_to_audit_log_in(&conn, &id, &[], Some(report)),
            Err(Error::WrongKind { .. })
        ));
    }
}
