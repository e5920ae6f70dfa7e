//! Exports computed on the desktop from decrypted documents (docs/exports.md).
//!
//! Each format is a small module with one pure function over the documents
//! that writes to any `Write` and returns how many records it wrote; this
//! module loads the documents from the vault and records the export in the
//! audit log.
pub mod darwin_core;
pub mod fdma_form4;
pub mod geojson;
pub mod prefecture_csv;

use std::io::Write;
use std::path::{Path, PathBuf};

use fieldvault::model::{
    BearGroup, BearSighting, Count, DamageReport, DocumentId, DocumentKind, ObservedTime,
    ReportKind, Species,
};
use fieldvault::{ListFilter, Vault};
use serde::Serialize;

use crate::cli::ExportFormat;
use crate::error::{CliError, CliResult};

/// UTF-8 byte order mark: Japanese spreadsheet software needs it to read UTF-8 CSV.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

impl ExportFormat {
    pub const EACH: [ExportFormat; 5] = [
        ExportFormat::BearGeojson,
        ExportFormat::DarwinCore,
        ExportFormat::PrefectureCsv,
        ExportFormat::FdmaForm4,
        ExportFormat::DamageGeojson,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::BearGeojson => "bear-geojson",
            ExportFormat::DarwinCore => "darwin-core",
            ExportFormat::PrefectureCsv => "prefecture-csv",
            ExportFormat::FdmaForm4 => "fdma-form4",
            ExportFormat::DamageGeojson => "damage-geojson",
            ExportFormat::All => "all",
        }
    }

    /// File name used by `export all`.
    pub fn file_name(self) -> &'static str {
        match self {
            ExportFormat::BearGeojson => "bear_sightings.geojson",
            ExportFormat::DarwinCore => "bear_sightings_dwc_occurrence.csv",
            ExportFormat::PrefectureCsv => "bear_sightings_prefecture.csv",
            ExportFormat::FdmaForm4 => "damage_fdma_form4.csv",
            ExportFormat::DamageGeojson => "damage_sites.geojson",
            ExportFormat::All => "",
        }
    }
}

/// The decrypted documents an export works on.
#[derive(Default)]
pub struct Documents {
    pub bears: Vec<BearSighting>,
    pub damage: Vec<DamageReport>,
}

impl Documents {
    /// Loads every bear sighting and damage report, oldest first.
    pub fn load(vault: &Vault, progress: &indicatif::ProgressBar) -> CliResult<Self> {
        let mut docs = Documents::default();
        // One listing (each call decrypts every header, whatever the filter).
        let mut listed = vault.list(&ListFilter::default())?.documents;
        listed.retain(|d| {
            matches!(
                d.kind,
                DocumentKind::BearSighting | DocumentKind::DamageReport
            )
        });
        listed.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        progress.set_length(listed.len() as u64);
        for summary in listed {
            match summary.kind {
                DocumentKind::BearSighting => docs.bears.push(vault.get(&summary.id)?),
                DocumentKind::DamageReport => docs.damage.push(vault.get(&summary.id)?),
                DocumentKind::TaxAssist | DocumentKind::AuditLog => {}
            }
            progress.inc(1);
        }
        Ok(docs)
    }
}

/// What one export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportResult {
    pub format: &'static str,
    /// The file written; `None` for stdout.
    pub path: Option<PathBuf>,
    /// Records (features or CSV rows) written.
    pub records: usize,
    /// Documents the records came from (audited).
    pub documents: usize,
    /// Documents left out, with the reason (e.g. not a bear).
    pub skipped: usize,
}

/// Output of one format: records written, documents used, documents skipped.
pub struct Written {
    pub records: usize,
    pub used: Vec<DocumentId>,
    pub skipped: usize,
}

/// Writes `format` for `docs` to `out`.
pub fn write_format(
    format: ExportFormat,
    docs: &Documents,
    out: &mut dyn Write,
) -> CliResult<Written> {
    let w = match format {
        ExportFormat::BearGeojson => geojson::bears(&docs.bears, out)?,
        ExportFormat::DarwinCore => darwin_core::write(&docs.bears, out)?,
        ExportFormat::PrefectureCsv => prefecture_csv::write(&docs.bears, out)?,
        ExportFormat::FdmaForm4 => fdma_form4::write(&docs.damage, out)?,
        ExportFormat::DamageGeojson => geojson::damage_sites(&docs.damage, out)?,
        ExportFormat::All => return Err(CliError::internal("`all` is not a single format")),
    };
    Ok(w)
}

/// Exports one format to `path` (or stdout) and audits it.
pub fn export_one(
    vault: &Vault,
    docs: &Documents,
    format: ExportFormat,
    path: Option<&Path>,
    progress: &indicatif::ProgressBar,
) -> CliResult<ExportResult> {
    let written = match path {
        Some(path) => {
            let file =
                std::fs::File::create(path).map_err(|e| CliError::io("cannot create", path, e))?;
            let mut out = std::io::BufWriter::new(file);
            let w = write_format(format, docs, &mut out)?;
            out.flush()
                .map_err(|e| CliError::io("cannot write", path, e))?;
            w
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let w = write_format(format, docs, &mut out)?;
            let _ = out.flush();
            w
        }
    };
    if let Err(e) = crate::audit::record_exports(vault, &written.used, format.name(), progress) {
        // An export that is not in the audit log must not stay on disk.
        if let Some(path) = path {
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    Ok(ExportResult {
        format: format.name(),
        path: path.map(Path::to_path_buf),
        records: written.records,
        documents: written.used.len(),
        skipped: written.skipped,
    })
}

pub(crate) fn io_err(e: std::io::Error) -> CliError {
    CliError::new(
        crate::error::ExitCode::Io,
        format!("cannot write the export: {e}"),
    )
}

// ---- shared labels -------------------------------------------------------

/// 情報種別 (prefecture labels).
pub fn report_kind_ja(kind: &ReportKind) -> &'static str {
    match kind {
        ReportKind::Sighting => "目撃",
        ReportKind::Trace(_) => "痕跡",
        ReportKind::CropDamage => "農作物被害",
        ReportKind::Injury => "人身被害",
        ReportKind::Capture => "捕獲",
    }
}

/// Stable machine name of a report kind (`trace:footprint` …).
pub fn report_kind_code(kind: &ReportKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .map(|v| match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Object(m) => m
                .iter()
                .next()
                .map(|(k, v)| format!("{k}:{}", v.as_str().unwrap_or_default()))
                .unwrap_or_default(),
            other => other.to_string(),
        })
        .unwrap_or_default()
}

pub fn species_code(species: &Species) -> &'static str {
    match species {
        Species::BrownBear => "brown_bear",
        Species::BlackBear => "black_bear",
        Species::UnknownBear => "unknown_bear",
        Species::Other(_) => "other",
    }
}

/// 単独か親子.
pub fn group_ja(group: BearGroup) -> &'static str {
    match group {
        BearGroup::Single => "単独",
        BearGroup::MotherWithCubs => "親子",
        BearGroup::Multiple => "複数",
        BearGroup::Unknown => "不明",
    }
}

pub fn group_code(group: BearGroup) -> &'static str {
    match group {
        BearGroup::Single => "single",
        BearGroup::MotherWithCubs => "mother_with_cubs",
        BearGroup::Multiple => "multiple",
        BearGroup::Unknown => "unknown",
    }
}

/// A count as a JSON value: a number, or null when unknown.
pub fn count_json(c: Count) -> serde_json::Value {
    c.known()
        .map_or(serde_json::Value::Null, serde_json::Value::from)
}

/// ISO 8601: date-time with offset, date only, or empty when unknown.
pub fn observed_iso(t: &ObservedTime) -> String {
    match t {
        ObservedTime::At(ts) => ts.to_rfc3339(),
        ObservedTime::DateOnly(d) => d.to_iso(),
        ObservedTime::Unknown => String::new(),
    }
}

/// Names of the municipalities this tool knows (全国地方公共団体コード → 名称);
/// other codes are exported as the code itself.
pub fn municipality_name(code: &str) -> String {
    let name = match code {
        "011002" => "札幌市",
        "011011" => "札幌市中央区",
        "011029" => "札幌市北区",
        "011037" => "札幌市東区",
        "011045" => "札幌市白石区",
        "011053" => "札幌市豊平区",
        "011061" => "札幌市南区",
        "011070" => "札幌市西区",
        "011088" => "札幌市厚別区",
        "011096" => "札幌市手稲区",
        "011100" => "札幌市清田区",
        "052019" => "秋田市",
        _ => return code.to_owned(),
    };
    name.to_owned()
}

/// Ward name (区) → 全国地方公共団体コード, for Sapporo.
pub fn sapporo_ward_code(ward: &str) -> Option<&'static str> {
    Some(match ward.trim() {
        "中央区" => "011011",
        "北区" => "011029",
        "東区" => "011037",
        "白石区" => "011045",
        "豊平区" => "011053",
        "南区" => "011061",
        "西区" => "011070",
        "厚別区" => "011088",
        "手稲区" => "011096",
        "清田区" => "011100",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ward_codes_have_valid_check_digits() {
        for ward in [
            "中央区",
            "北区",
            "東区",
            "白石区",
            "豊平区",
            "南区",
            "西区",
            "厚別区",
            "手稲区",
            "清田区",
        ] {
            let code = sapporo_ward_code(ward).expect("known ward");
            assert_eq!(
                fieldvault::model::validate_municipality_code(code),
                Ok(()),
                "{ward} {code}"
            );
            assert!(municipality_name(code).ends_with(ward));
        }
    }

    #[test]
    fn report_kind_codes() {
        assert_eq!(report_kind_code(&ReportKind::Sighting), "sighting");
        assert_eq!(
            report_kind_code(&ReportKind::Trace(fieldvault::model::TraceKind::Scat)),
            "trace:scat"
        );
    }
}
