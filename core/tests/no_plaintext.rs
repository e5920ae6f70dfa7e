//! No plaintext at rest: documents of all three kinds with unique canaries in
//! every text field (ASCII and Japanese) and a My Number; every file in the
//! vault directory is scanned for every canary in UTF-8 and UTF-16 after
//! creation, edits, compaction and deletion. (After a crash: `crash_safety.rs`.)
mod common;

use common::canary::Canaries;
use fieldvault::model::{BearSighting, DamageReport, TaxAssist};
use fieldvault::DB_FILE;

const MY_NUMBER: &str = "123456789018";

fn assert_clean(dir: &std::path::Path, needles: &[String], stage: &str) {
    let hits = common::scan_for(dir, needles);
    assert!(hits.is_empty(), "{stage}: plaintext found: {hits:?}");
}

#[test]
fn the_scanner_finds_plaintext_when_it_is_there() {
    // Control: the same strings written by plain SQLite are found, in UTF-8
    // and in UTF-16 (SQLite's UTF-16 text encoding).
    let dir = tempfile::tempdir().expect("tempdir");
    let needles = vec!["CANARY-control-001".to_string(), "カナリア対照".to_string()];
    let c = rusqlite::Connection::open(dir.path().join("plain.db")).expect("open");
    c.execute_batch("CREATE TABLE t(x TEXT)").expect("table");
    c.execute("INSERT INTO t VALUES (?1)", [&needles[0]])
        .expect("insert");
    drop(c);
    let c16 = rusqlite::Connection::open(dir.path().join("plain16.db")).expect("open");
    c16.execute_batch("PRAGMA encoding = 'UTF-16le'; CREATE TABLE t(x TEXT)")
        .expect("table");
    c16.execute("INSERT INTO t VALUES (?1)", [&needles[1]])
        .expect("insert");
    drop(c16);
    let hits = common::scan_for(dir.path(), &needles);
    assert_eq!(hits.len(), 2, "{hits:?}");
}

#[test]
fn no_canary_reaches_any_file_through_the_whole_lifecycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = common::new_vault(dir.path(), "staff-canary");
    let mut canaries = Canaries::new("life");

    // Every free-text field of each kind takes a canary (ids, times, enum tags
    // and format-checked fields such as the 7-digit account number cannot).
    let tax = canaries.plant(&common::fixtures::tax(&vault));
    let after_tax = canaries.planted.len();
    let bear = canaries.plant(&common::fixtures::bear(&vault));
    let after_bear = canaries.planted.len();
    let damage = canaries.plant(&common::fixtures::damage(&vault));
    let counts = (
        after_tax,
        after_bear - after_tax,
        canaries.planted.len() - after_bear,
    );
    assert!(
        counts.0 >= 24 && counts.1 >= 7 && counts.2 >= 5,
        "too few text fields planted: {counts:?}"
    );
    let (tax_id, bear_id, damage_id) = (
        vault.insert(tax.clone()).expect("tax"),
        vault.insert(bear).expect("bear"),
        vault.insert(damage).expect("damage"),
    );
    assert_eq!(
        vault.set_my_number(&tax_id, MY_NUMBER).expect("my number"),
        "•••• •••• 9018"
    );
    let mut needles = canaries.planted.clone();
    needles.push(MY_NUMBER.into());
    needles.push("1234 5678 9018".into());
    // The documents really hold the canaries (they are read back intact).
    assert_eq!(
        vault.get::<TaxAssist>(&tax_id).expect("get").taxpayer.name,
        tax.taxpayer.name
    );
    assert_clean(dir.path(), &needles, "after create");

    // Edits, many of them, so change rows pile up and a snapshot is written.
    let mut edits = Canaries::new("edit");
    for round in 0..40 {
        let fresh = edits.plant(&common::fixtures::bear(&vault));
        vault
            .update::<BearSighting, _>(&bear_id, |d| {
                d.narrative = format!("{} / {}", d.narrative.as_str(), fresh.narrative.as_str())
                    .as_str()
                    .into();
                d.behaviour = fresh.behaviour.clone();
            })
            .expect("edit bear");
        vault
            .update::<DamageReport, _>(&damage_id, |d| {
                d.summary.disaster_name = format!("{} {round}", fresh.place_description)
            })
            .expect("edit damage");
    }
    needles.extend(edits.planted.iter().cloned());
    assert_clean(dir.path(), &needles, "after edits");

    for id in [&tax_id, &bear_id, &damage_id] {
        vault.compact(id).expect("compact");
    }
    vault.checkpoint().expect("checkpoint");
    assert_clean(dir.path(), &needles, "after compaction");

    // Filing deletes the My Number record.
    vault
        .update::<TaxAssist, _>(&tax_id, |d| {
            d.consent.given = true;
            d.envelope.status = fieldvault::model::Status::Submitted;
        })
        .expect("file");
    assert_eq!(vault.my_number_masked(&tax_id).expect("masked"), None);

    // Crypto-shredding: after delete, not even the wrapped key remains anywhere.
    let wrapped_keys: Vec<Vec<u8>> = {
        let c = rusqlite::Connection::open(dir.path().join(DB_FILE)).expect("raw");
        let mut s = c
            .prepare("SELECT wrapped_key FROM documents")
            .expect("prepare");
        s.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    assert_eq!(wrapped_keys.len(), 3);
    vault.delete(&bear_id).expect("delete");
    assert!(matches!(
        vault.get_any(&bear_id),
        Err(fieldvault::Error::NotFound(_))
    ));
    assert_clean(dir.path(), &needles, "after delete");
    let remaining: usize = common::files_below(dir.path())
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).expect("read");
            wrapped_keys
                .iter()
                .filter(|k| common::contains(&bytes, &k[..]))
                .count()
        })
        .sum();
    assert_eq!(
        remaining, 2,
        "exactly the shredded document's wrapped key is gone from every file"
    );

    drop(vault);
    assert_clean(dir.path(), &needles, "after close");
}
