//! Who changed what, when: read from the Automerge change log. Each change
//! carries a small JSON message written by this vault (operation, staff id,
//! device id, changed field paths, local time with offset). The log is part of
//! the encrypted document, so the history travels with it and merges with it.
use automerge::AutoCommit;
use serde::{Deserialize, Serialize};

use crate::model::Timestamp;

/// The message stored with every change this library makes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChangeNote {
    pub op: String,
    pub staff: String,
    pub device: String,
    pub at: Timestamp,
    #[serde(default)]
    pub fields: Vec<String>,
}

impl ChangeNote {
    pub fn to_message(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One entry of a document's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// `create`, `edit`, `status`, `merge`...; `unknown` for foreign changes.
    pub operation: String,
    pub staff_id: String,
    pub device_id: String,
    pub at: Option<Timestamp>,
    pub fields: Vec<String>,
    /// Automerge change hash (hex), stable across replicas.
    pub change_hash: String,
}

pub(crate) fn read(doc: &mut AutoCommit) -> Vec<HistoryEntry> {
    let mut entries: Vec<HistoryEntry> = doc
        .get_changes(&[])
        .iter()
        .map(|change| {
            let note = change
                .message()
                .and_then(|m| serde_json::from_str::<ChangeNote>(m).ok());
            let fallback_time = chrono::DateTime::from_timestamp(change.timestamp(), 0)
                .map(|t| Timestamp(t.fixed_offset()));
            match note {
                Some(n) => HistoryEntry {
                    operation: n.op,
                    staff_id: n.staff,
                    device_id: n.device,
                    at: Some(n.at),
                    fields: n.fields,
                    change_hash: change.hash().to_string(),
                },
                None => HistoryEntry {
                    operation: "unknown".into(),
                    staff_id: String::new(),
                    device_id: change.actor_id().to_hex_string(),
                    at: fallback_time,
                    fields: Vec::new(),
                    change_hash: change.hash().to_string(),
                },
            }
        })
        .collect();
    entries.sort_by(|a, b| match (&a.at, &b.at) {
        (Some(x), Some(y)) => x.0.cmp(&y.0),
        _ => std::cmp::Ordering::Equal,
    });
    entries
}
