//! Photos sync: thumbnails and display images reach every device intact, and
//! an interrupted upload resumes without re-sending what the relay holds.
use fieldvault::model::BearSighting;
use fieldvault::sample_data as s;
use fieldvault::PhotoVariant;
use fieldvault_integration::proxy::{Fault, FaultProxy};
use fieldvault_integration::{corpus, workspace, Backend, RelayProcess};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_taken_in_the_forest_reaches_the_office_sqlite() {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    photo_reaches_the_office(root.path(), &relay).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_taken_in_the_forest_reaches_the_office_postgres() {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::start(
        Backend::Postgres(fieldvault_integration::postgres_url()),
        &root.path().join("logs"),
    );
    photo_reaches_the_office(root.path(), &relay).await;
}

async fn photo_reaches_the_office(root: &std::path::Path, relay: &RelayProcess) {
    let (admin, mut members) = workspace(root, &relay.url, &["forest"]).await;
    let forest = &mut members[0];

    let bear = forest
        .vault
        .insert(s::bear_sighting(
            forest.vault.new_envelope::<BearSighting>(s::MUNICIPALITY),
        ))
        .expect("bear");
    // A 12 MP phone photo: its display image spans several 256 KiB chunks.
    let original = std::fs::read(corpus().join("photos/camera/samsung_galaxy_s7edge_12mp_gps.jpg"))
        .expect("photo");
    let photo = forest
        .vault
        .ingest_photo(&bear, &original, None)
        .expect("ingest");
    assert_eq!(
        forest.vault.photo_transfers_pending().expect("pending"),
        (2, 0)
    );

    // First attempt through a proxy that cuts the upload part-way.
    let proxy = FaultProxy::start(relay.addr()).await;
    forest.use_relay(&proxy.url());
    // Counted over all connections (so whether the client reuses a pooled
    // connection or opens one per chunk does not matter): the document push
    // and the thumbnail (~60 KB), the first display chunk, then half of the
    // rest — so the upload is cut with some display chunks stored and the
    // others not.
    let display = forest
        .vault
        .photo(&bear, &photo.id, PhotoVariant::Display)
        .expect("display");
    let display_len = display.len() as u64;
    let chunk = fieldvault::vault::PHOTO_CHUNK_SIZE as u64;
    assert!(
        display_len > chunk + 100_000,
        "the display image spans more than one chunk ({display_len} bytes)"
    );
    proxy.set(
        Fault::CutTotalAfter,
        60_000 + chunk + (display_len - chunk) / 2,
    );
    let mut interrupted = false;
    for _ in 0..3 {
        if forest.engine().sync_once().await.is_err() {
            interrupted = true;
        }
    }
    assert!(interrupted, "the proxy interrupted the upload");
    proxy.set(Fault::None, u64::MAX);
    let report = forest.sync().await;
    let total_chunks = display.len().div_ceil(fieldvault::vault::PHOTO_CHUNK_SIZE) + 1; // + thumbnail
    assert!(
        report.chunks_uploaded < total_chunks,
        "resumed upload re-sent only missing chunks: {report:?} of {total_chunks}"
    );
    assert_eq!(
        forest.vault.photo_transfers_pending().expect("pending"),
        (0, 0)
    );

    admin.sync().await;
    let at_office = admin
        .vault
        .get::<BearSighting>(&bear)
        .expect("bear at the office");
    assert_eq!(at_office.envelope.photos, vec![photo.clone()]);
    assert_eq!(
        admin
            .vault
            .photo(&bear, &photo.id, PhotoVariant::Display)
            .expect("display"),
        display
    );
    assert_eq!(
        admin
            .vault
            .photo(&bear, &photo.id, PhotoVariant::Thumbnail)
            .expect("thumbnail"),
        forest
            .vault
            .photo(&bear, &photo.id, PhotoVariant::Thumbnail)
            .expect("thumbnail")
    );
    assert_eq!(
        admin.vault.photo_transfers_pending().expect("pending"),
        (0, 0)
    );
}

/// A relay older than the batched `blob-status` route answers it with "no
/// such route": devices fall back to asking blob by blob, and photos still
/// travel both ways (statuses and chunks one by one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_sync_through_a_relay_without_batched_status() {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    let (mut admin, mut members) = workspace(root.path(), &relay.url, &["forest"]).await;
    let forest = &mut members[0];
    let proxy = FaultProxy::start(relay.addr()).await;
    proxy.set(Fault::OldRelay, u64::MAX);
    forest.use_relay(&proxy.url());
    admin.use_relay(&proxy.url());

    let bear = forest
        .vault
        .insert(s::bear_sighting(
            forest.vault.new_envelope::<BearSighting>(s::MUNICIPALITY),
        ))
        .expect("bear");
    let original = &fieldvault_integration::recurser_photos()[0];
    let photo = forest
        .vault
        .ingest_photo(&bear, original, None)
        .expect("ingest");
    let up = forest.sync().await;
    assert_eq!(up.photos_uploaded, 2, "{up:?}");
    let down = admin.sync().await;
    assert_eq!(down.photos_downloaded, 2, "{down:?}");
    for variant in [PhotoVariant::Display, PhotoVariant::Thumbnail] {
        assert_eq!(
            admin.vault.photo(&bear, &photo.id, variant).expect("photo"),
            forest
                .vault
                .photo(&bear, &photo.id, variant)
                .expect("photo"),
        );
    }

    let requests = proxy.requests();
    let batched = requests
        .iter()
        .filter(|l| l.starts_with("POST ") && l.ends_with("/blob-statux"))
        .count();
    let one_by_one = requests
        .iter()
        .filter(|l| l.starts_with("GET ") && l.contains("/blobs/") && !l.contains("/chunks/"))
        .count();
    assert_eq!(batched, 2, "one batched try per direction: {requests:?}");
    assert_eq!(
        one_by_one, 4,
        "then one status per photo variant: {requests:?}"
    );
    // Chunks: each device asks once whether the relay takes batches (an
    // empty batch), then sends one request per chunk.
    let count = |method: &str, route: &str| {
        requests
            .iter()
            .filter(|l| l.starts_with(method) && l.contains(route))
            .count()
    };
    assert_eq!(count("POST ", "/chunkz"), 2, "{requests:?}");
    assert_eq!(count("POST ", "/chunk-fetc"), 0, "{requests:?}");
    assert_eq!(
        count("PUT ", "/chunks/"),
        up.chunks_uploaded,
        "{requests:?}"
    );
    assert_eq!(
        count("GET ", "/chunks/"),
        up.chunks_uploaded,
        "{requests:?}"
    );
}

/// A tax form is purged once the relay has it, but not while its receipt
/// photo is still on its way: its change sets were acknowledged, the photo
/// upload broke off, and the app asked for retention meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tax_form_is_not_purged_while_its_photo_is_still_uploading() {
    use fieldvault_integration::intercept::{Canned, InterceptProxy, Mode};
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    let (office, mut members) = workspace(root.path(), &relay.url, &["hall"]).await;
    let hall = &mut members[0];
    let tax = fieldvault_integration::insert_sample(&hall.vault, 2);
    let receipt = hall
        .vault
        .ingest_photo(&tax, &fieldvault_integration::recurser_photos()[2], None)
        .expect("ingest");
    let proxy = InterceptProxy::start(relay.addr()).await;
    hall.use_relay(&proxy.url());
    proxy.set(Mode::Instead, |l| {
        (l.starts_with("POST ") && l.contains("/chunks "))
            .then(|| Canned::json(503, r#"{"error":"internal","message":"unavailable"}"#))
    });
    hall.engine()
        .sync_once()
        .await
        .expect_err("the photo upload fails");
    assert_eq!(
        hall.vault.outbox_size().expect("outbox").0,
        0,
        "entries acknowledged"
    );
    assert!(hall.vault.apply_retention().expect("retention").is_empty());
    assert!(hall.vault.summary(&tax).is_ok(), "the form is still here");

    proxy.clear();
    let report = hall.sync().await;
    assert_eq!(report.purged, 1, "purged once the photo is up");
    assert!(hall.vault.summary(&tax).is_err());
    office.sync().await;
    assert!(!office
        .vault
        .photo(&tax, &receipt.id, PhotoVariant::Display)
        .expect("the receipt reached the office")
        .is_empty());
}
