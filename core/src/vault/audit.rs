//! The device's audit log: an append-only hash chain in the `audit` table,
//! published as this device's [`AuditLog`] document when it syncs.
//!
//! * Each entry is sealed under the vault's meta key with AAD binding it to
//!   its sequence number, so entries cannot be swapped or replayed.
//! * The chain head (`audit.head`: length and last hash) is sealed in `meta`
//!   and written in the same transaction as each append: removing entries
//!   from the end, or rewriting the chain, no longer matches it.
//! * Writes append their entry inside their own transaction. Reads of
//!   sensitive documents are buffered in memory (at most one per document per
//!   [`OPEN_COALESCE_SECONDS`]) and written with the next write, the next
//!   sync, [`Vault::flush_audit`] or when the vault is dropped — so reads
//!   stay free of disk writes. A crash can lose buffered open records.
//! * An admin vault verifies the published logs of every device and keeps a
//!   witness of the head it last verified for each, so a device that later
//!   rewrites its published history is detected.
use std::collections::HashMap;
use std::sync::Mutex;

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use super::{meta_aad, Vault};
use crate::crypto::Aad;
use crate::error::{Error, Result};
use crate::model::{
    verify_chain, AuditAction, AuditEntry, AuditLog, AuditProblem, AuditProblemKind, DeviceReport,
    DocumentId, DocumentKind, Status, Timestamp, GENESIS_HASH,
};
use crate::mutex::lock;
use crate::store::rows;
use crate::sync::wire::Role;

/// Opens of one document within this many seconds are recorded once.
pub const OPEN_COALESCE_SECONDS: i64 = 600;

/// Buffered open records are written once this many accumulate.
const MAX_BUFFERED_OPENS: usize = 256;

const HEAD: &str = "audit.head";
const PUBLISHED: &str = "audit.published";
const LOG_DOC: &str = "audit.doc";
const T_AUDIT: &[u8] = b"audit";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Head {
    len: u64,
    hash: String,
}

impl Head {
    fn genesis() -> Self {
        Self {
            len: 0,
            hash: GENESIS_HASH.into(),
        }
    }

    /// The head of a chain that starts at seq 0.
    fn of(entries: &[AuditEntry]) -> Self {
        Self {
            len: entries.len() as u64,
            hash: entries
                .last()
                .map_or_else(|| GENESIS_HASH.to_string(), |e| e.hash.clone()),
        }
    }
}

struct Pending {
    at: Timestamp,
    action: AuditAction,
    document: Option<(DocumentId, DocumentKind)>,
    detail: String,
}

/// In-memory audit state of an open vault.
#[derive(Default)]
pub(crate) struct AuditBuffer {
    pending: Mutex<Vec<Pending>>,
    recent_opens: Mutex<HashMap<DocumentId, i64>>,
}

impl AuditBuffer {
    /// Drops buffered records (the vault is being wiped).
    pub(crate) fn discard(&self) {
        lock(&self.pending).clear();
    }
}

/// One device's published log as an admin sees it.
#[derive(Debug, Clone)]
pub struct DeviceAuditLog {
    pub device_id: String,
    pub document_id: DocumentId,
    /// The device's latest self-report (staff, pending uploads, version).
    pub report: Option<DeviceReport>,
    pub entries: Vec<AuditEntry>,
    /// Empty when the chain is intact.
    pub problems: Vec<AuditProblem>,
}

fn entry_aad(seq: u64) -> Aad<'static> {
    Aad {
        table: T_AUDIT,
        row: b"",
        seq,
    }
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::Internal(e.to_string()))
}

impl Vault {
    fn sealed_json_in<T: serde::de::DeserializeOwned>(
        &self,
        conn: &Connection,
        name: &str,
    ) -> Result<Option<T>> {
        let Some(sealed) = rows::get_meta(conn, name)? else {
            return Ok(None);
        };
        let plain = self
            .keys
            .meta
            .open_owned(meta_aad(name), sealed)
            .ok_or_else(|| Error::Corrupted(format!("the vault record {name}")))?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|_| Error::Corrupted(format!("the vault record {name}")))
    }

    fn put_sealed_json_in<T: Serialize>(
        &self,
        conn: &Connection,
        name: &str,
        value: &T,
    ) -> Result<()> {
        rows::put_meta(
            conn,
            name,
            &self.keys.meta.seal(meta_aad(name), &json(value)?)?,
        )
    }

    /// Appends `action` (and any buffered opens) to the chain inside `tx`.
    pub(crate) fn audit_in(
        &self,
        tx: &Connection,
        action: AuditAction,
        document: Option<(DocumentId, DocumentKind)>,
        detail: &str,
    ) -> Result<()> {
        let mut batch = std::mem::take(&mut *lock(&self.audit.pending));
        batch.push(Pending {
            at: self.options.clock.now(),
            action,
            document,
            detail: detail.to_string(),
        });
        self.write_audit_batch(tx, batch)
    }

    fn write_audit_batch(&self, tx: &Connection, batch: Vec<Pending>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut head: Head = self.sealed_json_in(tx, HEAD)?.unwrap_or_else(Head::genesis);
        for p in batch {
            let mut entry = AuditEntry {
                seq: head.len,
                at: p.at,
                staff_id: self.options.staff_id.clone(),
                device_id: self.device_id(),
                action: p.action,
                document_id: p.document.map(|(id, _)| id.to_string()),
                document_kind: p.document.map(|(_, k)| k.as_str().to_string()),
                detail: p.detail,
                prev_hash: head.hash.clone(),
                hash: String::new(),
            };
            entry.hash = entry.compute_hash();
            let seq = i64::try_from(entry.seq)
                .map_err(|_| Error::Internal("audit log too long".into()))?;
            let sealed = self.keys.meta.seal(entry_aad(entry.seq), &json(&entry)?)?;
            tx.execute(
                "INSERT INTO audit (seq, sealed) VALUES (?1, ?2)",
                params![seq, sealed],
            )?;
            head = Head {
                len: head.len + 1,
                hash: entry.hash,
            };
        }
        self.put_sealed_json_in(tx, HEAD, &head)
    }

    /// Buffers a record that a sensitive document was read (see module docs).
    pub(crate) fn audit_open(&self, id: &DocumentId, kind: DocumentKind) {
        if !kind.is_sensitive() {
            return;
        }
        let now = self.options.clock.now();
        let secs = now.0.timestamp();
        {
            let mut recent = lock(&self.audit.recent_opens);
            if recent
                .get(id)
                .is_some_and(|last| secs - last < OPEN_COALESCE_SECONDS && secs >= *last)
            {
                return;
            }
            recent.insert(*id, secs);
        }
        let buffered = {
            let mut pending = lock(&self.audit.pending);
            pending.push(Pending {
                at: now,
                action: AuditAction::Opened,
                document: Some((*id, kind)),
                detail: String::new(),
            });
            pending.len()
        };
        // Bounded: a device that only reads still writes its records.
        if buffered >= MAX_BUFFERED_OPENS {
            if let Err(e) = self.flush_audit() {
                tracing::warn!(target: "fieldvault::audit", "could not write buffered audit records: {e}");
            }
        }
    }

    /// Records an action the application performed outside the vault, such
    /// as an export (`detail`: a short non-sensitive word like `"geojson"`;
    /// never a field value).
    pub fn record_audit(
        &self,
        action: AuditAction,
        document: Option<&DocumentId>,
        detail: &str,
    ) -> Result<()> {
        if detail.chars().count() > 200 {
            return Err(Error::InvalidInput(
                "audit detail must be at most 200 characters".into(),
            ));
        }
        let document = match document {
            Some(id) => Some((*id, self.summary(id)?.kind)),
            None => None,
        };
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        self.audit_in(&tx, action, document, detail)?;
        tx.commit()?;
        Ok(())
    }

    /// Writes buffered open records now.
    pub fn flush_audit(&self) -> Result<()> {
        let batch = std::mem::take(&mut *lock(&self.audit.pending));
        if batch.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        self.write_audit_batch(&tx, batch)?;
        tx.commit()?;
        Ok(())
    }

    /// Reads this device's entries from `from` on; unreadable rows are
    /// returned as problems.
    fn read_audit_rows(
        &self,
        conn: &Connection,
        from: u64,
    ) -> Result<(Vec<AuditEntry>, Vec<AuditProblem>)> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let mut stmt =
            conn.prepare("SELECT seq, sealed FROM audit WHERE seq >= ?1 ORDER BY seq")?;
        let mut rows = stmt.query([from])?;
        let (mut entries, mut problems) = (Vec::new(), Vec::new());
        while let Some(r) = rows.next()? {
            let seq = u64::try_from(r.get::<_, i64>(0)?).unwrap_or(u64::MAX);
            // A row of the wrong type is tampering too, not a storage error.
            let sealed: Option<Vec<u8>> = r.get(1).ok();
            let entry = sealed
                .and_then(|sealed| self.keys.meta.open_owned(entry_aad(seq), sealed))
                .and_then(|plain| serde_json::from_slice::<AuditEntry>(&plain).ok())
                .filter(|e| e.seq == seq);
            match entry {
                Some(e) => entries.push(e),
                None => problems.push(AuditProblem {
                    seq,
                    reason: AuditProblemKind::Unreadable,
                }),
            }
        }
        Ok((entries, problems))
    }

    /// This device's audit log, oldest first (buffered opens included).
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>> {
        self.flush_audit()?;
        Ok(self.read_audit_rows(&self.lock(), 0)?.0)
    }

    /// Verifies this device's chain: every entry decrypts, links to the one
    /// before, matches its hash, and the chain ends at the recorded head.
    /// Returns the problems found (empty: intact).
    pub fn verify_audit_log(&self) -> Result<Vec<AuditProblem>> {
        self.flush_audit()?;
        let conn = self.lock();
        let (entries, mut problems) = self.read_audit_rows(&conn, 0)?;
        problems.extend(verify_chain(&entries));
        let head: Head = self
            .sealed_json_in(&conn, HEAD)?
            .unwrap_or_else(Head::genesis);
        let actual = Head::of(&entries);
        if actual != head {
            problems.push(AuditProblem {
                seq: actual.len.min(head.len),
                reason: AuditProblemKind::HeadMismatch,
            });
        }
        problems.sort_by_key(|p| p.seq);
        problems.dedup();
        Ok(problems)
    }

    /// Copies entries not yet published into this device's [`AuditLog`]
    /// document (created on first use), together with the device's
    /// self-report for the admin's registry; sync then pushes it like any
    /// other document. Returns how many entries were published.
    pub fn publish_audit(&self) -> Result<usize> {
        self.flush_audit()?;
        let (pending_changes, _) = self.outbox_size()?;
        let (pending_photos, _) = self.photo_transfers_pending()?;
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let published: u64 = self.sealed_json_in(&tx, PUBLISHED)?.unwrap_or(0);
        let (fresh, problems) = self.read_audit_rows(&tx, published)?;
        if let Some(p) = problems.first() {
            return Err(Error::Corrupted(p.to_string()));
        }
        let report = DeviceReport {
            staff_id: self.options.staff_id.clone(),
            app_version: env!("CARGO_PKG_VERSION").into(),
            pending_changes,
            pending_photos,
            reported_at: self.options.clock.now(),
        };
        let same_report = |old: &Option<DeviceReport>, new: &DeviceReport| {
            old.as_ref().is_some_and(|o| {
                (
                    &o.staff_id,
                    &o.app_version,
                    o.pending_changes,
                    o.pending_photos,
                ) == (
                    &new.staff_id,
                    &new.app_version,
                    new.pending_changes,
                    new.pending_photos,
                )
            })
        };
        let doc_id = match self.sealed_json_in::<DocumentId>(&tx, LOG_DOC)? {
            Some(id) => id,
            None => {
                let mut envelope = self.new_envelope::<AuditLog>("000000");
                envelope.status = Status::Draft;
                let log = AuditLog {
                    envelope,
                    device_id: self.device_id(),
                    entries: Vec::new(),
                    report: None,
                };
                let id = self.insert_in(&tx, log)?;
                self.put_sealed_json_in(&tx, LOG_DOC, &id)?;
                id
            }
        };
        let count = fresh.len();
        self.update_in::<AuditLog, _>(&tx, &doc_id, move |log| {
            log.entries.extend(fresh);
            // Only a changed report is a change (not its time), so an idle
            // device does not push a new version at every sync.
            if !same_report(&log.report, &report) {
                log.report = Some(report);
            }
        })?;
        self.put_sealed_json_in(&tx, PUBLISHED, &(published + count as u64))?;
        tx.commit()?;
        Ok(count)
    }

    /// Every device's published audit log with its verification (admin
    /// vaults only). Logs that verify are remembered (their head), so a
    /// later rewrite of an already-verified history is reported as
    /// [`AuditProblemKind::HeadMismatch`].
    pub fn device_audit_logs(&self) -> Result<Vec<DeviceAuditLog>> {
        match self.sync_settings()? {
            Some(s) if s.role == Role::Admin => {}
            _ => {
                return Err(Error::InvalidInput(
                    "only the workspace admin's vault reads other devices' audit logs".into(),
                ))
            }
        }
        let filter = super::ListFilter {
            kind: Some(DocumentKind::AuditLog),
            ..Default::default()
        };
        let mut logs = Vec::new();
        for summary in self.list(&filter)?.documents {
            let log = self.get::<AuditLog>(&summary.id)?;
            let mut problems = verify_chain(&log.entries);
            let witness_name = format!("audit.witness.{}", log.device_id);
            let conn = self.lock();
            if let Some(witness) = self.sealed_json_in::<Head>(&conn, &witness_name)? {
                // The chain must still begin with what was verified before.
                let len = usize::try_from(witness.len).unwrap_or(usize::MAX);
                let intact = log
                    .entries
                    .get(..len)
                    .is_some_and(|seen| Head::of(seen) == witness);
                if !intact {
                    problems.push(AuditProblem {
                        seq: witness.len.saturating_sub(1),
                        reason: AuditProblemKind::HeadMismatch,
                    });
                }
            }
            if problems.is_empty() {
                self.put_sealed_json_in(&conn, &witness_name, &Head::of(&log.entries))?;
            }
            drop(conn);
            logs.push(DeviceAuditLog {
                device_id: log.device_id,
                document_id: summary.id,
                report: log.report,
                entries: log.entries,
                problems,
            });
        }
        Ok(logs)
    }

    /// Id of this device's published audit-log document, once published.
    pub fn audit_log_document(&self) -> Result<Option<DocumentId>> {
        self.sealed_json_in(&self.lock(), LOG_DOC)
    }
}

impl Drop for Vault {
    fn drop(&mut self) {
        // Best effort: a vault that has been wiped has no table to write to.
        let _ = self.flush_audit();
    }
}
