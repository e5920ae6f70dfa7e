//! Import of municipal bear-sighting CSVs (Sapporo open-data layout:
//! `日付,時刻,区,出没場所,緯度,経度,状況`).
//!
//! Real files are dirty: the time may be `不明` or empty, or `0:00` with a
//! note that the time is unknown; cells span several lines; a coordinate may
//! carry a stray comma. Rules (docs/exports.md):
//!
//! * a row is rejected (with its line number and the reason) when its date
//!   is not a date, or a coordinate is not a plain decimal number or lies
//!   outside Japan — a coordinate is never guessed;
//! * an unknown time gives a date-only observation, never a fake midnight;
//! * 状況 is kept verbatim as the narrative and read for the report kind
//!   (目撃, 痕跡 and which trace, 駆除 → capture, 負傷 → injury, 荒らされた → crop
//!   damage), the certainty (らしき → possible) and the count and group
//!   ((2頭), (親子), (親1頭、子2頭)).
use std::io::Read;

use fieldvault::model::{
    BearGroup, BearSighting, Certainty, Count, DocumentBody, Envelope, GeoPoint, LocalDate,
    ObservedTime, ReportKind, Species, Status, Timestamp, TraceKind, ValidationErrors,
};
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::export::sapporo_ward_code;

pub const HEADER: [&str; 7] = ["日付", "時刻", "区", "出没場所", "緯度", "経度", "状況"];
/// Largest CSV accepted.
const MAX_BYTES: u64 = 64 * 1024 * 1024;
/// 札幌市.
pub const SAPPORO: &str = "011002";

/// A row that was not imported.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Rejected {
    /// Data row number (1 = the first row after the header).
    pub row: u64,
    /// Line of the file where the row starts (1 = the header line).
    pub line: u64,
    /// Which column failed (its header name).
    pub column: String,
    /// Why; never the cell's value.
    pub reason: String,
}

/// A parsed row, ready to be stored.
pub struct Parsed {
    pub row: u64,
    pub sighting: BearSighting,
}

pub struct ParseOutcome {
    pub parsed: Vec<Parsed>,
    pub rejected: Vec<Rejected>,
}

/// Parses the whole file. `envelope` makes a fresh envelope for a
/// municipality code (the vault's `new_envelope`).
pub fn parse(
    mut input: impl Read,
    mut envelope: impl FnMut(&str) -> Envelope,
) -> CliResult<ParseOutcome> {
    // Municipal CSVs are small; reading the file whole lets rows be reported
    // by their physical line (csv counts records, not newlines inside cells).
    let mut text = Vec::new();
    input
        .by_ref()
        .take(MAX_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| {
            CliError::new(
                crate::error::ExitCode::Io,
                format!("cannot read the CSV: {e}"),
            )
        })?;
    if text.len() as u64 > MAX_BYTES {
        return Err(CliError::invalid("the CSV is larger than 64 MiB"));
    }
    // Where each line break is, found once: a row's line is then a binary
    // search, not a count from the top of the file for every row.
    let breaks: Vec<usize> = text
        .iter()
        .enumerate()
        .filter_map(|(i, b)| (*b == b'\n').then_some(i))
        .collect();
    let line_of = |byte: u64| -> u64 {
        // csv may place a record's start on the line break that ends the
        // previous record (CRLF): skip breaks to the record's first byte.
        let mut end = usize::try_from(byte).unwrap_or(usize::MAX).min(text.len());
        while end < text.len() && matches!(text[end], b'\r' | b'\n') {
            end += 1;
        }
        1 + breaks.partition_point(|&i| i < end) as u64
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_slice());
    let headers = reader.headers()?.clone();
    let names: Vec<String> = headers
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
        .collect();
    let column = |name: &str| -> CliResult<usize> {
        names.iter().position(|h| h == name).ok_or_else(|| {
            CliError::invalid(format!(
                "the CSV has no column {name} (expected the columns {})",
                HEADER.join(",")
            ))
        })
    };
    let idx = [
        column("日付")?,
        column("時刻")?,
        column("区")?,
        column("出没場所")?,
        column("緯度")?,
        column("経度")?,
        column("状況")?,
    ];
    let mut out = ParseOutcome {
        parsed: Vec::new(),
        rejected: Vec::new(),
    };
    let mut record = csv::StringRecord::new();
    let mut row = 0u64;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // A broken row (bad UTF-8, for instance) is reported; reading goes on
                // only if the reader can resynchronise, which csv does per record.
                row += 1;
                let line = e.position().map_or(0, |p| line_of(p.byte()));
                out.rejected.push(Rejected {
                    row,
                    line,
                    column: String::new(),
                    reason: "the row could not be read as CSV text".into(),
                });
                if e.is_io_error() {
                    return Err(e.into());
                }
                continue;
            }
        }
        row += 1;
        let line = record.position().map_or(0, |p| line_of(p.byte()));
        let cell = |i: usize| record.get(idx[i]).unwrap_or("").trim();
        if record.iter().all(|c| c.trim().is_empty()) {
            continue; // blank line at the end of a file
        }
        let reject = |col: usize, reason: &str| Rejected {
            row,
            line,
            column: HEADER[col].to_owned(),
            reason: reason.to_owned(),
        };
        match parse_row([
            cell(0),
            cell(1),
            cell(2),
            cell(3),
            cell(4),
            cell(5),
            cell(6),
        ]) {
            Ok(fields) => {
                let code = sapporo_ward_code(fields.ward).unwrap_or(SAPPORO);
                let sighting = fields.into_sighting(envelope(code));
                // Checked here as the vault will check it, so a dry run
                // reports exactly the rows a real import rejects.
                match sighting.validate_for_storage() {
                    Ok(()) => out.parsed.push(Parsed { row, sighting }),
                    Err(errors) => out.rejected.push(invalid(row, line, &errors)),
                }
            }
            Err((col, reason)) => out.rejected.push(reject(col, reason)),
        }
    }
    Ok(out)
}

/// A row whose record the vault would not store (field-level errors; the
/// message names fields and rules, never values).
pub fn invalid(row: u64, line: u64, errors: &ValidationErrors) -> Rejected {
    Rejected {
        row,
        line,
        column: errors
            .0
            .first()
            .map(|e| e.field.clone())
            .unwrap_or_default(),
        reason: format!("the record does not validate: {errors}"),
    }
}

struct RowFields<'a> {
    date: LocalDate,
    time: Option<(u32, u32)>,
    ward: &'a str,
    place: &'a str,
    point: GeoPoint,
    situation: &'a str,
}

type RowError = (usize, &'static str);

fn parse_row(c: [&str; 7]) -> Result<RowFields<'_>, RowError> {
    let date = parse_date(c[0]).ok_or((0, "the date is not a date of the form YYYY/M/D"))?;
    let situation = c[6];
    let time_unknown_note = situation.contains("時間は不明") || situation.contains("時刻は不明");
    let time = match c[1] {
        "" | "不明" => None,
        t => Some(parse_time(t).ok_or((1, "the time is neither H:MM nor 不明"))?),
    };
    // "0:00" together with "目撃時間は不明" is a placeholder, not midnight.
    let time = if time_unknown_note { None } else { time };
    let lat = parse_decimal(c[4]).ok_or((4, "the latitude is not a decimal number"))?;
    let lon = parse_decimal(c[5]).ok_or((5, "the longitude is not a decimal number"))?;
    if !(20.0..=46.0).contains(&lat) {
        return Err((4, "the latitude is outside Japan (20–46° N)"));
    }
    if !(122.0..=154.0).contains(&lon) {
        return Err((5, "the longitude is outside Japan (122–154° E)"));
    }
    if c[3].is_empty() && c[2].is_empty() {
        return Err((3, "the place is empty"));
    }
    Ok(RowFields {
        date,
        time,
        ward: c[2],
        place: c[3],
        point: GeoPoint::new(lat, lon),
        situation,
    })
}

fn parse_date(s: &str) -> Option<LocalDate> {
    let mut parts = s.split('/');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    LocalDate::from_ymd(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

fn parse_time(s: &str) -> Option<(u32, u32)> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && (1..=2).contains(&s.split_once(':')?.0.len())).then_some((h, m))
}

/// A plain decimal: digits with at most one point, optional sign. Nothing
/// else (no trailing comma, no exponent, no NaN).
fn parse_decimal(s: &str) -> Option<f64> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let plain = !body.is_empty()
        && body.chars().all(|c| c.is_ascii_digit() || c == '.')
        && body.chars().filter(|c| *c == '.').count() <= 1
        && body.chars().any(|c| c.is_ascii_digit());
    if !plain {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// The first trace named in the text, in the order it is named.
fn trace_kind(text: &str) -> Option<TraceKind> {
    const WORDS: [(&str, TraceKind); 11] = [
        ("カメラ", TraceKind::Camera),
        ("足跡", TraceKind::Footprint),
        ("フン", TraceKind::Scat),
        ("糞", TraceKind::Scat),
        ("食痕", TraceKind::Feeding),
        ("掘り跡", TraceKind::Feeding),
        ("堀り跡", TraceKind::Feeding),
        ("爪跡", TraceKind::Claw),
        ("爪痕", TraceKind::Claw),
        ("被毛", TraceKind::Hair),
        ("体毛", TraceKind::Hair),
    ];
    WORDS
        .iter()
        .filter_map(|(word, kind)| text.find(word).map(|at| (at, *kind)))
        .min_by_key(|(at, _)| *at)
        .map(|(_, kind)| kind)
}

/// Numbers written with full-width digits are normalised first.
fn ascii_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '（' => '(',
            '）' => ')',
            c => c,
        })
        .collect()
}

/// The number before `unit` right after `prefix`, e.g. "親1頭" → 1.
fn number_after(text: &str, prefix: &str) -> Option<u32> {
    let at = text.find(prefix)? + prefix.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl RowFields<'_> {
    fn into_sighting(self, envelope: Envelope) -> BearSighting {
        let text = ascii_digits(self.situation);
        let mut b = BearSighting::new(envelope);
        b.envelope.status = Status::Acknowledged;
        b.species = Species::BrownBear; // Sapporo: only ヒグマ
        b.report_kind = if text.contains("負傷") {
            ReportKind::Injury
        } else if text.contains("駆除") || text.contains("捕獲") {
            ReportKind::Capture
        } else if text.contains("荒らされ") {
            ReportKind::CropDamage
        } else if let Some(trace) = trace_kind(&text) {
            ReportKind::Trace(trace)
        } else {
            // 目撃, 鳴き声, 音: reported presence.
            ReportKind::Sighting
        };
        b.certainty = if text.contains("らしき") {
            Certainty::Possible
        } else if matches!(
            b.report_kind,
            ReportKind::Capture | ReportKind::Injury | ReportKind::Trace(TraceKind::Camera)
        ) {
            Certainty::Confirmed
        } else {
            Certainty::Probable
        };
        b.observed_at = match self.time {
            Some((h, m)) => jst(self.date, h, m)
                .map(ObservedTime::At)
                .unwrap_or(ObservedTime::DateOnly(self.date)),
            None => ObservedTime::DateOnly(self.date),
        };
        b.location = Some(self.point);
        b.place_description = if self.place.is_empty() {
            self.ward.to_owned()
        } else {
            self.place.to_owned()
        };
        if text.contains("親子") {
            b.group = BearGroup::MotherWithCubs;
        }
        if let (Some(a), Some(c)) = (number_after(&text, "親"), number_after(&text, "子")) {
            b.group = BearGroup::MotherWithCubs;
            b.adults = Count::Known(a);
            b.cubs = Count::Known(c);
            b.count = Count::Known(a + c);
        } else if let Some(n) = number_after(&text, "(") {
            if text[text.find('(').unwrap_or(0)..].contains('頭') {
                b.count = Count::Known(n);
                if b.group == BearGroup::Unknown && n > 1 {
                    b.group = BearGroup::Multiple;
                }
            }
        }
        b.narrative = self.situation.trim().into();
        b
    }
}

fn jst(date: LocalDate, h: u32, m: u32) -> Option<Timestamp> {
    let offset = chrono::FixedOffset::east_opt(9 * 3600)?;
    let naive = date.0.and_hms_opt(h, m, 0)?;
    naive
        .and_local_timezone(offset)
        .single()
        .map(Timestamp::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldvault::model::{DocumentBody, DocumentKind};

    fn env(code: &str) -> Envelope {
        Envelope::new(
            DocumentKind::BearSighting,
            1,
            code,
            "office",
            "desktop",
            Timestamp::parse("2026-01-01T00:00:00+09:00").expect("ts"),
        )
    }

    fn one(csv_text: &str) -> ParseOutcome {
        parse(csv_text.as_bytes(), env).expect("parse")
    }

    const HEAD: &str = "\u{feff}日付,時刻,区,出没場所,緯度,経度,状況\r\n";

    #[test]
    fn a_clean_row() {
        let out = one(&format!(
            "{HEAD}2025/4/3,9:30,南区,南区小金湯566番地1付近,42.958919,141.227386,ヒグマを目撃(親1頭、子2頭)\r\n"
        ));
        assert!(out.rejected.is_empty());
        let b = &out.parsed[0].sighting;
        assert_eq!(b.envelope.municipality_code, "011061");
        assert_eq!(
            b.observed_at,
            ObservedTime::At(Timestamp::parse("2025-04-03T09:30:00+09:00").expect("ts"))
        );
        assert_eq!(
            (b.count, b.adults, b.cubs),
            (Count::Known(3), Count::Known(1), Count::Known(2))
        );
        assert_eq!(b.group, BearGroup::MotherWithCubs);
        assert_eq!(b.report_kind, ReportKind::Sighting);
        assert_eq!(b.validate(), Ok(()));
    }

    #[test]
    fn unknown_times_and_traces() {
        let out = one(&format!(
            "{HEAD}2025/4/12,不明,西区,西区自然歩道,43.06342,141.1921,足跡を確認\r\n\
             2026/4/18,0:00,南区,南区,42.9,141.2,ヒグマらしき動物を目撃 ※目撃時間は不明\r\n\
             2026/6/18,,南区,南区,42.9,141.2,\"フン、足跡を確認\n\"\r\n"
        ));
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        let [a, b, c] = [0, 1, 2].map(|i| &out.parsed[i].sighting);
        assert_eq!(
            a.observed_at,
            ObservedTime::DateOnly(LocalDate::from_ymd(2025, 4, 12).expect("d"))
        );
        assert_eq!(a.report_kind, ReportKind::Trace(TraceKind::Footprint));
        assert!(matches!(b.observed_at, ObservedTime::DateOnly(_)));
        assert_eq!(b.certainty, Certainty::Possible);
        assert!(matches!(c.observed_at, ObservedTime::DateOnly(_)));
        assert_eq!(c.report_kind, ReportKind::Trace(TraceKind::Scat));
        assert_eq!(c.narrative.as_str(), "フン、足跡を確認");
    }

    #[test]
    fn malformed_coordinates_are_rejected_with_line_and_reason() {
        let out = one(&format!(
            "{HEAD}2025/9/1,10:00,南区,\"a\nb\",\"42.950660,\",141.285965,ヒグマを目撃\r\n\
             2025/9/2,10:00,南区,x,35.0,200.0,ヒグマを目撃\r\n\
             2025/13/2,10:00,南区,x,35.0,140.0,ヒグマを目撃\r\n"
        ));
        assert!(out.parsed.is_empty());
        let r = &out.rejected;
        assert_eq!((r[0].row, r[0].line, r[0].column.as_str()), (1, 2, "緯度"));
        assert_eq!(r[0].reason, "the latitude is not a decimal number");
        assert_eq!((r[1].row, r[1].line, r[1].column.as_str()), (2, 4, "経度"));
        assert_eq!((r[2].row, r[2].column.as_str()), (3, "日付"));
    }

    #[test]
    fn rows_the_vault_would_refuse_are_rejected_while_parsing() {
        // Parses, but "mother with cubs" and zero cubs do not validate: a dry
        // run must count it as rejected, as the real import would.
        let out = one(&format!(
            "{HEAD}2025/6/1,10:00,南区,藻岩山,42.95,141.3,親1頭子0頭を目撃\r\n\
             2025/6/2,10:00,南区,藻岩山,42.95,141.3,ヒグマを目撃\r\n"
        ));
        assert_eq!(out.parsed.len(), 1);
        assert_eq!(out.parsed[0].row, 2);
        let r = &out.rejected;
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!((r[0].row, r[0].line, r[0].column.as_str()), (1, 2, "cubs"));
        assert!(
            r[0].reason.starts_with("the record does not validate"),
            "{}",
            r[0].reason
        );
    }

    #[test]
    fn decimals_are_strict() {
        assert_eq!(parse_decimal("42.95"), Some(42.95));
        assert_eq!(parse_decimal("-1"), Some(-1.0));
        for bad in ["42.950660,", "1e3", "NaN", "", ".", "4.2.1", "42,95"] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
    }
}
