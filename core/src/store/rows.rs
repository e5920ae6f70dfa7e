//! Row access. Every function takes or returns keyed hashes and sealed blobs.
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;

pub type RowId = [u8; 32];

pub fn get_meta(conn: &Connection, name: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?)
}

pub fn put_meta(conn: &Connection, name: &str, value: &[u8]) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (name, value) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        params![name, value],
    )?;
    Ok(())
}

pub fn get_doc_key(conn: &Connection, doc: &RowId) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT wrapped FROM doc_keys WHERE doc = ?1")?
        .query_row([&doc[..]], |r| r.get(0))
        .optional()?)
}

pub fn insert_doc_key(conn: &Connection, doc: &RowId, wrapped: &[u8]) -> Result<()> {
    conn.prepare_cached("INSERT INTO doc_keys (doc, wrapped) VALUES (?1, ?2)")?
        .execute(params![&doc[..], wrapped])?;
    Ok(())
}

pub fn get_header(conn: &Connection, doc: &RowId) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT sealed FROM headers WHERE doc = ?1")?
        .query_row([&doc[..]], |r| r.get(0))
        .optional()?)
}

pub fn put_header(conn: &Connection, doc: &RowId, sealed: &[u8]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO headers (doc, sealed) VALUES (?1, ?2)
         ON CONFLICT(doc) DO UPDATE SET sealed = excluded.sealed",
    )?
    .execute(params![&doc[..], sealed])?;
    Ok(())
}

/// One listed row: the document's row id, its wrapped key and sealed header.
pub struct HeaderRow {
    pub doc: Vec<u8>,
    pub wrapped_key: Option<Vec<u8>>,
    pub sealed_header: Vec<u8>,
}

pub fn all_headers(conn: &Connection) -> Result<Vec<HeaderRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT h.doc, k.wrapped, h.sealed FROM headers h LEFT JOIN doc_keys k ON k.doc = h.doc",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(HeaderRow {
            doc: r.get(0)?,
            wrapped_key: r.get(1)?,
            sealed_header: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn insert_change(conn: &Connection, doc: &RowId, seq: u64, sealed: &[u8]) -> Result<()> {
    conn.prepare_cached("INSERT INTO changes (doc, seq, sealed) VALUES (?1, ?2, ?3)")?
        .execute(params![&doc[..], seq as i64, sealed])?;
    Ok(())
}

/// Changes after `after_seq`, in sequence order.
pub fn changes_after(
    conn: &Connection,
    doc: &RowId,
    after_seq: u64,
) -> Result<Vec<(u64, Vec<u8>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, sealed FROM changes WHERE doc = ?1 AND seq > ?2 ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![&doc[..], after_seq as i64], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn get_snapshot(conn: &Connection, doc: &RowId) -> Result<Option<(u64, Vec<u8>)>> {
    Ok(conn
        .prepare_cached("SELECT upto_seq, sealed FROM snapshots WHERE doc = ?1")?
        .query_row([&doc[..]], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .optional()?)
}

/// Replaces the snapshot and drops the changes it covers.
pub fn put_snapshot(conn: &Connection, doc: &RowId, upto_seq: u64, sealed: &[u8]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO snapshots (doc, upto_seq, sealed) VALUES (?1, ?2, ?3)
         ON CONFLICT(doc) DO UPDATE SET upto_seq = excluded.upto_seq, sealed = excluded.sealed",
    )?
    .execute(params![&doc[..], upto_seq as i64, sealed])?;
    conn.prepare_cached("DELETE FROM changes WHERE doc = ?1 AND seq <= ?2")?
        .execute(params![&doc[..], upto_seq as i64])?;
    Ok(())
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

/// Removes every row of a document, its key first.
pub fn delete_document(conn: &Connection, doc: &RowId) -> Result<bool> {
    let existed = conn.execute("DELETE FROM doc_keys WHERE doc = ?1", [&doc[..]])? > 0;
    for sql in [
        "DELETE FROM secrets WHERE doc = ?1",
        "DELETE FROM snapshots WHERE doc = ?1",
        "DELETE FROM changes WHERE doc = ?1",
        "DELETE FROM headers WHERE doc = ?1",
    ] {
        conn.execute(sql, [&doc[..]])?;
    }
    Ok(existed)
}
