//! Devices enroll through QR pairing and converge through a real relay process.
use fieldvault::model::{BearSighting, DamageReport, TaxAssist};
use fieldvault::sample_data as s;
use fieldvault_integration::{postgres_url, workspace, Backend, RelayProcess};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_converge_through_a_sqlite_relay() {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    converge(root.path(), &relay.url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_converge_through_a_postgres_relay() {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::start(Backend::Postgres(postgres_url()), &root.path().join("logs"));
    converge(root.path(), &relay.url, None).await;
}

/// Two relay processes share one PostgreSQL database; the hall device talks
/// to the second one, the others to the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_on_two_relays_sharing_one_postgres_converge() {
    let root = tempfile::tempdir().expect("tempdir");
    let logs = root.path().join("logs");
    let first = RelayProcess::start(Backend::Postgres(postgres_url()), &logs);
    let second = RelayProcess::start(Backend::Postgres(postgres_url()), &logs);
    converge(root.path(), &first.url, Some(&second.url)).await;
}

async fn converge(root: &std::path::Path, relay_url: &str, hall_relay: Option<&str>) {
    let (admin, mut members) = workspace(root, relay_url, &["hall", "forest"]).await;
    if let Some(url) = hall_relay {
        members[0].use_relay(url);
    }
    let (hall, forest) = (&members[0], &members[1]);

    // Offline work on each device.
    let tax = hall
        .vault
        .insert(s::tax_assist(
            hall.vault.new_envelope::<TaxAssist>(s::MUNICIPALITY),
        ))
        .expect("tax");
    let bear = forest
        .vault
        .insert(s::bear_sighting(
            forest.vault.new_envelope::<BearSighting>(s::MUNICIPALITY),
        ))
        .expect("bear");
    let damage = admin
        .vault
        .insert(s::damage_report(
            admin.vault.new_envelope::<DamageReport>(s::MUNICIPALITY),
        ))
        .expect("damage");

    for d in [&admin, hall, forest] {
        d.sync().await;
    }
    for d in [&admin, hall, forest] {
        d.sync().await;
    }
    // Concurrent edits of the damage report on two devices, then sync again.
    forest
        .vault
        .update::<DamageReport, _>(&damage, |r| r.sites.push(s::site_record("森 1")))
        .expect("edit");
    admin
        .vault
        .update::<DamageReport, _>(&damage, |r| r.summary.report_number = 2)
        .expect("edit");
    for _ in 0..2 {
        for d in [&admin, hall, forest] {
            let r = d.sync().await;
            assert_eq!((r.rejected, r.skipped_purged), (0, 0), "{}: {r:?}", d.name);
        }
    }
    // Every device has the same history, with both authors.
    let history = admin.vault.history(&damage).expect("history");
    assert!(history
        .iter()
        .any(|h| h.staff_id == "staff-forest" && h.fields == ["sites"]));
    assert!(history
        .iter()
        .any(|h| h.staff_id == "staff-admin" && h.fields == ["summary.report_number"]));
    for d in [hall, forest] {
        assert_eq!(
            d.vault.history(&damage).expect("history"),
            history,
            "{}",
            d.name
        );
    }
    let reference = admin
        .vault
        .get::<DamageReport>(&damage)
        .expect("admin copy");
    assert_eq!(reference.summary.report_number, 2);
    assert_eq!(reference.sites.len(), 2);
    for d in [hall, forest] {
        assert_eq!(
            d.vault.get::<DamageReport>(&damage).expect("copy"),
            reference,
            "{}",
            d.name
        );
        assert_eq!(
            d.vault.get::<BearSighting>(&bear).expect("bear"),
            admin.vault.get::<BearSighting>(&bear).expect("bear")
        );
    }
    // The tax form reached the relay and was purged from the hall device.
    assert!(
        admin.vault.get::<TaxAssist>(&tax).is_ok(),
        "the office has the form"
    );
    assert!(
        matches!(
            hall.vault.get_any(&tax),
            Err(fieldvault::Error::NotFound(_))
        ),
        "purged after acknowledgement"
    );
    assert_eq!(hall.vault.outbox_size().expect("outbox").0, 0);
}

/// A device that is the only one writing moves its pull cursor past its own
/// entries (the relay leaves them out of its pages), so later pulls start
/// after them instead of scanning them again; a colleague's entry written
/// afterwards still arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pull_cursor_moves_past_a_devices_own_entries() {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    let (office, members) = workspace(root.path(), &relay.url, &["phone"]).await;
    let phone = &members[0];
    for i in 0..3 {
        fieldvault_integration::insert_sample(&phone.vault, i);
    }
    let report = phone.sync().await;
    assert!(report.pushed >= 3, "{report:?}");
    let cursor = |d: &fieldvault_integration::Device| {
        d.vault
            .sync_settings()
            .expect("settings")
            .expect("enrolled")
            .cursor
    };
    assert!(
        cursor(phone) >= report.pushed as i64,
        "cursor {} after pushing {} entries",
        cursor(phone),
        report.pushed
    );
    let from_office = office
        .vault
        .insert(s::bear_sighting(
            office.vault.new_envelope::<BearSighting>(s::MUNICIPALITY),
        ))
        .expect("insert");
    office.sync().await;
    phone.sync().await;
    assert!(phone.vault.get::<BearSighting>(&from_office).is_ok());
}
