//! Tampering: flipping a byte of a stored ciphertext, or swapping two rows'
//! ciphertexts, makes only the affected documents report `Corrupted`; all
//! others read normally.
mod common;

use fieldvault::model::{BearSighting, DocumentId};
use fieldvault::{Error, ListFilter, Vault, DB_FILE};
use rusqlite::Connection;

fn setup(n: usize) -> (tempfile::TempDir, Vec<DocumentId>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = common::new_vault(dir.path(), "staff-1");
    let ids = (0..n)
        .map(|i| {
            let mut doc = common::fixtures::bear(&vault);
            doc.behaviour = format!("doc {i}");
            let id = vault.insert(doc).expect("create");
            vault
                .update::<BearSighting, _>(&id, |d| d.place_description = format!("place {i}"))
                .expect("edit");
            id
        })
        .collect();
    vault.checkpoint().expect("checkpoint");
    drop(vault);
    (dir, ids)
}

/// Raw access to the database, as an attacker with the files would have.
fn raw(dir: &std::path::Path) -> Connection {
    Connection::open(dir.join(DB_FILE)).expect("raw open")
}

/// Rows of `table` in a stable order, as (rowid-ish key, blob).
fn rows_of(conn: &Connection, table: &str, col: &str, key: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let sql = format!("SELECT {key}, {col} FROM {table} ORDER BY {key}");
    let mut stmt = conn.prepare(&sql).expect("prepare");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn assert_only_affected(vault: &Vault, ids: &[DocumentId], affected: usize) {
    let mut corrupted = 0;
    for id in ids {
        match vault.get::<BearSighting>(id) {
            Ok(_) => {}
            Err(Error::Corrupted(msg)) => {
                assert!(
                    msg.contains(&id.to_string()),
                    "message names the document: {msg}"
                );
                corrupted += 1;
            }
            Err(other) => panic!("unexpected error for {id}: {other}"),
        }
    }
    assert_eq!(corrupted, affected, "exactly the tampered documents fail");
}

fn which_docs_fail(vault: &Vault, ids: &[DocumentId]) -> Vec<DocumentId> {
    ids.iter()
        .filter(|id| matches!(vault.get::<BearSighting>(id), Err(Error::Corrupted(_))))
        .copied()
        .collect()
}

#[test]
fn flipping_any_byte_of_any_sealed_column_is_detected_per_document() {
    for (table, col, key) in [
        ("changes", "sealed", "doc"),
        ("documents", "header", "doc"),
        ("documents", "wrapped_key", "doc"),
    ] {
        let (dir, ids) = setup(5);
        {
            let conn = raw(dir.path());
            let rows = rows_of(&conn, table, col, key);
            let (_, blob) = &rows[0];
            // Flip a byte in the nonce, the body and the tag in turn.
            let mut tampered = blob.clone();
            let at = [0, blob.len() / 2, blob.len() - 1][rows.len() % 3];
            tampered[at] ^= 0x80;
            conn.execute(
                &format!("UPDATE {table} SET {col} = ?1 WHERE {col} = ?2"),
                rusqlite::params![tampered, blob],
            )
            .expect("tamper");
        }
        let vault = common::reopen(dir.path(), "staff-1");
        assert_only_affected(&vault, &ids, 1);
        let listing = vault.list(&ListFilter::default()).expect("list");
        let expected_unreadable = usize::from(table != "changes");
        assert_eq!(listing.unreadable, expected_unreadable, "{table}");
        assert_eq!(listing.documents.len(), 5 - expected_unreadable, "{table}");
    }
}

#[test]
fn swapping_two_rows_ciphertexts_breaks_exactly_those_two() {
    for (table, col) in [
        ("documents", "header"),
        ("documents", "wrapped_key"),
        ("changes", "sealed"),
    ] {
        let (dir, ids) = setup(4);
        {
            let conn = raw(dir.path());
            let rows: Vec<(Vec<u8>, i64, Vec<u8>)> = {
                let sql = if table == "changes" {
                    "SELECT doc, seq, sealed FROM changes WHERE seq = 1 ORDER BY doc".to_string()
                } else {
                    format!("SELECT doc, 0, {col} FROM {table} ORDER BY doc")
                };
                let mut stmt = conn.prepare(&sql).expect("prepare");
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .expect("query")
                    .collect::<Result<_, _>>()
                    .expect("rows")
            };
            let (a, b) = (&rows[0], &rows[1]);
            let sql = format!("UPDATE {table} SET {col} = ?1 WHERE doc = ?2");
            conn.execute(&sql, rusqlite::params![b.2, a.0])
                .expect("swap a");
            conn.execute(&sql, rusqlite::params![a.2, b.0])
                .expect("swap b");
        }
        let vault = common::reopen(dir.path(), "staff-1");
        assert_eq!(which_docs_fail(&vault, &ids).len(), 2, "{table}");
    }
}

#[test]
fn replaying_an_older_change_or_deleting_one_is_detected() {
    let (dir, ids) = setup(3);
    {
        let conn = raw(dir.path());
        // Replay change 1 of a document in the place of its change 2.
        let (doc, first): (Vec<u8>, Vec<u8>) = conn
            .query_row(
                "SELECT doc, sealed FROM changes WHERE seq = 1 ORDER BY doc LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("row");
        conn.execute(
            "UPDATE changes SET sealed = ?1 WHERE doc = ?2 AND seq = 2",
            rusqlite::params![first, doc],
        )
        .expect("replay");
        // Delete the newest change of another document (a rollback).
        conn.execute(
            "DELETE FROM changes WHERE seq = 2 AND doc = (SELECT doc FROM changes WHERE doc != ?1 ORDER BY doc LIMIT 1)",
            [doc],
        )
        .expect("rollback");
    }
    let vault = common::reopen(dir.path(), "staff-1");
    assert_eq!(which_docs_fail(&vault, &ids).len(), 2);
}
