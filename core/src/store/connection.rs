//! Opening the vault database with the pragmas the security model relies on.
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

/// Opens (or with `create`, creates) the database file.
///
/// - `secure_delete=ON`: freed pages are overwritten with zeros, so a shredded
///   document's wrapped key does not linger in free pages.
/// - `temp_store=MEMORY`: sorts and temporary tables never touch a temp file.
/// - `cache_size=-8192`: an 8 MiB page cache. Row ids are keyed hashes with no
///   locality, so lookups spread over the whole file; a cache larger than
///   SQLite's 2 MiB default keeps them off the disk (see docs/performance.md).
pub fn open_connection(path: &Path, create: bool) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        if !create && !path.exists() {
            Error::NotAVault(format!("no vault database at {}", path.display()))
        } else {
            Error::from(e)
        }
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA secure_delete = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -8192;
         PRAGMA foreign_keys = ON;
         PRAGMA cell_size_check = ON;",
    )?;
    Ok(conn)
}

/// Switches to WAL with full sync: crash-safe, and a write that returned is on
/// disk even on power loss. Call only once the file is known to be a
/// vault (or is being created): the journal mode is persistent in the file.
pub fn enable_wal(conn: &Connection) -> Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Storage(format!(
            "could not enable WAL journaling (got {mode})"
        )));
    }
    conn.execute_batch("PRAGMA synchronous = FULL;")?;
    Ok(())
}

/// Flushes the WAL into the database and truncates it, so superseded page
/// images (for example of a shredded key) leave the WAL file.
pub fn checkpoint_truncate(conn: &Connection) -> Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}
