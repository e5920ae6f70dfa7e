//! The offline lease: a device that has not reached the relay for longer
//! than the workspace's `lease_hours` locks its sensitive documents
//! ([`DocumentKind::is_sensitive`]: tax-help forms) until it checks in again,
//! so a phone lost while offline is not open forever.
//!
//! The lease starts at enrolment and restarts at every successful sync. Time
//! comes from the vault's [`crate::Clock`], so tests move it. While locked,
//! reads, edits, photos, history and My Number of sensitive documents fail
//! with [`Error::Locked`]; listings still show them, marked `locked`, with
//! the title withheld. Sync itself keeps working (it is how the device
//! checks in), and so do other kinds.
use std::sync::Mutex;

use super::{SyncSettings, Vault};
use crate::error::{Error, Result};
use crate::model::{DocumentId, DocumentKind, Timestamp};

/// Lease settings and the last check-in, cached from the sync settings.
#[derive(Default)]
pub(crate) struct LeaseCache(Mutex<Option<(u32, Option<i64>)>>);

impl LeaseCache {
    pub(crate) fn update(&self, settings: &SyncSettings) {
        *crate::mutex::lock(&self.0) = Some((settings.lease_hours, settings.last_success_ms));
    }

    fn get(&self) -> Option<(u32, Option<i64>)> {
        *crate::mutex::lock(&self.0)
    }
}

/// Where the device stands with its offline lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseStatus {
    /// 0: no lease (sync not configured, or the workspace sets none).
    pub lease_hours: u32,
    /// Last successful contact with the relay (enrolment or sync).
    pub last_check_in: Option<Timestamp>,
    /// When sensitive documents lock, if a lease applies.
    pub expires_at: Option<Timestamp>,
    /// True while sensitive documents are locked.
    pub expired: bool,
}

fn timestamp_ms(ms: i64) -> Option<Timestamp> {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| Timestamp(t.fixed_offset()))
}

impl Vault {
    /// The offline lease as of now.
    pub fn lease_status(&self) -> LeaseStatus {
        let (hours, last_check_in) = self.lease.get().unwrap_or((0, None));
        let Some(last_ms) = last_check_in.filter(|_| hours > 0) else {
            return LeaseStatus {
                lease_hours: hours,
                last_check_in: None,
                expires_at: None,
                expired: false,
            };
        };
        let expires_ms = last_ms.saturating_add(i64::from(hours) * 3_600_000);
        LeaseStatus {
            lease_hours: hours,
            last_check_in: timestamp_ms(last_ms),
            expires_at: timestamp_ms(expires_ms),
            expired: self.now_ms() >= expires_ms,
        }
    }

    /// `Locked` if `kind` is sensitive and the lease has expired.
    pub(crate) fn check_lease(&self, id: &DocumentId, kind: DocumentKind) -> Result<()> {
        if kind.is_sensitive() && self.lease_status().expired {
            return Err(Error::Locked(*id));
        }
        Ok(())
    }

    /// [`Self::check_lease`] for a document whose kind must be looked up.
    pub(crate) fn check_lease_of(&self, id: &DocumentId) -> Result<()> {
        if self.lease_status().expired && self.summary(id)?.kind.is_sensitive() {
            return Err(Error::Locked(*id));
        }
        Ok(())
    }
}
