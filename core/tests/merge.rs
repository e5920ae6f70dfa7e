//! Merge: two replicas edit the same document offline (different fields, the
//! same field, list appends, narrative text), exchange changes, and converge to
//! identical documents; the history shows both authors.
mod common;

use fieldvault::model::{Count, DamageReport, DocumentBody, TaxAssist};
use fieldvault::Vault;

fn pair() -> (tempfile::TempDir, Vault, Vault) {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = common::new_vault(&dir.path().join("a"), "staff-a");
    let b = common::new_vault(&dir.path().join("b"), "staff-b");
    (dir, a, b)
}

fn exchange(a: &Vault, b: &Vault, id: &fieldvault::model::DocumentId) {
    let from_a = a.export_changes(id).expect("export a");
    let from_b = b.export_changes(id).expect("export b");
    assert_eq!(b.merge_changes(&from_a).expect("b merges a"), *id);
    assert_eq!(a.merge_changes(&from_b).expect("a merges b"), *id);
}

#[test]
fn concurrent_offline_edits_converge() {
    let (_dir, a, b) = pair();
    let mut report = common::fixtures::damage(&a);
    report.summary.remarks = "Flood at the river.".into();
    report.sites.clear();
    let id = a.insert(report).expect("create");
    b.merge_changes(&a.export_changes(&id).expect("export"))
        .expect("first sync");
    assert_eq!(
        a.get::<DamageReport>(&id).expect("a"),
        b.get::<DamageReport>(&id).expect("b")
    );

    // Offline, concurrently.
    a.update::<DamageReport, _>(&id, |d| {
        d.summary.casualties.dead.count = Count::Known(2); // a field only A touches
        d.summary.report_number = 2; // the same field as B
        d.sites.push(common::fixtures::site("A 地区 1-2"));
        d.summary.remarks = "Morning: Flood at the river.".into();
    })
    .expect("edit a");
    b.update::<DamageReport, _>(&id, |d| {
        d.summary.infrastructure.roads.count = Count::Known(5); // a field only B touches
        d.summary.report_number = 3;
        d.sites.push(common::fixtures::site("B 地区 3-4"));
        d.summary.remarks = "Flood at the river. Bridge closed.".into();
    })
    .expect("edit b");

    exchange(&a, &b, &id);
    let (da, db) = (
        a.get::<DamageReport>(&id).expect("a"),
        b.get::<DamageReport>(&id).expect("b"),
    );
    assert_eq!(da, db, "replicas converge");
    assert_eq!(da.summary.casualties.dead.count, Count::Known(2));
    assert_eq!(da.summary.infrastructure.roads.count, Count::Known(5));
    assert!(
        [2, 3].contains(&da.summary.report_number),
        "one of the concurrent values wins"
    );
    let addresses: Vec<&str> = da.sites.iter().map(|s| s.address.as_str()).collect();
    assert_eq!(
        addresses.len(),
        2,
        "both appended sites survive: {addresses:?}"
    );
    assert!(addresses.contains(&"A 地区 1-2") && addresses.contains(&"B 地区 3-4"));
    assert_eq!(
        da.summary.remarks.as_str(),
        "Morning: Flood at the river. Bridge closed."
    );

    // Both authors appear in the history, with the fields they changed.
    let history = a.history(&id).expect("history");
    assert_eq!(
        history,
        b.history(&id).expect("history b"),
        "same history on both"
    );
    let by = |staff: &str| {
        history
            .iter()
            .filter(|h| h.staff_id == staff)
            .collect::<Vec<_>>()
    };
    assert!(by("staff-a").iter().any(|h| h.operation == "create"));
    assert!(by("staff-a").iter().any(|h| h
        .fields
        .iter()
        .any(|f| f == "summary.casualties.dead.count")));
    assert!(by("staff-b").iter().any(|h| h
        .fields
        .iter()
        .any(|f| f == "summary.infrastructure.roads.count")));
    assert_ne!(by("staff-a")[0].device_id, by("staff-b")[0].device_id);

    // Exchanging again changes nothing (idempotent).
    exchange(&a, &b, &id);
    assert_eq!(a.get::<DamageReport>(&id).expect("a"), da);
    assert_eq!(a.history(&id).expect("history").len(), history.len());
}

#[test]
fn list_appends_on_a_tax_form_merge() {
    let (_dir, a, b) = pair();
    let mut form = common::fixtures::tax(&a);
    form.medical_expenses.clear();
    let id = a.insert(form).expect("create");
    b.merge_changes(&a.export_changes(&id).expect("export"))
        .expect("sync");
    a.update::<TaxAssist, _>(&id, |d| {
        d.medical_expenses
            .push(common::fixtures::medical("A病院", 12_000))
    })
    .expect("a");
    b.update::<TaxAssist, _>(&id, |d| {
        d.medical_expenses
            .push(common::fixtures::medical("B薬局", 3_400))
    })
    .expect("b");
    exchange(&a, &b, &id);
    let (da, db) = (
        a.get::<TaxAssist>(&id).expect("a"),
        b.get::<TaxAssist>(&id).expect("b"),
    );
    assert_eq!(da, db);
    assert_eq!(da.medical_expenses.len(), 2);
    assert_eq!(da.medical_deduction().paid_yen, 15_400);
    assert_eq!(
        da.envelope().kind,
        fieldvault::model::DocumentKind::TaxAssist
    );
}

#[test]
fn merging_into_a_fresh_vault_creates_the_document_and_survives_reopen() {
    let (dir, a, b) = pair();
    let id = a.insert(common::fixtures::bear(&a)).expect("create");
    b.merge_changes(&a.export_changes(&id).expect("export"))
        .expect("merge");
    drop(b);
    let b = common::reopen(&dir.path().join("b"), "staff-b");
    assert_eq!(
        b.get_any(&id).expect("b has it"),
        a.get_any(&id).expect("a has it")
    );
    assert_eq!(
        b.list(&Default::default()).expect("list").documents.len(),
        1
    );
}

#[test]
fn an_edit_on_one_replica_survives_an_unrelated_edit_on_another() {
    let (_dir, a, b) = pair();
    let id = a.insert(common::fixtures::damage(&a)).expect("create");
    b.merge_changes(&a.export_changes(&id).expect("export"))
        .expect("sync");
    b.update::<DamageReport, _>(&id, |d| d.sites.push(common::fixtures::site("森 1")))
        .expect("b");
    a.update::<DamageReport, _>(&id, |d| d.summary.report_number = 2)
        .expect("a");
    exchange(&a, &b, &id);
    for v in [&a, &b] {
        let d = v.get::<DamageReport>(&id).expect("get");
        assert_eq!(d.summary.report_number, 2, "A's edit survives");
        assert_eq!(d.sites.len(), 2, "B's edit survives");
    }
}
