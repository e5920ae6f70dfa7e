//! Reading other devices' published audit logs (admin vaults only).
//!
//! Each device publishes its chain as segments (`AuditLog` documents, see
//! [`crate::model::AUDIT_SEGMENT_ENTRIES`]). [`Vault::device_audit_logs`]
//! reads and verifies every segment; [`Vault::device_reports`] reads only
//! what the device registry shows, without the entries.
use std::collections::{BTreeMap, HashMap};

use automerge::{ReadDoc, ScalarValue, Value, ROOT};

use super::audit_record::Head;
use super::{sealed_doc, DocumentSummary, Vault};
use crate::error::{Error, Result};
use crate::model::{
    verify_chain, AuditEntry, AuditLog, AuditProblem, AuditProblemKind, DeviceReport, DocumentId,
    DocumentKind,
};
use crate::sync::wire::Role;

/// One device's published log as an admin sees it.
#[derive(Debug, Clone)]
pub struct DeviceAuditLog {
    pub device_id: String,
    /// The documents its log is published in, in chain order (one per
    /// [`crate::model::AUDIT_SEGMENT_ENTRIES`] entries).
    pub documents: Vec<DocumentId>,
    /// The device's latest self-report (staff, pending uploads, version).
    pub report: Option<DeviceReport>,
    pub entries: Vec<AuditEntry>,
    /// Empty when the chain is intact.
    pub problems: Vec<AuditProblem>,
}

/// The chain position a segment starts at (0 for logs published before
/// segments, which have no `first_seq`).
fn first_seq_of(doc: &impl ReadDoc) -> u64 {
    match doc.get(ROOT, "first_seq") {
        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Uint(n) => *n,
            ScalarValue::Int(n) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        },
        _ => 0,
    }
}

impl Vault {
    /// The published audit-log segments this vault holds (admin only).
    fn audit_segments(&self) -> Result<Vec<DocumentSummary>> {
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
        Ok(self.list(&filter)?.documents)
    }

    /// Every device's published audit log with its verification (admin
    /// vaults only). Logs that verify are remembered (their head), so a
    /// later rewrite of an already-verified history is reported as
    /// [`AuditProblemKind::HeadMismatch`].
    pub fn device_audit_logs(&self) -> Result<Vec<DeviceAuditLog>> {
        // Each device's segments, in chain order.
        let mut by_device: BTreeMap<String, Vec<(DocumentId, AuditLog)>> = BTreeMap::new();
        for summary in self.audit_segments()? {
            let log = self.get::<AuditLog>(&summary.id)?;
            by_device
                .entry(log.device_id.clone())
                .or_default()
                .push((summary.id, log));
        }
        let mut logs = Vec::new();
        for (device_id, mut segments) in by_device {
            segments.sort_by_key(|(id, log)| (log.first_seq, *id));
            let report = segments
                .iter()
                .rev()
                .find_map(|(_, log)| log.report.clone());
            let documents = segments.iter().map(|(id, _)| *id).collect();
            let entries: Vec<AuditEntry> = segments
                .into_iter()
                .flat_map(|(_, log)| log.entries)
                .collect();
            let mut problems = verify_chain(&entries);
            let witness_name = format!("audit.witness.{device_id}");
            let conn = self.lock();
            if let Some(witness) = self.sealed_json_in::<Head>(&conn, &witness_name)? {
                // The chain must still begin with what was verified before.
                let len = usize::try_from(witness.len).unwrap_or(usize::MAX);
                let intact = entries
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
                self.put_sealed_json_in(&conn, &witness_name, &Head::of(&entries))?;
            }
            drop(conn);
            logs.push(DeviceAuditLog {
                device_id,
                documents,
                report,
                entries,
                problems,
            });
        }
        Ok(logs)
    }

    /// Each device's latest self-report (from its last segment), for the
    /// device registry: the segments are loaded but their entries are
    /// neither read nor verified (admin vaults only; use
    /// [`Self::device_audit_logs`] for the chains).
    pub fn device_reports(&self) -> Result<HashMap<String, DeviceReport>> {
        let mut latest: HashMap<String, (u64, DeviceReport)> = HashMap::new();
        for summary in self.audit_segments()? {
            let stored = {
                let conn = self.lock();
                sealed_doc::load(&conn, &self.keys, &self.key_cache, &summary.id)?
            };
            let doc = &stored.doc;
            let corrupted = || Error::Corrupted(format!("the audit log document {}", summary.id));
            let device_id: String =
                autosurgeon::hydrate_prop(doc, ROOT, "device_id").map_err(|_| corrupted())?;
            let report = super::audit_publish::published_report(doc).map_err(|_| corrupted())?;
            let (Some(report), first_seq) = (report, first_seq_of(doc)) else {
                continue;
            };
            match latest.get(&device_id) {
                Some((seen, _)) if *seen > first_seq => {}
                _ => {
                    latest.insert(device_id, (first_seq, report));
                }
            }
        }
        Ok(latest
            .into_iter()
            .map(|(device, (_, report))| (device, report))
            .collect())
    }
}
