//! Faults on the way to the relay: a proxy that cuts connections mid-request,
//! stalls and refuses them, and a relay restarted mid-sync. A phone with 100
//! documents and 20 photos still completes its upload, the office converges
//! to exactly those documents and photos (no duplicates), and each
//! interruption costs at most one re-sent photo chunk.
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use fieldvault::model::DocumentId;
use fieldvault::sync::wire::chunk_batch::UPLOAD_FRAME_HEADER;
use fieldvault::PhotoVariant;
use fieldvault_integration::proxy::{Fault, FaultProxy, Forwarded};
use fieldvault_integration::{corpus, workspace, Backend, RelayProcess};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A photo chunk: `(blob id, index)`.
type Chunk = (Vec<u8>, u32);

/// The photo chunks an upload request carried, `(blob id, index)`, as far as
/// it went through the proxy: a batch's frame heads (`POST .../chunks`), or
/// a single chunk's path (`PUT .../blobs/{id}/chunks/{index}`).
fn chunks_carried(request: &Forwarded) -> Vec<Chunk> {
    let line = &request.line;
    if line.starts_with("POST ") && line.ends_with("/chunks") {
        let mut chunks = Vec::new();
        let mut at = 0;
        while let Some(head) = request.body.get(at..at + UPLOAD_FRAME_HEADER) {
            let word =
                |i: usize| u32::from_be_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
            chunks.push((head[..32].to_vec(), word(32)));
            at += UPLOAD_FRAME_HEADER + word(44) as usize;
        }
        chunks
    } else if let Some(path) = line.strip_prefix("PUT ").filter(|l| l.contains("/chunks/")) {
        let path = path.split('?').next().unwrap_or(path);
        let parts: Vec<&str> = path.split('/').collect();
        let (Some(blob), Some(index)) = (parts.iter().rev().nth(2), parts.last()) else {
            return Vec::new();
        };
        let blob = fieldvault::sync::wire::b64::decode(blob).expect("blob id");
        vec![(blob, index.parse().expect("chunk index"))]
    } else {
        Vec::new()
    }
}

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
            // Killed as soon as the first batch of photo chunks is on its
            // way (photos go after the change sets), so the restart cuts
            // photo uploads; bounded at 20 s.
            let engine = forest.engine().clone();
            let task = tokio::spawn(async move { engine.sync_once().await });
            let photo_request = |r: &Forwarded| !chunks_carried(r).is_empty();
            for _ in 0..20_000 {
                if task.is_finished() || proxy.any(photo_request) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
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

    // Each interruption re-sent at most one chunk per upload. Every upload
    // request the proxy forwarded, with the chunks it carried (as far as it
    // went through): a request carries at most one chunk of each photo
    // variant, so a request that failed costs each upload in it at most its
    // one chunk. A cut, stall or refusal fails one request (each is counted
    // in `injected`); the relay restart fails every request in flight, at
    // most PHOTOS_IN_FLIGHT. So at most that many requests may have to be
    // sent again ("superseded": a chunk of theirs was sent later again).
    let uploads: Vec<(Vec<Chunk>, Option<u16>)> = proxy
        .forwarded()
        .iter()
        .map(|r| (chunks_carried(r), r.status))
        .filter(|(chunks, _)| !chunks.is_empty())
        .collect();
    for (chunks, _) in &uploads {
        let blobs: BTreeSet<&Vec<u8>> = chunks.iter().map(|(blob, _)| blob).collect();
        assert_eq!(
            blobs.len(),
            chunks.len(),
            "one chunk per variant per request"
        );
    }
    assert!(
        uploads.iter().any(|(chunks, _)| chunks.len() > 1),
        "requests carried several variants' chunks"
    );
    let mut last_sent: BTreeMap<Chunk, usize> = BTreeMap::new();
    let mut superseded = BTreeSet::new();
    let mut resent = 0;
    for (request, (chunks, _)) in uploads.iter().enumerate() {
        for chunk in chunks {
            if let Some(earlier) = last_sent.insert(chunk.clone(), request) {
                // Only a request the device did not see acknowledged is sent again.
                let answered = uploads[earlier].1;
                assert!(
                    !answered.is_some_and(|s| (200..300).contains(&s)),
                    "a chunk of an acknowledged request ({answered:?}) was sent again"
                );
                superseded.insert(earlier);
                resent += 1;
            }
        }
    }
    println!(
        "{} chunks uploaded in {} requests; {resent} re-sent, from {} interrupted requests",
        last_sent.len(),
        uploads.len(),
        superseded.len()
    );
    assert!(!superseded.is_empty(), "the faults cut photo uploads");
    let restart_cost = fieldvault::sync::engine::PHOTOS_IN_FLIGHT as u64;
    assert!(
        superseded.len() as u64 <= injected + restart_cost,
        "{} requests sent again for {injected} injected faults and one restart",
        superseded.len()
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
