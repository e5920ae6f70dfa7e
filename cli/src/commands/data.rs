//! export, import.
use serde_json::json;

use crate::cli::{ExportArgs, ExportFormat, Global, ImportArgs};
use crate::error::{CliError, CliResult, ExitCode};
use crate::export::{self, Documents};
use crate::output::{bar, line, print_json};
use crate::{import, vault_access};

pub fn export(g: &Global, args: &ExportArgs) -> CliResult<()> {
    if args.format == ExportFormat::All && args.out.is_none() {
        return Err(CliError::usage("`export all` needs --out DIR"));
    }
    if g.json && args.out.is_none() {
        return Err(CliError::usage(
            "--json reports on the export: give --out so the data does not mix with the report",
        ));
    }
    let vault = vault_access::open(g)?;
    let progress = bar(g.json, 0, "decrypting");
    let docs = Documents::load(&vault, &progress)?;
    progress.finish_and_clear();
    let auditing = bar(g.json, 0, "audit");
    let results = match (args.format, &args.out) {
        (ExportFormat::All, Some(dir)) => {
            std::fs::create_dir_all(dir).map_err(|e| CliError::io("cannot create", dir, e))?;
            ExportFormat::EACH
                .iter()
                .map(|f| {
                    let path = dir.join(f.file_name());
                    export::export_one(&vault, &docs, *f, Some(&path), &auditing)
                })
                .collect::<CliResult<Vec<_>>>()?
        }
        (format, out) => vec![export::export_one(
            &vault,
            &docs,
            format,
            out.as_deref(),
            &auditing,
        )?],
    };
    auditing.finish_and_clear();
    if g.json {
        return print_json(&json!({ "exports": results }));
    }
    for r in &results {
        if let Some(path) = &r.path {
            let skipped = if r.skipped > 0 {
                format!(", {} document(s) skipped", r.skipped)
            } else {
                String::new()
            };
            eprintln!(
                "{:<15} {:>5} record(s) from {} document(s){} → {}",
                r.format,
                r.records,
                r.documents,
                skipped,
                path.display()
            );
        }
    }
    Ok(())
}

pub fn import(g: &Global, args: &ImportArgs) -> CliResult<()> {
    let file =
        std::fs::File::open(&args.file).map_err(|e| CliError::io("cannot open", &args.file, e))?;
    let vault = vault_access::open(g)?;
    let outcome = import::parse(std::io::BufReader::new(file), |code| {
        vault.new_envelope::<fieldvault::model::BearSighting>(code)
    })?;
    let mut rejected = outcome.rejected;
    let mut valid = outcome.parsed.len();
    let mut imported = Vec::new();
    if !args.dry_run {
        let progress = bar(g.json, outcome.parsed.len() as u64, "importing");
        for p in outcome.parsed {
            match vault.insert(p.sighting) {
                Ok(id) => imported.push(id),
                Err(fieldvault::Error::Validation(errors)) => {
                    valid -= 1;
                    // Already checked by the parser; kept as a safety net.
                    rejected.push(import::invalid(p.row, 0, &errors));
                }
                Err(e) => return Err(e.into()),
            }
            progress.inc(1);
        }
        progress.finish_and_clear();
    }
    rejected.sort_by_key(|r| r.row);
    let accepted = valid;
    let strict_error = (args.strict && !rejected.is_empty()).then(|| {
        CliError::new(
            ExitCode::RowsRejected,
            format!("{} row(s) were rejected (--strict)", rejected.len()),
        )
    });
    if g.json {
        print_json(&json!({
            "error": strict_error.as_ref().map(CliError::to_json),
            "file": args.file,
            "dry_run": args.dry_run,
            "imported": if args.dry_run { 0 } else { imported.len() },
            "valid": accepted,
            "rejected": rejected.len(),
            "rejections": rejected,
            "ids": imported,
        }))?;
    } else {
        let verb = if args.dry_run {
            "would import"
        } else {
            "imported"
        };
        line(format!(
            "{verb} {accepted} bear record(s); rejected {} row(s)",
            rejected.len()
        ));
        for r in &rejected {
            line(format!(
                "  row {} (line {}), column {}: {}",
                r.row, r.line, r.column, r.reason
            ));
        }
    }
    match strict_error {
        Some(e) if g.json => Err(e.reported()),
        Some(e) => Err(e),
        None => Ok(()),
    }
}
