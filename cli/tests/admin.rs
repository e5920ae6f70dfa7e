//! The relay commands through the built binary against a relay on 127.0.0.1:
//! workspace create, device pair + enroll (two processes at once, as at the
//! office), sync both ways, device list, revoke with a verified wipe receipt,
//! key rotation, replacing the relay's root certificate, and the exit codes
//! of their failures.
mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::*;

/// A test CA's certificate (public part only; its key was thrown away).
const TEST_CA_PEM: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIBozCCAUmgAwIBAgIUe6itKLveaMMNMo48TblBaq9ZTZ0wCgYIKoZIzj0EAwIw\n\
JjEkMCIGA1UEAwwbRmllbGRWYXVsdCB0ZXN0IENBIChLb3RsaW4pMCAXDTI2MTEy\n\
NDEzNTkwM1oYDzIxMjYxMDMxMTM1OTAzWjAmMSQwIgYDVQQDDBtGaWVsZFZhdWx0\n\
IHRlc3QgQ0EgKEtvdGxpbikwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQZWIeb\n\
fGz69szPcV7YTWa+5MG9HQdeuSJO6a9RjXBYme92KoQOxunHgLZFfOq/sC/psTqf\n\
S3onc0bo/vq4Kblpo1MwUTAdBgNVHQ4EFgQUMWqQhkTBi0MltTFAuET+q+xYQY8w\n\
HwYDVR0jBBgwFoAUMWqQhkTBi0MltTFAuET+q+xYQY8wDwYDVR0TAQH/BAUwAwEB\n\
/zAKBggqhkjOPQQDAgNIADBFAiEA8MTPYq0pCGfjGqRmbaRURUDIUdCDMez8mBhc\n\
0Mv6lIkCIBOJ5WY7eeT1i1HOBpPjM+ek2kFpHbNjSrjiqPNUn7h+\n\
-----END CERTIFICATE-----\n";

/// Runs `device pair` on `admin` and `enroll` on `member` concurrently.
fn pair(admin: &std::path::Path, member: &std::path::Path, name: &str) -> String {
    let mut pairing = cmd(admin)
        .args(["--json", "device", "pair", "--timeout", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pair");
    let stdout = pairing.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("QR line in time");
    let event: serde_json::Value = serde_json::from_str(&first).expect("QR event JSON");
    assert_eq!(event["event"], "qr");
    let qr = event["qr"].as_str().expect("qr").to_owned();

    let joined = json(
        member,
        &["enroll", "--qr", &qr, "--name", name, "--timeout", "60"],
        0,
    );
    assert_eq!(joined["role"], "member");

    let second = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("paired line in time");
    let paired: serde_json::Value = serde_json::from_str(&second).expect("paired JSON");
    assert_eq!(paired["event"], "paired");
    assert_eq!(paired["device_id"], joined["device_id"]);
    let status = wait_exit(&mut pairing, Duration::from_secs(30));
    assert_eq!(status, Some(0), "device pair exits 0");
    joined["device_id"].as_str().expect("id").to_owned()
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn admin_desktop_enrolls_syncs_revokes_and_rotates() {
    let mut relay = Relay::start();
    let dir = tempfile::tempdir().expect("tmp");
    let office = dir.path().join("office");
    let field = dir.path().join("field");
    init(&office);
    init(&field);

    // Not enrolled yet: sync and admin commands say so (exit 4).
    let e = json(&office, &["sync"], 4);
    assert_eq!(e["error"]["kind"], "vault");
    json(&office, &["device", "list"], 4);

    // A wrong operator token is refused by the relay (exit 8).
    let o = cmd(&office)
        .env("FIELDVAULT_OPERATOR_TOKEN", "wrong-token-wrong-token")
        .args(["--json", "workspace", "create", "--relay", &relay.url])
        .output()
        .expect("run");
    assert_eq!(code(&o), 8, "{}", stderr(&o));
    assert!(!stdout(&o).contains("wrong-token-wrong-token"));

    let o = cmd(&office)
        .env("FIELDVAULT_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .args(["--json", "workspace", "create", "--relay", &relay.url])
        .output()
        .expect("run");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let ws: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(ws["epoch"], 1);
    let ws_id = ws["workspace_id"].as_str().expect("ws").to_owned();

    // A bad QR text is invalid input (exit 6) and changes nothing.
    let e = json(
        &field,
        &["enroll", "--qr", "not-a-qr-text", "--timeout", "5"],
        6,
    );
    assert_eq!(e["error"]["kind"], "invalid");

    let field_id = pair(&office, &field, "field-tablet");

    // The field desktop imports sightings and syncs; the office receives them.
    let small = dir.path().join("small.csv");
    std::fs::write(
        &small,
        "日付,時刻,区,出没場所,緯度,経度,状況\n2025/4/3,9:30,南区,南区小金湯,42.958919,141.227386,ヒグマを目撃\n2025/4/5,不明,西区,西区西野,43.06,141.25,フンを確認\n",
    )
    .expect("csv");
    json(&field, &["import", small.to_str().expect("p")], 0);
    let pushed = json(&field, &["sync"], 0);
    // Two sightings (plus the device's own audit-log and status documents).
    assert!(
        pushed["report"]["pushed"].as_u64().expect("pushed") >= 2,
        "{pushed}"
    );
    let pulled = json(&office, &["sync"], 0);
    assert!(
        pulled["report"]["pulled"].as_u64().expect("pulled") >= 2,
        "{pulled}"
    );
    assert_eq!(
        json(&office, &["list", "--kind", "bear_sighting"], 0)["count"],
        2
    );

    let devices = json(&office, &["device", "list"], 0);
    assert_eq!(devices["workspace_id"], ws_id);
    let list = devices["devices"].as_array().expect("devices");
    assert_eq!(list.len(), 2);
    let member = list
        .iter()
        .find(|d| d["device_id"] == field_id.as_str())
        .expect("member");
    assert_eq!(member["role"], "member");
    assert_eq!(member["name"], "field-tablet");
    assert!(member["revoked_at"].is_null());
    // A member cannot administer (exit 8).
    let e = json(&field, &["device", "list"], 8);
    assert!(e["error"]["message"].as_str().expect("m").contains("admin"));

    // Revoke: the key rotates; the device is wiped on its next contact.
    let revoked = json(&office, &["device", "revoke", &field_id], 0);
    assert_eq!(revoked["epoch"], 2);
    let e = json(&field, &["sync"], 9);
    assert_eq!(e["error"]["kind"], "revoked");
    assert!(
        !field.join("vault.db").exists(),
        "the revoked vault wiped itself"
    );
    let devices = json(&office, &["device", "list"], 0);
    let member = devices["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .find(|d| d["device_id"] == field_id.as_str())
        .expect("member")
        .clone();
    assert!(member["revoked_at"].is_string());
    assert_eq!(member["wipe_receipt"], true);
    assert_eq!(member["wipe_receipt_valid"], true);
    // Revoking twice: the relay refuses (exit 8).
    let e = json(&office, &["device", "revoke", &field_id], 8);
    assert_eq!(e["error"]["kind"], "refused");

    // Replacing the relay's root certificate: a file that is no certificate
    // is invalid input (exit 6) and changes nothing; a real one is recorded
    // and the plain-HTTP relay still syncs; `--none` goes back.
    let root_certificate = |name: &str, pem: &str, exit: i32| {
        let file = dir.path().join(name);
        std::fs::write(&file, pem).expect("pem");
        let path = file.to_str().expect("path");
        json(
            &office,
            &["workspace", "root-certificate", "--file", path],
            exit,
        )
    };
    let e = root_certificate("garbled.pem", "not a certificate", 6);
    assert_eq!(e["error"]["kind"], "invalid");
    let set = root_certificate("town-ca.pem", TEST_CA_PEM, 0);
    assert_eq!(set["custom_root_certificate"], true);
    json(&office, &["sync"], 0);
    let cleared = json(&office, &["workspace", "root-certificate", "--none"], 0);
    assert_eq!(cleared["custom_root_certificate"], false);

    let rotated = json(&office, &["key", "rotate"], 0);
    assert_eq!(rotated["epoch"], 3);
    assert_eq!(json(&office, &["device", "list"], 0)["current_epoch"], 3);

    // The relay goes away: network error (exit 7).
    relay.stop();
    let e = json(&office, &["sync"], 7);
    assert_eq!(e["error"]["kind"], "network");
}

#[test]
fn revoke_can_wait_for_the_wipe_receipt() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().expect("tmp");
    let office = dir.path().join("office");
    let phone = dir.path().join("phone");
    init(&office);
    init(&phone);
    let o = cmd(&office)
        .env("FIELDVAULT_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .args(["workspace", "create", "--relay", &relay.url])
        .output()
        .expect("run");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Pairing through a file this time: `device pair --qr-out`, `enroll --qr-file`.
    let qr_file = dir.path().join("qr.txt");
    let mut pairing = cmd(&office)
        .args(["device", "pair", "--timeout", "60", "--qr-out"])
        .arg(&qr_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pair");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !qr_file.is_file() {
        assert!(std::time::Instant::now() < deadline, "no QR file in time");
        std::thread::sleep(Duration::from_millis(50));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&qr_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the QR file is private to its owner");
    }
    let o = run(
        &phone,
        &[
            "enroll",
            "--qr-file",
            qr_file.to_str().expect("p"),
            "--name",
            "phone",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("Enrolled in workspace"));
    assert_eq!(wait_exit(&mut pairing, Duration::from_secs(30)), Some(0));
    let mut human = String::new();
    std::io::Read::read_to_string(&mut pairing.stdout.take().expect("stdout"), &mut human)
        .expect("read");
    assert!(human.contains("Paired device"), "{human}");
    assert!(
        human.contains('█'),
        "the QR code is drawn for a phone to scan"
    );
    assert!(!qr_file.exists(), "the used QR file is removed");
    let phone_id = json(&phone, &["list"], 0); // the phone's vault still opens
    assert_eq!(phone_id["count"], 0);
    let devices = json(&office, &["device", "list"], 0);
    let phone_id = devices["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .find(|d| d["name"] == "phone")
        .expect("phone listed")["device_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let o = run(&phone, &["sync"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("Synced:"));

    // The phone comes online a moment after the revocation.
    let phone_dir = phone.clone();
    let syncing = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        code(&run(&phone_dir, &["sync"]))
    });
    let r = json(
        &office,
        &["device", "revoke", &phone_id, "--wait-wipe", "30"],
        0,
    );
    assert_eq!(r["wipe_receipt_verified"], true);
    assert_eq!(syncing.join().expect("thread"), 9);
}
