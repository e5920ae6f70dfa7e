//! Recording exports in the vault's audit log (core audit API, issue #5).
//!
//! One entry per exported document: who exported it (the vault's staff id and
//! device, recorded by the core), when, and in which format. The entry never
//! carries a field value.
use fieldvault::model::DocumentId;
use fieldvault::Vault;

use crate::error::CliResult;

/// Records that `ids` were exported as `format`.
pub fn record_exports(vault: &Vault, ids: &[DocumentId], format: &str) -> CliResult<usize> {
    // PENDING: the core audit log (`Vault::record_audit(AuditAction::Export, ..)`)
    // is being written on main; until it lands this records nothing.
    let _ = (vault, ids, format);
    Ok(0)
}
