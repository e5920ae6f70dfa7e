//! Nothing the relay stores or logs is plaintext: after devices sync
//! documents of all three kinds (canary strings in ASCII and Japanese) and a
//! real photo, scan the relay's SQLite files, its log, and a `pg_dump` of the
//! PostgreSQL backend for every canary (UTF-8 and UTF-16) and for windows of
//! the photo bytes.
use std::path::{Path, PathBuf};

use fieldvault::model::{BearSighting, DamageReport, TaxAssist};
use fieldvault::sample_data as s;
use fieldvault::PhotoVariant;
use fieldvault_integration::{corpus, workspace, Backend, RelayProcess};

const CANARIES: [&str; 4] = [
    "CANARY-relay-venue-7f3a",
    "カナリア熊出没地点九七",
    "CANARY-relay-disaster-19bc",
    "カナリア台風被害報告五二",
];

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Syncs canary documents and a photo through `relay`; returns the needles
/// that must not appear in anything the relay keeps.
async fn sync_canaries(root: &Path, relay: &RelayProcess) -> Vec<(String, Vec<u8>)> {
    let (admin, members) = workspace(root, &relay.url, &["hall", "forest"]).await;
    let (hall, forest) = (&members[0], &members[1]);
    let mut tax = s::tax_assist(hall.vault.new_envelope::<TaxAssist>(s::MUNICIPALITY));
    tax.venue = CANARIES[0].into();
    hall.vault.insert(tax).expect("tax");
    let mut bear = s::bear_sighting(forest.vault.new_envelope::<BearSighting>(s::MUNICIPALITY));
    bear.place_description = CANARIES[1].into();
    let bear = forest.vault.insert(bear).expect("bear");
    let original = std::fs::read(corpus().join("photos/camera/samsung_galaxy_s7edge_12mp_gps.jpg"))
        .expect("corpus photo");
    let photo = forest
        .vault
        .ingest_photo(&bear, &original, None)
        .expect("ingest");
    let mut damage = s::damage_report(admin.vault.new_envelope::<DamageReport>(s::MUNICIPALITY));
    damage.summary.disaster_name = CANARIES[2].into();
    damage.summary.remarks = CANARIES[3].into();
    admin.vault.insert(damage).expect("damage");
    for d in [&admin, hall, forest, &admin, hall, forest] {
        d.sync().await;
    }
    // The photo reached the admin: the relay really carried it.
    let display = admin
        .vault
        .photo(&bear, &photo.id, PhotoVariant::Display)
        .expect("photo synced");

    let mut needles = Vec::new();
    for c in CANARIES {
        needles.push((format!("{c} (UTF-8)"), c.as_bytes().to_vec()));
        needles.push((format!("{c} (UTF-16)"), utf16(c)));
    }
    for (name, bytes) in [("original photo", &original), ("stored photo", &display)] {
        for at in [bytes.len() / 4, bytes.len() / 2, bytes.len() * 3 / 4] {
            needles.push((format!("{name} @{at}"), bytes[at..at + 32].to_vec()));
        }
    }
    needles
}

fn assert_clean(what: &str, hay: &[u8], needles: &[(String, Vec<u8>)]) {
    for (name, needle) in needles {
        assert!(!contains(hay, needle), "{name} found in {what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_relay_files_and_logs_hold_no_plaintext() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("relay-data");
    let logs = root.path().join("logs");
    let relay = RelayProcess::start(Backend::Sqlite(data.clone()), &logs);
    let needles = sync_canaries(root.path(), &relay).await;
    let files: Vec<_> = files_below(&data)
        .into_iter()
        .chain(files_below(&logs))
        .collect();
    assert!(
        files.iter().any(|f| f.to_string_lossy().ends_with(".db")),
        "the relay database was scanned: {files:?}"
    );
    let mut scanned = 0;
    for f in files {
        let bytes = std::fs::read(&f).expect("read");
        scanned += bytes.len();
        assert_clean(&f.display().to_string(), &bytes, &needles);
    }
    assert!(
        scanned > 1_000_000,
        "the photo's chunks were on the relay: {scanned} bytes"
    );
}

fn pg_dump() -> PathBuf {
    if let Ok(p) = which("pg_dump") {
        return p;
    }
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin/pg_dump")).collect())
        .unwrap_or_default();
    found.retain(|p: &PathBuf| p.is_file());
    found.sort();
    found
        .pop()
        .expect("pg_dump (Debian postgresql-client) is installed")
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
        .ok_or(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_relay_dump_and_logs_hold_no_plaintext() {
    let url = fieldvault_integration::postgres_url();
    let root = tempfile::tempdir().expect("tempdir");
    let logs = root.path().join("logs");
    let relay = RelayProcess::start(Backend::Postgres(url.clone()), &logs);
    let needles = sync_canaries(root.path(), &relay).await;
    let dump = std::process::Command::new(pg_dump())
        .args(["--data-only", "--dbname", &url])
        .output()
        .expect("run pg_dump");
    assert!(
        dump.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&dump.stderr)
    );
    assert!(
        dump.stdout.len() > 400_000,
        "the dump holds the photo chunks"
    );
    // bytea is dumped as hex: scan the hex forms as well as the raw bytes.
    let hex_needles: Vec<_> = needles
        .iter()
        .map(|(n, b)| {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            (format!("{n} (hex)"), hex.into_bytes())
        })
        .collect();
    assert_clean("pg_dump", &dump.stdout, &needles);
    assert_clean("pg_dump", &dump.stdout, &hex_needles);
    for f in files_below(&logs) {
        assert_clean(
            &f.display().to_string(),
            &std::fs::read(&f).expect("read"),
            &needles,
        );
    }
}
