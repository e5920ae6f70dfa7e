//! Locking a `Mutex` whose holder may have panicked.
//!
//! Every mutex in the core guards state that a panic cannot leave half
//! updated (a SQLite transaction rolls back on drop; caches and buffers are
//! replaced whole), so a poisoned lock is still usable and no call panics on
//! it. One helper, so the reasoning lives in one place.
use std::sync::{Mutex, MutexGuard};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
