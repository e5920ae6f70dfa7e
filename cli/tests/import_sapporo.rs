//! The Sapporo open-data CSV (real, dirty): 396 rows, one with a malformed
//! latitude; unknown times; multi-line cells.
mod common;

use common::*;

#[test]
fn sapporo_csv_imports_395_rows_and_rejects_the_malformed_latitude() {
    let csv_path = sapporo_csv();
    assert!(
        csv_path.is_file(),
        "the shared corpus is missing at {} (set FIELDVAULT_CORPUS)",
        csv_path.display()
    );
    let dir = tempfile::tempdir().expect("tmp");
    let vault = dir.path().join("v");
    init(&vault);
    let file = csv_path.to_str().expect("utf-8 path");

    // Dry run: everything checked, nothing stored.
    let dry = json(&vault, &["import", "--dry-run", file], 0);
    assert_eq!(dry["valid"], 395);
    assert_eq!(dry["imported"], 0);
    assert_eq!(json(&vault, &["list"], 0)["count"], 0);

    // The staff id given to the command is the author of what it stores
    // (not the one given to `init`, which is not kept).
    let out = json(&vault, &["--staff", "clerk-7", "import", file], 0);
    assert_eq!(out["imported"], 395);
    assert_eq!(out["rejected"], 1);
    let r = &out["rejections"][0];
    assert_eq!(r["row"], 180, "data row (header excluded)");
    assert_eq!(
        r["line"], 182,
        "physical line: a multi-line cell comes before it"
    );
    assert_eq!(r["column"], "緯度");
    assert_eq!(r["reason"], "the latitude is not a decimal number");
    // The reason never echoes the value.
    assert!(!out.to_string().contains("42.950660"));

    let listed = json(&vault, &["list", "--kind", "bear_sighting"], 0);
    assert_eq!(listed["count"], 395);
    let first = listed["documents"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let history = json(&vault, &["history", &first], 0);
    assert_eq!(history["history"][0]["staff_id"], "clerk-7");

    // Spot checks on the stored documents (read with the library).
    let opened = fieldvault::Vault::open(&vault, &provider(), fieldvault::VaultOptions::new("t"))
        .expect("open");
    let docs: Vec<serde_json::Value> = listed["documents"]
        .as_array()
        .expect("docs")
        .iter()
        .map(|d| {
            let id =
                fieldvault::model::DocumentId::parse(d["id"].as_str().expect("id")).expect("id");
            let bear: fieldvault::model::BearSighting = opened.get(&id).expect("bear");
            serde_json::to_value(bear).expect("json")
        })
        .collect();
    drop(opened);
    let unknown_time = docs
        .iter()
        .filter(|d| d["observed_at"].get("date_only").is_some())
        .count();
    // 13 × 不明, one empty time, one 0:00 with "目撃時間は不明".
    assert_eq!(unknown_time, 15);
    let mother_with_cubs = docs
        .iter()
        .filter(|d| d["group"] == "mother_with_cubs")
        .count();
    assert!(mother_with_cubs >= 36, "{mother_with_cubs}");
    let family = docs
        .iter()
        .find(|d| {
            d["narrative"]
                .as_str()
                .is_some_and(|n| n.contains("親1頭、子2頭"))
        })
        .expect("the 親1頭、子2頭 row");
    assert_eq!(
        (
            family["adults"].clone(),
            family["cubs"].clone(),
            family["count"].clone()
        ),
        (
            serde_json::json!(1),
            serde_json::json!(2),
            serde_json::json!(3)
        )
    );
    let scat = docs
        .iter()
        .filter(|d| d["report_kind"] == serde_json::json!({"trace": "scat"}))
        .count();
    assert!(scat >= 23, "{scat}");
    let multiline = docs
        .iter()
        .find(|d| d["narrative"] == "ヒグマを目撃(2頭)\n※目撃時間は不明")
        .expect("multi-line cell kept");
    assert_eq!(multiline["count"], 2);
    assert!(multiline["observed_at"].get("date_only").is_some());
    assert!(docs.iter().all(|d| d["species"] == "brown_bear"));
    assert!(docs.iter().all(|d| d["envelope"]["municipality_code"]
        .as_str()
        .is_some_and(|c| c.starts_with("011") && c != "011002")));

    // --strict: the valid rows are imported, the exit code says some were not.
    let strict = json(&vault, &["import", "--strict", "--dry-run", file], 13);
    assert_eq!(strict["error"]["kind"], "rows_rejected");
}

#[test]
fn import_errors_have_distinct_exit_codes() {
    let dir = tempfile::tempdir().expect("tmp");
    let vault = dir.path().join("v");
    init(&vault);
    let e = json(&vault, &["import", "/nonexistent/file.csv"], 10);
    assert_eq!(e["error"]["kind"], "io");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "a,b,c\n1,2,3\n").expect("write");
    let e = json(&vault, &["import", bad.to_str().expect("path")], 6);
    assert!(e["error"]["message"]
        .as_str()
        .expect("msg")
        .contains("日付"));
}
