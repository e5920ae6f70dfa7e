//! Joining a workspace checks what it can on the device before the relay
//! uses up the enrollment code, and keeps nothing of a join that failed.
use std::time::Duration;

use fieldvault::sync::enrollment;
use fieldvault_integration::{found_workspace, insert_sample, Device, RelayProcess};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_refused_on_the_device_leaves_the_code_unused() {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    let admin = found_workspace(Device::new(root.path(), "admin", &relay.url)).await;

    // A phone with a document whose changes were damaged on disk (its
    // header still opens, so it is listed) cannot queue it for the relay.
    let phone = Device::new(root.path(), "phone", &relay.url);
    insert_sample(&phone.vault, 0);
    let db = rusqlite::Connection::open(phone.dir.join(fieldvault::vault::DB_FILE)).expect("open");
    let damaged = db
        .execute("UPDATE changes SET sealed = zeroblob(length(sealed))", [])
        .expect("damage");
    assert!(damaged >= 1);
    drop(db);

    let (pairing, qr) =
        enrollment::start_pairing(&admin.vault, &admin.config, Duration::from_secs(600))
            .await
            .expect("start pairing");
    let refused = enrollment::join_workspace(
        &phone.vault,
        &qr.encode(),
        "phone",
        Duration::from_secs(5),
        None,
    )
    .await;
    assert!(
        matches!(refused, Err(fieldvault::Error::Corrupted(_))),
        "{refused:?}"
    );
    assert!(phone.vault.sync_settings().expect("settings").is_none());
    let ws = admin
        .vault
        .enrolment()
        .expect("admin settings")
        .workspace_id;
    assert_eq!(
        phone
            .vault
            .workspace_keys(&ws)
            .expect("keys")
            .epochs()
            .count(),
        0,
        "keys kept from a failed join"
    );

    // The relay never saw the phone: the same code still enrolls a device.
    let tablet = Device::new(root.path(), "tablet", &relay.url);
    let qr_text = qr.encode();
    let (joined, completed) = tokio::join!(
        enrollment::join_workspace(
            &tablet.vault,
            &qr_text,
            "tablet",
            Duration::from_secs(30),
            None,
        ),
        enrollment::complete_pairing(
            &admin.vault,
            &admin.config,
            pairing,
            Duration::from_secs(30)
        ),
    );
    joined.expect("the code was still unused");
    assert_eq!(completed.expect("paired"), tablet.vault.device_id());
}
