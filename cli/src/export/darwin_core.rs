//! Darwin Core occurrence CSV (a GBIF "simple Darwin Core" text file).
//!
//! One row per bear record; the header names are Darwin Core term names
//! (dwc: namespace, plus the dcterms `type`, `modified`, `language`). Reports
//! of another animal (`Species::Other`) are skipped: they are not bear
//! occurrences. The reporter's contact is never exported.
use std::io::Write;

use fieldvault::model::{BearGroup, BearSighting, ObservedTime, ReportKind, Species, TraceKind};

use super::{io_err, municipality_name, observed_iso, Written};
use crate::error::CliResult;

/// The columns, in order. Every one is a Darwin Core term name.
pub const COLUMNS: [&str; 27] = [
    "occurrenceID",
    "basisOfRecord",
    "type",
    "modified",
    "language",
    "occurrenceStatus",
    "eventDate",
    "year",
    "month",
    "day",
    "decimalLatitude",
    "decimalLongitude",
    "geodeticDatum",
    "coordinateUncertaintyInMeters",
    "countryCode",
    "country",
    "municipality",
    "locality",
    "scientificName",
    "vernacularName",
    "taxonRank",
    "kingdom",
    "family",
    "individualCount",
    "lifeStage",
    "behavior",
    "occurrenceRemarks",
];

/// (scientificName, taxonRank); the vernacular name is the species' own
/// Japanese label.
fn scientific(species: &Species) -> Option<(&'static str, &'static str)> {
    match species {
        Species::BrownBear => Some(("Ursus arctos", "species")),
        Species::BlackBear => Some(("Ursus thibetanus", "species")),
        Species::UnknownBear => Some(("Ursidae", "family")),
        Species::Other(_) => None,
    }
}

fn basis(kind: &ReportKind) -> &'static str {
    match kind {
        // A sensor camera took the record, not a person.
        ReportKind::Trace(TraceKind::Camera) => "MachineObservation",
        _ => "HumanObservation",
    }
}

fn dc_type(kind: &ReportKind) -> &'static str {
    match kind {
        ReportKind::Trace(TraceKind::Camera) => "StillImage",
        _ => "Event",
    }
}

fn life_stage(b: &BearSighting) -> String {
    let adults = b.adults.known().unwrap_or(0) > 0;
    let cubs = b.cubs.known().unwrap_or(0) > 0 || b.group == BearGroup::MotherWithCubs;
    let mother = b.group == BearGroup::MotherWithCubs;
    match (adults || mother, cubs) {
        (true, true) => "adult | juvenile".into(),
        (true, false) => "adult".into(),
        (false, true) => "juvenile".into(),
        (false, false) => String::new(),
    }
}

fn date_parts(t: &ObservedTime) -> (String, String, String) {
    match t.date() {
        Some(d) => {
            use chrono::Datelike;
            (
                d.0.year().to_string(),
                d.0.month().to_string(),
                d.0.day().to_string(),
            )
        }
        None => Default::default(),
    }
}

fn remarks(b: &BearSighting) -> String {
    let mut parts = vec![format!("report: {}", b.report_kind.label_ja())];
    if !b.narrative.is_blank() {
        parts.push(b.narrative.as_str().trim().to_owned());
    }
    parts.join("; ")
}

pub fn write(bears: &[BearSighting], out: &mut dyn Write) -> CliResult<Written> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    let (mut records, mut used, mut skipped) = (0, Vec::new(), 0);
    for b in bears {
        let Some((name, rank)) = scientific(&b.species) else {
            skipped += 1;
            continue;
        };
        let vernacular = b.species.label_ja();
        let (year, month, day) = date_parts(&b.observed_at);
        let loc = b.location.as_ref();
        let count = b.count.known().filter(|n| *n > 0);
        let row: [String; 27] = [
            format!("urn:uuid:{}", b.envelope.id),
            basis(&b.report_kind).into(),
            dc_type(&b.report_kind).into(),
            b.envelope.updated_at.to_rfc3339(),
            "ja".into(),
            "present".into(),
            observed_iso(&b.observed_at),
            year,
            month,
            day,
            loc.map(|p| p.latitude.to_string()).unwrap_or_default(),
            loc.map(|p| p.longitude.to_string()).unwrap_or_default(),
            if loc.is_some() {
                "WGS84".into()
            } else {
                String::new()
            },
            loc.and_then(|p| p.uncertainty_m)
                .map(|u| u.to_string())
                .unwrap_or_default(),
            "JP".into(),
            "Japan".into(),
            municipality_name(&b.envelope.municipality_code),
            b.place_description.trim().to_owned(),
            name.into(),
            vernacular.into(),
            rank.into(),
            "Animalia".into(),
            "Ursidae".into(),
            count.map(|n| n.to_string()).unwrap_or_default(),
            life_stage(b),
            b.behaviour.trim().to_owned(),
            remarks(b),
        ];
        w.write_record(&row)?;
        records += 1;
        used.push(b.envelope.id);
    }
    w.flush().map_err(io_err)?;
    Ok(Written {
        records,
        used,
        skipped,
    })
}
