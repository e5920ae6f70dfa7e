//! PostgreSQL backend: several relay processes share one database. Every
//! decision that must be global is taken inside one transaction holding a row
//! lock (`SELECT ... FOR UPDATE` on the workspace, the code, the blob or the
//! device) or rests on a unique constraint (nonces, entry ids, chunk indexes).
//!
//! No TLS: the connection is meant for loopback or a private network
//! (docs/relay.md).
use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use fieldvault::sync::wire::{
    self, Acked, DeviceInfo, DeviceKeys, DeviceList, Entry, KeyEnvelope, PullResult, PulledEntry,
    Role,
};
use tokio_postgres::NoTls;

use super::{
    check_chunk_count, check_chunk_epoch, check_chunk_repeat, check_epoch_bump, check_revoke,
    epochs_by_device, page_cursor, parse_role, plan_enrollment, plan_push, role_str, to_u32,
    AuthDevice, CodeState, DeviceLookup, EnrollAs, Enrollment, KnownDevice, NewChunk, NewCode,
    NewDevice, NewWorkspace, Store, PULL_BYTE_BUDGET,
};
use crate::error::ApiError;

const SCHEMA_VERSION: i64 = 1;
/// Advisory lock serialising schema creation between processes starting together.
const SCHEMA_LOCK: i64 = 0x4656_5265_6c61_7931; // "FVRelay1"

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS relay_meta (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS workspaces (
    workspace_id TEXT PRIMARY KEY,
    lease_hours BIGINT NOT NULL,
    current_epoch BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    device_id TEXT NOT NULL,
    role TEXT NOT NULL,
    signing_public BYTEA NOT NULL,
    agreement_public BYTEA NOT NULL,
    code_id BYTEA NOT NULL,
    binding BYTEA NOT NULL,
    device_name TEXT NOT NULL,
    app_version TEXT NOT NULL,
    enrolled_at_ms BIGINT NOT NULL,
    last_seen_ms BIGINT,
    revoked_at_ms BIGINT,
    wipe_receipt BYTEA,
    wipe_received_at_ms BIGINT,
    PRIMARY KEY (workspace_id, device_id)
);
CREATE TABLE IF NOT EXISTS codes (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    code_id BYTEA NOT NULL,
    token_hash BYTEA NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    issued_by TEXT NOT NULL,
    issued_at_ms BIGINT NOT NULL,
    used_at_ms BIGINT,
    used_by TEXT,
    PRIMARY KEY (workspace_id, code_id)
);
CREATE TABLE IF NOT EXISTS nonces (
    workspace_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    seen_at_ms BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, device_id, nonce)
);
CREATE INDEX IF NOT EXISTS nonces_by_age ON nonces (workspace_id, device_id, seen_at_ms);
CREATE TABLE IF NOT EXISTS key_envelopes (
    workspace_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    from_device TEXT NOT NULL,
    wrapped BYTEA NOT NULL,
    signature BYTEA NOT NULL,
    PRIMARY KEY (workspace_id, device_id, epoch),
    FOREIGN KEY (workspace_id, device_id) REFERENCES devices (workspace_id, device_id)
);
CREATE TABLE IF NOT EXISTS entries (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    seq BIGINT NOT NULL,
    entry_id BYTEA NOT NULL,
    doc_id BYTEA NOT NULL,
    epoch BIGINT NOT NULL,
    sealed BYTEA NOT NULL,
    device_id TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, seq),
    UNIQUE (workspace_id, entry_id)
);
CREATE TABLE IF NOT EXISTS blobs (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    blob_id BYTEA NOT NULL,
    chunk_count BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, blob_id)
);
CREATE TABLE IF NOT EXISTS chunks (
    workspace_id TEXT NOT NULL,
    blob_id BYTEA NOT NULL,
    idx BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    body BYTEA NOT NULL,
    body_hash BYTEA NOT NULL,
    device_id TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, blob_id, idx),
    FOREIGN KEY (workspace_id, blob_id) REFERENCES blobs (workspace_id, blob_id)
);
INSERT INTO relay_meta (name, value) VALUES ('schema_version', 1) ON CONFLICT (name) DO NOTHING;
";

/// Records a nonce in the device's replay window; one seen before →
/// [`ApiError::Replayed`]. The unique key makes a concurrent duplicate from
/// another relay process wait for this transaction and then insert nothing.
async fn remember_nonce(
    tx: &deadpool_postgres::Transaction<'_>,
    ws: &str,
    device_id: &str,
    nonce: &str,
    now_ms: i64,
) -> Result<(), ApiError> {
    let insert = tx
        .prepare_cached(
            "INSERT INTO nonces (workspace_id, device_id, nonce, seen_at_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (workspace_id, device_id, nonce) DO NOTHING",
        )
        .await
        .map_err(pg)?;
    if tx
        .execute(&insert, &[&ws, &device_id, &nonce, &now_ms])
        .await
        .map_err(pg)?
        == 0
    {
        return Err(ApiError::Replayed);
    }
    Ok(())
}

/// Logs the SQLSTATE and the server's message only: the DETAIL line of a
/// constraint error quotes key values (ids), which must not reach the logs.
fn pg(e: tokio_postgres::Error) -> ApiError {
    match e.as_db_error() {
        Some(d) => ApiError::internal(format!("postgres {}: {}", d.code().code(), d.message())),
        None => ApiError::internal(format!("postgres: {e}")),
    }
}

fn pool_err(e: PoolError) -> ApiError {
    match e {
        PoolError::Backend(e) => pg(e),
        other => ApiError::internal(format!("postgres pool: {other}")),
    }
}

pub struct PostgresStore {
    pool: Pool,
}

impl PostgresStore {
    /// Connects (lazily, `pool_size` connections at most) and creates the
    /// schema if needed.
    pub async fn connect(url: &str, pool_size: usize) -> Result<Self, ApiError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|_| ApiError::internal("the PostgreSQL URL is not valid"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .build()
            .map_err(|e| ApiError::internal(format!("cannot build the PostgreSQL pool: {e}")))?;
        let store = Self { pool };
        store.create_schema().await?;
        Ok(store)
    }

    async fn create_schema(&self) -> Result<(), ApiError> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .await
            .map_err(pg)?;
        tx.batch_execute(SCHEMA).await.map_err(pg)?;
        let version: i64 = tx
            .query_one(
                "SELECT value FROM relay_meta WHERE name = 'schema_version'",
                &[],
            )
            .await
            .map_err(pg)?
            .get(0);
        if version != SCHEMA_VERSION {
            return Err(ApiError::internal(format!(
                "the database has schema version {version}; this relay knows {SCHEMA_VERSION}"
            )));
        }
        tx.commit().await.map_err(pg)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, ApiError> {
        self.pool.get().await.map_err(pool_err)
    }
}

async fn insert_device(
    tx: &deadpool_postgres::Transaction<'_>,
    ws: &str,
    d: NewDevice<'_>,
) -> Result<(), ApiError> {
    // ON CONFLICT: two enrollments of one device id through two relay
    // processes both pass the check before the insert; the second gets the
    // same 409 as on SQLite, not a unique-violation 500.
    let inserted = tx.execute(
        "INSERT INTO devices (workspace_id, device_id, role, signing_public, agreement_public, code_id, binding,
                              device_name, app_version, enrolled_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (workspace_id, device_id) DO NOTHING",
        &[
            &ws,
            &d.keys.device_id,
            &role_str(d.role),
            &d.keys.signing_public,
            &d.keys.agreement_public,
            &d.code_id,
            &d.binding,
            &d.device_name,
            &d.app_version,
            &d.now_ms,
        ],
    )
    .await
    .map_err(pg)?;
    if inserted == 0 {
        return Err(ApiError::conflict(
            "a device with this id is already enrolled",
        ));
    }
    Ok(())
}

/// Locks the workspace row: `(current_epoch, last_seq)`.
async fn lock_workspace(
    tx: &deadpool_postgres::Transaction<'_>,
    ws: &str,
) -> Result<(i64, i64), ApiError> {
    let row = tx
        .query_opt(
            "SELECT current_epoch, last_seq FROM workspaces WHERE workspace_id = $1 FOR UPDATE",
            &[&ws],
        )
        .await
        .map_err(pg)?
        .ok_or_else(|| ApiError::not_found("no such workspace"))?;
    Ok((row.get(0), row.get(1)))
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<(), ApiError> {
        self.client()
            .await?
            .simple_query("SELECT 1")
            .await
            .map_err(pg)
            .map(|_| ())
    }

    async fn create_workspace(&self, w: NewWorkspace) -> Result<(), ApiError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let inserted = tx
            .execute(
                "INSERT INTO workspaces (workspace_id, lease_hours, current_epoch, last_seq, created_at_ms)
                 VALUES ($1, $2, 1, 0, $3) ON CONFLICT (workspace_id) DO NOTHING",
                &[&w.workspace_id, &i64::from(w.lease_hours), &w.now_ms],
            )
            .await
            .map_err(pg)?;
        if inserted == 0 {
            return Err(ApiError::conflict("a workspace with this id exists"));
        }
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
        )
        .await?;
        tx.commit().await.map_err(pg)
    }

    async fn lookup_device(&self, ws: &str, device_id: &str) -> Result<DeviceLookup, ApiError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT d.role, d.signing_public, d.revoked_at_ms, d.device_id IS NOT NULL
                 FROM workspaces w LEFT JOIN devices d ON d.workspace_id = w.workspace_id AND d.device_id = $2
                 WHERE w.workspace_id = $1",
            )
            .await
            .map_err(pg)?;
        let Some(row) = client
            .query_opt(&stmt, &[&ws, &device_id])
            .await
            .map_err(pg)?
        else {
            return Ok(DeviceLookup::NoWorkspace);
        };
        if !row.get::<_, bool>(3) {
            return Ok(DeviceLookup::NoDevice);
        }
        let role: String = row.get(0);
        Ok(DeviceLookup::Found(AuthDevice {
            role: parse_role(&role)?,
            signing_public: row.get(1),
            revoked: row.get::<_, Option<i64>>(2).is_some(),
        }))
    }

    async fn record_request(
        &self,
        ws: &str,
        device_id: &str,
        nonce: &str,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        // The replay window need not wait for its WAL flush: a server crash
        // may lose the last few records, never corrupt anything (see
        // `docs/protocol.md`). Data writes keep the server's durable commit.
        tx.batch_execute("SET LOCAL synchronous_commit TO OFF")
            .await
            .map_err(pg)?;
        let purge = tx
            .prepare_cached(
                "DELETE FROM nonces WHERE workspace_id = $1 AND device_id = $2 AND seen_at_ms < $3",
            )
            .await
            .map_err(pg)?;
        tx.execute(
            &purge,
            &[&ws, &device_id, &(now_ms - wire::NONCE_WINDOW_MS)],
        )
        .await
        .map_err(pg)?;
        remember_nonce(&tx, ws, device_id, nonce, now_ms).await?;
        let seen = tx
            .prepare_cached(
                "UPDATE devices SET last_seen_ms = GREATEST(COALESCE(last_seen_ms, 0), $3)
                 WHERE workspace_id = $1 AND device_id = $2",
            )
            .await
            .map_err(pg)?;
        tx.execute(&seen, &[&ws, &device_id, &now_ms])
            .await
            .map_err(pg)?;
        tx.commit().await.map_err(pg)
    }

    async fn issue_code(&self, ws: &str, code: NewCode) -> Result<(), ApiError> {
        let client = self.client().await?;
        let inserted = client
            .execute(
                "INSERT INTO codes (workspace_id, code_id, token_hash, expires_at_ms, issued_by, issued_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, code_id) DO NOTHING",
                &[&ws, &code.code_id, &code.token_hash, &code.expires_at_ms, &code.issued_by, &code.now_ms],
            )
            .await
            .map_err(pg)?;
        if inserted == 0 {
            return Err(ApiError::conflict("an enrollment code with this id exists"));
        }
        Ok(())
    }

    async fn enroll(&self, ws: &str, e: Enrollment) -> Result<(), ApiError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        if tx
            .query_opt("SELECT 1 FROM workspaces WHERE workspace_id = $1", &[&ws])
            .await
            .map_err(pg)?
            .is_none()
        {
            return Err(ApiError::not_found("no such workspace"));
        }
        // The row locks make two relays enrolling with one code, or one
        // device id, take turns: the second sees the first's outcome.
        let code = tx
            .query_opt(
                "SELECT token_hash, expires_at_ms, used_by FROM codes WHERE workspace_id = $1 AND code_id = $2 FOR UPDATE",
                &[&ws, &e.code_id],
            )
            .await
            .map_err(pg)?
            .map(|r| CodeState { token_hash: r.get(0), expires_at_ms: r.get(1), used_by: r.get(2) });
        let known = match tx
            .query_opt(
                "SELECT signing_public, role, revoked_at_ms, agreement_public FROM devices WHERE workspace_id = $1 AND device_id = $2 FOR UPDATE",
                &[&ws, &e.device.device_id],
            )
            .await
            .map_err(pg)?
        {
            Some(r) => Some(KnownDevice {
                signing_public: r.get(0),
                agreement_public: r.get(3),
                role: parse_role(r.get(1))?,
                revoked: r.get::<_, Option<i64>>(2).is_some(),
            }),
            None => None,
        };
        let plan = plan_enrollment(code, known, &e)?;
        if let Some(nonce) = &e.possession_nonce {
            remember_nonce(&tx, ws, &e.device.device_id, nonce, e.now_ms).await?;
        }
        match plan {
            EnrollAs::Unchanged => return tx.commit().await.map_err(pg),
            // A device id enrolled meanwhile by another relay is a 409 from
            // the insert itself.
            EnrollAs::New => {
                insert_device(
                    &tx,
                    ws,
                    NewDevice {
                        keys: &e.device,
                        role: Role::Member,
                        code_id: &e.code_id,
                        binding: &e.binding,
                        device_name: &e.device_name,
                        app_version: &e.app_version,
                        now_ms: e.now_ms,
                    },
                )
                .await?
            }
            EnrollAs::Again => {
                tx.execute(
                    "UPDATE devices SET agreement_public = $3, code_id = $4, binding = $5, device_name = $6,
                                        app_version = $7, enrolled_at_ms = $8
                     WHERE workspace_id = $1 AND device_id = $2",
                    &[
                        &ws,
                        &e.device.device_id,
                        &e.device.agreement_public,
                        &e.code_id,
                        &e.binding,
                        &e.device_name,
                        &e.app_version,
                        &e.now_ms,
                    ],
                )
                .await
                .map_err(pg)?;
                tx.execute(
                    "DELETE FROM key_envelopes WHERE workspace_id = $1 AND device_id = $2",
                    &[&ws, &e.device.device_id],
                )
                .await
                .map_err(pg)?;
            }
        }
        tx.execute(
            "UPDATE codes SET used_at_ms = COALESCE(used_at_ms, $3), used_by = $4 WHERE workspace_id = $1 AND code_id = $2",
            &[&ws, &e.code_id, &e.now_ms, &e.device.device_id],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)
    }

    async fn list_devices(&self, ws: &str) -> Result<DeviceList, ApiError> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg)?;
        let head = tx
            .query_opt(
                "SELECT current_epoch, lease_hours FROM workspaces WHERE workspace_id = $1",
                &[&ws],
            )
            .await
            .map_err(pg)?
            .ok_or_else(|| ApiError::not_found("no such workspace"))?;
        let mut epoch_rows = Vec::new();
        for r in tx
            .query(
                "SELECT device_id, epoch FROM key_envelopes WHERE workspace_id = $1",
                &[&ws],
            )
            .await
            .map_err(pg)?
        {
            epoch_rows.push((r.get::<_, String>(0), to_u32(r.get(1), "epoch")?));
        }
        let mut epochs = epochs_by_device(epoch_rows);
        let rows = tx
            .query(
                "SELECT device_id, signing_public, agreement_public, role, code_id, binding, device_name, app_version,
                        enrolled_at_ms, last_seen_ms, revoked_at_ms, wipe_receipt
                 FROM devices WHERE workspace_id = $1 ORDER BY enrolled_at_ms, device_id",
                &[&ws],
            )
            .await
            .map_err(pg)?;
        let mut devices = Vec::with_capacity(rows.len());
        for r in rows {
            let device_id: String = r.get(0);
            let role: String = r.get(3);
            devices.push(DeviceInfo {
                key_epochs: epochs.remove(&device_id).unwrap_or_default(),
                keys: DeviceKeys {
                    device_id,
                    signing_public: r.get(1),
                    agreement_public: r.get(2),
                },
                role: parse_role(&role)?,
                code_id: r.get(4),
                binding: r.get(5),
                device_name: r.get(6),
                app_version: r.get(7),
                enrolled_at_ms: r.get(8),
                last_seen_ms: r.get(9),
                revoked_at_ms: r.get(10),
                wipe_receipt: r.get(11),
            });
        }
        tx.commit().await.map_err(pg)?;
        Ok(DeviceList {
            devices,
            current_epoch: to_u32(head.get(0), "epoch")?,
            lease_hours: to_u32(head.get(1), "lease")?,
        })
    }

    async fn put_key_envelopes(
        &self,
        ws: &str,
        envelopes: Vec<KeyEnvelope>,
    ) -> Result<(), ApiError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        for env in &envelopes {
            // FOR SHARE: a concurrent revoke waits until these envelopes are in.
            let revoked = tx
                .query_opt(
                    "SELECT revoked_at_ms FROM devices WHERE workspace_id = $1 AND device_id = $2 FOR SHARE",
                    &[&ws, &env.device_id],
                )
                .await
                .map_err(pg)?
                .map(|r| r.get::<_, Option<i64>>(0));
            match revoked {
                None => {
                    return Err(ApiError::not_found(
                        "a key envelope names a device that is not enrolled",
                    ))
                }
                Some(Some(_)) => {
                    return Err(ApiError::conflict("a key envelope names a revoked device"))
                }
                Some(None) => {}
            }
            tx.execute(
                "INSERT INTO key_envelopes (workspace_id, device_id, epoch, from_device, wrapped, signature)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (workspace_id, device_id, epoch)
                 DO UPDATE SET from_device = excluded.from_device, wrapped = excluded.wrapped, signature = excluded.signature",
                &[&ws, &env.device_id, &i64::from(env.epoch), &env.from_device, &env.wrapped, &env.signature],
            )
            .await
            .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn key_envelopes(&self, ws: &str, device_id: &str) -> Result<Vec<KeyEnvelope>, ApiError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT epoch, from_device, wrapped, signature FROM key_envelopes
                 WHERE workspace_id = $1 AND device_id = $2 ORDER BY epoch",
                &[&ws, &device_id],
            )
            .await
            .map_err(pg)?;
        rows.into_iter()
            .map(|r| {
                Ok(KeyEnvelope {
                    device_id: device_id.to_owned(),
                    epoch: to_u32(r.get(0), "epoch")?,
                    from_device: r.get(1),
                    wrapped: r.get(2),
                    signature: r.get(3),
                })
            })
            .collect()
    }

    async fn push_entries(
        &self,
        ws: &str,
        device_id: &str,
        entries: Vec<Entry>,
        now_ms: i64,
    ) -> Result<Vec<Acked>, ApiError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        // The workspace row lock orders every push of this workspace across
        // all relay processes: sequence order is commit order.
        let (current_epoch, last_seq) = lock_workspace(&tx, ws).await?;
        let ids: Vec<&[u8]> = entries.iter().map(|e| e.entry_id.as_slice()).collect();
        let mut existing = HashMap::new();
        if !ids.is_empty() {
            let find = tx
                .prepare_cached("SELECT entry_id, seq FROM entries WHERE workspace_id = $1 AND entry_id = ANY($2)")
                .await
                .map_err(pg)?;
            for r in tx.query(&find, &[&ws, &ids]).await.map_err(pg)? {
                existing.insert(r.get::<_, Vec<u8>>(0), r.get::<_, i64>(1));
            }
        }
        let plan = plan_push(entries, to_u32(current_epoch, "epoch")?, last_seq, existing)?;
        if !plan.inserts.is_empty() {
            let seqs: Vec<i64> = plan.inserts.iter().map(|(s, _)| *s).collect();
            let entry_ids: Vec<&[u8]> = plan
                .inserts
                .iter()
                .map(|(_, e)| e.entry_id.as_slice())
                .collect();
            let doc_ids: Vec<&[u8]> = plan
                .inserts
                .iter()
                .map(|(_, e)| e.doc_id.as_slice())
                .collect();
            let epochs: Vec<i64> = plan
                .inserts
                .iter()
                .map(|(_, e)| i64::from(e.epoch))
                .collect();
            let sealed: Vec<&[u8]> = plan
                .inserts
                .iter()
                .map(|(_, e)| e.sealed.as_slice())
                .collect();
            let insert = tx
                .prepare_cached(
                    "INSERT INTO entries (workspace_id, seq, entry_id, doc_id, epoch, sealed, device_id, received_at_ms)
                     SELECT $1, u.seq, u.entry_id, u.doc_id, u.epoch, u.sealed, $2, $3
                     FROM UNNEST($4::bigint[], $5::bytea[], $6::bytea[], $7::bigint[], $8::bytea[])
                          AS u (seq, entry_id, doc_id, epoch, sealed)",
                )
                .await
                .map_err(pg)?;
            tx.execute(
                &insert,
                &[
                    &ws, &device_id, &now_ms, &seqs, &entry_ids, &doc_ids, &epochs, &sealed,
                ],
            )
            .await
            .map_err(pg)?;
            tx.execute(
                "UPDATE workspaces SET last_seq = $2 WHERE workspace_id = $1",
                &[&ws, &plan.last_seq],
            )
            .await
            .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)?;
        Ok(plan.acked)
    }

    async fn pull_entries(
        &self,
        ws: &str,
        exclude_device: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<PullResult, ApiError> {
        let client = self.client().await?;
        // The head first: every entry up to it is committed (a push commits
        // its entries with the workspace's last_seq), so the page below,
        // read in a later snapshot, sees all of them.
        let head: i64 = client
            .query_opt(
                "SELECT last_seq FROM workspaces WHERE workspace_id = $1",
                &[&ws],
            )
            .await
            .map_err(pg)?
            .map_or(after, |r| r.get(0));
        // Same page as the SQLite backend: rows in seq order, stopping before
        // the row at which the sealed bytes so far reach the budget.
        let stmt = client
            .prepare_cached(
                "WITH page AS (
                     SELECT seq, octet_length(sealed) AS n FROM entries
                     WHERE workspace_id = $1 AND seq > $2 AND seq <= $6 AND ($5::text IS NULL OR device_id <> $5)
                     ORDER BY seq LIMIT $3
                 ), sized AS (
                     SELECT seq, SUM(n) OVER (ORDER BY seq) - n AS before FROM page
                 )
                 SELECT e.seq, e.entry_id, e.doc_id, e.epoch, e.sealed, e.device_id
                 FROM sized s JOIN entries e ON e.workspace_id = $1 AND e.seq = s.seq
                 WHERE s.before < $4 ORDER BY e.seq",
            )
            .await
            .map_err(pg)?;
        let rows = client
            .query(
                &stmt,
                &[
                    &ws,
                    &after,
                    &i64::from(limit),
                    &PULL_BYTE_BUDGET,
                    &exclude_device,
                    &head,
                ],
            )
            .await
            .map_err(pg)?;
        let mut entries = Vec::with_capacity(rows.len());
        for r in rows {
            entries.push(PulledEntry {
                seq: r.get(0),
                entry: Entry {
                    entry_id: r.get(1),
                    doc_id: r.get(2),
                    epoch: to_u32(r.get(3), "epoch")?,
                    sealed: r.get(4),
                },
                device_id: r.get(5),
            });
        }
        let last_seq = page_cursor(&entries, after, head, limit);
        Ok(PullResult { entries, last_seq })
    }

    async fn put_chunks(&self, ws: &str, mut chunks: Vec<NewChunk>) -> Result<(), ApiError> {
        // One lock order for every request, so two batches naming the same
        // blobs cannot deadlock each other.
        chunks.sort_by(|a, b| (&a.blob_id, a.index).cmp(&(&b.blob_id, b.index)));
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let current_epoch: i64 = tx
            .query_opt(
                "SELECT current_epoch FROM workspaces WHERE workspace_id = $1",
                &[&ws],
            )
            .await
            .map_err(pg)?
            .ok_or_else(|| ApiError::not_found("no such workspace"))?
            .get(0);
        let current_epoch = to_u32(current_epoch, "epoch")?;
        for c in &chunks {
            check_chunk_epoch(c.epoch, current_epoch)?;
            put_chunk(&tx, ws, c).await?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn blob_statuses(
        &self,
        ws: &str,
        blob_ids: Vec<Vec<u8>>,
    ) -> Result<Vec<Option<wire::BlobStatus>>, ApiError> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg)?;
        let head = tx
            .prepare("SELECT chunk_count FROM blobs WHERE workspace_id = $1 AND blob_id = $2")
            .await
            .map_err(pg)?;
        let chunks = tx
            .prepare("SELECT idx FROM chunks WHERE workspace_id = $1 AND blob_id = $2 ORDER BY idx")
            .await
            .map_err(pg)?;
        let mut out = Vec::with_capacity(blob_ids.len());
        for blob_id in &blob_ids {
            let Some(row) = tx.query_opt(&head, &[&ws, blob_id]).await.map_err(pg)? else {
                out.push(None);
                continue;
            };
            let mut present = Vec::new();
            for r in tx.query(&chunks, &[&ws, blob_id]).await.map_err(pg)? {
                present.push(to_u32(r.get(0), "chunk index")?);
            }
            out.push(Some(wire::BlobStatus {
                count: to_u32(row.get(0), "chunk count")?,
                present,
            }));
        }
        tx.commit().await.map_err(pg)?;
        Ok(out)
    }

    async fn get_chunks(
        &self,
        ws: &str,
        wanted: Vec<(Vec<u8>, u32)>,
    ) -> Result<Vec<Option<Vec<u8>>>, ApiError> {
        // One query (one round trip, one snapshot) for every asked chunk, in
        // the order asked, NULL where there is none.
        let (blob_ids, indexes): (Vec<Vec<u8>>, Vec<i64>) = wanted
            .into_iter()
            .map(|(blob_id, index)| (blob_id, i64::from(index)))
            .unzip();
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT c.body FROM unnest($2::bytea[], $3::bigint[]) WITH ORDINALITY AS w(blob_id, idx, ord)
                 LEFT JOIN chunks c ON c.workspace_id = $1 AND c.blob_id = w.blob_id AND c.idx = w.idx
                 ORDER BY w.ord",
                &[&ws, &blob_ids, &indexes],
            )
            .await
            .map_err(pg)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn revoke(&self, ws: &str, device_id: &str, now_ms: i64) -> Result<(), ApiError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let target = tx
            .query_opt(
                "SELECT revoked_at_ms FROM devices WHERE workspace_id = $1 AND device_id = $2 FOR UPDATE",
                &[&ws, &device_id],
            )
            .await
            .map_err(pg)?
            .map(|r| r.get::<_, Option<i64>>(0));
        check_revoke(target)?;
        tx.execute(
            "UPDATE devices SET revoked_at_ms = $3 WHERE workspace_id = $1 AND device_id = $2",
            &[&ws, &device_id, &now_ms],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)
    }

    async fn bump_epoch(&self, ws: &str, epoch: u32) -> Result<u32, ApiError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let (current, _) = lock_workspace(&tx, ws).await?;
        let next = check_epoch_bump(to_u32(current, "epoch")?, epoch)?;
        tx.execute(
            "UPDATE workspaces SET current_epoch = $2 WHERE workspace_id = $1",
            &[&ws, &i64::from(next)],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(next)
    }

    async fn put_wipe_receipt(
        &self,
        ws: &str,
        device_id: &str,
        receipt: Vec<u8>,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE devices SET wipe_receipt = COALESCE(wipe_receipt, $3),
                                    wipe_received_at_ms = COALESCE(wipe_received_at_ms, $4)
                 WHERE workspace_id = $1 AND device_id = $2 AND revoked_at_ms IS NOT NULL",
                &[&ws, &device_id, &receipt, &now_ms],
            )
            .await
            .map_err(pg)?;
        if changed == 0 {
            return Err(ApiError::conflict(
                "only a revoked device sends a wipe receipt",
            ));
        }
        Ok(())
    }

    async fn workspace_status(&self, ws: &str) -> Result<(u32, u32), ApiError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT current_epoch, lease_hours FROM workspaces WHERE workspace_id = $1",
                &[&ws],
            )
            .await
            .map_err(pg)?
            .ok_or_else(|| ApiError::not_found("no such workspace"))?;
        Ok((to_u32(row.get(0), "epoch")?, to_u32(row.get(1), "lease")?))
    }
}

/// Checks one chunk against its blob and inserts it inside `tx` (a repeat of
/// the same bytes is accepted and stores nothing).
async fn put_chunk(
    tx: &tokio_postgres::Transaction<'_>,
    ws: &str,
    c: &NewChunk,
) -> Result<(), ApiError> {
    tx.execute(
        "INSERT INTO blobs (workspace_id, blob_id, chunk_count, created_at_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workspace_id, blob_id) DO NOTHING",
        &[&ws, &c.blob_id, &i64::from(c.count), &c.now_ms],
    )
    .await
    .map_err(pg)?;
    // The blob row lock serialises chunk writes of one blob across processes.
    let stored_count: i64 = tx
        .query_one(
            "SELECT chunk_count FROM blobs WHERE workspace_id = $1 AND blob_id = $2 FOR UPDATE",
            &[&ws, &c.blob_id],
        )
        .await
        .map_err(pg)?
        .get(0);
    check_chunk_count(to_u32(stored_count, "chunk count")?, c.count)?;
    let hash = c.body_hash.to_vec();
    let index = i64::from(c.index);
    let stored = tx
        .query_opt(
            "SELECT body_hash FROM chunks WHERE workspace_id = $1 AND blob_id = $2 AND idx = $3",
            &[&ws, &c.blob_id, &index],
        )
        .await
        .map_err(pg)?;
    if let Some(row) = stored {
        return check_chunk_repeat(&row.get::<_, Vec<u8>>(0), &hash);
    }
    tx.execute(
        "INSERT INTO chunks (workspace_id, blob_id, idx, epoch, body, body_hash, device_id, received_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&ws, &c.blob_id, &index, &i64::from(c.epoch), &c.body, &hash, &c.device_id, &c.now_ms],
    )
    .await
    .map_err(pg)?;
    Ok(())
}
