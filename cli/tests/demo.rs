//! The field-day demo end to end, as a newcomer runs it: it must finish, and
//! its final no-plaintext scan must pass.
mod common;

use common::*;

#[test]
fn the_field_day_demo_runs_end_to_end_and_finds_no_plaintext() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("field-day");
    let started = std::time::Instant::now();
    let o = std::process::Command::new(bin())
        .args(["--json", "demo", "--out", out.to_str().expect("path")])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run demo");
    let elapsed = started.elapsed();
    assert_eq!(code(&o), 0, "stdout {} stderr {}", stdout(&o), stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON summary");
    assert_eq!(report["no_plaintext"], true);
    assert_eq!(report["scan"]["hits"], serde_json::json!([]));
    assert!(
        report["scan"]["files"].as_u64().expect("files") >= 6,
        "{report}"
    );
    assert!(report["scan"]["canaries"].as_u64().expect("canaries") >= 10);
    assert_eq!(report["merged_sites"], 2);
    assert_eq!(report["hall_purged"], 1);
    assert_eq!(report["revoked_epoch"], 2);
    assert_eq!(report["wipe_receipt_verified"], true);
    assert!(report["photo_bytes"].as_u64().expect("photo") > 1000);
    assert_eq!(report["exports"].as_array().expect("exports").len(), 5);
    let documents: u64 = report["exports"]
        .as_array()
        .expect("exports")
        .iter()
        .map(|e| e["documents"].as_u64().expect("n"))
        .sum();
    assert_eq!(
        report["audited_exports"], documents,
        "every exported document audited"
    );
    assert!(elapsed.as_secs() < 60, "the demo took {elapsed:?}");

    // The files it kept: the relay database, the three remaining vaults, the exports.
    assert!(out.join("relay").join("relay.db").is_file());
    for device in ["office", "forest", "river"] {
        assert!(
            out.join("devices").join(device).join("vault.db").is_file(),
            "{device}"
        );
    }
    assert_eq!(
        std::fs::read_dir(out.join("devices").join("hall"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "the lost tablet left nothing"
    );
    assert!(out.join("exports").join("damage_fdma_form4.csv").is_file());

    // The human narrative, once, in a fresh directory.
    let o = std::process::Command::new(bin())
        .arg("demo")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run demo");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    for needle in [
        "enrolled",
        "merged",
        "purged",
        "revoked",
        "wipe receipt",
        "no canary string found",
    ] {
        assert!(
            text.contains(needle),
            "the narrative mentions {needle:?}:\n{text}"
        );
    }
}

#[test]
fn the_demo_refuses_a_directory_that_is_not_empty() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("something"), b"x").expect("write");
    let o = std::process::Command::new(bin())
        .args(["--json", "demo", "--out", dir.path().to_str().expect("p")])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");
    assert_eq!(code(&o), 2);
}
