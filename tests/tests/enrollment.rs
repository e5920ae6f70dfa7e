//! Joining a workspace checks what it can on the device before the relay
//! uses up the enrollment code, and keeps nothing of a join that failed.
use std::time::Duration;

use fieldvault::sync::engine::SyncEngine;
use fieldvault::sync::{admin, enrollment};
use fieldvault_integration::{
    enrollment_request, found_workspace, insert_sample, post_enrollment, Device, RelayProcess,
};

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

/// The agreement key the relay holds for `device_id`, as the admin lists it.
async fn agreement_key_at_relay(admin: &Device, device_id: &str) -> Option<Vec<u8>> {
    admin::list_devices(&admin.vault, &admin.config)
        .await
        .expect("list devices")
        .devices
        .into_iter()
        .find(|d| d.keys.device_id == device_id)
        .map(|d| d.keys.agreement_public)
}

/// A pairing that breaks off after the relay registered the device (the
/// admin's phone went away before delivering the keys) no longer locks the
/// device out: it joins again, with the same code while the admin can still
/// finish, or with a fresh code, proving it holds its signing key; another
/// device cannot take its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_whose_pairing_broke_off_joins_again() {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    let admin = found_workspace(Device::new(root.path(), "admin", &relay.url)).await;
    let phone = Device::new(root.path(), "phone", &relay.url);
    let phone_id = phone.vault.device_id();

    // The relay registers the phone, but no admin delivers its keys.
    let (abandoned, qr) =
        enrollment::start_pairing(&admin.vault, &admin.config, Duration::from_secs(600))
            .await
            .expect("start pairing");
    drop(abandoned); // the admin's pairing is gone (app closed)
    let timed_out = enrollment::join_workspace(
        &phone.vault,
        &qr.encode(),
        "phone",
        Duration::from_millis(300),
        None,
    )
    .await;
    assert!(
        matches!(timed_out, Err(fieldvault::Error::Network(_))),
        "{timed_out:?}"
    );
    assert!(phone.vault.sync_settings().expect("settings").is_none());
    let first_key = agreement_key_at_relay(&admin, &phone_id)
        .await
        .expect("the relay registered the phone");

    // A new pairing: the phone enrolls again with the fresh code (before
    // this change the relay refused its device id for good), and pairs.
    let (pairing, qr) =
        enrollment::start_pairing(&admin.vault, &admin.config, Duration::from_secs(600))
            .await
            .expect("start pairing");
    let qr_text = qr.encode();
    let (joined, completed) = tokio::join!(
        enrollment::join_workspace(
            &phone.vault,
            &qr_text,
            "phone",
            Duration::from_secs(30),
            None
        ),
        async {
            // The admin waits for the phone's new keys, not the abandoned ones.
            until_new_agreement_key(&admin, &phone_id, &first_key).await;
            enrollment::complete_pairing(
                &admin.vault,
                &admin.config,
                pairing,
                Duration::from_secs(30),
            )
            .await
        },
    );
    joined.expect("the phone joins again");
    assert_eq!(completed.expect("paired"), phone_id);
    let devices = admin::list_devices(&admin.vault, &admin.config)
        .await
        .expect("list");
    assert_eq!(
        devices
            .devices
            .iter()
            .filter(|d| d.keys.device_id == phone_id)
            .count(),
        1,
        "one registration per device"
    );

    // It syncs like any member: a document written on it reaches the admin.
    let mut phone = phone;
    phone.engine =
        Some(SyncEngine::new(phone.vault.clone(), phone.config.clone()).expect("engine"));
    let id = insert_sample(&phone.vault, 1);
    phone.sync().await;
    admin.sync().await;
    assert!(
        admin.vault.summary(&id).is_ok(),
        "the document reached the admin"
    );

    // An enrolled device cannot be re-enrolled without its signing key:
    // another vault claiming the phone's id with a fresh code is refused
    // (it signs with its own key, which is not the registered one).
    let (_pairing, qr) =
        enrollment::start_pairing(&admin.vault, &admin.config, Duration::from_secs(600))
            .await
            .expect("start pairing");
    let impostor = Device::new(root.path(), "impostor", &relay.url);
    let identity = impostor.vault.device_identity().expect("identity");
    let mut forged = enrollment_request(&qr, &identity, &phone_id);
    let refused = post_enrollment(&qr, &forged).await;
    assert_eq!(refused, 409, "a device id taken over with another key");
    forged.possession = Some(vec![0; 64]);
    assert_eq!(post_enrollment(&qr, &forged).await, 401);
    assert_eq!(
        agreement_key_at_relay(&admin, &phone_id).await,
        devices
            .devices
            .iter()
            .find(|d| d.keys.device_id == phone_id)
            .map(|d| d.keys.agreement_public.clone()),
        "a refused enrollment changed the phone's record"
    );
}

/// Polls (bounded) until the relay holds an agreement key for `device_id`
/// other than `old`.
async fn until_new_agreement_key(admin: &Device, device_id: &str, old: &[u8]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match agreement_key_at_relay(admin, device_id).await {
            Some(key) if key != old => return,
            _ => {}
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the device never enrolled again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
