//! The database schema. Version 3 (version 1 lacked the `audit` table;
//! [`migrate`] adds it. Version 2 files keep a `(doc, seq)` index on
//! `changes` that version 3 no longer creates: documents written since list
//! their change rows in their sealed header, so the index on keyed-hash
//! values, which every write dirtied at a random place, is not needed
//! (ADR 0008). An older file keeps working with its index.)
//!
//! Row ids (`doc`, `name`) are HMAC-SHA256 keyed hashes; `sealed`/`wrapped`
//! columns are AES-256-GCM blobs. The only plaintext integers are sequence
//! numbers, which an attacker could infer from row counts anyway.
use rusqlite::Connection;

use crate::error::{Error, Result};

pub const SCHEMA_VERSION: u32 = 3;

/// `application_id` in the SQLite header: "FVLT". Lets `open` recognise a vault
/// before touching any key.
pub const APPLICATION_ID: i32 = 0x4656_4C54;

const CREATE: &str = "
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE documents (
    doc         BLOB PRIMARY KEY,
    wrapped_key BLOB NOT NULL,
    header      BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE changes (
    doc    BLOB NOT NULL,
    seq    INTEGER NOT NULL,
    sealed BLOB NOT NULL
);
CREATE TABLE snapshots (
    doc      BLOB PRIMARY KEY,
    upto_seq INTEGER NOT NULL,
    sealed   BLOB NOT NULL
);
CREATE TABLE photo_chunks (
    doc    BLOB NOT NULL,
    blob   BLOB NOT NULL,
    idx    INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (doc, blob, idx)
);
CREATE TABLE outbox (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id BLOB NOT NULL UNIQUE,
    doc      BLOB NOT NULL,
    priority INTEGER NOT NULL,
    sealed   BLOB NOT NULL
);
CREATE TABLE photo_transfers (
    direction INTEGER NOT NULL,
    doc       BLOB NOT NULL,
    blob      BLOB NOT NULL,
    variant   INTEGER NOT NULL,
    sealed    BLOB NOT NULL,
    PRIMARY KEY (direction, doc, blob)
);
CREATE TABLE purged (
    doc BLOB PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE audit (
    seq    INTEGER PRIMARY KEY,
    sealed BLOB NOT NULL
);
CREATE TABLE secrets (
    doc         BLOB NOT NULL,
    name        BLOB NOT NULL,
    wrapped_key BLOB NOT NULL,
    sealed      BLOB NOT NULL,
    PRIMARY KEY (doc, name)
) WITHOUT ROWID;
";

pub fn create(conn: &Connection) -> Result<()> {
    conn.execute_batch(CREATE)?;
    conn.pragma_update(None, "application_id", APPLICATION_ID)?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

const V2_AUDIT: &str = "
CREATE TABLE IF NOT EXISTS audit (
    seq    INTEGER PRIMARY KEY,
    sealed BLOB NOT NULL
);
";

/// Brings an older vault up to [`SCHEMA_VERSION`], in one transaction. Run
/// only after the key has been checked, so a wrong key changes nothing.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    if version < 2 {
        tx.execute_batch(V2_AUDIT)?;
    }
    // Version 3 changes nothing in an existing file: its `(doc, seq)` index
    // stays, and headers written before find their change rows through it.
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Checks the file is a FieldVault vault of a version we read. Reads only.
pub fn check(conn: &Connection) -> Result<()> {
    let app_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if app_id != APPLICATION_ID {
        return Err(Error::NotAVault(
            "the database is not a FieldVault vault".into(),
        ));
    }
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION || version == 0 {
        return Err(Error::UnsupportedVersion {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}
