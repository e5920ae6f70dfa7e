//! Row access. Every function takes or returns keyed hashes and sealed blobs.
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;

pub type RowId = [u8; 32];

pub fn get_meta(conn: &Connection, name: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

pub fn put_meta(conn: &Connection, name: &str, value: &[u8]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (name, value) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![name, value])?;
    Ok(())
}

pub fn delete_meta(conn: &Connection, name: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM meta WHERE name = ?1")?
        .execute([name])?;
    Ok(())
}

/// Deletes every meta record whose name starts with `prefix` (compared
/// exactly, not as a `LIKE` pattern).
pub fn delete_meta_prefixed(conn: &Connection, prefix: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM meta WHERE substr(name, 1, ?2) = ?1")?
        .execute(params![prefix, prefix.chars().count() as i64])?;
    Ok(())
}

/// A document's wrapped key and sealed header.
pub struct DocumentRow {
    pub doc: Vec<u8>,
    pub wrapped_key: Vec<u8>,
    pub header: Vec<u8>,
}

pub fn get_document(conn: &Connection, doc: &RowId) -> Result<Option<DocumentRow>> {
    Ok(conn
        .prepare_cached("SELECT wrapped_key, header FROM documents WHERE doc = ?1")?
        .query_row([&doc[..]], |r| {
            Ok(DocumentRow {
                doc: doc.to_vec(),
                wrapped_key: r.get(0)?,
                header: r.get(1)?,
            })
        })
        .optional()?)
}

/// Whether a document row exists for `doc` (without reading it).
pub fn document_exists(conn: &Connection, doc: &RowId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM documents WHERE doc = ?1")?
        .query_row([&doc[..]], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Inserts a new document row; false if one already exists for `doc`.
pub fn insert_document(
    conn: &Connection,
    doc: &RowId,
    wrapped_key: &[u8],
    header: &[u8],
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO documents (doc, wrapped_key, header) VALUES (?1, ?2, ?3) ON CONFLICT(doc) DO NOTHING",
        )?
        .execute(params![&doc[..], wrapped_key, header])?
        == 1)
}

pub fn update_header(conn: &Connection, doc: &RowId, header: &[u8]) -> Result<()> {
    conn.prepare_cached("UPDATE documents SET header = ?2 WHERE doc = ?1")?
        .execute(params![&doc[..], header])?;
    Ok(())
}

/// Calls `f(doc, wrapped_key, header)` for every document row, borrowing
/// SQLite's buffers (no copies). A value that is not a blob (a tampered row)
/// is passed as empty, so it fails to open like any other damaged row.
pub fn for_each_document(conn: &Connection, mut f: impl FnMut(&[u8], &[u8], &[u8])) -> Result<()> {
    let mut stmt = conn.prepare_cached("SELECT doc, wrapped_key, header FROM documents")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let blob = |i: usize| {
            r.get_ref(i)
                .ok()
                .and_then(|v| v.as_blob().ok())
                .unwrap_or(&[])
        };
        f(blob(0), blob(1), blob(2));
    }
    Ok(())
}

/// Appends a change row; returns its SQLite row id, which the document's
/// sealed header lists so a load needs no index on `doc`.
pub fn insert_change(conn: &Connection, doc: &RowId, seq: u64, sealed: &[u8]) -> Result<i64> {
    conn.prepare_cached("INSERT INTO changes (doc, seq, sealed) VALUES (?1, ?2, ?3)")?
        .execute(params![&doc[..], seq as i64, sealed])?;
    Ok(conn.last_insert_rowid())
}

/// One change row by its row id, if it exists and belongs to `doc`:
/// `(seq, sealed)`.
pub fn change_at(conn: &Connection, doc: &RowId, rowid: i64) -> Result<Option<(u64, Vec<u8>)>> {
    Ok(conn
        .prepare_cached("SELECT seq, sealed FROM changes WHERE rowid = ?1 AND doc = ?2")?
        .query_row(params![rowid, &doc[..]], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
        })
        .optional()?)
}

/// Changes after `after_seq`, in sequence order, found by `doc`:
/// `(rowid, seq, sealed)`. For headers written before schema 3, whose files
/// still have the `(doc, seq)` index; on a newer file this scans the table.
pub fn changes_after(
    conn: &Connection,
    doc: &RowId,
    after_seq: u64,
) -> Result<Vec<(i64, u64, Vec<u8>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT rowid, seq, sealed FROM changes WHERE doc = ?1 AND seq > ?2 ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![&doc[..], after_seq as i64], |r| {
        Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Deletes change rows of `doc`: the listed ones (a row id of another
/// document is left alone), or with `None` (an older header that lists none)
/// every one, found by `doc`.
pub fn delete_changes(conn: &Connection, doc: &RowId, listed: Option<&[i64]>) -> Result<()> {
    match listed {
        Some(rowids) => {
            let mut stmt =
                conn.prepare_cached("DELETE FROM changes WHERE rowid = ?1 AND doc = ?2")?;
            for rowid in rowids {
                stmt.execute(params![rowid, &doc[..]])?;
            }
        }
        None => {
            conn.execute("DELETE FROM changes WHERE doc = ?1", [&doc[..]])?;
        }
    }
    Ok(())
}

pub fn get_snapshot(conn: &Connection, doc: &RowId) -> Result<Option<(u64, Vec<u8>)>> {
    Ok(conn
        .prepare_cached("SELECT upto_seq, sealed FROM snapshots WHERE doc = ?1")?
        .query_row([&doc[..]], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .optional()?)
}

/// Replaces the snapshot and drops the change rows it covers (`covered`, as
/// for [`delete_changes`]): a snapshot always covers every change so far.
pub fn put_snapshot(
    conn: &Connection,
    doc: &RowId,
    upto_seq: u64,
    sealed: &[u8],
    covered: Option<&[i64]>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO snapshots (doc, upto_seq, sealed) VALUES (?1, ?2, ?3)
         ON CONFLICT(doc) DO UPDATE SET upto_seq = excluded.upto_seq, sealed = excluded.sealed",
    )?
    .execute(params![&doc[..], upto_seq as i64, sealed])?;
    delete_changes(conn, doc, covered)
}

pub fn get_secret(
    conn: &Connection,
    doc: &RowId,
    name: &RowId,
) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    Ok(conn
        .prepare_cached("SELECT wrapped_key, sealed FROM secrets WHERE doc = ?1 AND name = ?2")?
        .query_row([&doc[..], &name[..]], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

pub fn put_secret(
    conn: &Connection,
    doc: &RowId,
    name: &RowId,
    wrapped_key: &[u8],
    sealed: &[u8],
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO secrets (doc, name, wrapped_key, sealed) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(doc, name) DO UPDATE SET wrapped_key = excluded.wrapped_key, sealed = excluded.sealed",
    )?
    .execute(params![&doc[..], &name[..], wrapped_key, sealed])?;
    Ok(())
}

pub fn delete_secret(conn: &Connection, doc: &RowId, name: &RowId) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM secrets WHERE doc = ?1 AND name = ?2")?
        .execute([&doc[..], &name[..]])?
        > 0)
}

pub fn insert_outbox(
    conn: &Connection,
    entry_id: &[u8],
    doc: &RowId,
    priority: i64,
    sealed: &[u8],
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO outbox (entry_id, doc, priority, sealed) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![entry_id, &doc[..], priority, sealed])?;
    Ok(())
}

/// One queued entry, oldest first.
pub struct OutboxRow {
    pub entry_id: Vec<u8>,
    pub doc: Vec<u8>,
    pub sealed: Vec<u8>,
}

pub fn outbox_batch(conn: &Connection, limit: usize) -> Result<Vec<OutboxRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT entry_id, doc, sealed FROM outbox ORDER BY priority, id LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(OutboxRow {
            entry_id: r.get(0)?,
            doc: r.get(1)?,
            sealed: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// (items, total sealed bytes) waiting in the outbox.
pub fn outbox_size(conn: &Connection) -> Result<(u64, u64)> {
    Ok(conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(LENGTH(sealed)), 0) FROM outbox",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )?)
}

/// The documents (keyed-hash row ids) that still have queued changes.
pub fn outbox_docs(conn: &Connection) -> Result<std::collections::HashSet<Vec<u8>>> {
    let mut stmt = conn.prepare_cached("SELECT DISTINCT doc FROM outbox")?;
    let docs = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    Ok(docs.collect::<Result<_, _>>()?)
}

pub fn delete_outbox(conn: &Connection, entry_id: &[u8]) -> Result<()> {
    conn.prepare_cached("DELETE FROM outbox WHERE entry_id = ?1")?
        .execute([entry_id])?;
    Ok(())
}

/// Remembers (by keyed hash only) that a document was deleted here, so that
/// entries arriving later from the relay do not bring it back.
pub fn mark_purged(conn: &Connection, doc: &RowId) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO purged (doc) VALUES (?1)")?
        .execute([&doc[..]])?;
    Ok(())
}

pub fn is_purged(conn: &Connection, doc: &RowId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM purged WHERE doc = ?1")?
        .query_row([&doc[..]], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Removes every row of a document, its key (in `documents`) first.
/// `change_rows` are its change rows as its header lists them; `None` (an
/// older header) finds them by `doc`.
pub fn delete_document(
    conn: &Connection,
    doc: &RowId,
    change_rows: Option<&[i64]>,
) -> Result<bool> {
    let existed = conn.execute("DELETE FROM documents WHERE doc = ?1", [&doc[..]])? > 0;
    for sql in [
        "DELETE FROM secrets WHERE doc = ?1",
        "DELETE FROM photo_chunks WHERE doc = ?1",
        "DELETE FROM outbox WHERE doc = ?1",
        "DELETE FROM photo_transfers WHERE doc = ?1",
        "DELETE FROM snapshots WHERE doc = ?1",
    ] {
        conn.execute(sql, [&doc[..]])?;
    }
    delete_changes(conn, doc, change_rows)?;
    Ok(existed)
}
