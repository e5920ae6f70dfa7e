//! Moves SQLite's WAL checkpoints off the request path.
//!
//! In WAL mode every committed page is written twice: into the WAL by the
//! commit, and into the database file by a checkpoint. By default the
//! connection that commits runs the checkpoint itself once the WAL holds
//! 1,000 pages, inside a request, while it holds the relay's only write
//! connection. With chunk bodies of ~150 KB that was every few requests, and
//! about a quarter of the relay's CPU time during a photo upload
//! (docs/performance.md, "Session 9").
//!
//! Here the writing connection only reports the WAL's size after each commit
//! (`sqlite3_wal_hook`); past [`WAKE_PAGES`] it wakes a thread that runs a
//! `PASSIVE` checkpoint on its own connection, which never blocks writers or
//! readers. If the thread falls far behind (past [`INLINE_PAGES`]), the
//! committing connection checkpoints inline as before, so the WAL stays
//! bounded whatever happens to the thread. Durability is unchanged: commits
//! still `fsync` the WAL (`synchronous=FULL`) and the checkpoint `fsync`s the
//! database before the WAL is reused.
use std::path::Path;
use std::sync::mpsc::{self, Receiver};

use rusqlite::hooks::Wal;
use rusqlite::Connection;

use super::sqlite::db;
use crate::error::ApiError;

/// WAL size (pages) at which the background thread is woken: SQLite's own
/// auto-checkpoint threshold.
pub const WAKE_PAGES: i32 = 1_000;

/// WAL size (pages, 64 MiB at 4 KiB) past which the committing connection
/// checkpoints inline, in case the background thread cannot keep up.
pub const INLINE_PAGES: i32 = 16_384;

/// Starts the background checkpoint thread on a second connection to
/// `db_path` and installs the WAL hook on `writer` (which replaces SQLite's
/// auto-checkpoint on that connection). The thread ends by itself once
/// `writer` is closed (the hook holds the only way to wake it).
pub fn start(db_path: &Path, writer: &mut Connection) -> Result<(), ApiError> {
    let conn = Connection::open(db_path).map_err(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db)?;
    // One pending wake-up is enough: a checkpoint covers every commit made
    // before it starts.
    let (wake, wakes) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("relay-wal-checkpoint".into())
        .spawn(move || run(&conn, &wakes))
        .map_err(|e| ApiError::internal(format!("cannot start the checkpoint thread: {e}")))?;
    writer
        .wal_hook(Some(move |wal: &mut Wal, pages: i32| {
            if pages >= INLINE_PAGES {
                return wal.checkpoint();
            }
            if pages >= WAKE_PAGES {
                // An error means a wake-up is already pending, or the
                // thread is gone and the inline bound takes over.
                let _ = wake.try_send(());
            }
            Ok(())
        }))
        .map_err(db)
}

fn run(conn: &Connection, wakes: &Receiver<()>) {
    while wakes.recv().is_ok() {
        // rusqlite messages name no bound values.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "background WAL checkpoint failed");
        }
    }
}
