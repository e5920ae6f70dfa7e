//! The vault: one directory, one SQLite file, everything sealed.
//!
//! `Vault` is `Send + Sync`; every operation takes the connection lock for its
//! whole duration, so operations are serialised and each write is one SQLite
//! transaction (a crash leaves either the old or the new state).
mod audit;
mod audit_admin;
mod audit_publish;
mod audit_record;
pub(crate) mod documents;
mod field_diff;
mod field_reader;
pub(crate) mod header;
mod history;
mod lease;
mod merge;
mod minimal_puts;
pub use field_reader::hydrate_fields;
pub use minimal_puts::reconcile_changes;
mod my_number;
pub(crate) mod photo_sync;
mod photos;
mod retention;
pub(crate) mod sealed_doc;
mod sync_state;
#[cfg(test)]
mod test_support;
mod wipe;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use automerge::ActorId;
use rusqlite::Connection;

pub use audit::OPEN_COALESCE_SECONDS;
pub use audit_admin::DeviceAuditLog;
pub use header::{DocumentSummary, ListFilter, Listing};
pub use history::HistoryEntry;
pub use lease::LeaseStatus;
pub use photo_sync::PhotoTransfer;
pub use photos::{PhotoVariant, PHOTO_CHUNK_SIZE};
pub use retention::{RetentionRule, RetentionRules};
pub(crate) use sync_state::EnrolmentKeys;
pub use sync_state::{OutboxItem, SyncSettings};

use crate::clock::{Clock, SystemClock};
use crate::crypto::{Aad, RootKey, VaultKeys};
use crate::error::{Error, Result};
use crate::key_provider::KeyProvider;
use crate::store::{self, rows, schema};

/// File name of the database inside the vault directory.
pub const DB_FILE: &str = "vault.db";

const META_WRAPPED_ROOT: &str = "wrapped_root_key";
const META_KEY_CHECK: &str = "key_check";
const META_DEVICE: &str = "device";
const KEY_CHECK_PLAINTEXT: &[u8] = b"fieldvault key check v1";

/// How a vault behaves once open.
#[derive(Clone)]
pub struct VaultOptions {
    /// Staff member recorded as the author of edits made through this handle.
    pub staff_id: String,
    pub clock: Arc<dyn Clock>,
    pub retention: RetentionRules,
    /// Write a snapshot after this many change rows (0: never automatically).
    pub compact_every: u64,
}

impl VaultOptions {
    pub fn new(staff_id: impl Into<String>) -> Self {
        Self {
            staff_id: staff_id.into(),
            clock: Arc::new(SystemClock),
            retention: RetentionRules::default(),
            compact_every: 32,
        }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// An unlocked vault.
pub struct Vault {
    conn: Mutex<Connection>,
    keys: VaultKeys,
    device_id: uuid::Uuid,
    actor: ActorId,
    options: VaultOptions,
    dir: PathBuf,
    key_cache: sealed_doc::KeyCache,
    /// Set once sync is configured: local writes are then queued for the relay.
    sync_enabled: std::sync::atomic::AtomicBool,
    audit: audit::AuditBuffer,
    lease: lease::LeaseCache,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("dir", &self.dir)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

pub(crate) fn meta_aad(name: &str) -> Aad<'_> {
    Aad {
        table: b"meta",
        row: name.as_bytes(),
        seq: 0,
    }
}

impl Vault {
    /// Creates a new vault in `dir` (created if missing). Fails with
    /// `AlreadyExists` if the directory already holds one.
    pub fn create(dir: &Path, provider: &dyn KeyProvider, options: VaultOptions) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let db = dir.join(DB_FILE);
        if db.exists() {
            return Err(Error::AlreadyExists(dir.display().to_string()));
        }
        let root = RootKey::generate()?;
        let wrapped = provider.wrap(root.expose())?;
        let keys = root.derive()?;
        let device_id = uuid::Uuid::new_v4();

        let mut conn = store::open_connection(&db, true)?;
        store::enable_wal(&conn)?;
        let tx = conn.transaction()?;
        schema::create(&tx)?;
        rows::put_meta(&tx, META_WRAPPED_ROOT, &wrapped)?;
        rows::put_meta(
            &tx,
            META_KEY_CHECK,
            &keys
                .meta
                .seal(meta_aad(META_KEY_CHECK), KEY_CHECK_PLAINTEXT)?,
        )?;
        rows::put_meta(
            &tx,
            META_DEVICE,
            &keys
                .meta
                .seal(meta_aad(META_DEVICE), device_id.as_bytes())?,
        )?;
        tx.commit()?;
        tracing::info!(target: "fieldvault::vault", "vault created");
        Ok(Self::assemble(conn, keys, device_id, options, dir))
    }

    /// Opens and unlocks an existing vault. A wrong key gives `WrongKey` and
    /// writes nothing.
    pub fn open(dir: &Path, provider: &dyn KeyProvider, options: VaultOptions) -> Result<Self> {
        let db = dir.join(DB_FILE);
        if !db.is_file() {
            return Err(Error::NotAVault(format!(
                "{} does not contain {DB_FILE}",
                dir.display()
            )));
        }
        let conn = store::open_connection(&db, false)?;
        schema::check(&conn)?;
        let wrapped = rows::get_meta(&conn, META_WRAPPED_ROOT)?
            .ok_or_else(|| Error::NotAVault("the vault has no wrapped key".into()))?;
        let raw = zeroize::Zeroizing::new(provider.unwrap(&wrapped)?);
        let keys = RootKey::from_unwrapped(&raw)?.derive()?;
        let check = rows::get_meta(&conn, META_KEY_CHECK)?
            .ok_or_else(|| Error::NotAVault("the vault has no key check".into()))?;
        if keys.meta.open(meta_aad(META_KEY_CHECK), &check).as_deref() != Some(KEY_CHECK_PLAINTEXT)
        {
            return Err(Error::WrongKey);
        }
        let device = rows::get_meta(&conn, META_DEVICE)?
            .and_then(|sealed| keys.meta.open(meta_aad(META_DEVICE), &sealed))
            .and_then(|bytes| uuid::Uuid::from_slice(&bytes).ok())
            .ok_or_else(|| Error::Corrupted("the vault's device record".into()))?;
        store::enable_wal(&conn)?;
        let mut conn = conn;
        schema::migrate(&mut conn)?;
        let syncing = rows::get_meta(&conn, "sync.settings")?.is_some();
        tracing::info!(target: "fieldvault::vault", "vault opened");
        let vault = Self::assemble(conn, keys, device, options, dir);
        vault
            .sync_enabled
            .store(syncing, std::sync::atomic::Ordering::Relaxed);
        if syncing {
            if let Some(settings) = vault.sync_settings()? {
                vault.lease.update(&settings);
            }
        }
        Ok(vault)
    }

    fn assemble(
        conn: Connection,
        keys: VaultKeys,
        device_id: uuid::Uuid,
        options: VaultOptions,
        dir: &Path,
    ) -> Self {
        Self {
            conn: Mutex::new(conn),
            keys,
            actor: ActorId::from(device_id.as_bytes().as_slice()),
            device_id,
            options,
            dir: dir.to_path_buf(),
            key_cache: sealed_doc::KeyCache::default(),
            sync_enabled: std::sync::atomic::AtomicBool::new(false),
            audit: audit::AuditBuffer::default(),
            lease: lease::LeaseCache::default(),
        }
    }

    /// This vault's device id (random, made at creation).
    pub fn device_id(&self) -> String {
        self.device_id.to_string()
    }

    pub fn staff_id(&self) -> &str {
        &self.options.staff_id
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Checks SQLite's integrity (`PRAGMA integrity_check`): true when intact.
    pub fn integrity_check(&self) -> Result<bool> {
        let conn = self.lock();
        let result: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(result == "ok")
    }

    /// Moves everything from the WAL into the database file and truncates the WAL.
    pub fn checkpoint(&self) -> Result<()> {
        store::checkpoint_truncate(&self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-written
        // transaction (it rolls back on drop), so a poisoned lock is usable.
        crate::mutex::lock(&self.conn)
    }
}
