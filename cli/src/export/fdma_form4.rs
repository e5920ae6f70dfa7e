//! 第4号様式 (FDMA 災害報告取扱要領, 被害状況即報) summary as CSV.
//!
//! One row per figure of the form and per report (第n報): 人的被害 (4 rows),
//! 住家被害 by category in 棟・世帯・人 (8 × 3 rows) and その他 (7 rows), so 35
//! rows per report. A figure is a number or `不明` (unknown, never a silent
//! 0); the column 未確認 says `未確認` when the figure is provisional.
//! UTF-8 with BOM.
use std::io::Write;

use fieldvault::model::{ConfirmableCount, DamageReport, HousingCounts};

use super::{io_err, municipality_name, Written, BOM};
use crate::error::CliResult;

pub const COLUMNS: [&str; 11] = [
    "報告ID",
    "市町村",
    "災害名",
    "報告番号",
    "報告日時",
    "区分",
    "項目",
    "単位",
    "数値",
    "未確認",
    "備考",
];

/// Rows per report.
pub const ROWS_PER_REPORT: usize = 4 + 8 * 3 + 7;

/// Every figure of one report: (区分, 項目, 単位, value).
pub fn figures(
    r: &DamageReport,
) -> Vec<(&'static str, &'static str, &'static str, ConfirmableCount)> {
    let c = &r.summary.casualties;
    let h = &r.summary.housing;
    let i = &r.summary.infrastructure;
    let mut rows = vec![
        ("人的被害", "死者", "人", c.dead),
        ("人的被害", "行方不明者", "人", c.missing),
        ("人的被害", "負傷者 重傷", "人", c.severely_injured),
        ("人的被害", "負傷者 軽傷", "人", c.slightly_injured),
    ];
    let housing: [(&'static str, &HousingCounts); 8] = [
        ("全壊", &h.total_collapse),
        ("大規模半壊", &h.large_scale_half),
        ("中規模半壊", &h.medium_scale_half),
        ("半壊", &h.half_collapse),
        ("準半壊", &h.quasi_half),
        ("一部破損", &h.partial),
        ("床上浸水", &h.flooded_above_floor),
        ("床下浸水", &h.flooded_below_floor),
    ];
    for (name, counts) in housing {
        rows.push(("住家被害", name, "棟", counts.buildings));
        rows.push(("住家被害", name, "世帯", counts.households));
        rows.push(("住家被害", name, "人", counts.people));
    }
    rows.extend([
        ("その他", "道路", "箇所", i.roads),
        ("その他", "橋りょう", "箇所", i.bridges),
        ("その他", "河川", "箇所", i.rivers),
        ("その他", "がけ崩れ", "箇所", i.cliff_collapses),
        ("その他", "断水", "戸", i.water_outage_households),
        ("その他", "停電", "戸", i.power_outage_households),
        ("その他", "その他", "件", i.other),
    ]);
    rows
}

pub fn write(reports: &[DamageReport], out: &mut dyn Write) -> CliResult<Written> {
    out.write_all(BOM).map_err(io_err)?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    let mut records = 0;
    for r in reports {
        let remarks = r.summary.remarks.as_str().trim().to_owned();
        let rows = figures(r);
        debug_assert_eq!(rows.len(), ROWS_PER_REPORT);
        for (index, (section, item, unit, value)) in rows.into_iter().enumerate() {
            w.write_record([
                r.envelope.id.to_string(),
                municipality_name(&r.envelope.municipality_code),
                r.summary.disaster_name.trim().to_owned(),
                format!("第{}報", r.summary.report_number),
                r.summary.as_of.0.format("%Y/%m/%d %H:%M").to_string(),
                section.to_owned(),
                item.to_owned(),
                unit.to_owned(),
                value
                    .count
                    .known()
                    .map_or_else(|| "不明".to_owned(), |n| n.to_string()),
                if value.unconfirmed { "未確認" } else { "" }.to_owned(),
                // 備考 once per report, on its first row.
                if index == 0 {
                    remarks.clone()
                } else {
                    String::new()
                },
            ])?;
            records += 1;
        }
    }
    w.flush().map_err(io_err)?;
    Ok(Written {
        records,
        used: reports.iter().map(|r| r.envelope.id).collect(),
        skipped: 0,
    })
}
