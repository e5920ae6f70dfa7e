//! SQLite backend: one file `relay.db` in the data directory, WAL mode, for a
//! single relay process. One connection behind a mutex; every call runs on
//! tokio's blocking pool (`spawn_blocking`) so disk waits never stall the async
//! workers, and it works under any runtime flavour (unlike `block_in_place`).
//! SQLite admits one writer at a time anyway; write transactions are
//! `BEGIN IMMEDIATE`, which is the workspace row lock of protocol.md.
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use fieldvault::sync::wire::{
    self, Acked, DeviceInfo, DeviceKeys, DeviceList, Entry, KeyEnvelope, PullResult, PulledEntry,
    Role,
};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{
    check_chunk_count, check_chunk_epoch, check_chunk_repeat, check_epoch_bump, check_revoke,
    epochs_by_device, page_cursor, parse_role, plan_enrollment, plan_push, role_str, to_u32,
    AuthDevice, CodeState, DeviceLookup, EnrollAs, Enrollment, KnownDevice, NewChunk, NewCode,
    NewDevice, NewWorkspace, Store, PULL_BYTE_BUDGET,
};
use crate::error::ApiError;

/// The database file inside the data directory.
pub const DB_FILE: &str = "relay.db";
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS relay_meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS workspaces (
    workspace_id TEXT PRIMARY KEY,
    lease_hours INTEGER NOT NULL,
    current_epoch INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    device_id TEXT NOT NULL,
    role TEXT NOT NULL,
    signing_public BLOB NOT NULL,
    agreement_public BLOB NOT NULL,
    code_id BLOB NOT NULL,
    binding BLOB NOT NULL,
    device_name TEXT NOT NULL,
    app_version TEXT NOT NULL,
    enrolled_at_ms INTEGER NOT NULL,
    last_seen_ms INTEGER,
    revoked_at_ms INTEGER,
    wipe_receipt BLOB,
    wipe_received_at_ms INTEGER,
    PRIMARY KEY (workspace_id, device_id)
);
CREATE TABLE IF NOT EXISTS codes (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    code_id BLOB NOT NULL,
    token_hash BLOB NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    issued_by TEXT NOT NULL,
    issued_at_ms INTEGER NOT NULL,
    used_at_ms INTEGER,
    used_by TEXT,
    PRIMARY KEY (workspace_id, code_id)
);
CREATE TABLE IF NOT EXISTS nonces (
    workspace_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    seen_at_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, device_id, nonce)
);
CREATE INDEX IF NOT EXISTS nonces_by_age ON nonces (workspace_id, device_id, seen_at_ms);
CREATE TABLE IF NOT EXISTS key_envelopes (
    workspace_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    from_device TEXT NOT NULL,
    wrapped BLOB NOT NULL,
    signature BLOB NOT NULL,
    PRIMARY KEY (workspace_id, device_id, epoch),
    FOREIGN KEY (workspace_id, device_id) REFERENCES devices (workspace_id, device_id)
);
CREATE TABLE IF NOT EXISTS entries (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    seq INTEGER NOT NULL,
    entry_id BLOB NOT NULL,
    doc_id BLOB NOT NULL,
    epoch INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    device_id TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, seq),
    UNIQUE (workspace_id, entry_id)
);
CREATE TABLE IF NOT EXISTS blobs (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    blob_id BLOB NOT NULL,
    chunk_count INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, blob_id)
);
CREATE TABLE IF NOT EXISTS chunks (
    workspace_id TEXT NOT NULL,
    blob_id BLOB NOT NULL,
    idx INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    body BLOB NOT NULL,
    body_hash BLOB NOT NULL,
    device_id TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, blob_id, idx),
    FOREIGN KEY (workspace_id, blob_id) REFERENCES blobs (workspace_id, blob_id)
);
INSERT OR IGNORE INTO relay_meta (name, value) VALUES ('schema_version', 1);
";

/// Records a nonce in the device's replay window; one seen before →
/// [`ApiError::Replayed`].
fn remember_nonce(
    tx: &rusqlite::Transaction<'_>,
    ws: &str,
    device_id: &str,
    nonce: &str,
    now_ms: i64,
) -> Result<(), ApiError> {
    let inserted = exec(
        tx,
        "INSERT OR IGNORE INTO nonces (workspace_id, device_id, nonce, seen_at_ms) VALUES (?1, ?2, ?3, ?4)",
        params![ws, device_id, nonce, now_ms],
    )?;
    if inserted == 0 {
        return Err(ApiError::Replayed);
    }
    Ok(())
}

pub(super) fn db(e: rusqlite::Error) -> ApiError {
    // rusqlite messages name constraints and columns, never bound values.
    ApiError::internal(format!("sqlite: {e}"))
}

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// Chunk uploads waiting for the next group commit ([`write_chunks`]).
    chunk_queue: Arc<Mutex<Vec<QueuedChunks>>>,
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/relay.db` and its schema.
    pub fn open(dir: &Path) -> Result<Self, ApiError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            ApiError::internal(format!("cannot create the data directory: {}", e.kind()))
        })?;
        let path = dir.join(DB_FILE);
        let mut conn = Connection::open(&path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(db)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(ApiError::internal(format!(
                "SQLite refused WAL mode ({mode})"
            )));
        }
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;",
        )
        .map_err(db)?;
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))
            .map_err(db)?;
        let version: i64 = conn
            .query_row(
                "SELECT value FROM relay_meta WHERE name = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .map_err(db)?;
        if version != SCHEMA_VERSION {
            return Err(ApiError::internal(format!(
                "relay.db has schema version {version}; this relay knows {SCHEMA_VERSION}"
            )));
        }
        super::wal_checkpointer::start(&path, &mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            chunk_queue: Arc::default(),
        })
    }

    async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic cannot leave a transaction open (rusqlite rolls back on
            // drop), so a poisoned lock still guards a consistent connection.
            f(&mut lock(&conn))
        })
        .await
        .map_err(|_| ApiError::internal("the storage task failed"))?
    }
}

/// Runs `f` with `synchronous=NORMAL`: its commit reaches the WAL (so it
/// survives the relay process crashing) without an `fsync` of its own; the
/// next durable commit's `fsync` covers it. Only for the replay window, whose
/// last records a power cut may lose (see `docs/protocol.md`); every entry,
/// chunk, key and device write keeps `synchronous=FULL`.
fn without_fsync<T>(
    conn: &mut Connection,
    f: impl FnOnce(&mut Connection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    exec(conn, "PRAGMA synchronous=NORMAL", [])?;
    let result = f(conn);
    exec(conn, "PRAGMA synchronous=FULL", [])?;
    result
}

/// The one row `sql` selects, if any, through the connection's statement
/// cache (these run on every request: no parse each time).
fn row<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, ApiError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_row(params, f).optional())
        .map_err(db)
}

/// Runs `sql` through the statement cache; the number of rows changed.
fn exec<P: rusqlite::Params>(conn: &Connection, sql: &str, params: P) -> Result<usize, ApiError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(params))
        .map_err(db)
}

fn write_tx(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>, ApiError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)
}

fn workspace_exists(conn: &Connection, ws: &str) -> Result<bool, ApiError> {
    Ok(row(
        conn,
        "SELECT 1 FROM workspaces WHERE workspace_id = ?1",
        [ws],
        |_| Ok(()),
    )?
    .is_some())
}

fn insert_device(conn: &Connection, ws: &str, d: NewDevice<'_>) -> Result<(), ApiError> {
    conn.execute(
        "INSERT INTO devices (workspace_id, device_id, role, signing_public, agreement_public, code_id, binding,
                              device_name, app_version, enrolled_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            ws,
            d.keys.device_id,
            role_str(d.role),
            d.keys.signing_public,
            d.keys.agreement_public,
            d.code_id,
            d.binding,
            d.device_name,
            d.app_version,
            d.now_ms
        ],
    )
    .map_err(db)?;
    Ok(())
}

/// The chunks of one request waiting for the next group commit, and where
/// their outcome goes.
struct QueuedChunks {
    ws: String,
    chunks: Vec<NewChunk>,
    done: tokio::sync::oneshot::Sender<Result<(), ApiError>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Group commit: writes the queued requests' chunks in one transaction, so
/// they share one `fsync` (uploads run several requests in flight, and the
/// relay's write connection is one). Each request's chunks are checked and
/// written inside its own savepoint, so a refused request leaves the others
/// in and none of its own chunks; every caller hears its outcome only once
/// the commit is known, so an acknowledged chunk is always on disk.
fn write_chunks(conn: &mut Connection, batch: Vec<QueuedChunks>) {
    let outcomes = (|| {
        let mut tx = write_tx(conn)?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for q in &batch {
            let savepoint = tx.savepoint().map_err(db)?;
            let outcome = q
                .chunks
                .iter()
                .try_for_each(|c| write_chunk(&savepoint, &q.ws, c));
            if outcome.is_ok() {
                savepoint.commit().map_err(db)?;
            }
            outcomes.push(outcome);
        }
        tx.commit().map_err(db)?;
        Ok::<_, ApiError>(outcomes)
    })();
    match outcomes {
        Ok(outcomes) => {
            for (q, outcome) in batch.into_iter().zip(outcomes) {
                let _ = q.done.send(outcome);
            }
        }
        Err(e) => {
            // Every failure here is a storage one; keep its detail for the
            // log (`Display` of an internal error is only "internal error").
            let detail = match e {
                ApiError::Internal(detail) => detail,
                other => other.to_string(),
            };
            for q in batch {
                let _ = q.done.send(Err(ApiError::internal(detail.clone())));
            }
        }
    }
}

/// Checks one chunk against what is stored and inserts it (a repeat of the
/// same bytes is accepted and stores nothing).
fn write_chunk(tx: &Connection, ws: &str, c: &NewChunk) -> Result<(), ApiError> {
    let current_epoch: i64 = row(
        tx,
        "SELECT current_epoch FROM workspaces WHERE workspace_id = ?1",
        [ws],
        |r| r.get(0),
    )?
    .ok_or_else(|| ApiError::not_found("no such workspace"))?;
    check_chunk_epoch(c.epoch, to_u32(current_epoch, "epoch")?)?;
    let stored_count = row(
        tx,
        "SELECT chunk_count FROM blobs WHERE workspace_id = ?1 AND blob_id = ?2",
        params![ws, c.blob_id],
        |r| r.get::<_, i64>(0),
    )?;
    match stored_count {
        Some(n) => check_chunk_count(to_u32(n, "chunk count")?, c.count)?,
        None => {
            exec(
                tx,
                "INSERT INTO blobs (workspace_id, blob_id, chunk_count, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
                params![ws, c.blob_id, c.count, c.now_ms],
            )?;
        }
    }
    let stored_hash = row(
        tx,
        "SELECT body_hash FROM chunks WHERE workspace_id = ?1 AND blob_id = ?2 AND idx = ?3",
        params![ws, c.blob_id, c.index],
        |r| r.get::<_, Vec<u8>>(0),
    )?;
    if let Some(stored) = stored_hash {
        return check_chunk_repeat(&stored, &c.body_hash);
    }
    exec(
        tx,
        "INSERT INTO chunks (workspace_id, blob_id, idx, epoch, body, body_hash, device_id, received_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![ws, c.blob_id, c.index, c.epoch, c.body, &c.body_hash[..], c.device_id, c.now_ms],
    )?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), ApiError> {
        self.run(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(db))
            .await
    }

    async fn create_workspace(&self, w: NewWorkspace) -> Result<(), ApiError> {
        self.run(move |conn| {
            let tx = write_tx(conn)?;
            if workspace_exists(&tx, &w.workspace_id)? {
                return Err(ApiError::conflict("a workspace with this id exists"));
            }
            tx.execute(
                "INSERT INTO workspaces (workspace_id, lease_hours, current_epoch, last_seq, created_at_ms) VALUES (?1, ?2, 1, 0, ?3)",
                params![w.workspace_id, w.lease_hours, w.now_ms],
            )
            .map_err(db)?;
            insert_device(
                &tx,
                &w.workspace_id,
                NewDevice {
                    keys: &w.admin,
                    role: Role::Admin,
                    code_id: &[],
                    binding: &[],
                    device_name: "",
                    app_version: &w.app_version,
                    now_ms: w.now_ms,
                },
            )?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn lookup_device(&self, ws: &str, device_id: &str) -> Result<DeviceLookup, ApiError> {
        let (ws, device_id) = (ws.to_owned(), device_id.to_owned());
        self.run(move |conn| {
            if !workspace_exists(conn, &ws)? {
                return Ok(DeviceLookup::NoWorkspace);
            }
            let row = row(
                conn,
                "SELECT role, signing_public, revoked_at_ms FROM devices WHERE workspace_id = ?1 AND device_id = ?2",
                params![ws, device_id],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Option<i64>>(2)?)),
            )?;
            match row {
                None => Ok(DeviceLookup::NoDevice),
                Some((role, signing_public, revoked)) => {
                    Ok(DeviceLookup::Found(AuthDevice { role: parse_role(&role)?, signing_public, revoked: revoked.is_some() }))
                }
            }
        })
        .await
    }

    async fn record_request(
        &self,
        ws: &str,
        device_id: &str,
        nonce: &str,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let (ws, device_id, nonce) = (ws.to_owned(), device_id.to_owned(), nonce.to_owned());
        self.run(move |conn| without_fsync(conn, |conn| {
            let tx = write_tx(conn)?;
            exec(
                &tx,
                "DELETE FROM nonces WHERE workspace_id = ?1 AND device_id = ?2 AND seen_at_ms < ?3",
                params![ws, device_id, now_ms - wire::NONCE_WINDOW_MS],
            )?;
            remember_nonce(&tx, &ws, &device_id, &nonce, now_ms)?;
            exec(
                &tx,
                "UPDATE devices SET last_seen_ms = max(coalesce(last_seen_ms, 0), ?3) WHERE workspace_id = ?1 AND device_id = ?2",
                params![ws, device_id, now_ms],
            )?;
            tx.commit().map_err(db)
        }))
        .await
    }

    async fn issue_code(&self, ws: &str, code: NewCode) -> Result<(), ApiError> {
        let ws = ws.to_owned();
        self.run(move |conn| {
            let tx = write_tx(conn)?;
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO codes (workspace_id, code_id, token_hash, expires_at_ms, issued_by, issued_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![ws, code.code_id, code.token_hash, code.expires_at_ms, code.issued_by, code.now_ms],
                )
                .map_err(db)?;
            if inserted == 0 {
                return Err(ApiError::conflict("an enrollment code with this id exists"));
            }
            tx.commit().map_err(db)
        })
        .await
    }

    async fn enroll(&self, ws: &str, e: Enrollment) -> Result<(), ApiError> {
        let ws = ws.to_owned();
        self.run(move |conn| {
            let tx = write_tx(conn)?;
            if !workspace_exists(&tx, &ws)? {
                return Err(ApiError::not_found("no such workspace"));
            }
            let code = tx
                .query_row(
                    "SELECT token_hash, expires_at_ms, used_by FROM codes WHERE workspace_id = ?1 AND code_id = ?2",
                    params![ws, e.code_id],
                    |r| {
                        Ok(CodeState {
                            token_hash: r.get(0)?,
                            expires_at_ms: r.get(1)?,
                            used_by: r.get(2)?,
                        })
                    },
                )
                .optional()
                .map_err(db)?;
            let known = tx
                .query_row(
                    "SELECT signing_public, role, revoked_at_ms, agreement_public FROM devices WHERE workspace_id = ?1 AND device_id = ?2",
                    params![ws, e.device.device_id],
                    |r| {
                        Ok((
                            r.get::<_, Vec<u8>>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<i64>>(2)?,
                            r.get::<_, Vec<u8>>(3)?,
                        ))
                    },
                )
                .optional()
                .map_err(db)?
                .map(|(signing_public, role, revoked, agreement_public)| {
                    Ok::<_, ApiError>(KnownDevice {
                        signing_public,
                        agreement_public,
                        role: parse_role(&role)?,
                        revoked: revoked.is_some(),
                    })
                })
                .transpose()?;
            let plan = plan_enrollment(code, known, &e)?;
            if let Some(nonce) = &e.possession_nonce {
                remember_nonce(&tx, &ws, &e.device.device_id, nonce, e.now_ms)?;
            }
            match plan {
                EnrollAs::Unchanged => return tx.commit().map_err(db),
                EnrollAs::New => insert_device(
                    &tx,
                    &ws,
                    NewDevice {
                        keys: &e.device,
                        role: Role::Member,
                        code_id: &e.code_id,
                        binding: &e.binding,
                        device_name: &e.device_name,
                        app_version: &e.app_version,
                        now_ms: e.now_ms,
                    },
                )?,
                EnrollAs::Again => {
                    tx.execute(
                        "UPDATE devices SET agreement_public = ?3, code_id = ?4, binding = ?5, device_name = ?6,
                                            app_version = ?7, enrolled_at_ms = ?8
                         WHERE workspace_id = ?1 AND device_id = ?2",
                        params![
                            ws,
                            e.device.device_id,
                            e.device.agreement_public,
                            e.code_id,
                            e.binding,
                            e.device_name,
                            e.app_version,
                            e.now_ms
                        ],
                    )
                    .map_err(db)?;
                    tx.execute(
                        "DELETE FROM key_envelopes WHERE workspace_id = ?1 AND device_id = ?2",
                        params![ws, e.device.device_id],
                    )
                    .map_err(db)?;
                }
            }
            tx.execute(
                "UPDATE codes SET used_at_ms = COALESCE(used_at_ms, ?3), used_by = ?4 WHERE workspace_id = ?1 AND code_id = ?2",
                params![ws, e.code_id, e.now_ms, e.device.device_id],
            )
            .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn list_devices(&self, ws: &str) -> Result<DeviceList, ApiError> {
        let ws = ws.to_owned();
        self.run(move |conn| {
            let tx = conn.transaction().map_err(db)?;
            let (current_epoch, lease_hours): (i64, i64) = tx
                .query_row("SELECT current_epoch, lease_hours FROM workspaces WHERE workspace_id = ?1", [&ws], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(db)?
                .ok_or_else(|| ApiError::not_found("no such workspace"))?;
            let epochs: Vec<(String, u32)> = {
                let mut stmt = tx.prepare("SELECT device_id, epoch FROM key_envelopes WHERE workspace_id = ?1").map_err(db)?;
                let rows = stmt.query_map([&ws], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).map_err(db)?;
                let mut out = Vec::new();
                for row in rows {
                    let (device, epoch) = row.map_err(db)?;
                    out.push((device, to_u32(epoch, "epoch")?));
                }
                out
            };
            let mut epochs = epochs_by_device(epochs);
            let mut stmt = tx
                .prepare(
                    "SELECT device_id, signing_public, agreement_public, role, code_id, binding, device_name, app_version,
                            enrolled_at_ms, last_seen_ms, revoked_at_ms, wipe_receipt
                     FROM devices WHERE workspace_id = ?1 ORDER BY enrolled_at_ms, device_id",
                )
                .map_err(db)?;
            let mut rows = stmt.query([&ws]).map_err(db)?;
            let mut devices = Vec::new();
            while let Some(r) = rows.next().map_err(db)? {
                let device_id: String = r.get(0).map_err(db)?;
                let role: String = r.get(3).map_err(db)?;
                devices.push(DeviceInfo {
                    key_epochs: epochs.remove(&device_id).unwrap_or_default(),
                    keys: DeviceKeys {
                        device_id,
                        signing_public: r.get(1).map_err(db)?,
                        agreement_public: r.get(2).map_err(db)?,
                    },
                    role: parse_role(&role)?,
                    code_id: r.get(4).map_err(db)?,
                    binding: r.get(5).map_err(db)?,
                    device_name: r.get(6).map_err(db)?,
                    app_version: r.get(7).map_err(db)?,
                    enrolled_at_ms: r.get(8).map_err(db)?,
                    last_seen_ms: r.get(9).map_err(db)?,
                    revoked_at_ms: r.get(10).map_err(db)?,
                    wipe_receipt: r.get(11).map_err(db)?,
                });
            }
            Ok(DeviceList {
                devices,
                current_epoch: to_u32(current_epoch, "epoch")?,
                lease_hours: to_u32(lease_hours, "lease")?,
            })
        })
        .await
    }

    async fn put_key_envelopes(
        &self,
        ws: &str,
        envelopes: Vec<KeyEnvelope>,
    ) -> Result<(), ApiError> {
        let ws = ws.to_owned();
        self.run(move |conn| {
            let tx = write_tx(conn)?;
            for env in &envelopes {
                let revoked = tx
                    .query_row(
                        "SELECT revoked_at_ms FROM devices WHERE workspace_id = ?1 AND device_id = ?2",
                        params![ws, env.device_id],
                        |r| r.get::<_, Option<i64>>(0),
                    )
                    .optional()
                    .map_err(db)?;
                match revoked {
                    None => return Err(ApiError::not_found("a key envelope names a device that is not enrolled")),
                    Some(Some(_)) => return Err(ApiError::conflict("a key envelope names a revoked device")),
                    Some(None) => {}
                }
                tx.execute(
                    "INSERT INTO key_envelopes (workspace_id, device_id, epoch, from_device, wrapped, signature)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (workspace_id, device_id, epoch)
                     DO UPDATE SET from_device = excluded.from_device, wrapped = excluded.wrapped, signature = excluded.signature",
                    params![ws, env.device_id, env.epoch, env.from_device, env.wrapped, env.signature],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)
        })
        .await
    }

    async fn key_envelopes(&self, ws: &str, device_id: &str) -> Result<Vec<KeyEnvelope>, ApiError> {
        let (ws, device_id) = (ws.to_owned(), device_id.to_owned());
        self.run(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT epoch, from_device, wrapped, signature FROM key_envelopes
                     WHERE workspace_id = ?1 AND device_id = ?2 ORDER BY epoch",
                )
                .map_err(db)?;
            let mut rows = stmt.query(params![ws, device_id]).map_err(db)?;
            let mut out = Vec::new();
            while let Some(r) = rows.next().map_err(db)? {
                out.push(KeyEnvelope {
                    device_id: device_id.clone(),
                    epoch: to_u32(r.get(0).map_err(db)?, "epoch")?,
                    from_device: r.get(1).map_err(db)?,
                    wrapped: r.get(2).map_err(db)?,
                    signature: r.get(3).map_err(db)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn push_entries(
        &self,
        ws: &str,
        device_id: &str,
        entries: Vec<Entry>,
        now_ms: i64,
    ) -> Result<Vec<Acked>, ApiError> {
        let (ws, device_id) = (ws.to_owned(), device_id.to_owned());
        self.run(move |conn| {
            // BEGIN IMMEDIATE: the database write lock, taken before reading
            // last_seq, so sequence order is commit order.
            let tx = write_tx(conn)?;
            let (current_epoch, last_seq): (i64, i64) = row(
                &tx,
                "SELECT current_epoch, last_seq FROM workspaces WHERE workspace_id = ?1",
                [&ws],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .ok_or_else(|| ApiError::not_found("no such workspace"))?;
            let mut existing = HashMap::new();
            {
                let mut stmt = tx.prepare_cached("SELECT seq FROM entries WHERE workspace_id = ?1 AND entry_id = ?2").map_err(db)?;
                for e in &entries {
                    if let Some(seq) = stmt.query_row(params![ws, e.entry_id], |r| r.get::<_, i64>(0)).optional().map_err(db)? {
                        existing.insert(e.entry_id.clone(), seq);
                    }
                }
            }
            let plan = plan_push(entries, to_u32(current_epoch, "epoch")?, last_seq, existing)?;
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO entries (workspace_id, seq, entry_id, doc_id, epoch, sealed, device_id, received_at_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )
                    .map_err(db)?;
                for (seq, e) in &plan.inserts {
                    insert.execute(params![ws, seq, e.entry_id, e.doc_id, e.epoch, e.sealed, device_id, now_ms]).map_err(db)?;
                }
            }
            if plan.last_seq != last_seq {
                exec(
                    &tx,
                    "UPDATE workspaces SET last_seq = ?2 WHERE workspace_id = ?1",
                    params![ws, plan.last_seq],
                )?;
            }
            tx.commit().map_err(db)?;
            Ok(plan.acked)
        })
        .await
    }

    async fn pull_entries(
        &self,
        ws: &str,
        exclude_device: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<PullResult, ApiError> {
        let ws = ws.to_owned();
        let exclude = exclude_device.map(str::to_owned);
        self.run(move |conn| {
            let head: i64 = conn
                .prepare_cached("SELECT last_seq FROM workspaces WHERE workspace_id = ?1")
                .map_err(db)?
                .query_row(params![ws], |r| r.get(0))
                .optional()
                .map_err(db)?
                .unwrap_or(after);
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq, entry_id, doc_id, epoch, sealed, device_id FROM entries
                     WHERE workspace_id = ?1 AND seq > ?2 AND seq <= ?5 AND (?4 IS NULL OR device_id <> ?4)
                     ORDER BY seq LIMIT ?3",
                )
                .map_err(db)?;
            let mut rows = stmt
                .query(params![ws, after, limit, exclude, head])
                .map_err(db)?;
            let mut entries = Vec::new();
            let mut bytes: i64 = 0;
            while let Some(r) = rows.next().map_err(db)? {
                if !entries.is_empty() && bytes >= PULL_BYTE_BUDGET {
                    break;
                }
                let sealed: Vec<u8> = r.get(4).map_err(db)?;
                bytes += sealed.len() as i64;
                entries.push(PulledEntry {
                    seq: r.get(0).map_err(db)?,
                    entry: Entry {
                        entry_id: r.get(1).map_err(db)?,
                        doc_id: r.get(2).map_err(db)?,
                        epoch: to_u32(r.get(3).map_err(db)?, "epoch")?,
                        sealed,
                    },
                    device_id: r.get(5).map_err(db)?,
                });
            }
            let last_seq = page_cursor(&entries, after, head, limit);
            Ok(PullResult { entries, last_seq })
        })
        .await
    }

    async fn put_chunks(&self, ws: &str, chunks: Vec<NewChunk>) -> Result<(), ApiError> {
        let (done, outcome) = tokio::sync::oneshot::channel();
        lock(&self.chunk_queue).push(QueuedChunks {
            ws: ws.to_owned(),
            chunks,
            done,
        });
        // Whoever holds the connection next writes every queued chunk, ours
        // included, or finds the queue already emptied by an earlier task.
        let queue = self.chunk_queue.clone();
        self.run(move |conn| {
            let batch = std::mem::take(&mut *lock(&queue));
            if !batch.is_empty() {
                write_chunks(conn, batch);
            }
            Ok(())
        })
        .await?;
        outcome
            .await
            .map_err(|_| ApiError::internal("the storage task failed"))?
    }

    async fn blob_statuses(
        &self,
        ws: &str,
        blob_ids: Vec<Vec<u8>>,
    ) -> Result<Vec<Option<wire::BlobStatus>>, ApiError> {
        let ws = ws.to_owned();
        self.run(move |conn| {
            let tx = conn.transaction().map_err(db)?;
            let mut head = tx
                .prepare_cached(
                    "SELECT chunk_count FROM blobs WHERE workspace_id = ?1 AND blob_id = ?2",
                )
                .map_err(db)?;
            let mut chunks = tx
                .prepare_cached(
                    "SELECT idx FROM chunks WHERE workspace_id = ?1 AND blob_id = ?2 ORDER BY idx",
                )
                .map_err(db)?;
            let mut out = Vec::with_capacity(blob_ids.len());
            for blob_id in &blob_ids {
                let Some(count) = head
                    .query_row(params![ws, blob_id], |r| r.get::<_, i64>(0))
                    .optional()
                    .map_err(db)?
                else {
                    out.push(None);
                    continue;
                };
                let mut rows = chunks.query(params![ws, blob_id]).map_err(db)?;
                let mut present = Vec::new();
                while let Some(r) = rows.next().map_err(db)? {
                    present.push(to_u32(r.get(0).map_err(db)?, "chunk index")?);
                }
                out.push(Some(wire::BlobStatus {
                    count: to_u32(count, "chunk count")?,
                    present,
                }));
            }
            Ok(out)
        })
        .await
    }

    async fn get_chunks(
        &self,
        ws: &str,
        wanted: Vec<(Vec<u8>, u32)>,
    ) -> Result<Vec<Option<Vec<u8>>>, ApiError> {
        let ws = ws.to_owned();
        self.run(move |conn| {
            let tx = conn.transaction().map_err(db)?;
            let mut stmt = tx
                .prepare_cached(
                    "SELECT body FROM chunks WHERE workspace_id = ?1 AND blob_id = ?2 AND idx = ?3",
                )
                .map_err(db)?;
            let mut out = Vec::with_capacity(wanted.len());
            for (blob_id, index) in &wanted {
                out.push(
                    stmt.query_row(params![ws, blob_id, index], |r| r.get::<_, Vec<u8>>(0))
                        .optional()
                        .map_err(db)?,
                );
            }
            Ok(out)
        })
        .await
    }

    async fn revoke(&self, ws: &str, device_id: &str, now_ms: i64) -> Result<(), ApiError> {
        let (ws, device_id) = (ws.to_owned(), device_id.to_owned());
        self.run(move |conn| {
            let tx = write_tx(conn)?;
            let target = tx
                .query_row(
                    "SELECT revoked_at_ms FROM devices WHERE workspace_id = ?1 AND device_id = ?2",
                    params![ws, device_id],
                    |r| r.get::<_, Option<i64>>(0),
                )
                .optional()
                .map_err(db)?;
            check_revoke(target)?;
            tx.execute(
                "UPDATE devices SET revoked_at_ms = ?3 WHERE workspace_id = ?1 AND device_id = ?2",
                params![ws, device_id, now_ms],
            )
            .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn bump_epoch(&self, ws: &str, epoch: u32) -> Result<u32, ApiError> {
        let ws = ws.to_owned();
        self.run(move |conn| {
            let tx = write_tx(conn)?;
            let current: i64 = tx
                .query_row(
                    "SELECT current_epoch FROM workspaces WHERE workspace_id = ?1",
                    [&ws],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?
                .ok_or_else(|| ApiError::not_found("no such workspace"))?;
            let next = check_epoch_bump(to_u32(current, "epoch")?, epoch)?;
            tx.execute(
                "UPDATE workspaces SET current_epoch = ?2 WHERE workspace_id = ?1",
                params![ws, next],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(next)
        })
        .await
    }

    async fn put_wipe_receipt(
        &self,
        ws: &str,
        device_id: &str,
        receipt: Vec<u8>,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let (ws, device_id) = (ws.to_owned(), device_id.to_owned());
        self.run(move |conn| {
            let tx = write_tx(conn)?;
            let changed = tx
                .execute(
                    "UPDATE devices SET wipe_receipt = coalesce(wipe_receipt, ?3),
                                        wipe_received_at_ms = coalesce(wipe_received_at_ms, ?4)
                     WHERE workspace_id = ?1 AND device_id = ?2 AND revoked_at_ms IS NOT NULL",
                    params![ws, device_id, receipt, now_ms],
                )
                .map_err(db)?;
            if changed == 0 {
                return Err(ApiError::conflict(
                    "only a revoked device sends a wipe receipt",
                ));
            }
            tx.commit().map_err(db)
        })
        .await
    }

    async fn workspace_status(&self, ws: &str) -> Result<(u32, u32), ApiError> {
        let ws = ws.to_owned();
        self.run(move |conn| {
            let (epoch, lease): (i64, i64) = conn
                .query_row(
                    "SELECT current_epoch, lease_hours FROM workspaces WHERE workspace_id = ?1",
                    [&ws],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db)?
                .ok_or_else(|| ApiError::not_found("no such workspace"))?;
            Ok((to_u32(epoch, "epoch")?, to_u32(lease, "lease")?))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(blob: u8, index: u32, count: u32, body: &[u8]) -> NewChunk {
        NewChunk {
            blob_id: vec![blob; 16],
            index,
            count,
            epoch: 1,
            body: body.to_vec(),
            body_hash: wire::body_sha256(body),
            device_id: "dev-a".into(),
            now_ms: 1,
        }
    }

    /// A store in `dir` holding workspace "ws" with admin "dev-a".
    async fn store_with_workspace(dir: &Path) -> SqliteStore {
        let store = SqliteStore::open(dir).expect("open");
        store
            .create_workspace(NewWorkspace {
                workspace_id: "ws".into(),
                admin: DeviceKeys {
                    device_id: "dev-a".into(),
                    signing_public: vec![1; 32],
                    agreement_public: vec![2; 32],
                },
                lease_hours: 72,
                app_version: "test".into(),
                now_ms: 1,
            })
            .await
            .expect("workspace");
        store
    }

    /// Requests queued while the connection is busy are written by one task
    /// in one transaction; a request refused inside that batch (here: a
    /// chunk count that contradicts the stored one, different bytes for a
    /// stored chunk, and a request of two chunks of which one is refused)
    /// gets its own error and stores none of its chunks; the others are
    /// still stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_commit_answers_each_request_and_keeps_the_good_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(store_with_workspace(dir.path()).await);
        store
            .put_chunks("ws", vec![chunk(9, 0, 2, b"first")])
            .await
            .expect("stored");

        // Hold the connection so that every upload below queues up (the
        // uploads run on the runtime's other worker).
        let held = lock(&store.conn);
        let mut uploads = Vec::new();
        // Each upload is spawned only once the previous one is queued, so
        // the queue's order is this test's order whatever the scheduler does.
        let mut queue = |chunks: Vec<NewChunk>| {
            let queued = lock(&store.chunk_queue).len();
            let task_store = store.clone();
            uploads.push(tokio::spawn(async move {
                task_store.put_chunks("ws", chunks).await
            }));
            for _ in 0..500 {
                if lock(&store.chunk_queue).len() > queued {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        };
        for blob in 0..3u8 {
            for index in 0..2 {
                queue(vec![chunk(blob, index, 2, &[blob, index as u8])]);
            }
        }
        queue(vec![chunk(0, 1, 5, b"wrong count")]);
        queue(vec![chunk(9, 0, 2, b"other bytes")]);
        queue(vec![chunk(9, 0, 2, b"first")]);
        queue(vec![chunk(5, 0, 1, b"fine"), chunk(9, 0, 2, b"other")]);
        queue(vec![chunk(6, 0, 1, b"six"), chunk(9, 1, 2, b"second")]);
        for _ in 0..500 {
            if lock(&store.chunk_queue).len() == uploads.len() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(lock(&store.chunk_queue).len(), 11, "all queued");
        drop(held);

        let mut outcomes = Vec::new();
        for upload in uploads {
            outcomes.push(upload.await.expect("task"));
        }
        assert!(outcomes[..6].iter().all(Result::is_ok), "{outcomes:?}");
        assert!(matches!(outcomes[6], Err(ApiError::Conflict(_))));
        assert!(matches!(outcomes[7], Err(ApiError::Conflict(_))));
        assert!(outcomes[8].is_ok(), "the same bytes again are accepted");
        assert!(matches!(outcomes[9], Err(ApiError::Conflict(_))));
        assert!(outcomes[10].is_ok(), "{outcomes:?}");
        assert!(lock(&store.chunk_queue).is_empty());

        let statuses = store
            .blob_statuses("ws", [0, 1, 2, 9, 5, 6].map(|b| vec![b; 16]).to_vec())
            .await
            .expect("statuses");
        for status in &statuses[..3] {
            let status = status.as_ref().expect("stored");
            assert_eq!((status.count, status.present.clone()), (2, vec![0, 1]));
        }
        assert_eq!(statuses[3].as_ref().expect("stored").present, vec![0, 1]);
        assert_eq!(
            statuses[4], None,
            "a refused request stores none of its chunks"
        );
        assert_eq!(statuses[5].as_ref().expect("stored").present, vec![0]);
        let bodies = store
            .get_chunks(
                "ws",
                vec![(vec![9; 16], 0), (vec![1; 16], 1), (vec![5; 16], 0)],
            )
            .await
            .expect("read");
        assert_eq!(
            bodies,
            vec![Some(b"first".to_vec()), Some(vec![1u8, 1]), None]
        );
    }

    /// The writer no longer checkpoints (its WAL hook replaces SQLite's
    /// auto-checkpoint): the background thread copies the WAL into the
    /// database file once it passes the threshold.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_checkpointed_in_the_background() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_with_workspace(dir.path()).await;
        let db_size = || std::fs::metadata(dir.path().join(DB_FILE)).map_or(0, |m| m.len());
        let before = db_size();
        // 6 MB of chunks: well past the wake-up threshold (1,000 pages).
        let body = vec![0x5a; 200_000];
        for index in 0..30 {
            store
                .put_chunks("ws", vec![chunk(7, index, 30, &body)])
                .await
                .expect("stored");
        }
        let mut after = db_size();
        for _ in 0..500 {
            if after > before + 4_000_000 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            after = db_size();
        }
        assert!(
            after > before + 4_000_000,
            "the database file did not grow from checkpoints: {before} -> {after}"
        );
    }

    /// A signed request replayed inside the clock window is refused even
    /// when another request of the device has meanwhile purged old nonces.
    /// The numbers are the case a window of exactly twice the skew let
    /// through: the first request seen at t (its timestamp 290 s ahead of
    /// the relay), the replay accepted at t + 575 s and its body trickled in
    /// until after another request, at t + 601 s, purged what was older than
    /// the window.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replay_at_the_edge_of_the_clock_window_is_still_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_with_workspace(dir.path()).await;
        let t = 10_000_000_000;
        store
            .record_request("ws", "dev-a", "first", t)
            .await
            .expect("first");
        store
            .record_request("ws", "dev-a", "other", t + 601_000)
            .await
            .expect("another request");
        let replay = store
            .record_request("ws", "dev-a", "first", t + 575_000)
            .await;
        assert!(matches!(replay, Err(ApiError::Replayed)), "{replay:?}");
    }
}
