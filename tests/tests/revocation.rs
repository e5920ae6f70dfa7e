//! Lost phones: a revoked device is refused, wipes itself and reports it; the
//! key rotates so a copy of its files plus the relay's database cannot read
//! anything written afterwards; the others keep working across the rotation.
use fieldvault::model::{BearSighting, DamageReport};
use fieldvault::sample_data as s;
use fieldvault::sync::{admin, engine, enrollment};
use fieldvault::{Error, Vault, VaultOptions};
use fieldvault_integration::{provider, workspace, Backend, RelayProcess};

/// A relay `entries` row as an attacker reads it: entry id, doc id, epoch, sealed, seq.
type EntryRow = (Vec<u8>, Vec<u8>, u32, Vec<u8>, i64);

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_device_is_refused_wiped_and_locked_out_of_new_data() {
    let root = tempfile::tempdir().expect("tempdir");
    let relay_dir = root.path().join("relay");
    let relay = RelayProcess::start(
        Backend::Sqlite(relay_dir.clone()),
        &root.path().join("logs"),
    );
    let (office, members) = workspace(root.path(), &relay.url, &["kept", "lost"]).await;
    let (kept, lost) = (&members[0], &members[1]);
    let ws = office
        .vault
        .sync_settings()
        .expect("settings")
        .expect("enrolled")
        .workspace_id;

    let before = kept
        .vault
        .insert(s::bear_sighting(
            kept.vault.new_envelope::<BearSighting>(s::MUNICIPALITY),
        ))
        .expect("before");
    for d in [kept, lost, &office] {
        d.sync().await;
    }
    assert!(
        lost.vault.get::<BearSighting>(&before).is_ok(),
        "the lost phone had the old data"
    );

    // The thief copies the phone's files before it ever comes back online.
    let stolen = root.path().join("stolen-copy");
    lost.vault.checkpoint().expect("checkpoint");
    copy_dir(&lost.dir, &stolen);

    // The admin revokes it; the key rotates.
    let epoch = admin::revoke_device(&office.vault, &office.config, &lost.vault.device_id())
        .await
        .expect("revoke");
    assert_eq!(epoch, 2);

    // Work goes on across the rotation.
    let after = kept
        .vault
        .insert(s::damage_report(
            kept.vault.new_envelope::<DamageReport>(s::MUNICIPALITY),
        ))
        .expect("after");
    kept.vault
        .update::<BearSighting, _>(&before, |b| b.behaviour = "after rotation".into())
        .expect("edit old doc");
    kept.sync().await;
    office.sync().await;
    assert_eq!(
        office
            .vault
            .get::<DamageReport>(&after)
            .expect("new doc at office"),
        kept.vault.get::<DamageReport>(&after).expect("kept")
    );
    assert_eq!(
        office
            .vault
            .get::<BearSighting>(&before)
            .expect("old doc")
            .behaviour,
        "after rotation"
    );

    // The lost phone comes online: refused, wiped, receipt reported.
    let err = lost.engine().sync_once().await.expect_err("revoked");
    assert!(matches!(err, Error::Revoked), "{err:?}");
    assert_eq!(lost.engine().state().phase, engine::SyncPhase::Revoked);
    let left: Vec<_> = std::fs::read_dir(&lost.dir).expect("dir").collect();
    assert!(
        left.is_empty(),
        "no key material or document left on the phone: {left:?}"
    );
    let devices = admin::list_devices(&office.vault, &office.config)
        .await
        .expect("devices");
    let info = devices
        .devices
        .iter()
        .find(|d| d.keys.device_id == lost.vault.device_id())
        .expect("listed");
    assert!(info.revoked_at_ms.is_some());
    let receipt = info.wipe_receipt.as_ref().expect("wipe receipt reported");
    assert!(engine::verify_wipe_receipt(
        receipt,
        &info.keys.signing_public,
        &ws,
        &lost.vault.device_id()
    )
    .is_some());

    // The stolen copy + the whole relay database: nothing written after the rotation opens.
    let copy = Vault::open(&stolen, &provider(), VaultOptions::new("thief"))
        .expect("the copy still opens with the passphrase");
    let stolen_keys = copy.workspace_keys(&ws).expect("keys in the copy");
    assert!(stolen_keys.has_epoch(1) && !stolen_keys.has_epoch(2));
    let relay_db = rusqlite::Connection::open(relay_dir.join("relay.db")).expect("relay db");
    let mut stmt = relay_db
        .prepare("SELECT entry_id, doc_id, epoch, sealed, seq FROM entries ORDER BY seq")
        .expect("prepare");
    let rows: Vec<EntryRow> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let (mut old_opened, mut new_entries) = (0, 0);
    for (entry_id, doc_id, entry_epoch, sealed, _) in rows {
        if entry_epoch >= 2 {
            new_entries += 1;
            for (e, _) in stolen_keys.epochs() {
                assert!(
                    stolen_keys
                        .open_entry(e, &doc_id, &entry_id, sealed.clone())
                        .is_err(),
                    "post-rotation entry opened"
                );
            }
        } else if stolen_keys
            .open_entry(entry_epoch, &doc_id, &entry_id, sealed)
            .is_ok()
        {
            old_opened += 1;
        }
    }
    assert!(
        new_entries >= 2,
        "entries written after the rotation use the new epoch"
    );
    assert!(
        old_opened > 0,
        "control: the copy does open pre-rotation entries, so the check is meaningful"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_revocations_are_clear_errors_and_change_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    let (office, members) = workspace(root.path(), &relay.url, &["phone"]).await;
    let phone = &members[0];

    let err = admin::revoke_device(
        &office.vault,
        &office.config,
        "00000000-0000-0000-0000-000000000000",
    )
    .await
    .expect_err("unknown");
    assert!(matches!(err, Error::Relay { status: 404, .. }), "{err:?}");
    // A member is not an admin.
    let err = admin::revoke_device(&phone.vault, &phone.config, &office.vault.device_id())
        .await
        .expect_err("not admin");
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    // The admin cannot revoke itself (refused before anything is recorded,
    // so its passes go on).
    let err = admin::revoke_device(&office.vault, &office.config, &office.vault.device_id())
        .await
        .expect_err("itself");
    assert!(
        matches!(&err, Error::InvalidInput(m) if m.contains("cannot revoke itself")),
        "{err:?}"
    );
    office.sync().await;
    phone.sync().await; // nothing changed for the phone

    // Keep the QR text of a used code; revoke; a re-enrollment with it fails.
    let (pairing, qr) = enrollment::start_pairing(
        &office.vault,
        &office.config,
        std::time::Duration::from_secs(600),
    )
    .await
    .expect("pairing");
    let newcomer = fieldvault_integration::Device::new(root.path(), "newcomer", &relay.url);
    let qr_text = qr.encode();
    let (joined, completed) = tokio::join!(
        enrollment::join_workspace(
            &newcomer.vault,
            &qr_text,
            "newcomer",
            std::time::Duration::from_secs(30),
            None
        ),
        enrollment::complete_pairing(
            &office.vault,
            &office.config,
            pairing,
            std::time::Duration::from_secs(30)
        )
    );
    joined.expect("join");
    let newcomer_id = completed.expect("complete");
    admin::revoke_device(&office.vault, &office.config, &newcomer_id)
        .await
        .expect("revoke");
    let err = admin::revoke_device(&office.vault, &office.config, &newcomer_id)
        .await
        .expect_err("twice");
    assert!(matches!(err, Error::Relay { status: 409, .. }), "{err:?}");
    let again = fieldvault_integration::Device::new(root.path(), "again", &relay.url);
    let err = enrollment::join_workspace(
        &again.vault,
        &qr_text,
        "again",
        std::time::Duration::from_secs(5),
        None,
    )
    .await
    .expect_err("old code");
    assert!(matches!(err, Error::Relay { status: 409, .. }), "{err:?}");
    assert!(
        again.vault.sync_settings().expect("settings").is_none(),
        "nothing stored"
    );
    // The remaining member keeps syncing and gets the new epoch.
    phone.sync().await;
    let keys = phone
        .vault
        .workspace_keys(
            &office
                .vault
                .sync_settings()
                .expect("s")
                .expect("s")
                .workspace_id,
        )
        .expect("keys");
    assert_eq!(keys.current_epoch(), Some(2));
}
