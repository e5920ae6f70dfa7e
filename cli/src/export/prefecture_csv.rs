//! Prefecture CSV: bear records in the columns of Akita Prefecture's open
//! data on bear sightings (UTF-8 with BOM, so spreadsheet software reads it).
use std::io::Write;

use chrono::Timelike;
use fieldvault::model::{BearSighting, ObservedTime};

use super::{group_ja, io_err, municipality_name, report_kind_ja, Written, BOM};
use crate::error::CliResult;

pub const COLUMNS: [&str; 10] = [
    "出没情報ID",
    "情報種別",
    "市町村",
    "目撃日時",
    "獣種",
    "頭数",
    "単独か親子",
    "緯度",
    "経度",
    "目撃時の状況",
];

/// `2025/06/01 05:40`, `2025/06/01` (time unknown), or empty.
fn when(t: &ObservedTime) -> String {
    match t {
        ObservedTime::At(ts) => {
            let d = ts.0;
            format!("{} {:02}:{:02}", d.format("%Y/%m/%d"), d.hour(), d.minute())
        }
        ObservedTime::DateOnly(d) => d.0.format("%Y/%m/%d").to_string(),
        ObservedTime::Unknown => String::new(),
    }
}

fn situation(b: &BearSighting) -> String {
    let mut parts = Vec::new();
    if !b.behaviour.trim().is_empty() {
        parts.push(b.behaviour.trim().to_owned());
    }
    if !b.narrative.is_blank() {
        parts.push(b.narrative.as_str().trim().to_owned());
    }
    parts.join(" / ")
}

pub fn write(bears: &[BearSighting], out: &mut dyn Write) -> CliResult<Written> {
    out.write_all(BOM).map_err(io_err)?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    for b in bears {
        let loc = b.location.as_ref();
        w.write_record([
            b.envelope.id.to_string(),
            report_kind_ja(&b.report_kind).to_owned(),
            municipality_name(&b.envelope.municipality_code),
            when(&b.observed_at),
            b.species.label_ja().to_owned(),
            b.count
                .known()
                .map_or_else(|| "不明".to_owned(), |n| n.to_string()),
            group_ja(b.group).to_owned(),
            loc.map(|p| p.latitude.to_string()).unwrap_or_default(),
            loc.map(|p| p.longitude.to_string()).unwrap_or_default(),
            situation(b),
        ])?;
    }
    w.flush().map_err(io_err)?;
    Ok(Written {
        records: bears.len(),
        used: bears.iter().map(|b| b.envelope.id).collect(),
        skipped: 0,
    })
}
