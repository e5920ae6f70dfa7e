//! The audit log: who opened, edited, exported or purged which document.
//!
//! Each device keeps its own log, an append-only hash chain: every entry
//! carries the SHA-256 of the previous entry, and its own hash covers all of
//! its fields. The device publishes its log as one Automerge document of kind
//! [`DocumentKind::AuditLog`], synced (sealed) like any other document, so an
//! admin vault can read and verify every device's log.
//!
//! Entries never hold field values: only the action, the document id and
//! kind, the staff member, the device and a short non-sensitive detail (such
//! as an export format).
use std::fmt;

use autosurgeon::{Hydrate, Reconcile};
use ring::digest;
use serde::{Deserialize, Serialize};

use super::{DocumentBody, DocumentKind, Envelope, FieldErrorCode, Timestamp, ValidationErrors};

/// What was done to a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    #[autosurgeon(rename = "created")]
    Created,
    /// A sensitive document (a tax-help form) was read.
    #[autosurgeon(rename = "opened")]
    Opened,
    #[autosurgeon(rename = "edited")]
    Edited,
    /// Changes from another replica were merged by hand (not by sync).
    #[autosurgeon(rename = "merged")]
    Merged,
    #[autosurgeon(rename = "exported")]
    Exported,
    /// Removed by the retention rules after acknowledgement.
    #[autosurgeon(rename = "purged")]
    Purged,
    /// Deleted by a user.
    #[autosurgeon(rename = "deleted")]
    Deleted,
    /// A My Number was shown in full.
    #[autosurgeon(rename = "revealed_my_number")]
    RevealedMyNumber,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Created => "created",
            AuditAction::Opened => "opened",
            AuditAction::Edited => "edited",
            AuditAction::Merged => "merged",
            AuditAction::Exported => "exported",
            AuditAction::Purged => "purged",
            AuditAction::Deleted => "deleted",
            AuditAction::RevealedMyNumber => "revealed_my_number",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One link of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct AuditEntry {
    /// Position in the device's chain, from 0, without gaps.
    pub seq: u64,
    pub at: Timestamp,
    pub staff_id: String,
    pub device_id: String,
    pub action: AuditAction,
    /// The document acted on (hyphenated UUID), if any.
    pub document_id: Option<String>,
    /// Its kind (`tax_assist`...), if any.
    pub document_kind: Option<String>,
    /// A short non-sensitive detail such as an export format.
    pub detail: String,
    /// Hex SHA-256 of the previous entry (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 of this entry's fields and `prev_hash`.
    pub hash: String,
}

/// `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl AuditEntry {
    /// The hash this entry must carry: SHA-256 over a length-prefixed
    /// encoding of every field except `hash`.
    pub fn compute_hash(&self) -> String {
        let mut ctx = digest::Context::new(&digest::SHA256);
        let mut field = |bytes: &[u8]| {
            ctx.update(&(bytes.len() as u64).to_be_bytes());
            ctx.update(bytes);
        };
        field(b"fieldvault audit v1");
        field(&self.seq.to_be_bytes());
        field(self.at.to_rfc3339().as_bytes());
        field(self.staff_id.as_bytes());
        field(self.device_id.as_bytes());
        field(self.action.as_str().as_bytes());
        field(self.document_id.as_deref().unwrap_or("").as_bytes());
        field(self.document_kind.as_deref().unwrap_or("").as_bytes());
        field(self.detail.as_bytes());
        field(self.prev_hash.as_bytes());
        crate::sync::wire::hex(ctx.finish().as_ref())
    }
}

/// Something wrong with a chain, at entry `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditProblem {
    pub seq: u64,
    pub reason: AuditProblemKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditProblemKind {
    /// An entry is missing here (deleted), or the order is wrong.
    Gap,
    /// The entry's fields do not match its hash (edited).
    HashMismatch,
    /// The entry does not link to the one before it.
    BrokenLink,
    /// A stored entry could not be decrypted (tampered ciphertext).
    Unreadable,
    /// The chain is shorter than, or differs from, a head recorded earlier
    /// (entries removed from the end, or the chain rewritten).
    HeadMismatch,
}

impl fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.reason {
            AuditProblemKind::Gap => "entry missing or out of order",
            AuditProblemKind::HashMismatch => "entry altered (hash does not match)",
            AuditProblemKind::BrokenLink => "entry does not link to the previous one",
            AuditProblemKind::Unreadable => "entry cannot be decrypted",
            AuditProblemKind::HeadMismatch => "chain differs from the head recorded earlier",
        };
        write!(f, "audit entry {}: {what}", self.seq)
    }
}

/// Checks that `entries` form one unbroken chain from seq 0.
pub fn verify_chain(entries: &[AuditEntry]) -> Vec<AuditProblem> {
    let mut problems = Vec::new();
    let mut prev = GENESIS_HASH.to_string();
    for (i, entry) in entries.iter().enumerate() {
        let expected_seq = i as u64;
        if entry.seq != expected_seq {
            problems.push(AuditProblem {
                seq: expected_seq,
                reason: AuditProblemKind::Gap,
            });
        }
        if entry.compute_hash() != entry.hash {
            problems.push(AuditProblem {
                seq: entry.seq,
                reason: AuditProblemKind::HashMismatch,
            });
        }
        if entry.prev_hash != prev {
            problems.push(AuditProblem {
                seq: entry.seq,
                reason: AuditProblemKind::BrokenLink,
            });
        }
        prev = entry.hash.clone();
    }
    problems
}

/// What a device last reported about itself for the admin's device registry
/// (sealed like the rest of the document: the relay never sees it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct DeviceReport {
    /// The staff member using the device.
    pub staff_id: String,
    pub app_version: String,
    /// Change sets and photos waiting for upload when the device last
    /// connected (before that sync's uploads).
    pub pending_changes: u64,
    pub pending_photos: u64,
    pub reported_at: Timestamp,
}

/// Entries per published segment of a device's log (see the module docs).
/// A device publishes into its latest segment until it holds this many, then
/// starts the next one; a segment written by an older version may hold more.
pub const AUDIT_SEGMENT_ENTRIES: u64 = 2_000;

/// One published segment of a device's log: the entries from `first_seq` on
/// (the first segment, and logs published before segments existed, from 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct AuditLog {
    pub envelope: Envelope,
    /// The device whose actions this log records.
    pub device_id: String,
    /// Chain position of `entries[0]`; the chain itself (each entry's
    /// `prev_hash`) links a segment to the one before it.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub first_seq: u64,
    pub entries: Vec<AuditEntry>,
    /// The device's latest self-report (see [`DeviceReport`]).
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub report: Option<DeviceReport>,
}

impl DocumentBody for AuditLog {
    const KIND: DocumentKind = DocumentKind::AuditLog;
    const SCHEMA_VERSION: u32 = 1;

    fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    fn envelope_mut(&mut self) -> &mut Envelope {
        &mut self.envelope
    }

    fn title(&self) -> String {
        let short: String = self.device_id.chars().take(8).collect();
        format!("監査ログ {short}")
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        // Not a form: the envelope's municipality is not checked; the kind
        // and the device are.
        let mut errors = ValidationErrors::new();
        if self.envelope.kind != Self::KIND {
            errors.push(
                "envelope.kind",
                FieldErrorCode::Inconsistent,
                "envelope kind does not match the document body",
            );
        }
        if self.device_id.trim().is_empty() {
            errors.push(
                "device_id",
                FieldErrorCode::Required,
                "device id is required",
            );
        }
        errors.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mut prev = GENESIS_HASH.to_string();
        (0..n)
            .map(|seq| {
                let mut e = AuditEntry {
                    seq,
                    at: Timestamp::parse("2026-02-16T10:00:00+09:00").expect("time"),
                    staff_id: "staff-1".into(),
                    device_id: "device-1".into(),
                    action: AuditAction::Edited,
                    document_id: Some(format!("doc-{seq}")),
                    document_kind: Some("tax_assist".into()),
                    detail: String::new(),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = e.compute_hash();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    /// Logs published before segments have no `first_seq`: they start at 0
    /// (and the first ones had no report either).
    #[test]
    fn a_log_without_first_seq_starts_at_zero() {
        #[derive(Reconcile)]
        struct Before {
            envelope: Envelope,
            device_id: String,
            entries: Vec<AuditEntry>,
        }
        let envelope = Envelope::new(
            DocumentKind::AuditLog,
            1,
            "000000",
            "staff-1",
            "device-1",
            Timestamp::parse("2026-02-16T10:00:00+09:00").expect("time"),
        );
        let mut doc = automerge::AutoCommit::new();
        let entries = chain(2);
        autosurgeon::reconcile(
            &mut doc,
            Before {
                envelope,
                device_id: "device-1".into(),
                entries: entries.clone(),
            },
        )
        .expect("reconcile");
        let log: AuditLog = autosurgeon::hydrate(&doc).expect("hydrate");
        assert_eq!(log.first_seq, 0);
        assert_eq!(log.entries, entries);
        assert_eq!(log.report, None);
    }

    #[test]
    fn intact_chain_verifies() {
        assert!(verify_chain(&chain(5)).is_empty());
        assert!(verify_chain(&[]).is_empty());
    }

    #[test]
    fn edited_entry_is_detected() {
        let mut c = chain(5);
        c[2].action = AuditAction::Opened;
        let problems = verify_chain(&c);
        assert_eq!(
            problems,
            vec![AuditProblem {
                seq: 2,
                reason: AuditProblemKind::HashMismatch
            }]
        );
    }

    #[test]
    fn recomputed_edit_breaks_the_next_link() {
        let mut c = chain(5);
        c[2].detail = "rewritten".into();
        c[2].hash = c[2].compute_hash();
        let problems = verify_chain(&c);
        assert_eq!(
            problems,
            vec![AuditProblem {
                seq: 3,
                reason: AuditProblemKind::BrokenLink
            }]
        );
    }

    #[test]
    fn deleted_entry_is_detected() {
        let mut c = chain(5);
        c.remove(1);
        let problems = verify_chain(&c);
        assert!(problems.contains(&AuditProblem {
            seq: 1,
            reason: AuditProblemKind::Gap
        }));
        assert!(problems.contains(&AuditProblem {
            seq: 2,
            reason: AuditProblemKind::BrokenLink
        }));
    }
}
