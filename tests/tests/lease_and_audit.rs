//! The offline lease (locks tax forms on a device that has not checked in)
//! and the audit logs every device publishes to the admin.
use std::sync::Arc;

use automerge::AutoCommit;
use fieldvault::model::{
    AuditAction, AuditLog, AuditProblemKind, BearSighting, DocumentId, DocumentKind, TaxAssist,
    AUDIT_SEGMENT_ENTRIES,
};
use fieldvault::sample_data as s;
use fieldvault::vault::PhotoVariant;
use fieldvault::{Error, ManualClock, VaultOptions};
use fieldvault_integration::{
    found_workspace, insert_sample, keep_all, pair_device, recurser_photos, workspace, Device,
    RelayProcess,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_locks_tax_forms_until_the_device_checks_in() {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    let (admin, _) = workspace(root.path(), &relay.url, &[]).await;
    let clock = Arc::new(ManualClock::new(chrono::Local::now().fixed_offset()));
    // Keep acknowledged forms here, so the form is still present after the
    // check-in (the default purges it once the relay has it).
    let options = keep_all("hall").with_clock(clock.clone());
    let hall = Device::with_options(root.path(), "hall", &relay.url, options);
    let mut hall = pair_device(&admin, hall).await;
    let v = hall.vault.clone();
    let tax = insert_sample(&v, 2); // a tax-help form
    v.set_my_number(&tax, "123456789018").expect("my number");
    // A receipt photographed at the hall, not yet uploaded when the lease
    // runs out: the check-in must still upload it.
    let receipt = v
        .ingest_photo(&tax, &recurser_photos()[0], None)
        .expect("ingest a receipt");
    let bear = insert_sample(&v, 0); // a bear sighting
    assert_eq!(v.lease_status().lease_hours, 72);

    // Within the lease: everything opens.
    clock.advance(chrono::Duration::hours(71));
    assert!(!v.lease_status().expired);
    v.get::<TaxAssist>(&tax).expect("tax within the lease");

    // Past it, offline: the tax form locks, the bear sighting does not.
    clock.advance(chrono::Duration::hours(2));
    assert!(v.lease_status().expired);
    let locked = |r: fieldvault::Result<()>| matches!(r, Err(Error::Locked(id)) if id == tax);
    assert!(locked(v.get::<TaxAssist>(&tax).map(drop)));
    assert!(locked(v.get_any(&tax).map(drop)));
    assert!(locked(
        v.update::<TaxAssist, _>(&tax, |t| t.venue = "x".into())
    ));
    assert!(locked(v.reveal_my_number(&tax).map(drop)));
    assert!(locked(v.history(&tax).map(drop)));
    assert!(locked(v.export_changes(&tax).map(drop)));
    let message = v.get::<TaxAssist>(&tax).expect_err("locked").to_string();
    assert!(message.contains("locked"), "{message}");
    let listed = v.list(&Default::default()).expect("list").documents;
    let tax_row = listed.iter().find(|d| d.id == tax).expect("tax listed");
    assert!(tax_row.locked && tax_row.title.is_empty());
    let bear_row = listed.iter().find(|d| d.id == bear).expect("bear listed");
    assert!(!bear_row.locked && !bear_row.title.is_empty());
    v.get::<BearSighting>(&bear).expect("bear stays readable");

    // A failed check-in (relay unreachable) does not unlock.
    let url = relay.url.clone();
    hall.use_relay("http://127.0.0.1:9");
    assert!(hall.engine().sync_once().await.is_err());
    assert!(v.lease_status().expired);
    assert!(locked(v.get::<TaxAssist>(&tax).map(drop)));

    // A successful one does, and nothing was lost meanwhile.
    hall.use_relay(&url);
    hall.sync().await;
    assert!(!v.lease_status().expired);
    let form = v.get::<TaxAssist>(&tax).expect("unlocked");
    assert_eq!(form.envelope.id, tax);
    assert!(v.reveal_my_number(&tax).expect("reveal").is_some());
    assert!(!v.summary(&tax).expect("summary").locked);
    assert_eq!(v.photo_transfers_pending().expect("pending").0, 0);
    admin.sync().await;
    assert!(!admin
        .vault
        .photo(&tax, &receipt.id, PhotoVariant::Display)
        .expect("the receipt reached the office")
        .is_empty());
}

/// The hall device's log as the admin verifies it now.
fn log_of(admin: &Device, device_id: &str) -> fieldvault::vault::DeviceAuditLog {
    admin
        .vault
        .device_audit_logs()
        .expect("logs")
        .into_iter()
        .find(|l| l.device_id == device_id)
        .expect("the device's log")
}

/// The device's row of the admin's device registry.
async fn registry_row(admin: &Device, device_id: &str) -> fieldvault::sync::admin::DeviceRecord {
    fieldvault::sync::admin::device_registry(&admin.vault, &admin.config)
        .await
        .expect("registry")
        .into_iter()
        .find(|d| d.device_id == device_id)
        .expect("the device in the registry")
}

fn hydrate_log(bytes: &[u8]) -> (AutoCommit, AuditLog) {
    let doc = AutoCommit::load(bytes).expect("load");
    let log: AuditLog = autosurgeon::hydrate(&doc).expect("hydrate");
    (doc, log)
}

/// What a compromised phone could do: rewrite its own published log and
/// merge the result so it syncs.
fn rewrite_own_log(device: &Device, edit: impl FnOnce(&mut AuditLog)) {
    let id = device
        .vault
        .audit_log_document()
        .expect("doc")
        .expect("published");
    rewrite_segment(device, &id, edit);
}

/// Recomputes the links and hashes of `log`'s entries from index `from` on,
/// as a forger would to keep a rewritten chain self-consistent.
fn rehash_from(log: &mut AuditLog, from: usize) {
    let mut prev = log.entries[from - 1].hash.clone();
    for e in log.entries.iter_mut().skip(from) {
        e.prev_hash = prev;
        e.hash = e.compute_hash();
        prev = e.hash.clone();
    }
}

/// The same for one segment `id` of its log.
fn rewrite_segment(device: &Device, id: &DocumentId, edit: impl FnOnce(&mut AuditLog)) {
    let (mut doc, mut log) = hydrate_log(&device.vault.export_changes(id).expect("export"));
    edit(&mut log);
    autosurgeon::reconcile(&mut doc, &log).expect("reconcile");
    device.vault.merge_changes(&doc.save()).expect("merge");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_logs_reach_the_admin_who_detects_tampering() {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    let (admin, members) = workspace(root.path(), &relay.url, &["hall"]).await;
    let hall = &members[0];
    let v = &hall.vault;
    let tax = v
        .insert(s::tax_assist(v.new_envelope::<TaxAssist>(s::MUNICIPALITY)))
        .expect("tax");
    v.get::<TaxAssist>(&tax).expect("open");
    v.update::<TaxAssist, _>(&tax, |t| t.venue = "北区民センター".into())
        .expect("edit");
    v.record_audit(AuditAction::Exported, Some(&tax), "pdf")
        .expect("export");
    hall.sync().await;
    admin.sync().await;

    // The admin reads and verifies the hall device's log.
    let log = log_of(&admin, &v.device_id());
    let actions: Vec<_> = log.entries.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        vec![
            AuditAction::Created,
            AuditAction::Opened,
            AuditAction::Edited,
            AuditAction::Exported
        ]
    );
    assert!(log.problems.is_empty(), "{:?}", log.problems);
    assert!(log.entries.iter().all(|e| e.staff_id == "staff-hall"));
    // Audit logs stay out of ordinary listings.
    assert!(admin
        .vault
        .list(&Default::default())
        .expect("list")
        .documents
        .iter()
        .all(|d| d.kind != DocumentKind::AuditLog));
    // The registry joins the relay's view with the device's sealed report.
    let row = registry_row(&admin, &v.device_id()).await;
    assert_eq!(row.name, "hall");
    assert_eq!(row.staff_id.as_deref(), Some("staff-hall"));
    assert!(row.pending_changes.is_some_and(|n| n >= 1), "{row:?}");
    assert_eq!(row.pending_photos, Some(0));
    assert!(row.last_seen_ms.is_some() && row.revoked_at_ms.is_none());
    assert!(!row.app_version.is_empty());
    // A member cannot read other devices' logs through the API.
    assert!(matches!(v.device_audit_logs(), Err(Error::InvalidInput(_))));

    // The phone hides its export by rewriting the entry and every hash after
    // it, so its chain is self-consistent: the admin's witness catches it.
    rewrite_own_log(hall, |log| {
        log.entries[3].action = AuditAction::Opened;
        rehash_from(log, 3);
    });
    hall.sync().await;
    admin.sync().await;
    let log = log_of(&admin, &v.device_id());
    let kinds: Vec<_> = log.problems.iter().map(|p| p.reason).collect();
    assert!(kinds.contains(&AuditProblemKind::HeadMismatch), "{kinds:?}");

    // Deleting an entry outright breaks the chain itself.
    rewrite_own_log(hall, |log| {
        log.entries.remove(1);
    });
    hall.sync().await;
    admin.sync().await;
    let log = log_of(&admin, &v.device_id());
    let kinds: Vec<_> = log.problems.iter().map(|p| p.reason).collect();
    assert!(kinds.contains(&AuditProblemKind::Gap), "{kinds:?}");
    assert!(kinds.contains(&AuditProblemKind::BrokenLink), "{kinds:?}");
    // The device's own sealed chain on disk is untouched by all this.
    assert!(v.verify_audit_log().expect("verify").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_log_reaches_the_admin_in_segments_that_verify_as_one_chain() {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    let (admin, members) = workspace(root.path(), &relay.url, &["hall"]).await;
    let hall = &members[0];
    let v = &hall.vault;
    let bear = insert_sample(v, 0);
    // The first segment gets a report with the sighting still queued...
    hall.sync().await;
    // ...then a season of exports: more than one segment.
    let extra = usize::try_from(AUDIT_SEGMENT_ENTRIES).expect("size") + 300;
    v.record_audits(AuditAction::Exported, &vec![bear; extra], "csv")
        .expect("exports");
    hall.sync().await;
    admin.sync().await;

    let log = log_of(&admin, &v.device_id());
    assert_eq!(log.documents.len(), 2, "two segments");
    assert_eq!(log.entries, v.audit_log().expect("local"));
    assert!(log.problems.is_empty(), "{:?}", log.problems);
    // The registry shows the latest report (nothing queued), not the older
    // one the first segment still carries.
    let older = admin
        .vault
        .get::<AuditLog>(&log.documents[0])
        .expect("first segment")
        .report
        .expect("older report");
    assert_eq!(older.pending_changes, 1);
    let row = registry_row(&admin, &v.device_id()).await;
    assert_eq!(row.pending_changes, Some(0));
    assert_eq!(row.staff_id.as_deref(), Some("staff-hall"));
    assert_eq!(log.report.map(|r| r.pending_changes), Some(0));

    // Rewriting the full, older segment consistently within itself (every
    // hash recomputed) no longer links to the next segment.
    rewrite_segment(hall, &log.documents[0], |segment| {
        segment.entries[5].detail = "pdf".into();
        rehash_from(segment, 5);
    });
    hall.sync().await;
    admin.sync().await;
    let log = log_of(&admin, &v.device_id());
    let problems: Vec<_> = log.problems.iter().map(|p| (p.seq, p.reason)).collect();
    assert_eq!(
        problems,
        vec![(AUDIT_SEGMENT_ENTRIES, AuditProblemKind::BrokenLink)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_rotation_starts_a_new_epoch_when_due_and_members_follow() {
    use fieldvault::sync::admin::rotate_key_if_due;
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    let clock = Arc::new(ManualClock::new(chrono::Local::now().fixed_offset()));
    let admin = found_workspace(Device::with_options(
        root.path(),
        "admin",
        &relay.url,
        VaultOptions::new("staff-admin").with_clock(clock.clone()),
    ))
    .await;
    let forest = fieldvault_integration::pair(&admin, root.path(), "forest").await;
    let month = chrono::Duration::days(30);

    clock.advance(chrono::Duration::days(29));
    assert_eq!(
        rotate_key_if_due(&admin.vault, &admin.config, month)
            .await
            .expect("not due"),
        None
    );
    clock.advance(chrono::Duration::days(2));
    assert_eq!(
        rotate_key_if_due(&admin.vault, &admin.config, month)
            .await
            .expect("due"),
        Some(2)
    );
    // Just rotated: not due again.
    assert_eq!(
        rotate_key_if_due(&admin.vault, &admin.config, month)
            .await
            .expect("not due"),
        None
    );

    // Written after the rotation, read by the member under the new epoch.
    let bear = admin
        .vault
        .insert(s::bear_sighting(
            admin.vault.new_envelope::<BearSighting>(s::MUNICIPALITY),
        ))
        .expect("bear");
    admin.sync().await;
    forest.sync().await;
    let keys = forest
        .vault
        .workspace_keys(
            &forest
                .vault
                .sync_settings()
                .expect("s")
                .expect("s")
                .workspace_id,
        )
        .expect("keys");
    assert_eq!(keys.current_epoch(), Some(2));
    forest
        .vault
        .get::<BearSighting>(&bear)
        .expect("member reads it");

    // Members cannot rotate.
    assert!(matches!(
        rotate_key_if_due(&forest.vault, &forest.config, month).await,
        Err(Error::InvalidInput(_))
    ));
}
