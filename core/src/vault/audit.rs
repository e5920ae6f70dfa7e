//! The device's audit log: an append-only hash chain in the `audit` table,
//! published as this device's [`AuditLog`] documents when it syncs: one
//! segment of at most [`AUDIT_SEGMENT_ENTRIES`] entries after another, each
//! continuing the chain, so publishing costs the same in the first week and
//! after years of use.
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

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::audit_record::{decode_entry, encode_entry, Head};
use super::Vault;
use crate::crypto::Aad;
use crate::error::{Error, Result};
use crate::model::{
    verify_chain, AuditAction, AuditEntry, AuditLog, AuditProblem, AuditProblemKind, DeviceReport,
    DocumentId, DocumentKind, Status, Timestamp, AUDIT_SEGMENT_ENTRIES,
};
use crate::mutex::lock;

/// Opens of one document within this many seconds are recorded once.
pub const OPEN_COALESCE_SECONDS: i64 = 600;

/// Buffered open records are written once this many accumulate.
const MAX_BUFFERED_OPENS: usize = 256;

/// Where format-1 vaults kept the chain head (sealed JSON in `meta`).
const LEGACY_HEAD: &str = "audit.head";
/// Row key of the chain head in the `audit` table: after every entry, so the
/// head shares the B-tree page that appends go to and a write dirties one
/// audit page, not two.
const HEAD_SEQ: i64 = i64::MAX;
/// Written with the first head row: from then on a missing head row means
/// it was removed (with the whole chain, perhaps), not that none was written.
const HEAD_IN_TABLE: &str = "audit.head_in_table";
const PUBLISHED: &str = "audit.published";
/// Where vaults kept their one log document before segments: its id.
const LEGACY_LOG_DOC: &str = "audit.doc";
/// The segment this device publishes into ([`Segment`]).
const LOG_SEGMENT: &str = "audit.segment";
const T_AUDIT: &[u8] = b"audit";

struct Pending {
    at: Timestamp,
    action: AuditAction,
    document: Option<(DocumentId, DocumentKind)>,
    detail: String,
}

/// The published segment this device appends to.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize)]
struct Segment {
    id: DocumentId,
    first_seq: u64,
}

impl Segment {
    /// How many more entries fit when the next one to publish is `next`.
    fn room(&self, next: u64) -> usize {
        let used = next.saturating_sub(self.first_seq);
        usize::try_from(AUDIT_SEGMENT_ENTRIES.saturating_sub(used)).unwrap_or(usize::MAX)
    }
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

fn head_removed() -> Error {
    Error::Corrupted("the audit log (its head record was removed)".into())
}

fn head_aad() -> Aad<'static> {
    Aad {
        table: T_AUDIT,
        row: b"head",
        seq: u64::MAX,
    }
}

fn entry_aad(seq: u64) -> Aad<'static> {
    Aad {
        table: T_AUDIT,
        row: b"",
        seq,
    }
}

impl Vault {
    /// Appends `action` (and any buffered opens) to the chain inside `tx`.
    pub(crate) fn audit_in(
        &self,
        tx: &Connection,
        action: AuditAction,
        document: Option<(DocumentId, DocumentKind)>,
        detail: &str,
    ) -> Result<()> {
        self.audit_many_in(tx, action, [document], detail)
    }

    /// Appends `action` on each of `documents` (and any buffered opens),
    /// all at the same time, inside `tx`.
    fn audit_many_in(
        &self,
        tx: &Connection,
        action: AuditAction,
        documents: impl IntoIterator<Item = Option<(DocumentId, DocumentKind)>>,
        detail: &str,
    ) -> Result<()> {
        let at = self.options.clock.now();
        let mut batch = std::mem::take(&mut *lock(&self.audit.pending));
        batch.extend(documents.into_iter().map(|document| Pending {
            at: at.clone(),
            action,
            document,
            detail: detail.to_string(),
        }));
        self.write_audit_batch(tx, batch)
    }

    fn write_audit_batch(&self, tx: &Connection, batch: Vec<Pending>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let (mut head, first_head_row) = match self.audit_head(tx)? {
            Some(head) => (head, false),
            None => (
                self.head_before_first_row(tx)?.ok_or_else(head_removed)?,
                true,
            ),
        };
        let device_id = self.device_id();
        for p in batch {
            let mut entry = AuditEntry {
                seq: head.len,
                at: p.at,
                staff_id: self.options.staff_id.clone(),
                device_id: device_id.clone(),
                action: p.action,
                document_id: p.document.map(|(id, _)| id.to_string()),
                document_kind: p.document.map(|(_, k)| k.as_str().to_string()),
                detail: p.detail,
                prev_hash: head.hash,
                hash: String::new(),
            };
            entry.hash = entry.compute_hash();
            let seq = i64::try_from(entry.seq)
                .ok()
                .filter(|s| *s < HEAD_SEQ)
                .ok_or_else(|| Error::Internal("audit log too long".into()))?;
            let sealed = self
                .keys
                .meta
                .seal(entry_aad(entry.seq), &encode_entry(&entry))?;
            tx.prepare_cached("INSERT INTO audit (seq, sealed) VALUES (?1, ?2)")?
                .execute(params![seq, sealed])?;
            head = Head {
                len: head.len + 1,
                hash: entry.hash,
            };
        }
        let sealed = self.keys.meta.seal(head_aad(), &head.encode())?;
        tx.prepare_cached(
            "INSERT INTO audit (seq, sealed) VALUES (?1, ?2)
             ON CONFLICT(seq) DO UPDATE SET sealed = excluded.sealed",
        )?
        .execute(params![HEAD_SEQ, sealed])?;
        if first_head_row {
            tx.execute("DELETE FROM meta WHERE name = ?1", [LEGACY_HEAD])?;
            self.put_sealed_json_in(tx, HEAD_IN_TABLE, &true)?;
        }
        Ok(())
    }

    /// The sealed chain head in the `audit` table (`None`: not written yet,
    /// or a format-1 vault whose head is still in `meta`).
    fn audit_head(&self, conn: &Connection) -> Result<Option<Head>> {
        let sealed: Option<Vec<u8>> = conn
            .prepare_cached("SELECT sealed FROM audit WHERE seq = ?1")?
            .query_row([HEAD_SEQ], |r| r.get(0))
            .optional()?;
        sealed
            .map(|sealed| {
                self.keys
                    .meta
                    .open_owned(head_aad(), sealed)
                    .and_then(|plain| Head::decode(&plain))
                    .ok_or_else(|| Error::Corrupted("the audit log's head".into()))
            })
            .transpose()
    }

    /// The head while the `audit` table has no head row: a format-1 vault's
    /// head in `meta`, or genesis for a new vault. `None` if the head row has
    /// existed and is gone.
    fn head_before_first_row(&self, conn: &Connection) -> Result<Option<Head>> {
        if self.sealed_json_in::<bool>(conn, HEAD_IN_TABLE)?.is_some() {
            return Ok(None);
        }
        Ok(Some(
            self.sealed_json_in(conn, LEGACY_HEAD)?
                .unwrap_or_else(Head::genesis),
        ))
    }

    /// The recorded head of this device's chain, wherever it is kept
    /// (`None`: removed).
    fn recorded_audit_head(&self, conn: &Connection) -> Result<Option<Head>> {
        match self.audit_head(conn)? {
            Some(head) => Ok(Some(head)),
            None => self.head_before_first_row(conn),
        }
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
        match document {
            Some(id) => self.record_audits(action, std::slice::from_ref(id), detail),
            None => self.record_audit_batch(action, vec![None], detail),
        }
    }

    /// [`Self::record_audit`] for many documents at once (an export of a
    /// whole listing): one entry per document, all in one transaction, so
    /// either every entry is recorded or none is.
    pub fn record_audits(
        &self,
        action: AuditAction,
        documents: &[DocumentId],
        detail: &str,
    ) -> Result<()> {
        let documents = documents
            .iter()
            .map(|id| Ok(Some((*id, self.summary(id)?.kind))))
            .collect::<Result<Vec<_>>>()?;
        self.record_audit_batch(action, documents, detail)
    }

    fn record_audit_batch(
        &self,
        action: AuditAction,
        documents: Vec<Option<(DocumentId, DocumentKind)>>,
        detail: &str,
    ) -> Result<()> {
        if detail.chars().count() > 200 {
            return Err(Error::InvalidInput(
                "audit detail must be at most 200 characters".into(),
            ));
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        self.audit_many_in(&tx, action, documents, detail)?;
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
        let mut stmt = conn
            .prepare("SELECT seq, sealed FROM audit WHERE seq >= ?1 AND seq < ?2 ORDER BY seq")?;
        let mut rows = stmt.query([from, HEAD_SEQ])?;
        let device_id = self.device_id();
        let (mut entries, mut problems) = (Vec::new(), Vec::new());
        while let Some(r) = rows.next()? {
            let seq = u64::try_from(r.get::<_, i64>(0)?).unwrap_or(u64::MAX);
            // A row of the wrong type is tampering too, not a storage error.
            let sealed: Option<Vec<u8>> = r.get(1).ok();
            let entry = sealed
                .and_then(|sealed| self.keys.meta.open_owned(entry_aad(seq), sealed))
                .and_then(|plain| decode_entry(&plain, seq, &device_id));
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
        Ok(self.audit_log_verified()?.1)
    }

    /// This device's audit log and the problems [`Self::verify_audit_log`]
    /// finds in it, read once under one lock: the entries shown are the ones
    /// verified (a write between two separate calls cannot slip in).
    pub fn audit_log_verified(&self) -> Result<(Vec<AuditEntry>, Vec<AuditProblem>)> {
        self.flush_audit()?;
        let conn = self.lock();
        let (entries, mut problems) = self.read_audit_rows(&conn, 0)?;
        problems.extend(verify_chain(&entries));
        let actual = Head::of(&entries);
        let mismatch_at = match self.recorded_audit_head(&conn)? {
            Some(head) => (actual != head).then_some(actual.len.min(head.len)),
            None => Some(actual.len),
        };
        if let Some(seq) = mismatch_at {
            problems.push(AuditProblem {
                seq,
                reason: AuditProblemKind::HeadMismatch,
            });
        }
        problems.sort_by_key(|p| p.seq);
        problems.dedup();
        Ok((entries, problems))
    }

    /// Copies entries not yet published into this device's [`AuditLog`]
    /// segments (created on first use, a new one every
    /// [`AUDIT_SEGMENT_ENTRIES`] entries), together with the device's
    /// self-report for the admin's registry; sync then pushes them like any
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
        let mut segment = self.audit_segment_in(&tx)?;
        let mut next = published;
        let mut rest = fresh.as_slice();
        loop {
            let segment_now = match segment {
                Some(s) if rest.is_empty() || s.room(next) > 0 => s,
                _ => self.start_audit_segment_in(&tx, next)?,
            };
            let (now, later) = rest.split_at(rest.len().min(segment_now.room(next)));
            // The report goes to the segment published last, where the
            // admin reads it.
            let report = later.is_empty().then(|| report.clone());
            self.append_to_audit_log_in(&tx, &segment_now.id, now, report)?;
            next += now.len() as u64;
            rest = later;
            segment = Some(segment_now);
            if rest.is_empty() {
                break;
            }
        }
        self.put_sealed_json_in(&tx, PUBLISHED, &next)?;
        tx.commit()?;
        Ok(fresh.len())
    }

    /// The segment this device publishes into (`None` before the first
    /// publish). Vaults that published before segments existed recorded
    /// only the document, whose entries start at 0.
    fn audit_segment_in(&self, conn: &Connection) -> Result<Option<Segment>> {
        if let Some(segment) = self.sealed_json_in(conn, LOG_SEGMENT)? {
            return Ok(Some(segment));
        }
        Ok(self
            .sealed_json_in::<DocumentId>(conn, LEGACY_LOG_DOC)?
            .map(|id| Segment { id, first_seq: 0 }))
    }

    /// Creates the segment document whose entries start at `first_seq` and
    /// makes it the one this device publishes into.
    fn start_audit_segment_in(&self, tx: &Connection, first_seq: u64) -> Result<Segment> {
        let mut envelope = self.new_envelope::<AuditLog>("000000");
        envelope.status = Status::Draft;
        let log = AuditLog {
            envelope,
            device_id: self.device_id(),
            first_seq,
            entries: Vec::new(),
            report: None,
        };
        let segment = Segment {
            id: self.insert_in(tx, log)?,
            first_seq,
        };
        self.put_sealed_json_in(tx, LOG_SEGMENT, &segment)?;
        tx.execute("DELETE FROM meta WHERE name = ?1", [LEGACY_LOG_DOC])?;
        Ok(segment)
    }

    /// Id of the audit-log segment this device publishes into, once
    /// published.
    pub fn audit_log_document(&self) -> Result<Option<DocumentId>> {
        Ok(self.audit_segment_in(&self.lock())?.map(|s| s.id))
    }
}

impl Drop for Vault {
    fn drop(&mut self) {
        // Best effort: a vault that has been wiped has no table to write to.
        let _ = self.flush_audit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GENESIS_HASH;
    use crate::store::rows;

    /// The segments this vault has published, in chain order.
    fn published_segments(v: &Vault) -> Vec<(DocumentId, AuditLog)> {
        let filter = crate::vault::ListFilter {
            kind: Some(DocumentKind::AuditLog),
            ..Default::default()
        };
        let mut segments: Vec<_> = v
            .list(&filter)
            .expect("list")
            .documents
            .into_iter()
            .map(|d| (d.id, v.get::<AuditLog>(&d.id).expect("segment")))
            .collect();
        segments.sort_by_key(|(_, log)| log.first_seq);
        segments
    }

    fn exports(v: &Vault, n: usize) {
        v.record_audit_batch(AuditAction::Exported, vec![None; n], "csv")
            .expect("record");
    }

    #[test]
    fn a_long_log_is_published_in_segments_that_continue_one_chain() {
        let (_tmp, v) = crate::vault::test_support::vault("staff-1");
        let size = AUDIT_SEGMENT_ENTRIES as usize;
        exports(&v, size - 10);
        assert_eq!(v.publish_audit().expect("publish"), size - 10);
        assert_eq!(published_segments(&v).len(), 1);

        // 25 more: 10 fill the first segment, 15 start the second.
        exports(&v, 25);
        assert_eq!(v.publish_audit().expect("publish"), 25);
        // A long stretch offline: filled segment by segment.
        exports(&v, 2 * size + 500);
        assert_eq!(v.publish_audit().expect("publish"), 2 * size + 500);

        let segments = published_segments(&v);
        let starts: Vec<u64> = segments.iter().map(|(_, l)| l.first_seq).collect();
        let lens: Vec<usize> = segments.iter().map(|(_, l)| l.entries.len()).collect();
        let s = AUDIT_SEGMENT_ENTRIES;
        assert_eq!(starts, vec![0, s, 2 * s, 3 * s]);
        assert_eq!(lens, vec![size, size, size, 515]);
        for (_, log) in &segments {
            assert_eq!(log.entries[0].seq, log.first_seq);
        }
        let joined: Vec<AuditEntry> = segments
            .iter()
            .flat_map(|(_, l)| l.entries.clone())
            .collect();
        assert_eq!(joined, v.audit_log().expect("local log"));
        assert_eq!(verify_chain(&joined), vec![]);
        // The report lives in the segment published into now, the last one;
        // a segment filled within one publish never carried it.
        let (last_id, last) = segments.last().expect("segments");
        assert_eq!(v.audit_log_document().expect("doc"), Some(*last_id));
        assert!(last.report.is_some());
        assert!(segments[2].1.report.is_none());
    }

    /// A vault that published before segments recorded only its one log
    /// document, which may hold more than a segment: it is kept as the first
    /// segment and the next entries start a new one.
    #[test]
    fn a_log_published_before_segments_continues_in_a_new_segment() {
        let (_tmp, v) = crate::vault::test_support::vault("staff-1");
        let size = AUDIT_SEGMENT_ENTRIES as usize;
        exports(&v, 3);
        v.publish_audit().expect("publish");
        let first = v.audit_log_document().expect("doc").expect("published");
        {
            let conn = v.lock();
            conn.execute("DELETE FROM meta WHERE name = ?1", [LOG_SEGMENT])
                .expect("forget segment");
            v.put_sealed_json_in(&conn, LEGACY_LOG_DOC, &first)
                .expect("legacy record");
        }
        // Still the same document while it has room...
        exports(&v, size - 3);
        v.publish_audit().expect("publish");
        assert_eq!(v.audit_log_document().expect("doc"), Some(first));
        // ...then a new segment continues the chain.
        exports(&v, 1);
        v.publish_audit().expect("publish");
        let segments = published_segments(&v);
        assert_eq!(segments.len(), 2);
        assert_eq!(segments[0].0, first);
        assert_eq!(segments[1].1.first_seq, AUDIT_SEGMENT_ENTRIES);
        assert_eq!(
            segments[1].1.entries[0].prev_hash,
            segments[0].1.entries[size - 1].hash
        );
        let conn = v.lock();
        assert_eq!(rows::get_meta(&conn, LEGACY_LOG_DOC).expect("meta"), None);
    }

    /// A vault written before format 2: JSON entries and the head in `meta`.
    #[test]
    fn format_1_logs_still_verify_and_keep_growing() {
        let (_tmp, v) = crate::vault::test_support::vault("staff-old");
        let mut prev = GENESIS_HASH.to_string();
        {
            let conn = v.lock();
            for seq in 0..2u64 {
                let mut e = AuditEntry {
                    seq,
                    at: Timestamp::parse("2025-02-16T09:30:00+09:00").expect("time"),
                    staff_id: "staff-old".into(),
                    device_id: v.device_id(),
                    action: AuditAction::Exported,
                    document_id: None,
                    document_kind: None,
                    detail: "csv".into(),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = e.compute_hash();
                prev = e.hash.clone();
                let sealed = v
                    .keys
                    .meta
                    .seal(entry_aad(seq), &serde_json::to_vec(&e).expect("json"))
                    .expect("seal");
                conn.execute(
                    "INSERT INTO audit (seq, sealed) VALUES (?1, ?2)",
                    params![seq as i64, sealed],
                )
                .expect("row");
            }
            let head = Head {
                len: 2,
                hash: prev.clone(),
            };
            v.put_sealed_json_in(&conn, LEGACY_HEAD, &head)
                .expect("head");
        }
        assert_eq!(v.verify_audit_log().expect("verify"), vec![]);

        v.record_audit(AuditAction::Exported, None, "geojson")
            .expect("append");
        let log = v.audit_log().expect("log");
        assert_eq!(log.len(), 3);
        assert_eq!(
            log[2].prev_hash, prev,
            "the new entry links to the old chain"
        );
        assert_eq!(v.verify_audit_log().expect("verify"), vec![]);
        let conn = v.lock();
        assert_eq!(rows::get_meta(&conn, LEGACY_HEAD).expect("meta"), None);
    }
}
