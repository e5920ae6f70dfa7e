//! Key rotation that fails part-way: a request to the relay cut off or its
//! answer lost. Whatever step fails, calling again (or the admin's next sync
//! pass) finishes the rotation; members never lose entries sealed under a
//! key that has not reached them yet, and nothing new is sealed under the
//! key a revoked phone holds.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use fieldvault::model::BearSighting;
use fieldvault::sample_data as s;
use fieldvault::sync::admin;
use fieldvault::Error;
use fieldvault_integration::intercept::{Canned, InterceptProxy, Mode};
use fieldvault_integration::{workspace, Device, RelayProcess};

/// A relay on SQLite (data in `root/relay`), its admin device reaching it
/// through an intercepting proxy, and members talking to it directly.
struct Setup {
    relay_dir: std::path::PathBuf,
    _relay: RelayProcess,
    office: Device,
    members: Vec<Device>,
    proxy: InterceptProxy,
}

async fn setup(root: &std::path::Path, members: &[&str]) -> Setup {
    let relay = RelayProcess::sqlite(root);
    let (mut office, members) = workspace(root, &relay.url, members).await;
    let proxy = InterceptProxy::start(relay.addr()).await;
    office.use_relay(&proxy.url());
    Setup {
        relay_dir: root.join("relay"),
        _relay: relay,
        office,
        members,
        proxy,
    }
}

/// Matches the admin's request that starts an epoch.
fn epoch_bump(line: &str) -> bool {
    line.starts_with("POST ") && line.contains("/epochs ")
}

fn unavailable() -> Canned {
    Canned::json(503, r#"{"error":"internal","message":"unavailable"}"#)
}

fn workspace_id(d: &Device) -> String {
    d.vault
        .sync_settings()
        .expect("settings")
        .expect("enrolled")
        .workspace_id
}

fn holds_epoch(d: &Device, epoch: u32) -> bool {
    d.vault
        .workspace_keys(&workspace_id(d))
        .expect("keys")
        .has_epoch(epoch)
}

/// The epochs of the relay's entries, in the order they were pushed.
fn relay_entry_epochs(relay_dir: &std::path::Path) -> Vec<u32> {
    let db = rusqlite::Connection::open(relay_dir.join("relay.db")).expect("relay db");
    let mut stmt = db
        .prepare("SELECT epoch FROM entries ORDER BY seq")
        .expect("prepare");
    let epochs = stmt
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    epochs
}

fn new_sighting(d: &Device) -> fieldvault::model::DocumentId {
    d.vault
        .insert(s::bear_sighting(
            d.vault.new_envelope::<BearSighting>(s::MUNICIPALITY),
        ))
        .expect("insert")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_whose_epoch_bump_failed_is_finished_by_calling_it_again() {
    let root = tempfile::tempdir().expect("tempdir");
    let s = setup(root.path(), &["kept", "lost"]).await;
    let (office, members, proxy, relay_dir) = (&s.office, &s.members, &s.proxy, &s.relay_dir);
    let (kept, lost) = (&members[0], &members[1]);

    // The relay revokes the phone, but the epoch bump never reaches it.
    let revokes = Arc::new(AtomicUsize::new(0));
    let seen = revokes.clone();
    proxy.set(Mode::Instead, move |l| {
        if l.starts_with("POST ") && l.contains("/revoke ") {
            seen.fetch_add(1, Ordering::Relaxed);
        }
        epoch_bump(l).then(unavailable)
    });
    let err = admin::revoke_device(&office.vault, &office.config, &lost.vault.device_id())
        .await
        .expect_err("the bump fails");
    assert!(matches!(err, Error::Relay { status: 503, .. }), "{err:?}");
    assert_eq!(proxy.intercepted().len(), 1);
    assert_eq!(
        revokes.load(Ordering::Relaxed),
        1,
        "a revocation the relay recorded was sent again"
    );

    // Asked again: the relay says "already revoked", the rotation goes on,
    // and it starts epoch 2 (not 3) with the key made the first time.
    proxy.clear();
    let epoch = admin::revoke_device(&office.vault, &office.config, &lost.vault.device_id())
        .await
        .expect("the second call finishes the job");
    assert_eq!(epoch, 2);
    kept.sync().await;
    assert!(holds_epoch(kept, 2), "the remaining member got the new key");
    office.sync().await;
    new_sighting(kept);
    kept.sync().await;
    assert_eq!(
        relay_entry_epochs(relay_dir).last(),
        Some(&2),
        "new work is sealed under the new epoch"
    );
    // Once finished, revoking it again is the relay's 409, as before.
    let again = admin::revoke_device(&office.vault, &office.config, &lost.vault.device_id())
        .await
        .expect_err("already revoked");
    assert!(
        matches!(again, Error::Relay { status: 409, .. }),
        "{again:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_whose_rotation_never_started_is_finished_by_the_admins_next_pass() {
    let root = tempfile::tempdir().expect("tempdir");
    let s = setup(root.path(), &["kept", "lost"]).await;
    let (office, members, proxy) = (&s.office, &s.members, &s.proxy);
    let (kept, lost) = (&members[0], &members[1]);

    // The revocation goes through; the rotation's first request does not.
    proxy.set(Mode::Instead, |l| {
        (l.starts_with("GET ") && l.contains("/status ")).then(unavailable)
    });
    admin::revoke_device(&office.vault, &office.config, &lost.vault.device_id())
        .await
        .expect_err("the rotation could not start");
    proxy.clear();
    office.sync().await;
    kept.sync().await;
    assert!(holds_epoch(kept, 2), "the admin's pass rotated");
    assert!(!holds_epoch(office, 3), "and only once");
    office.sync().await;
    assert!(!holds_epoch(office, 3), "the due rotation is cleared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admins_next_pass_finishes_a_rotation_cut_off_before_the_relay_started_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let s = setup(root.path(), &["kept"]).await;
    let (office, members, proxy, relay_dir) = (&s.office, &s.members, &s.proxy, &s.relay_dir);
    let kept = &members[0];

    proxy.set(Mode::Instead, |l| epoch_bump(l).then(unavailable));
    admin::rotate_key(&office.vault, &office.config)
        .await
        .expect_err("the bump fails");
    proxy.clear();
    // Before the fix this vault sealed under its own newest epoch, which
    // the relay refuses (400) on every pass from then on.
    let doc = new_sighting(office);
    office.sync().await;
    assert_eq!(
        relay_entry_epochs(relay_dir).last(),
        Some(&2),
        "the pass started epoch 2 first and sealed under it"
    );
    kept.sync().await;
    assert!(holds_epoch(kept, 2));
    assert!(kept.vault.get::<BearSighting>(&doc).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_the_epoch_bump_still_delivers_the_key() {
    let root = tempfile::tempdir().expect("tempdir");
    let s = setup(root.path(), &["kept"]).await;
    let (office, members, proxy) = (&s.office, &s.members, &s.proxy);
    let kept = &members[0];

    // The relay starts the epoch; its answer is lost on the way back.
    proxy.set(Mode::After, |l| epoch_bump(l).then(unavailable));
    let epoch = admin::rotate_key(&office.vault, &office.config)
        .await
        .expect("the relay's status shows the epoch started");
    assert_eq!(epoch, 2);
    assert_eq!(proxy.intercepted().len(), 1);
    proxy.clear();
    let doc = new_sighting(office);
    office.sync().await;
    kept.sync().await;
    assert!(
        holds_epoch(kept, 2),
        "the envelope went out before the bump"
    );
    assert!(kept.vault.get::<BearSighting>(&doc).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_under_a_key_not_yet_here_wait_for_it_and_nothing_is_sealed_under_the_old_one() {
    let root = tempfile::tempdir().expect("tempdir");
    let s = setup(root.path(), &["member"]).await;
    let (office, members, proxy, relay_dir) = (&s.office, &s.members, &s.proxy, &s.relay_dir);
    let member = &members[0];

    // The member's envelope for epoch 2 is lost (the proxy answers 204 in
    // the relay's place), so the relay starts epoch 2 that the member lacks.
    proxy.set(Mode::Instead, |l| {
        (l.starts_with("POST ") && l.contains("/key-envelopes ")).then(|| Canned::json(204, ""))
    });
    assert_eq!(
        admin::rotate_key(&office.vault, &office.config)
            .await
            .expect("rotate"),
        2
    );
    // (Its own pass, which would send the missing envelope, is answered
    // the same way for now.)
    let from_office = new_sighting(office);
    office.sync().await;
    let pushed_before = relay_entry_epochs(relay_dir).len();

    // The member cannot read epoch 2 yet: it pushes nothing (sealing under
    // epoch 1 would hand the new work to anyone holding the old key) and
    // does not skip the office's entry.
    let from_member = new_sighting(member);
    let err = member.engine().sync_once().await.expect_err("no key yet");
    assert!(
        matches!(err, Error::AwaitingKey { epoch: 2 }),
        "{err:?}: {err}"
    );
    assert!(err.to_string().contains("waiting for the workspace key"));
    assert_eq!(relay_entry_epochs(relay_dir).len(), pushed_before);
    assert!(member.vault.outbox_size().expect("outbox").0 > 0);
    assert!(member.vault.get::<BearSighting>(&from_office).is_err());
    assert!(
        member.engine().state().last_error.is_some(),
        "the state shows why nothing moved"
    );
    assert!(
        member
            .vault
            .sync_settings()
            .expect("settings")
            .expect("enrolled")
            .last_success_ms
            .is_some(),
        "the relay answered: the offline lease is renewed"
    );

    // The admin's next pass sends the envelope the member lacks.
    proxy.clear();
    office.sync().await;
    member.sync().await;
    assert!(holds_epoch(member, 2));
    assert!(
        member.vault.get::<BearSighting>(&from_office).is_ok(),
        "the entry it could not open before is pulled again"
    );
    assert_eq!(relay_entry_epochs(relay_dir).last(), Some(&2));
    office.sync().await;
    assert!(office.vault.get::<BearSighting>(&from_member).is_ok());
}

/// A rotation interrupted after its envelopes went out (here: to the phone
/// revoked next) must not be what the revocation settles for: its key was
/// wrapped for that phone. The revocation starts the pending epoch and then
/// one with a key made after the phone's key-wrap key was forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_never_settles_for_a_key_wrapped_for_the_revoked_phone() {
    let root = tempfile::tempdir().expect("tempdir");
    let s = setup(root.path(), &["kept", "lost"]).await;
    let (office, members, proxy, relay_dir) = (&s.office, &s.members, &s.proxy, &s.relay_dir);
    let (kept, lost) = (&members[0], &members[1]);
    proxy.set(Mode::Instead, |l| epoch_bump(l).then(unavailable));
    admin::rotate_key(&office.vault, &office.config)
        .await
        .expect_err("the bump fails");
    proxy.clear();
    let lost_id = lost.vault.device_id();
    let envelope_epochs = || -> Vec<u32> {
        let db = rusqlite::Connection::open(relay_dir.join("relay.db")).expect("relay db");
        let mut stmt = db
            .prepare("SELECT epoch FROM key_envelopes WHERE device_id = ?1 ORDER BY epoch")
            .expect("prepare");
        let epochs = stmt
            .query_map([&lost_id], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        epochs
    };
    assert!(envelope_epochs().contains(&2), "epoch 2 was wrapped for it");

    let epoch = admin::revoke_device(&office.vault, &office.config, &lost_id)
        .await
        .expect("revoke");
    assert_eq!(epoch, 3, "epoch 2 started, then a fresh 3");
    assert!(!envelope_epochs().contains(&3));
    new_sighting(kept);
    kept.sync().await;
    assert!(holds_epoch(kept, 3));
    assert_eq!(relay_entry_epochs(relay_dir).last(), Some(&3));
}

/// The relay records the revocation but its answer is lost (a gateway's
/// 502): the record of what is owed stays, and the admin's next pass
/// rotates. And a revocation that never reached the relay is sent again by
/// that pass, so the phone is refused and wipes itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admins_pass_settles_a_revocation_whose_answer_or_request_was_lost() {
    let root = tempfile::tempdir().expect("tempdir");
    let s = setup(root.path(), &["kept", "lost", "stolen"]).await;
    let (office, members, proxy) = (&s.office, &s.members, &s.proxy);
    let (kept, lost, stolen) = (&members[0], &members[1], &members[2]);
    let revoke = |l: &str| l.starts_with("POST ") && l.contains("/revoke ");
    let bad_gateway = || Canned::json(502, r#"{"error":"internal","message":"bad gateway"}"#);

    proxy.set(Mode::After, move |l| revoke(l).then(bad_gateway));
    let err = admin::revoke_device(&office.vault, &office.config, &lost.vault.device_id())
        .await
        .expect_err("answer lost");
    assert!(matches!(err, Error::Relay { status: 502, .. }), "{err:?}");
    proxy.set(Mode::Instead, move |l| revoke(l).then(bad_gateway));
    admin::revoke_device(&office.vault, &office.config, &stolen.vault.device_id())
        .await
        .expect_err("never arrived");
    proxy.clear();

    office.sync().await;
    kept.sync().await;
    assert!(holds_epoch(kept, 2), "one rotation covers both");
    assert!(!holds_epoch(office, 3));
    for phone in [lost, stolen] {
        let err = phone.engine().sync_once().await.expect_err("revoked");
        assert!(matches!(err, Error::Revoked), "{err:?}");
    }
    let again = admin::revoke_device(&office.vault, &office.config, &lost.vault.device_id())
        .await
        .expect_err("settled");
    assert!(
        matches!(again, Error::Relay { status: 409, .. }),
        "{again:?}"
    );
}

/// A stolen phone whose revocation has not reached the relay yet (the admin
/// was offline) enrolls again under its id with a code it got hold of: the
/// relay cannot know better, but the admin device refuses to pair it, so it
/// never receives the keys its revocation is meant to take away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_being_revoked_is_not_paired_again() {
    use fieldvault::sync::enrollment;
    use fieldvault_integration::{enrollment_request, post_enrollment};

    let root = tempfile::tempdir().expect("tempdir");
    let s = setup(root.path(), &["lost"]).await;
    let (office, members, proxy) = (&s.office, &s.members, &s.proxy);
    let lost = &members[0];

    proxy.set(Mode::Instead, |l| {
        (l.starts_with("POST ") && l.contains("/revoke ")).then(unavailable)
    });
    admin::revoke_device(&office.vault, &office.config, &lost.vault.device_id())
        .await
        .expect_err("the revocation does not reach the relay");
    proxy.clear();

    // The phone enrolls again, signing with its own (registered) key.
    let (pairing, qr) = enrollment::start_pairing(
        &office.vault,
        &office.config,
        std::time::Duration::from_secs(600),
    )
    .await
    .expect("start pairing");
    let identity = lost.vault.device_identity().expect("identity");
    let request = enrollment_request(&qr, &identity, &lost.vault.device_id());
    assert_eq!(
        post_enrollment(&qr, &request).await,
        201,
        "the relay does not know of the revocation yet"
    );

    let refused = enrollment::complete_pairing(
        &office.vault,
        &office.config,
        pairing,
        std::time::Duration::from_secs(30),
    )
    .await;
    assert!(
        matches!(&refused, Err(Error::InvalidInput(why)) if why.contains("being revoked")),
        "{refused:?}"
    );
    // The admin's next pass finishes the revocation; the phone holds no
    // key of the fresh epoch.
    office.sync().await;
    assert!(holds_epoch(office, 2), "the fresh epoch started");
    assert!(!holds_epoch(lost, 2));
    let devices = admin::list_devices(&office.vault, &office.config)
        .await
        .expect("devices");
    let record = devices
        .devices
        .iter()
        .find(|d| d.keys.device_id == lost.vault.device_id())
        .expect("listed");
    assert!(record.revoked_at_ms.is_some());
    assert!(
        !record.key_epochs.contains(&2),
        "an envelope of the fresh epoch reached the revoked phone"
    );
}
