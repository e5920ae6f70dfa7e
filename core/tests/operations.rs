//! Everyday operations: list filters and order, put/update, status, history,
//! My Number lifecycle, retention after acknowledgement, many threads at once.
mod common;

use std::sync::Arc;

use fieldvault::model::{BearSighting, DocumentKind, Status, TaxAssist};
use fieldvault::{Error, ListFilter, ManualClock, Vault};

#[test]
fn vault_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Vault>();
}

#[test]
fn list_filters_by_kind_status_and_time_and_sorts_by_update() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::at_utc(1_750_000_000));
    let vault = Vault::create(
        dir.path(),
        &common::provider(),
        common::options_with_clock("s", clock.clone()),
    )
    .expect("create");
    let t0 = clock_now(&clock);
    let bear1 = vault.insert(common::fixtures::bear(&vault)).expect("bear1");
    clock.advance(chrono::Duration::minutes(5));
    let tax = vault.insert(common::fixtures::tax(&vault)).expect("tax");
    clock.advance(chrono::Duration::minutes(5));
    let t10 = clock_now(&clock);
    let damage = vault
        .insert(common::fixtures::damage(&vault))
        .expect("damage");
    clock.advance(chrono::Duration::minutes(5));
    vault.set_status(&bear1, Status::Ready).expect("status");

    let all = vault.list(&ListFilter::default()).expect("list");
    let order: Vec<_> = all.documents.iter().map(|d| d.id).collect();
    assert_eq!(order, vec![bear1, damage, tax], "newest update first");
    assert_eq!(all.unreadable, 0);

    let bears = vault
        .list(&ListFilter {
            kind: Some(DocumentKind::BearSighting),
            ..Default::default()
        })
        .expect("list");
    assert_eq!(bears.documents.len(), 1);
    assert_eq!(bears.documents[0].status, Status::Ready);
    assert!(!bears.documents[0].title.is_empty());

    let drafts = vault
        .list(&ListFilter {
            status: Some(Status::Draft),
            ..Default::default()
        })
        .expect("list");
    assert_eq!(drafts.documents.len(), 2);

    let window = vault
        .list(&ListFilter {
            updated_from: Some(t0.clone()),
            updated_until: Some(t10),
            ..Default::default()
        })
        .expect("list");
    assert_eq!(
        window.documents.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![tax]
    );
}

fn clock_now(clock: &ManualClock) -> fieldvault::model::Timestamp {
    use fieldvault::Clock;
    clock.now()
}

#[test]
fn put_records_only_what_changed_and_identity_fields_are_protected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = common::new_vault(dir.path(), "staff-x");
    let id = vault
        .insert(common::fixtures::bear(&vault))
        .expect("create");
    let mut doc = vault.get::<BearSighting>(&id).expect("get");
    doc.behaviour = "立ち上がった".into();
    doc.envelope.author_staff_id = "someone-else".into();
    vault.put(doc).expect("put");
    let stored = vault.get::<BearSighting>(&id).expect("get");
    assert_eq!(stored.behaviour, "立ち上がった");
    assert_eq!(
        stored.envelope.author_staff_id, "staff-x",
        "author cannot be rewritten"
    );
    let history = vault.history(&id).expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].fields, vec!["behaviour"]);
    assert_eq!(history[1].staff_id, "staff-x");
    assert_eq!(history[1].device_id, vault.device_id());
    // A no-op put records nothing.
    vault.put(stored).expect("put same");
    assert_eq!(vault.history(&id).expect("history").len(), 2);
    // Wrong kind is a typed error.
    assert!(matches!(
        vault.get::<TaxAssist>(&id),
        Err(Error::WrongKind { .. })
    ));
}

#[test]
fn my_number_lives_apart_and_is_deleted_on_filing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = common::new_vault(dir.path(), "s");
    let id = vault.insert(common::fixtures::tax(&vault)).expect("create");
    assert_eq!(
        vault
            .set_my_number(&id, "１２３４ ５６７８ ９０１８")
            .expect("set"),
        "•••• •••• 9018"
    );
    assert_eq!(
        vault
            .reveal_my_number(&id)
            .expect("reveal")
            .expect("some")
            .expose(),
        "123456789018"
    );
    let shared = vault.export_changes(&id).expect("export");
    assert!(
        !common::contains(&shared, b"123456789018"),
        "never in the shared document"
    );
    assert!(vault.get::<TaxAssist>(&id).expect("get").has_my_number);
    vault
        .update::<TaxAssist, _>(&id, |d| {
            d.consent.given = true;
            d.envelope.status = Status::Submitted;
        })
        .expect("file");
    assert_eq!(vault.reveal_my_number(&id).expect("reveal"), None);
    assert!(matches!(
        vault.set_my_number(&id, "123456789018"),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn tax_forms_are_purged_after_acknowledgement_and_others_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::at_utc(1_750_000_000));
    let vault = Vault::create(
        dir.path(),
        &common::provider(),
        common::options_with_clock("s", clock.clone()),
    )
    .expect("create");
    let tax = vault.insert(common::fixtures::tax(&vault)).expect("tax");
    let tax_pending = vault.insert(common::fixtures::tax(&vault)).expect("tax2");
    let bear = vault.insert(common::fixtures::bear(&vault)).expect("bear");
    assert!(
        vault.apply_retention().expect("retention").is_empty(),
        "nothing acknowledged yet"
    );
    vault.mark_acknowledged(&tax).expect("ack");
    vault.mark_acknowledged(&bear).expect("ack");
    assert!(vault
        .summary(&tax)
        .expect("summary")
        .acknowledged_at
        .is_some());
    assert_eq!(vault.apply_retention().expect("retention"), vec![tax]);
    assert!(matches!(vault.get_any(&tax), Err(Error::NotFound(_))));
    vault
        .get_any(&tax_pending)
        .expect("unacknowledged form kept");
    vault.get_any(&bear).expect("bear sightings are kept");
}

#[test]
fn many_threads_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Arc::new(common::new_vault(dir.path(), "s"));
    let shared = vault
        .insert(common::fixtures::damage(&vault))
        .expect("create");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let vault = vault.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..10 {
                    let mut doc = common::fixtures::bear(&vault);
                    doc.behaviour = format!("{t}-{i}");
                    mine.push(vault.insert(doc).expect("create"));
                    vault
                        .update::<fieldvault::model::DamageReport, _>(&shared, |d| {
                            d.sites.push(common::fixtures::site(&format!("{t}-{i}")))
                        })
                        .expect("update shared");
                    vault.list(&ListFilter::default()).expect("list");
                }
                mine
            })
        })
        .collect();
    let mut created = 0;
    for t in threads {
        for id in t.join().expect("thread") {
            vault.get::<BearSighting>(&id).expect("readable");
            created += 1;
        }
    }
    assert_eq!(created, 80);
    let report = vault
        .get::<fieldvault::model::DamageReport>(&shared)
        .expect("get");
    assert_eq!(
        report.sites.len(),
        80 + common::fixtures::damage(&vault).sites.len()
    );
    assert_eq!(
        vault
            .list(&ListFilter::default())
            .expect("list")
            .documents
            .len(),
        81
    );
}

#[test]
fn wipe_leaves_no_key_material_or_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = common::new_vault(dir.path(), "s");
    let id = vault.insert(common::fixtures::tax(&vault)).expect("insert");
    vault.set_my_number(&id, "123456789018").expect("my number");
    vault.wipe().expect("wipe");
    assert!(
        common::files_below(dir.path()).is_empty(),
        "vault files removed"
    );
    assert!(matches!(
        Vault::open(dir.path(), &common::provider(), common::options("s")),
        Err(Error::NotAVault(_))
    ));
}
