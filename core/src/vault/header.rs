//! The encrypted header: everything needed to list a document without
//! loading it, plus local bookkeeping. Sealed under the document's key.
use serde::{Deserialize, Serialize};

use crate::model::{DocumentId, DocumentKind, Status, Timestamp};

/// Layout version of the header JSON (inside the ciphertext).
pub const HEADER_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Header {
    pub v: u32,
    pub id: DocumentId,
    pub kind: DocumentKind,
    pub schema_version: u32,
    pub title: String,
    pub status: Status,
    pub municipality_code: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub photo_count: u32,
    /// Sequence number of the newest stored change row.
    pub head_seq: u64,
    /// Sequence number covered by the snapshot (0: no snapshot).
    pub snapshot_seq: u64,
    /// When the relay acknowledged the document (local only, never synced).
    pub acknowledged_at: Option<Timestamp>,
    /// SQLite row ids of the change rows after the snapshot, in sequence
    /// order: how a load finds them without an index on the keyed-hash `doc`
    /// column (schema 3; see ADR 0008). `None` in headers written before:
    /// those rows are found by `doc`, through the index older files have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_rows: Option<Vec<i64>>,
}

impl Header {
    pub fn into_summary(self) -> DocumentSummary {
        DocumentSummary {
            id: self.id,
            kind: self.kind,
            title: self.title,
            status: self.status,
            municipality_code: self.municipality_code,
            created_at: self.created_at,
            updated_at: self.updated_at,
            schema_version: self.schema_version,
            photo_count: self.photo_count,
            acknowledged_at: self.acknowledged_at,
            locked: false,
        }
    }

    pub fn summary(&self) -> DocumentSummary {
        DocumentSummary {
            id: self.id,
            kind: self.kind,
            title: self.title.clone(),
            status: self.status,
            municipality_code: self.municipality_code.clone(),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            schema_version: self.schema_version,
            photo_count: self.photo_count,
            acknowledged_at: self.acknowledged_at.clone(),
            locked: false,
        }
    }
}

/// What a list view shows about a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentSummary {
    pub id: DocumentId,
    pub kind: DocumentKind,
    pub title: String,
    pub status: Status,
    pub municipality_code: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub schema_version: u32,
    pub photo_count: u32,
    pub acknowledged_at: Option<Timestamp>,
    /// Locked by an expired offline lease: the title is withheld (empty)
    /// and the content cannot be opened until the device checks in.
    #[serde(default)]
    pub locked: bool,
}

impl DocumentSummary {
    /// Withholds what a locked document's summary would reveal.
    pub(crate) fn lock_if(mut self, expired: bool) -> Self {
        if expired && self.kind.is_sensitive() {
            self.locked = true;
            self.title.clear();
        }
        self
    }
}

/// Filters for [`crate::Vault::list`]; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// `None`: the three record kinds (audit logs only when named here).
    pub kind: Option<DocumentKind>,
    pub status: Option<Status>,
    /// Inclusive lower bound on `updated_at`.
    pub updated_from: Option<Timestamp>,
    /// Exclusive upper bound on `updated_at`.
    pub updated_until: Option<Timestamp>,
}

impl ListFilter {
    /// Audit logs are listed only when asked for by kind.
    pub(crate) fn matches(&self, h: &Header) -> bool {
        self.kind
            .map_or(h.kind != DocumentKind::AuditLog, |k| k == h.kind)
            && self.status.is_none_or(|s| s == h.status)
            && self
                .updated_from
                .as_ref()
                .is_none_or(|from| h.updated_at.0 >= from.0)
            && self
                .updated_until
                .as_ref()
                .is_none_or(|until| h.updated_at.0 < until.0)
    }
}

/// The result of listing: matching documents, newest update first, and how
/// many stored documents could not be read (corrupted or tampered rows).
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub documents: Vec<DocumentSummary>,
    pub unreadable: usize,
}
