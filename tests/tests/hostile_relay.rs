//! Answers no honest relay gives, put in the real relay's place by a proxy:
//! the device refuses them with a clear error and keeps what it has, and a
//! revocation learnt from any request (not only the first) wipes it.
use fieldvault::model::BearSighting;
use fieldvault::sample_data as s;
use fieldvault::sync::client::MAX_ANSWER_BYTES;
use fieldvault::vault::PhotoVariant;
use fieldvault::Error;
use fieldvault_integration::intercept::{Canned, InterceptProxy, Mode};
use fieldvault_integration::{insert_bear, recurser_photos, workspace, Device, RelayProcess};

/// A relay, its admin, and a phone that reaches it through an intercepting
/// proxy.
async fn phone_behind_proxy(
    root: &std::path::Path,
) -> (RelayProcess, Device, Device, InterceptProxy) {
    let relay = RelayProcess::sqlite(root);
    let (office, mut members) = workspace(root, &relay.url, &["phone"]).await;
    let mut phone = members.remove(0);
    let proxy = InterceptProxy::start(relay.addr()).await;
    phone.use_relay(&proxy.url());
    (relay, office, phone, proxy)
}

/// A forest phone's bear sighting with one photo, synced up; the office
/// reaches the relay through an intercepting proxy.
type PhotoUp = (
    RelayProcess,
    Device,
    Device,
    fieldvault::model::DocumentId,
    fieldvault::model::PhotoRef,
    InterceptProxy,
);

async fn photo_up_office_behind_proxy(root: &std::path::Path, photo_index: usize) -> PhotoUp {
    let relay = RelayProcess::sqlite(root);
    let (mut office, mut members) = workspace(root, &relay.url, &["forest"]).await;
    let forest = members.remove(0);
    let bear = insert_bear(&forest.vault);
    let photo = forest
        .vault
        .ingest_photo(&bear, &recurser_photos()[photo_index], None)
        .expect("ingest");
    forest.sync().await;
    let proxy = InterceptProxy::start(relay.addr()).await;
    office.use_relay(&proxy.url());
    (relay, office, forest, bear, photo, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_larger_than_any_the_relay_may_send_is_refused_unread() {
    let root = tempfile::tempdir().expect("tempdir");
    let (_relay, _office, phone, proxy) = phone_behind_proxy(root.path()).await;

    proxy.set(Mode::Instead, |l| {
        l.starts_with("GET ").then(|| Canned {
            status: 200,
            body: b"{".to_vec(),
            announced_length: Some(MAX_ANSWER_BYTES as u64 + 1),
        })
    });
    let err = phone.engine().sync_once().await.expect_err("refused");
    assert!(
        matches!(&err, Error::Network(m) if m.contains("larger than any it may send")),
        "{err:?}"
    );
    proxy.clear();
    phone.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_the_relay_says_has_no_chunks_stays_queued_and_the_pass_goes_on() {
    let root = tempfile::tempdir().expect("tempdir");
    let (_relay, office, forest, bear, photo, proxy) =
        photo_up_office_behind_proxy(root.path(), 1).await;
    // Both variants (thumbnail, display): "whole, with zero chunks".
    proxy.set(Mode::Instead, |l| {
        l.contains("/blob-status ").then(|| {
            Canned::json(
                200,
                r#"{"statuses":[{"count":0,"present":[]},{"count":0,"present":[]}]}"#,
            )
        })
    });
    // The pass goes on (the documents arrive); the photos stay queued.
    let report = office.sync().await;
    assert_eq!(report.photos_failed, 2, "{report:?}");
    assert_eq!(report.photos_downloaded, 0);
    assert!(office.vault.get::<BearSighting>(&bear).is_ok());
    assert_eq!(
        office.vault.photo_transfers_pending().expect("pending").1,
        2,
        "both downloads stay queued"
    );
    proxy.clear();
    office.sync().await;
    assert_eq!(
        office
            .vault
            .photo(&bear, &photo.id, PhotoVariant::Thumbnail)
            .expect("thumbnail"),
        forest
            .vault
            .photo(&bear, &photo.id, PhotoVariant::Thumbnail)
            .expect("original thumbnail")
    );
}

/// Chunk-fetch answers no honest relay gives: chunks it says it lacks or
/// that do not open leave those photos queued (counted as failed) while the
/// pass goes on; an answer with more slots than asked fails the pass as
/// malformed. Nothing half-fetched is stored, and an honest answer later
/// brings the photos.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_fetch_answers_no_relay_gives_store_nothing() {
    use fieldvault::sync::wire::chunk_batch::encode_fetched;
    let root = tempfile::tempdir().expect("tempdir");
    let (_relay, office, forest, bear, photo, proxy) =
        photo_up_office_behind_proxy(root.path(), 3).await;
    // The first round asks the thumbnail's and the display's first chunk.
    let answer = |slots: Vec<Option<Vec<u8>>>| {
        let body = encode_fetched(&slots);
        move |l: &str| {
            l.contains("/chunk-fetch ").then(|| Canned {
                status: 200,
                body: body.clone(),
                announced_length: None,
            })
        }
    };
    let queued = |office: &Device| office.vault.photo_transfers_pending().expect("pending").1;

    proxy.set(Mode::Instead, answer(vec![None, None]));
    let report = office.sync().await;
    assert_eq!(
        (report.photos_failed, report.photos_downloaded),
        (2, 0),
        "{report:?}"
    );
    assert!(
        office.vault.get::<BearSighting>(&bear).is_ok(),
        "the pass went on"
    );
    assert_eq!(queued(&office), 2);

    proxy.set(
        Mode::Instead,
        answer(vec![Some(vec![7; 300]), Some(vec![8; 300])]),
    );
    let report = office.sync().await;
    assert_eq!(
        (report.photos_failed, report.photos_downloaded),
        (2, 0),
        "{report:?}"
    );
    assert_eq!(queued(&office), 2);

    proxy.set(Mode::Instead, answer(vec![None, None, None]));
    let err = office.engine().sync_once().await.expect_err("malformed");
    assert!(
        matches!(&err, Error::Network(m) if m.contains("malformed")),
        "{err:?}"
    );
    assert_eq!(queued(&office), 2);

    proxy.clear();
    let report = office.sync().await;
    assert_eq!(report.photos_downloaded, 2, "{report:?}");
    for variant in [PhotoVariant::Thumbnail, PhotoVariant::Display] {
        assert_eq!(
            office
                .vault
                .photo(&bear, &photo.id, variant)
                .expect("photo"),
            forest
                .vault
                .photo(&bear, &photo.id, variant)
                .expect("original"),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_learnt_after_the_status_call_wipes_the_device() {
    let root = tempfile::tempdir().expect("tempdir");
    let (_relay, _office, phone, proxy) = phone_behind_proxy(root.path()).await;
    phone
        .vault
        .insert(s::bear_sighting(
            phone.vault.new_envelope::<BearSighting>(s::MUNICIPALITY),
        ))
        .expect("insert");

    // The admin revokes the phone between its status call and its push.
    proxy.set(Mode::Instead, |l| {
        (l.starts_with("POST ") && l.contains("/entries ")).then(|| {
            Canned::json(
                403,
                r#"{"error":"revoked","message":"this device has been revoked"}"#,
            )
        })
    });
    let err = phone.engine().sync_once().await.expect_err("revoked");
    assert!(matches!(err, Error::Revoked), "{err:?}");
    let left: Vec<_> = std::fs::read_dir(&phone.dir).expect("dir").collect();
    assert!(left.is_empty(), "the vault was wiped: {left:?}");
}
