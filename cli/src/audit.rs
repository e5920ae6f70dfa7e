//! Recording exports in the vault's audit log (core audit API, issue #5).
//!
//! One entry per exported document: who exported it (the vault's staff id and
//! device, recorded by the core), when, and in which format. The entry never
//! carries a field value.
use fieldvault::model::{AuditAction, DocumentId};
use fieldvault::Vault;

use crate::error::CliResult;

/// Records that `ids` were exported as `format`: one entry per document, all
/// in one transaction (an export is recorded whole or not at all).
pub fn record_exports(
    vault: &Vault,
    ids: &[DocumentId],
    format: &str,
    progress: &indicatif::ProgressBar,
) -> CliResult<usize> {
    progress.set_length(ids.len() as u64);
    progress.set_position(0);
    progress.set_message(format!("audit {format}"));
    vault.record_audits(AuditAction::Exported, ids, format)?;
    progress.set_position(ids.len() as u64);
    Ok(ids.len())
}
