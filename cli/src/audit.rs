//! Recording exports in the vault's audit log (core audit API, issue #5).
//!
//! One entry per exported document: who exported it (the vault's staff id and
//! device, recorded by the core), when, and in which format. The entry never
//! carries a field value.
use fieldvault::model::{AuditAction, DocumentId};
use fieldvault::Vault;

use crate::error::CliResult;

/// Records that `ids` were exported as `format`.
/// One durable entry (one transaction) per document, so `progress` advances
/// per document (about 4 ms each on a desktop disk).
pub fn record_exports(
    vault: &Vault,
    ids: &[DocumentId],
    format: &str,
    progress: &indicatif::ProgressBar,
) -> CliResult<usize> {
    progress.set_length(ids.len() as u64);
    progress.set_position(0);
    progress.set_message(format!("audit {format}"));
    for id in ids {
        vault.record_audit(AuditAction::Exported, Some(id), format)?;
        progress.inc(1);
    }
    Ok(ids.len())
}
