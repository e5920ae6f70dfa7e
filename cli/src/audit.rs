//! Recording exports in the vault's audit log (core audit API, issue #5).
//!
//! One entry per exported document: who exported it (the vault's staff id and
//! device, recorded by the core), when, and in which format. The entry never
//! carries a field value.
use fieldvault::model::{AuditAction, DocumentId};
use fieldvault::Vault;

use crate::error::CliResult;

/// Records that `ids` were exported as `format`.
pub fn record_exports(vault: &Vault, ids: &[DocumentId], format: &str) -> CliResult<usize> {
    for id in ids {
        vault.record_audit(AuditAction::Exported, Some(id), format)?;
    }
    Ok(ids.len())
}
