//! Faults on the way to the relay: a proxy that cuts connections mid-request,
//! stalls and refuses them, and a relay restarted mid-sync. A phone with 100
//! documents and 20 photos still completes its upload, the office converges
//! to exactly those documents and photos (no duplicates), and each
//! interruption costs at most one re-sent photo chunk.
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use fieldvault::model::DocumentId;
use fieldvault::PhotoVariant;
use fieldvault_integration::proxy::{Fault, FaultProxy};
use fieldvault_integration::{corpus, workspace, Backend, RelayProcess};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn twenty_photos() -> Vec<Vec<u8>> {
    let mut photos = fieldvault_integration::recurser_photos();
    for big in [
        "photos/camera/samsung_galaxy_s7edge_12mp_gps.jpg",
        "photos/camera/leica_t_16mp_orient8.jpg",
    ] {
        photos.push(std::fs::read(corpus().join(big)).expect("corpus photo"));
    }
    assert_eq!(photos.len(), 20);
    photos
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_survive_cuts_stalls_and_a_relay_restart() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("relay");
    let logs = root.path().join("logs");
    let mut relay = RelayProcess::start(Backend::Sqlite(data.clone()), &logs);
    let listen = relay.addr().to_string();
    let (admin, mut members) = workspace(root.path(), &relay.url, &["forest"]).await;
    let forest = &mut members[0];
    let proxy = FaultProxy::start(relay.addr()).await;
    forest.use_relay(&proxy.url());

    // Offline: 100 documents, 20 of them with a photo.
    let v = forest.vault.clone();
    let photos = twenty_photos();
    let mut created: BTreeSet<DocumentId> = BTreeSet::new();
    let mut with_photo = Vec::new();
    for i in 0..100 {
        let id = fieldvault_integration::insert_sample(&v, i);
        if i % 3 != 2 && with_photo.len() < photos.len() {
            let photo = v
                .ingest_photo(&id, &photos[with_photo.len()], None)
                .expect("photo");
            with_photo.push((id, photo));
        }
        created.insert(id);
    }
    assert_eq!(with_photo.len(), 20);

    // Back online, badly: random cuts, stalls and refusals, and one relay
    // restart in the middle of a pass. Bounded: at most 60 passes.
    let mut rng = StdRng::seed_from_u64(7);
    let mut restarted = false;
    let mut failures = 0;
    let started = Instant::now();
    for pass in 0..60 {
        // Every kind of fault first, then a random mix.
        let fault = match (pass, rng.gen_range(0..6)) {
            (0 | 2, _) | (_, 0 | 1) => Fault::CutAfter,
            (4, _) | (_, 2) => Fault::Stall,
            (5, _) | (_, 3) => Fault::Refuse,
            _ => Fault::None,
        };
        proxy.set(fault, rng.gen_range(20_000..700_000));
        let result = if pass == 1 {
            // Kill the relay while the pass runs, then bring it back on the
            // same address and data.
            proxy.set(Fault::None, u64::MAX);
            let engine = forest.engine().clone();
            let task = tokio::spawn(async move { engine.sync_once().await });
            tokio::time::sleep(Duration::from_millis(300)).await;
            relay.kill();
            let r = task.await.expect("join");
            relay = RelayProcess::start_on(Backend::Sqlite(data.clone()), &logs, &listen);
            restarted = true;
            r
        } else {
            forest.engine().sync_once().await
        };
        match result {
            Err(_) => failures += 1,
            Ok(_) if pass > 5 && fault == Fault::None => {
                let (changes, _) = v.outbox_size().expect("outbox");
                let (uploads, _) = v.photo_transfers_pending().expect("pending");
                if changes == 0 && uploads == 0 {
                    break;
                }
            }
            Ok(_) => {}
        }
        assert!(pass < 59, "the upload never completed");
    }
    proxy.set(Fault::None, u64::MAX);
    forest.sync().await;
    assert!(
        restarted && failures > 0,
        "faults happened ({failures} failed passes)"
    );
    assert_eq!(v.outbox_size().expect("outbox").0, 0);
    assert_eq!(v.photo_transfers_pending().expect("pending"), (0, 0));
    let injected = proxy.injected();
    println!(
        "upload completed in {:.1} s: {failures} failed passes, {injected} connections cut/stalled/refused, 1 relay restart",
        started.elapsed().as_secs_f64()
    );

    // Each interruption re-sent at most one chunk: count chunk PUTs per chunk.
    let mut attempts: BTreeMap<String, usize> = BTreeMap::new();
    for line in proxy.requests().iter() {
        if line.starts_with("PUT ") && line.contains("/chunks/") {
            let path = line.split('?').next().unwrap_or(line).to_string();
            *attempts.entry(path).or_default() += 1;
        }
    }
    // A cut, stall or refusal hits one connection (each is counted in
    // `injected`) and costs the upload on it at most its chunk in flight; the
    // other uploads finish their chunk and stop. The relay restart hits every
    // upload in flight at once: at most PHOTOS_IN_FLIGHT chunks.
    let resent: usize = attempts.values().map(|n| n - 1).sum();
    println!("{} chunks uploaded, {resent} re-sent", attempts.len());
    let restart_cost = fieldvault::sync::engine::PHOTOS_IN_FLIGHT as u64;
    assert!(
        resent as u64 <= injected + restart_cost,
        "{resent} chunk re-sends for {injected} injected faults and one restart"
    );

    // The office converges to exactly these documents and photos.
    admin.sync().await;
    let office: BTreeSet<DocumentId> = admin
        .vault
        .list(&Default::default())
        .expect("list")
        .documents
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(
        office, created,
        "exactly the phone's 100 documents, no duplicates"
    );
    for (id, photo) in &with_photo {
        let doc = admin.vault.get_any(id).expect("doc");
        assert_eq!(doc.envelope().photos, vec![photo.clone()], "one photo ref");
        let theirs = admin
            .vault
            .photo(id, &photo.id, PhotoVariant::Display)
            .expect("photo at the office");
        assert_eq!(theirs.len() as u64, photo.byte_size);
    }
    // The relay holds each chunk once.
    let db = rusqlite::Connection::open(data.join("relay.db")).expect("relay db");
    let (rows, distinct): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT blob_id || '/' || idx) FROM chunks",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or((0, 0));
    assert_eq!(rows, distinct);
    drop(relay);
}
