//! The device audit log: what is recorded, and that deleting, editing,
//! swapping or truncating entries on disk is detected.
mod common;

use common::fixtures;
use fieldvault::model::{AuditAction, AuditProblemKind, Status, TaxAssist};
use rusqlite::Connection;

fn actions(v: &fieldvault::Vault) -> Vec<AuditAction> {
    v.audit_log()
        .expect("audit log")
        .into_iter()
        .map(|e| e.action)
        .collect()
}

/// A vault whose log records a create, an open, an edit, an export and a delete.
fn busy_vault(dir: &std::path::Path) -> fieldvault::Vault {
    let v = common::new_vault(dir, "staff-audit");
    let tax = v.insert(fixtures::tax(&v)).expect("insert tax");
    let bear = v.insert(fixtures::bear(&v)).expect("insert bear");
    v.get::<TaxAssist>(&tax).expect("open tax");
    v.update::<TaxAssist, _>(&tax, |t| t.venue = "公民館 2".into())
        .expect("edit");
    v.record_audit(AuditAction::Exported, Some(&bear), "geojson")
        .expect("export");
    v.delete(&bear).expect("delete");
    v
}

#[test]
fn records_who_did_what_to_which_document() {
    let tmp = tempfile::tempdir().expect("tmp");
    let v = busy_vault(tmp.path());
    assert_eq!(
        actions(&v),
        vec![
            AuditAction::Created,
            AuditAction::Created,
            AuditAction::Opened,
            AuditAction::Edited,
            AuditAction::Exported,
            AuditAction::Deleted,
        ]
    );
    let log = v.audit_log().expect("log");
    assert!(log.iter().all(|e| e.staff_id == "staff-audit"));
    assert!(log.iter().all(|e| e.device_id == v.device_id()));
    assert_eq!(log[4].detail, "geojson");
    assert_eq!(log[2].document_kind.as_deref(), Some("tax_assist"));
    assert!(v.verify_audit_log().expect("verify").is_empty());

    // Reads of the same form within the coalescing window are one record;
    // reads of non-sensitive kinds are not recorded; a no-op edit is not an edit.
    let tax = v.list(&Default::default()).expect("list").documents[0].id;
    for _ in 0..5 {
        v.get::<TaxAssist>(&tax).expect("read");
    }
    v.update::<TaxAssist, _>(&tax, |_| ()).expect("no-op");
    v.set_status(&tax, Status::Ready).expect("status");
    assert_eq!(actions(&v).len(), 7, "one edit (the status) added");
    assert!(v.verify_audit_log().expect("verify").is_empty());
}

#[test]
fn an_export_of_many_documents_is_recorded_whole_or_not_at_all() {
    let tmp = tempfile::tempdir().expect("tmp");
    let v = common::new_vault(tmp.path(), "staff-audit");
    let ids: Vec<_> = (0..3)
        .map(|_| v.insert(fixtures::bear(&v)).expect("insert"))
        .collect();
    let before = v.audit_log().expect("log").len();

    let mut with_unknown = ids.clone();
    with_unknown.push(fieldvault::model::DocumentId::new());
    let err = v
        .record_audits(AuditAction::Exported, &with_unknown, "csv")
        .expect_err("unknown document");
    assert!(matches!(err, fieldvault::Error::NotFound(_)), "{err}");
    assert_eq!(
        v.audit_log().expect("log").len(),
        before,
        "nothing recorded"
    );

    v.record_audits(AuditAction::Exported, &ids, "csv")
        .expect("export");
    let log = v.audit_log().expect("log");
    let exported: Vec<_> = log[before..]
        .iter()
        .map(|e| (e.action, e.document_id.clone(), e.detail.as_str()))
        .collect();
    let expected: Vec<_> = ids
        .iter()
        .map(|id| (AuditAction::Exported, Some(id.to_string()), "csv"))
        .collect();
    assert_eq!(exported, expected);
    assert!(v.verify_audit_log().expect("verify").is_empty());
}

#[test]
fn buffered_opens_survive_closing_the_vault() {
    let tmp = tempfile::tempdir().expect("tmp");
    let tax = {
        let v = common::new_vault(tmp.path(), "staff-audit");
        let tax = v.insert(fixtures::tax(&v)).expect("insert");
        v.get::<TaxAssist>(&tax).expect("open");
        tax
    };
    let v = common::reopen(tmp.path(), "staff-audit");
    let log = v.audit_log().expect("log");
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].action, AuditAction::Opened);
    assert_eq!(log[1].document_id, Some(tax.to_string()));
}

/// Closes the vault, runs `tamper` on its database, reopens and verifies.
fn tampered(tamper: impl FnOnce(&Connection)) -> Vec<(u64, AuditProblemKind)> {
    let tmp = tempfile::tempdir().expect("tmp");
    drop(busy_vault(tmp.path()));
    let conn = Connection::open(tmp.path().join(fieldvault::DB_FILE)).expect("raw open");
    tamper(&conn);
    drop(conn);
    let v = common::reopen(tmp.path(), "staff-audit");
    let problems = v.verify_audit_log().expect("verify");
    // The one-read variant finds the same problems in the same entries.
    let (entries, once) = v.audit_log_verified().expect("read and verify");
    assert_eq!(once, problems);
    assert_eq!(entries, v.audit_log().expect("entries"));
    problems.into_iter().map(|p| (p.seq, p.reason)).collect()
}

#[test]
fn deleting_an_entry_is_detected() {
    let problems = tampered(|c| {
        c.execute("DELETE FROM audit WHERE seq = 2", [])
            .expect("delete");
    });
    assert!(
        problems.contains(&(2, AuditProblemKind::Gap)),
        "{problems:?}"
    );
}

#[test]
fn deleting_the_last_entries_is_detected() {
    let problems = tampered(|c| {
        c.execute("DELETE FROM audit WHERE seq >= 4", [])
            .expect("delete");
    });
    assert_eq!(problems, vec![(4, AuditProblemKind::HeadMismatch)]);
}

#[test]
fn deleting_the_whole_log_is_detected_and_writes_refuse_to_start_a_new_one() {
    let problems = tampered(|c| {
        c.execute("DELETE FROM audit", []).expect("delete");
    });
    assert_eq!(problems, vec![(0, AuditProblemKind::HeadMismatch)]);

    // The same vault: a write would otherwise begin a fresh, clean-looking chain.
    let tmp = tempfile::tempdir().expect("tmp");
    drop(busy_vault(tmp.path()));
    let conn = Connection::open(tmp.path().join(fieldvault::DB_FILE)).expect("raw open");
    conn.execute("DELETE FROM audit", []).expect("delete");
    drop(conn);
    let v = common::reopen(tmp.path(), "staff-audit");
    let err = v.insert(fixtures::bear(&v)).expect_err("write refused");
    assert!(matches!(err, fieldvault::Error::Corrupted(_)), "{err}");
    assert!(err.to_string().contains("audit log"), "{err}");
}

#[test]
fn entries_are_stored_compactly() {
    let tmp = tempfile::tempdir().expect("tmp");
    drop(busy_vault(tmp.path()));
    let conn = Connection::open(tmp.path().join(fieldvault::DB_FILE)).expect("raw open");
    let largest: i64 = conn
        .query_row(
            "SELECT max(length(sealed)) FROM audit WHERE seq < 9223372036854775807",
            [],
            |r| r.get(0),
        )
        .expect("sizes");
    // Binary, no hex hashes: ~130 bytes of entry + 28 of nonce and tag
    // (format 1 was ~450).
    assert!(largest < 200, "largest sealed entry {largest} bytes");
}

#[test]
fn editing_an_entry_is_detected() {
    // An edited ciphertext no longer opens under its AAD.
    let problems = tampered(|c| {
        c.execute(
            "UPDATE audit SET sealed = substr(sealed, 1, 20) || X'00' || substr(sealed, 22) WHERE seq = 3",
            [],
        )
        .expect("edit");
    });
    assert!(
        problems.contains(&(3, AuditProblemKind::Unreadable)),
        "{problems:?}"
    );
}

#[test]
fn swapping_entries_is_detected() {
    let problems = tampered(|c| {
        c.execute_batch(
            "UPDATE audit SET seq = -1 WHERE seq = 1;
             UPDATE audit SET seq = 1 WHERE seq = 2;
             UPDATE audit SET seq = 2 WHERE seq = -1;",
        )
        .expect("swap");
    });
    assert!(
        problems.contains(&(1, AuditProblemKind::Unreadable)),
        "{problems:?}"
    );
    assert!(
        problems.contains(&(2, AuditProblemKind::Unreadable)),
        "{problems:?}"
    );
}

#[test]
fn an_intact_log_has_no_problems_after_reopening() {
    assert_eq!(tampered(|_| {}), vec![]);
}

#[test]
fn detail_is_bounded_and_unknown_documents_are_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let v = common::new_vault(tmp.path(), "staff-audit");
    let long = "x".repeat(201);
    assert!(matches!(
        v.record_audit(AuditAction::Exported, None, &long),
        Err(fieldvault::Error::InvalidInput(_))
    ));
    let missing = fieldvault::model::DocumentId::new();
    assert!(matches!(
        v.record_audit(AuditAction::Exported, Some(&missing), "csv"),
        Err(fieldvault::Error::NotFound(_))
    ));
    assert!(v.audit_log().expect("log").is_empty());
}
