//! Remote wipe: crypto-shredding the whole vault.
//!
//! Order matters: the wrapped root key and the wrapped document keys go first
//! (in one transaction, with `secure_delete` zeroing the freed pages, and a
//! WAL truncation so no page image survives), then every other row, then the
//! files themselves. After that nothing on the device can open what was there,
//! even from a copy of the files taken mid-way.
use std::sync::atomic::Ordering;

use super::{Vault, DB_FILE};
use crate::error::Result;
use crate::store;

impl Vault {
    /// Destroys every key and document, then removes the vault's files. The
    /// handle is unusable afterwards (reads find nothing; the app should drop it).
    pub fn wipe(&self) -> Result<()> {
        {
            let mut conn = self.lock();
            let tx = conn.transaction()?;
            tx.execute_batch(
                "DELETE FROM meta;
                 DELETE FROM documents;
                 DELETE FROM secrets;",
            )?;
            tx.commit()?;
            store::checkpoint_truncate(&conn)?;
            let tx = conn.transaction()?;
            tx.execute_batch(
                "DELETE FROM changes;
                 DELETE FROM snapshots;
                 DELETE FROM photo_chunks;
                 DELETE FROM outbox;
                 DELETE FROM photo_transfers;
                 DELETE FROM audit;
                 DELETE FROM purged;",
            )?;
            tx.commit()?;
            store::checkpoint_truncate(&conn)?;
        }
        self.key_cache.lock().clear();
        // Nothing may write after this (a write would recreate the WAL file).
        self.audit.discard();
        self.sync_enabled.store(false, Ordering::Relaxed);
        for suffix in ["", "-wal", "-shm"] {
            let path = self.dir.join(format!("{DB_FILE}{suffix}"));
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        tracing::warn!(target: "fieldvault::vault", "vault wiped");
        Ok(())
    }
}
