//! Local commands through the built binary: help, init, list, show, history,
//! and the exit codes of their errors.
mod common;

use common::*;

#[test]
fn help_teaches_with_examples_and_exit_codes() {
    let o = std::process::Command::new(bin())
        .arg("--help")
        .output()
        .expect("help");
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    for needle in [
        "fieldvault demo",
        "FIELDVAULT_PASSPHRASE",
        "Exit codes:",
        "wrong passphrase",
        "export all --out",
        "device revoke",
    ] {
        assert!(text.contains(needle), "--help lacks {needle:?}");
    }
    for sub in [
        vec!["export", "--help"],
        vec!["import", "--help"],
        vec!["device", "pair", "--help"],
        vec!["demo", "--help"],
    ] {
        let o = std::process::Command::new(bin())
            .args(&sub)
            .output()
            .expect("help");
        assert_eq!(code(&o), 0, "{sub:?}");
        assert!(stdout(&o).contains("Example"), "{sub:?} help has examples");
    }
    let o = std::process::Command::new(bin())
        .arg("--version")
        .output()
        .expect("version");
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).starts_with("fieldvault "));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let vault = dir.path().join("v");
    assert_eq!(code(&run(&vault, &["frobnicate"])), 2);
    assert_eq!(code(&run(&vault, &["export", "nonsense"])), 2);
    // `export all` needs a directory.
    let e = json(&vault, &["export", "all"], 2);
    assert_eq!(e["error"]["kind"], "usage");
    // No vault given at all.
    let o = std::process::Command::new(bin())
        .env_remove("FIELDVAULT_VAULT")
        .env("FIELDVAULT_PASSPHRASE", PASSPHRASE)
        .args(["--json", "list"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn init_then_list_and_the_vault_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let vault = dir.path().join("desk");
    let created = init(&vault);
    assert_eq!(created["staff_id"], "office-test");
    assert_eq!(created["retention"], "keep_everything");
    assert!(created["device_id"].as_str().is_some_and(|s| s.len() == 36));
    assert!(vault.join("vault.db").is_file());

    // A second init refuses to overwrite.
    let e = json(&vault, &["init", "--insecure-test-kdf"], 4);
    assert_eq!(e["error"]["kind"], "vault");
    assert_eq!(e["error"]["exit_code"], 4);

    let listed = json(&vault, &["list"], 0);
    assert_eq!(listed["count"], 0);
    assert_eq!(listed["unreadable"], 0);

    // Wrong passphrase: exit 3, nothing about the passphrase echoed.
    let o = cmd(&vault)
        .env("FIELDVAULT_PASSPHRASE", "not the passphrase")
        .args(["--json", "list"])
        .output()
        .expect("run");
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        !stdout(&o).contains("not the passphrase") && !stderr(&o).contains("not the passphrase")
    );
    let e: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json error");
    assert_eq!(e["error"]["kind"], "wrong_key");

    // No vault there.
    let e = json(&dir.path().join("nothing"), &["list"], 4);
    assert_eq!(e["error"]["kind"], "vault");
    // A short passphrase is refused for real vaults.
    let o = cmd(&dir.path().join("short"))
        .env("FIELDVAULT_PASSPHRASE", "short")
        .args(["init"])
        .output()
        .expect("run");
    assert_eq!(code(&o), 6, "{}", stderr(&o));
}

#[test]
fn list_show_history_read_what_a_phone_wrote() {
    let dir = tempfile::tempdir().expect("tmp");
    let vault = dir.path().join("v");
    let seeded = seeded_vault(&vault);

    let listed = json(&vault, &["list"], 0);
    assert_eq!(listed["count"], 3);
    let bears = json(&vault, &["list", "--kind", "bear_sighting"], 0);
    assert_eq!(bears["count"], 1);
    assert_eq!(bears["documents"][0]["id"], seeded.bear.to_string());
    assert_eq!(bears["documents"][0]["title"], "ヒグマ 目撃 2025-06-01");
    let drafts = json(&vault, &["list", "--status", "submitted"], 0);
    assert_eq!(drafts["count"], 0);

    let shown = json(&vault, &["show", &seeded.damage.to_string()], 0);
    assert_eq!(shown["document"]["kind"], "damage_report");
    assert_eq!(
        shown["document"]["document"]["summary"]["disaster_name"],
        "令和7年8月 豊平川大雨"
    );
    assert_eq!(shown["summary"]["kind"], "damage_report");
    // Human output too.
    let o = run(&vault, &["show", &seeded.tax.to_string()]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("tax_assist"));

    let history = json(&vault, &["history", &seeded.bear.to_string()], 0);
    let entries = history["history"].as_array().expect("entries");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["operation"], "create");
    assert_eq!(entries[1]["operation"], "edit");
    assert_eq!(entries[1]["fields"], serde_json::json!(["behaviour"]));
    assert_eq!(entries[1]["staff_id"], "staff-0012");

    // Errors: not a UUID → 6; unknown id → 5.
    let e = json(&vault, &["show", "not-a-uuid"], 6);
    assert_eq!(e["error"]["kind"], "invalid");
    let e = json(
        &vault,
        &["history", "00000000-0000-7000-8000-000000000000"],
        5,
    );
    assert_eq!(e["error"]["kind"], "not_found");
}
