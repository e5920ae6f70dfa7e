//! Bad input: wrong passphrase, a non-vault file, a truncated database,
//! invalid field values, malformed change data — each a typed error with a
//! clear message, no panic, nothing already stored lost or changed.
mod common;

use std::path::Path;

use fieldvault::model::{BearSighting, FieldErrorCode, GeoPoint};
use fieldvault::{Argon2Params, Error, PassphraseKeyProvider, Vault, DB_FILE};
use ring::digest::{digest, SHA256};

fn fingerprint(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = common::files_below(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read");
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                digest(&SHA256, &bytes).as_ref().to_vec(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn wrong_passphrase_is_typed_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = common::new_vault(dir.path(), "s");
    let id = vault
        .insert(common::fixtures::bear(&vault))
        .expect("create");
    drop(vault);
    let before = fingerprint(dir.path());
    let wrong = PassphraseKeyProvider::with_params(
        "not the passphrase",
        Argon2Params::insecure_for_tests(),
    );
    let err = Vault::open(dir.path(), &wrong, common::options("s")).expect_err("must fail");
    assert!(matches!(err, Error::WrongKey), "{err:?}");
    assert!(err.to_string().contains("wrong key or passphrase"), "{err}");
    assert_eq!(fingerprint(dir.path()), before, "nothing on disk changed");
    // And the right passphrase still works.
    let vault = common::reopen(dir.path(), "s");
    vault.get::<BearSighting>(&id).expect("still readable");
}

#[test]
fn files_that_are_not_vaults_are_refused_without_being_modified() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Missing directory / file.
    let err = Vault::open(
        &dir.path().join("nope"),
        &common::provider(),
        common::options("s"),
    )
    .expect_err("missing");
    assert!(matches!(err, Error::NotAVault(_)), "{err:?}");

    // Random bytes.
    let junk_dir = dir.path().join("junk");
    std::fs::create_dir_all(&junk_dir).expect("mkdir");
    std::fs::write(junk_dir.join(DB_FILE), [0x42u8; 8192]).expect("write");
    let err = Vault::open(&junk_dir, &common::provider(), common::options("s")).expect_err("junk");
    assert!(matches!(err, Error::NotAVault(_)), "{err:?}");

    // Another application's SQLite database: refused, and left in its journal mode.
    let other_dir = dir.path().join("other");
    std::fs::create_dir_all(&other_dir).expect("mkdir");
    {
        let c = rusqlite::Connection::open(other_dir.join(DB_FILE)).expect("sqlite");
        c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .expect("fill");
    }
    let before = fingerprint(&other_dir);
    let err =
        Vault::open(&other_dir, &common::provider(), common::options("s")).expect_err("other");
    assert!(matches!(err, Error::NotAVault(_)), "{err:?}");
    assert_eq!(fingerprint(&other_dir), before);

    // An empty file.
    let empty_dir = dir.path().join("empty");
    std::fs::create_dir_all(&empty_dir).expect("mkdir");
    std::fs::write(empty_dir.join(DB_FILE), b"").expect("write");
    let err =
        Vault::open(&empty_dir, &common::provider(), common::options("s")).expect_err("empty");
    assert!(matches!(err, Error::NotAVault(_)), "{err:?}");

    // Creating over an existing vault.
    let v = dir.path().join("v");
    drop(common::new_vault(&v, "s"));
    let err = Vault::create(&v, &common::provider(), common::options("s")).expect_err("exists");
    assert!(matches!(err, Error::AlreadyExists(_)), "{err:?}");
}

#[test]
fn truncated_database_gives_typed_errors_never_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = common::new_vault(dir.path(), "s");
    let ids: Vec<_> = (0..40)
        .map(|_| {
            vault
                .insert(common::fixtures::damage(&vault))
                .expect("create")
        })
        .collect();
    vault.checkpoint().expect("checkpoint");
    drop(vault);
    let full = std::fs::read(dir.path().join(DB_FILE)).expect("read");
    for cut in [
        10,
        100,
        1024,
        4096,
        full.len() / 3,
        full.len() / 2,
        full.len() - 4096,
    ] {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join(DB_FILE), &full[..cut]).expect("write");
        match Vault::open(d.path(), &common::provider(), common::options("s")) {
            Err(Error::NotAVault(_) | Error::Corrupted(_)) => {}
            Err(other) => panic!("cut {cut}: unexpected error {other:?}"),
            Ok(vault) => {
                // Whatever opens must answer every read with data or a typed error.
                for id in &ids {
                    match vault.get_any(id) {
                        Ok(_) | Err(Error::Corrupted(_) | Error::NotFound(_)) => {}
                        Err(other) => panic!("cut {cut}: unexpected read error {other:?}"),
                    }
                }
                match vault.list(&Default::default()) {
                    Ok(_) | Err(Error::Corrupted(_)) => {}
                    Err(other) => panic!("cut {cut}: unexpected list error {other:?}"),
                }
            }
        }
    }
}

#[test]
fn invalid_field_values_are_field_level_errors_and_store_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = common::new_vault(dir.path(), "s");
    let good = vault
        .insert(common::fixtures::bear(&vault))
        .expect("create");

    let mut bad = common::fixtures::bear(&vault);
    bad.location = Some(GeoPoint::new(123.0, 141.35));
    let err = vault.insert(bad).expect_err("latitude out of range");
    let Error::Validation(errors) = &err else {
        panic!("{err:?}")
    };
    assert!(
        errors
            .0
            .iter()
            .any(|e| e.field == "location.latitude" && e.code == FieldErrorCode::OutOfRange),
        "{errors:?}"
    );
    assert!(err.to_string().contains("location.latitude"), "{err}");
    assert_eq!(
        vault
            .list(&Default::default())
            .expect("list")
            .documents
            .len(),
        1
    );

    // An invalid edit leaves the stored document exactly as it was.
    let before = vault.get::<BearSighting>(&good).expect("get");
    let err = vault
        .update::<BearSighting, _>(&good, |d| d.location = Some(GeoPoint::new(f64::NAN, 0.0)))
        .expect_err("NaN");
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert_eq!(vault.get::<BearSighting>(&good).expect("get"), before);
    assert_eq!(
        vault.history(&good).expect("history").len(),
        1,
        "no change recorded"
    );

    // A tax form's My Number with a bad check digit.
    let tax = vault.insert(common::fixtures::tax(&vault)).expect("tax");
    let err = vault
        .set_my_number(&tax, "123456789012")
        .expect_err("bad check digit");
    let Error::Validation(errors) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(errors.0[0].code, FieldErrorCode::BadCheckDigit);
    assert!(
        !err.to_string().contains("123456789012"),
        "the message never echoes the number"
    );
    // A My Number on a bear sighting is refused.
    assert!(matches!(
        vault.set_my_number(&good, "123456789018"),
        Err(Error::WrongKind { .. })
    ));
}

#[test]
fn malformed_change_data_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = common::new_vault(dir.path(), "s");
    let id = vault
        .insert(common::fixtures::bear(&vault))
        .expect("create");
    let before = vault.get_any(&id).expect("get");
    let crashers = common::corpus().join("automerge/fuzz-crashers");
    let mut tried = 0;
    for entry in std::fs::read_dir(&crashers).expect("corpus dir") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        let err = vault
            .merge_changes(&bytes)
            .expect_err("fuzz crasher must be refused");
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
        tried += 1;
    }
    // A valid Automerge document that is not a FieldVault document.
    let foreign =
        std::fs::read(common::corpus().join("automerge/interop/exemplar.automerge")).expect("read");
    assert!(matches!(
        vault.merge_changes(&foreign),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        vault.merge_changes(b""),
        Err(Error::InvalidInput(_))
    ));
    assert!(tried >= 8);
    assert_eq!(vault.get_any(&id).expect("get"), before);
    assert_eq!(
        vault
            .list(&Default::default())
            .expect("list")
            .documents
            .len(),
        1
    );
}
