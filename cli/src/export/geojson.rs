//! GeoJSON (RFC 7946) FeatureCollections: bear sightings and damage sites.
//!
//! Positions are `[longitude, latitude]` in WGS 84 (RFC 7946 §3.1.1), with
//! altitude as a third element when known. A record without a position is
//! still exported, with `"geometry": null` (RFC 7946 §3.2), so the feature
//! count equals the record count. Reporter contacts are never exported.
use std::io::Write;

use fieldvault::model::{BearSighting, DamageReport, GeoPoint, HouseDamageLevel, SiteTarget};
use serde_json::{json, Value};

use super::{
    count_json, group_code, group_ja, io_err, municipality_name, observed_iso, report_kind_code,
    report_kind_ja, species_code, Written,
};
use crate::error::CliResult;

fn point(p: &GeoPoint) -> Value {
    let mut coordinates = vec![json!(p.longitude), json!(p.latitude)];
    if let Some(alt) = p.altitude_m {
        coordinates.push(json!(alt));
    }
    json!({ "type": "Point", "coordinates": coordinates })
}

fn geometry(p: Option<&GeoPoint>) -> Value {
    p.map_or(Value::Null, point)
}

fn write_collection(features: Vec<Value>, name: &str, out: &mut dyn Write) -> CliResult<()> {
    let collection = json!({
        "type": "FeatureCollection",
        "name": name,
        "features": features,
    });
    serde_json::to_writer_pretty(&mut *out, &collection)
        .map_err(|e| io_err(std::io::Error::other(e)))?;
    out.write_all(b"\n").map_err(io_err)
}

/// Bear sightings, one Feature each.
pub fn bears(bears: &[BearSighting], out: &mut dyn Write) -> CliResult<Written> {
    let features: Vec<Value> = bears
        .iter()
        .map(|b| {
            let env = &b.envelope;
            json!({
                "type": "Feature",
                "id": env.id.to_string(),
                "geometry": geometry(b.location.as_ref()),
                "properties": {
                    "id": env.id.to_string(),
                    "municipality_code": env.municipality_code,
                    "municipality": municipality_name(&env.municipality_code),
                    "status": env.status.as_str(),
                    "report_kind": report_kind_code(&b.report_kind),
                    "report_kind_ja": report_kind_ja(&b.report_kind),
                    "report_kind_label": b.report_kind.label_ja(),
                    "species": species_code(&b.species),
                    "species_ja": b.species.label_ja(),
                    "certainty": serde_json::to_value(b.certainty).unwrap_or(Value::Null),
                    "observed_at": observed_iso(&b.observed_at),
                    "place_description": b.place_description,
                    "count": count_json(b.count),
                    "adults": count_json(b.adults),
                    "cubs": count_json(b.cubs),
                    "group": group_code(b.group),
                    "group_ja": group_ja(b.group),
                    "behaviour": b.behaviour,
                    "distance_m": b.distance_m,
                    "narrative": b.narrative.as_str(),
                    "response_taken": b.response_taken.as_str(),
                    "coordinate_uncertainty_m": b.location.and_then(|p| p.uncertainty_m),
                    "photo_count": env.photos.len(),
                    "updated_at": env.updated_at.to_rfc3339(),
                }
            })
        })
        .collect();
    let records = features.len();
    write_collection(features, "bear_sightings", out)?;
    Ok(Written {
        records,
        used: bears.iter().map(|b| b.envelope.id).collect(),
        skipped: 0,
    })
}

pub fn site_target_ja(t: SiteTarget) -> &'static str {
    match t {
        SiteTarget::House => "住家",
        SiteTarget::Road => "道路",
        SiteTarget::Bridge => "橋りょう",
        SiteTarget::River => "河川",
        SiteTarget::Slope => "斜面・がけ",
        SiteTarget::Utility => "ライフライン",
        SiteTarget::PublicFacility => "公共施設",
        SiteTarget::Other => "その他",
    }
}

pub fn damage_level_ja(l: HouseDamageLevel) -> &'static str {
    match l {
        HouseDamageLevel::TotalCollapse => "全壊",
        HouseDamageLevel::LargeScaleHalf => "大規模半壊",
        HouseDamageLevel::MediumScaleHalf => "中規模半壊",
        HouseDamageLevel::HalfCollapse => "半壊",
        HouseDamageLevel::QuasiHalf => "準半壊",
        HouseDamageLevel::Partial => "一部破損",
        HouseDamageLevel::FloodedAboveFloor => "床上浸水",
        HouseDamageLevel::FloodedBelowFloor => "床下浸水",
        HouseDamageLevel::None => "被害なし",
    }
}

/// Surveyed damage sites, one Feature per site of every damage report.
pub fn damage_sites(reports: &[DamageReport], out: &mut dyn Write) -> CliResult<Written> {
    let mut features = Vec::new();
    let mut used = Vec::new();
    let mut skipped = 0;
    for r in reports {
        if r.sites.is_empty() {
            skipped += 1;
            continue;
        }
        used.push(r.envelope.id);
        for s in &r.sites {
            let survey = s.house_survey.as_ref();
            features.push(json!({
                "type": "Feature",
                "id": s.id.to_string(),
                "geometry": geometry(s.position.as_ref()),
                "properties": {
                    "site_id": s.id.to_string(),
                    "report_id": r.envelope.id.to_string(),
                    "municipality_code": r.envelope.municipality_code,
                    "municipality": municipality_name(&r.envelope.municipality_code),
                    "disaster_name": r.summary.disaster_name,
                    "report_number": r.summary.report_number,
                    "as_of": r.summary.as_of.to_rfc3339(),
                    "target_type": serde_json::to_value(s.target_type).unwrap_or(Value::Null),
                    "target_type_ja": site_target_ja(s.target_type),
                    "address": s.address,
                    "passable": s.passable,
                    "damage_level": survey.map(|h| serde_json::to_value(h.damage_level).unwrap_or(Value::Null)),
                    "damage_level_ja": survey.map(|h| damage_level_ja(h.damage_level)),
                    "flood_depth_cm": survey.and_then(|h| h.flood_depth_cm),
                    "survey_notes": survey.map(|h| h.notes.as_str()),
                    "notes": s.notes.as_str(),
                    "photo_count": s.photo_ids.len(),
                }
            }));
        }
    }
    let records = features.len();
    write_collection(features, "damage_sites", out)?;
    Ok(Written {
        records,
        used,
        skipped,
    })
}
