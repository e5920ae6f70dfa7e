//! init, list, show, history.
use serde_json::json;

use super::doc_id;
use crate::cli::{Global, InitArgs, ListArgs};
use crate::error::CliResult;
use crate::output::{line, print_json};
use crate::vault_access;

pub fn init(g: &Global, args: &InitArgs) -> CliResult<()> {
    let dir = vault_access::vault_dir(g)?;
    let vault = vault_access::create(&dir, g.staff_id(), args.insecure_test_kdf)?;
    if g.json {
        print_json(&json!({
            "vault": dir,
            "device_id": vault.device_id(),
            "staff_id": vault.staff_id(),
            "retention": "keep_everything",
        }))
    } else {
        line(format!("Created a sealed vault in {}", dir.display()));
        line(format!("  device id: {}", vault.device_id()));
        line("  retention: keep everything (desktop)");
        line("Next: `fieldvault workspace create --relay URL` (admin) or `fieldvault enroll --qr-file FILE`.");
        Ok(())
    }
}

pub fn list(g: &Global, args: &ListArgs) -> CliResult<()> {
    let vault = vault_access::open(g)?;
    let filter = fieldvault::ListFilter {
        kind: args.kind.map(Into::into),
        status: args.status.map(Into::into),
        ..Default::default()
    };
    let listing = vault.list(&filter)?;
    if g.json {
        return print_json(&json!({
            "documents": listing.documents,
            "count": listing.documents.len(),
            "unreadable": listing.unreadable,
        }));
    }
    if listing.documents.is_empty() {
        line("No documents.");
    }
    for d in &listing.documents {
        line(format!(
            "{}  {:<13} {:<12} {}",
            d.id,
            d.kind.as_str(),
            d.status.as_str(),
            d.title
        ));
    }
    line(format!("{} document(s)", listing.documents.len()));
    if listing.unreadable > 0 {
        line(format!(
            "warning: {} stored document(s) could not be decrypted (corrupted or tampered)",
            listing.unreadable
        ));
    }
    Ok(())
}

pub fn show(g: &Global, id: &str) -> CliResult<()> {
    let id = doc_id(id)?;
    let vault = vault_access::open(g)?;
    let doc = vault.get_any(&id)?;
    let summary = vault.summary(&id)?;
    if g.json {
        return print_json(&json!({ "summary": summary, "document": doc }));
    }
    line(format!(
        "{}  ({}, {})",
        summary.title, summary.kind, summary.status
    ));
    line(format!("id: {}", summary.id));
    line(format!(
        "created {}  updated {}  photos {}",
        summary.created_at, summary.updated_at, summary.photo_count
    ));
    let body = serde_json::to_string_pretty(&doc)
        .map_err(|e| crate::error::CliError::internal(e.to_string()))?;
    line(body);
    Ok(())
}

pub fn history(g: &Global, id: &str) -> CliResult<()> {
    let id = doc_id(id)?;
    let vault = vault_access::open(g)?;
    let entries = vault.history(&id)?;
    if g.json {
        return print_json(&json!({ "id": id, "history": entries }));
    }
    for e in &entries {
        line(format!(
            "{}  {:<7} staff {:<12} device {}  {}",
            e.at.as_ref()
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "?".into()),
            e.operation,
            e.staff_id,
            e.device_id,
            e.fields.join(", ")
        ));
    }
    line(format!("{} change(s)", entries.len()));
    Ok(())
}

pub fn audit(g: &Global) -> CliResult<()> {
    let vault = vault_access::open(g)?;
    let (entries, problems) = vault.audit_log_verified()?;
    if g.json {
        print_json(&json!({
            "entries": entries,
            "count": entries.len(),
            "intact": problems.is_empty(),
            "problems": problems,
        }))?;
    } else {
        for e in &entries {
            line(format!(
                "{:>5}  {}  {:<18} {:<14} {}  {}",
                e.seq,
                e.at.to_rfc3339(),
                e.action.as_str(),
                e.document_kind.as_deref().unwrap_or("-"),
                e.document_id.as_deref().unwrap_or("-"),
                e.detail
            ));
        }
        line(format!(
            "{} entr{}; chain {}",
            entries.len(),
            if entries.len() == 1 { "y" } else { "ies" },
            if problems.is_empty() {
                "intact"
            } else {
                "BROKEN"
            }
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let e = crate::error::CliError::new(
            crate::error::ExitCode::Corrupted,
            format!("the audit log has {} problem(s)", problems.len()),
        );
        Err(if g.json { e.reported() } else { e })
    }
}
