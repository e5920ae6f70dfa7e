//! Exports parsed back: GeoJSON with a real parser, CSVs by header and row
//! count, Darwin Core columns against the list of Darwin Core terms.
mod common;

use std::str::FromStr;

use common::*;
use fieldvault::model::{BearSighting, DamageReport};
use fieldvault::{sample_data as s, Vault, VaultOptions};

/// Darwin Core term names (https://dwc.tdwg.org/terms/, dwc: namespace) that
/// an occurrence core may use, plus the dcterms record-level terms.
const DWC_TERMS: &[&str] = &[
    // record-level (dcterms and dwc)
    "type",
    "modified",
    "language",
    "license",
    "rightsHolder",
    "accessRights",
    "bibliographicCitation",
    "references",
    "institutionID",
    "collectionID",
    "datasetID",
    "institutionCode",
    "collectionCode",
    "datasetName",
    "ownerInstitutionCode",
    "basisOfRecord",
    "informationWithheld",
    "dataGeneralizations",
    "dynamicProperties",
    // Occurrence
    "occurrenceID",
    "catalogNumber",
    "recordNumber",
    "recordedBy",
    "recordedByID",
    "individualCount",
    "organismQuantity",
    "organismQuantityType",
    "sex",
    "lifeStage",
    "reproductiveCondition",
    "caste",
    "behavior",
    "vitality",
    "establishmentMeans",
    "degreeOfEstablishment",
    "pathway",
    "georeferenceVerificationStatus",
    "occurrenceStatus",
    "associatedMedia",
    "associatedOccurrences",
    "associatedReferences",
    "associatedTaxa",
    "otherCatalogNumbers",
    "occurrenceRemarks",
    // Event
    "eventID",
    "parentEventID",
    "eventType",
    "fieldNumber",
    "eventDate",
    "eventTime",
    "startDayOfYear",
    "endDayOfYear",
    "year",
    "month",
    "day",
    "verbatimEventDate",
    "habitat",
    "samplingProtocol",
    "sampleSizeValue",
    "sampleSizeUnit",
    "samplingEffort",
    "fieldNotes",
    "eventRemarks",
    // Location
    "locationID",
    "higherGeographyID",
    "higherGeography",
    "continent",
    "waterBody",
    "islandGroup",
    "island",
    "country",
    "countryCode",
    "stateProvince",
    "county",
    "municipality",
    "locality",
    "verbatimLocality",
    "minimumElevationInMeters",
    "maximumElevationInMeters",
    "verbatimElevation",
    "locationAccordingTo",
    "locationRemarks",
    "decimalLatitude",
    "decimalLongitude",
    "geodeticDatum",
    "coordinateUncertaintyInMeters",
    "coordinatePrecision",
    "verbatimCoordinates",
    "verbatimLatitude",
    "verbatimLongitude",
    "verbatimCoordinateSystem",
    "verbatimSRS",
    "georeferencedBy",
    "georeferencedDate",
    "georeferenceProtocol",
    "georeferenceSources",
    "georeferenceRemarks",
    // Identification
    "identificationID",
    "verbatimIdentification",
    "identificationQualifier",
    "typeStatus",
    "identifiedBy",
    "dateIdentified",
    "identificationReferences",
    "identificationVerificationStatus",
    "identificationRemarks",
    // Taxon
    "taxonID",
    "scientificNameID",
    "scientificName",
    "acceptedNameUsage",
    "higherClassification",
    "kingdom",
    "phylum",
    "class",
    "order",
    "family",
    "subfamily",
    "genus",
    "specificEpithet",
    "infraspecificEpithet",
    "taxonRank",
    "verbatimTaxonRank",
    "scientificNameAuthorship",
    "vernacularName",
    "nomenclaturalCode",
    "taxonomicStatus",
    "taxonRemarks",
];

fn read_csv(path: &std::path::Path) -> (Vec<String>, Vec<csv::StringRecord>) {
    let bytes = std::fs::read(path).expect("read csv");
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut r = csv::Reader::from_reader(body);
    let headers = r
        .headers()
        .expect("headers")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = r.records().collect::<Result<Vec<_>, _>>().expect("rows");
    (headers, rows)
}

fn has_bom(path: &std::path::Path) -> bool {
    std::fs::read(path)
        .expect("read")
        .starts_with(b"\xEF\xBB\xBF")
}

fn feature_collection(path: &std::path::Path) -> geojson::FeatureCollection {
    let text = std::fs::read_to_string(path).expect("read geojson");
    match geojson::GeoJson::from_str(&text).expect("valid GeoJSON") {
        geojson::GeoJson::FeatureCollection(fc) => fc,
        other => panic!("not a FeatureCollection: {other:?}"),
    }
}

#[test]
fn every_export_parses_back() {
    let dir = tempfile::tempdir().expect("tmp");
    let vault_dir = dir.path().join("v");
    let seeded = seeded_vault(&vault_dir);
    // A second damage report and a bear of another species (not exported to Darwin Core).
    {
        let v =
            Vault::open(&vault_dir, &provider(), VaultOptions::new("staff-0031")).expect("open");
        let mut second = s::damage_report(v.new_envelope::<DamageReport>(s::MUNICIPALITY));
        second.summary.report_number = 2;
        second.sites.push(s::site_record("豊平区平岸3条1丁目"));
        v.insert(second).expect("second report");
        let mut boar = s::bear_sighting(v.new_envelope::<BearSighting>(s::MUNICIPALITY));
        boar.species = fieldvault::model::Species::Other("イノシシ".into());
        boar.location = None;
        v.insert(boar).expect("boar");
    }
    // Plus the Sapporo file, so the bear exports are realistic in size.
    let csv_path = sapporo_csv();
    json(&vault_dir, &["import", csv_path.to_str().expect("path")], 0);
    let bears = 395 + 2;

    let out = dir.path().join("exports");
    let result = json(
        &vault_dir,
        &["export", "all", "--out", out.to_str().expect("path")],
        0,
    );
    let exports = result["exports"].as_array().expect("exports");
    assert_eq!(exports.len(), 5);
    let by_format = |f: &str| {
        exports
            .iter()
            .find(|e| e["format"] == f)
            .unwrap_or_else(|| panic!("{f} missing"))
            .clone()
    };

    // Every exported document is in the audit log, with the format, never a value.
    let audit = json(&vault_dir, &["audit"], 0);
    assert_eq!(audit["intact"], true);
    let exported: Vec<&serde_json::Value> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "exported")
        .collect();
    let documents: u64 = exports
        .iter()
        .map(|e| e["documents"].as_u64().expect("n"))
        .sum();
    assert_eq!(exported.len() as u64, documents);
    assert!(exported
        .iter()
        .any(|e| e["detail"] == "darwin-core"
            && e["document_id"] == seeded.bear.to_string().as_str()));
    assert!(exported.iter().any(|e| e["detail"] == "fdma-form4"
        && e["document_id"] == seeded.damage.to_string().as_str()
        && e["document_kind"] == "damage_report"));

    // Bear GeoJSON: one feature per sighting, [lon, lat], null geometry when unknown.
    let fc = feature_collection(&out.join("bear_sightings.geojson"));
    assert_eq!(fc.features.len(), bears);
    assert_eq!(by_format("bear-geojson")["records"], bears);
    let sample = fc
        .features
        .iter()
        .find(|f| f.property("id").and_then(|v| v.as_str()) == Some(&seeded.bear.to_string()))
        .expect("the seeded bear");
    match &sample.geometry.as_ref().expect("geometry").value {
        geojson::GeometryValue::Point { coordinates } => {
            assert_eq!(coordinates.as_slice(), &[141.2952, 43.0186], "[lon, lat]");
        }
        other => panic!("not a point: {other:?}"),
    }
    assert_eq!(sample.property("count"), Some(&serde_json::json!(3)));
    assert_eq!(
        sample.property("behaviour"),
        Some(&serde_json::json!("沢へ移動"))
    );
    assert!(sample.property("reporter_contact").is_none());
    let text = std::fs::read_to_string(out.join("bear_sightings.geojson")).expect("read");
    assert!(
        !text.contains("佐藤 一郎") && !text.contains("090-0000-0000"),
        "no reporter contact"
    );
    assert_eq!(
        fc.features.iter().filter(|f| f.geometry.is_none()).count(),
        1
    );
    for f in &fc.features {
        if let Some(g) = &f.geometry {
            if let geojson::GeometryValue::Point { coordinates } = &g.value {
                // Japan: longitude first.
                assert!(
                    (122.0..154.0).contains(&coordinates[0])
                        && (20.0..46.0).contains(&coordinates[1])
                );
            }
        }
    }

    // Darwin Core: every column is a Darwin Core term; the required ones are there.
    let dwc_path = out.join("bear_sightings_dwc_occurrence.csv");
    let (headers, rows) = read_csv(&dwc_path);
    for h in &headers {
        assert!(
            DWC_TERMS.contains(&h.as_str()),
            "{h} is not a Darwin Core term"
        );
    }
    for required in [
        "occurrenceID",
        "basisOfRecord",
        "eventDate",
        "decimalLatitude",
        "decimalLongitude",
        "geodeticDatum",
        "coordinateUncertaintyInMeters",
        "scientificName",
        "individualCount",
        "lifeStage",
        "behavior",
        "occurrenceRemarks",
        "countryCode",
        "vernacularName",
    ] {
        assert!(headers.iter().any(|h| h == required), "{required} missing");
    }
    assert_eq!(rows.len(), bears - 1, "the boar is not a bear occurrence");
    assert_eq!(by_format("darwin-core")["skipped"], 1);
    let col = |name: &str| headers.iter().position(|h| h == name).expect("column");
    let ids: std::collections::HashSet<&str> =
        rows.iter().map(|r| &r[col("occurrenceID")]).collect();
    assert_eq!(ids.len(), rows.len(), "occurrenceID is unique");
    for r in &rows {
        assert!(["HumanObservation", "MachineObservation"].contains(&&r[col("basisOfRecord")]));
        assert_eq!(&r[col("countryCode")], "JP");
        assert_eq!(&r[col("geodeticDatum")], "WGS84");
        let date = &r[col("eventDate")];
        assert!(
            chrono::DateTime::parse_from_rfc3339(date).is_ok()
                || chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
            "eventDate {date:?} is ISO 8601"
        );
        let lat: f64 = r[col("decimalLatitude")].parse().expect("latitude");
        assert!((20.0..46.0).contains(&lat));
    }
    let seeded_row = rows
        .iter()
        .find(|r| r[col("occurrenceID")].ends_with(&seeded.bear.to_string()))
        .expect("seeded row");
    assert_eq!(&seeded_row[col("scientificName")], "Ursus arctos");
    assert_eq!(&seeded_row[col("individualCount")], "3");
    assert_eq!(&seeded_row[col("lifeStage")], "adult | juvenile");
    assert_eq!(&seeded_row[col("coordinateUncertaintyInMeters")], "30");
    assert_eq!(&seeded_row[col("eventDate")], "2025-06-01T05:40:00+09:00");
    let camera = rows
        .iter()
        .filter(|r| &r[col("basisOfRecord")] == "MachineObservation")
        .count();
    assert_eq!(camera, 32, "camera-trap records from the Sapporo file");

    // Prefecture CSV: exactly the open-data columns, one row per bear record.
    let pref_path = out.join("bear_sightings_prefecture.csv");
    assert!(has_bom(&pref_path));
    let (headers, rows) = read_csv(&pref_path);
    assert_eq!(
        headers,
        [
            "出没情報ID",
            "情報種別",
            "市町村",
            "目撃日時",
            "獣種",
            "頭数",
            "単独か親子",
            "緯度",
            "経度",
            "目撃時の状況"
        ]
    );
    assert_eq!(rows.len(), bears);
    let seeded_row = rows
        .iter()
        .find(|r| r[0] == seeded.bear.to_string())
        .expect("row");
    assert_eq!(&seeded_row[1], "目撃");
    assert_eq!(&seeded_row[2], "札幌市");
    assert_eq!(&seeded_row[3], "2025/06/01 05:40");
    assert_eq!(&seeded_row[4], "ヒグマ");
    assert_eq!(&seeded_row[5], "3");
    assert_eq!(&seeded_row[6], "親子");
    assert!(rows.iter().any(|r| &r[2] == "札幌市南区"));
    assert!(rows.iter().any(|r| &r[5] == "不明"));
    assert!(
        rows.iter().any(|r| r[3].len() == 10),
        "date-only rows keep only the date"
    );

    // 第4号様式: 35 figures per report, unknown as 不明, unconfirmed marked.
    let form_path = out.join("damage_fdma_form4.csv");
    assert!(has_bom(&form_path));
    let (headers, rows) = read_csv(&form_path);
    assert_eq!(
        headers,
        [
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
            "備考"
        ]
    );
    assert_eq!(rows.len(), 2 * 35);
    let first: Vec<_> = rows
        .iter()
        .filter(|r| r[0] == seeded.damage.to_string())
        .collect();
    assert_eq!(first.len(), 35);
    let figure = |item: &str, unit: &str| {
        first
            .iter()
            .find(|r| &r[6] == item && &r[7] == unit)
            .unwrap_or_else(|| panic!("{item} {unit}"))
    };
    assert_eq!(
        (&figure("死者", "人")[8], &figure("死者", "人")[9]),
        ("0", "")
    );
    assert_eq!(&figure("行方不明者", "人")[8], "不明");
    assert_eq!(
        (
            &figure("負傷者 軽傷", "人")[8],
            &figure("負傷者 軽傷", "人")[9]
        ),
        ("3", "未確認")
    );
    assert_eq!(&figure("床上浸水", "棟")[8], "12");
    assert_eq!(&figure("床上浸水", "人")[9], "未確認");
    assert_eq!(&figure("床下浸水", "世帯")[8], "44");
    assert_eq!(&figure("がけ崩れ", "箇所")[9], "未確認");
    assert_eq!(&first[0][3], "第1報");
    assert!(first[0][10].contains("避難所"), "備考 on the first row");
    for section in ["人的被害", "住家被害", "その他"] {
        assert!(first.iter().any(|r| &r[5] == section));
    }

    // Damage sites GeoJSON: one feature per surveyed site.
    let fc = feature_collection(&out.join("damage_sites.geojson"));
    assert_eq!(fc.features.len(), 1 + 2);
    let house = &fc.features[0];
    assert_eq!(
        house.property("target_type_ja"),
        Some(&serde_json::json!("住家"))
    );
    assert_eq!(
        house.property("damage_level_ja"),
        Some(&serde_json::json!("床上浸水"))
    );
    assert_eq!(
        house.property("flood_depth_cm"),
        Some(&serde_json::json!(65))
    );
    match &house.geometry.as_ref().expect("geometry").value {
        geojson::GeometryValue::Point { coordinates } => {
            assert_eq!(coordinates.as_slice(), &[141.3712, 43.0401]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_single_export_goes_to_stdout_or_a_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let vault = dir.path().join("v");
    seeded_vault(&vault);
    let o = run(&vault, &["export", "bear-geojson"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    match geojson::GeoJson::from_str(&stdout(&o)).expect("GeoJSON on stdout") {
        geojson::GeoJson::FeatureCollection(fc) => assert_eq!(fc.features.len(), 1),
        other => panic!("{other:?}"),
    }
    let file = dir.path().join("form4.csv");
    let r = json(
        &vault,
        &["export", "fdma-form4", "--out", file.to_str().expect("p")],
        0,
    );
    assert_eq!(r["exports"][0]["records"], 35);
    assert_eq!(r["exports"][0]["documents"], 1);
    // --json without --out would mix the data and the report.
    let e = json(&vault, &["export", "darwin-core"], 2);
    assert_eq!(e["error"]["kind"], "usage");
    // An unwritable destination is a file error.
    let e = json(
        &vault,
        &["export", "darwin-core", "--out", "/nonexistent-dir/x.csv"],
        10,
    );
    assert_eq!(e["error"]["kind"], "io");
}
