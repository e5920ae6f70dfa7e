//! Property: three devices that edit offline (the same documents and their
//! own, photos included) and sync in random orders through a proxy that
//! randomly cuts or refuses connections all end with identical documents
//! and photos. ≥ 100 seeded cases (`FIELDVAULT_PROPERTY_CASES` to change;
//! `FIELDVAULT_PROPERTY_SEED` to replay one case).
use std::collections::BTreeSet;
use std::path::Path;

use fieldvault::model::{
    AnyDocument, BearSighting, ConfirmableCount, DamageReport, DocumentId, Narrative,
};
use fieldvault::sample_data as s;
use fieldvault::PhotoVariant;
use fieldvault_integration::proxy::{Fault, FaultProxy};
use fieldvault_integration::{
    corpus, found_workspace, insert_sample, keep_all, pair_device, Device, RelayProcess,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Small real photos (fast to ingest, so 100 cases stay quick); large
/// photos and resumable transfers are covered by `sync_photos` and `faults`.
const SMALL_PHOTOS: [&str; 4] = [
    "photos/camera/galaxy_s_orient6_gps_null_island.jpg",
    "photos/camera/iphone_xr_1x1_gps.jpg",
    "photos/orientation/pillow/hopper_orientation_6.jpg",
    "photos/orientation/pillow/hopper.jpg",
];

async fn three_devices(root: &Path, url: &str) -> Vec<Device> {
    let admin = found_workspace(Device::with_options(root, "admin", url, keep_all("admin"))).await;
    let mut devices = vec![];
    for name in ["hall", "forest"] {
        let d = Device::with_options(root, name, url, keep_all(name));
        devices.push(pair_device(&admin, d).await);
    }
    devices.insert(0, admin);
    devices
}

/// One random offline edit on `device`; returns the tag it inserted into
/// the shared remarks, if it did.
fn random_edit(
    rng: &mut StdRng,
    device: &Device,
    damage: &DocumentId,
    bear: &DocumentId,
    photos: &[Vec<u8>],
) -> Option<String> {
    let v = &device.vault;
    let tag = format!("{}-{}", device.name, rng.gen::<u16>());
    match rng.gen_range(0..7) {
        0 => {
            // Concurrent text edits that must merge character-wise.
            v.update::<DamageReport, _>(damage, |d| {
                let mut text = d.summary.remarks.as_str().to_string();
                let at = text
                    .char_indices()
                    .map(|(i, _)| i)
                    .nth(rng.gen_range(0..=text.chars().count()))
                    .unwrap_or(text.len());
                text.insert_str(at, &format!("[{tag}]"));
                d.summary.remarks = Narrative::new(text);
            })
            .expect("edit remarks");
            return Some(format!("[{tag}]"));
        }
        1 => {
            let n = rng.gen_range(0..50);
            v.update::<DamageReport, _>(damage, |d| {
                d.summary.casualties.dead = ConfirmableCount::unconfirmed(n)
            })
            .expect("edit count");
        }
        2 => {
            // The same field on several devices: last writer wins, everywhere alike.
            v.update::<BearSighting, _>(bear, |b| b.place_description = tag.clone())
                .expect("edit bear");
        }
        3 => {
            insert_sample(v, 0); // a new bear sighting
        }
        4 => {
            insert_sample(v, 2); // a new tax-help form
        }
        5 => {
            let photo = &photos[rng.gen_range(0..photos.len())];
            v.ingest_photo(bear, photo, None).expect("photo");
        }
        _ => {
            v.update::<DamageReport, _>(damage, |d| {
                d.sites
                    .push(s::damage_report(d.envelope.clone()).sites[0].clone())
            })
            .expect("add site");
        }
    }
    None
}

/// A device's documents, their contents and each photo's display bytes.
type DeviceState = (
    BTreeSet<DocumentId>,
    Vec<(DocumentId, AnyDocument)>,
    Vec<Vec<u8>>,
);

/// Every device's documents (and each photo's display bytes), for comparison.
fn state(device: &Device) -> DeviceState {
    let v = &device.vault;
    let ids: BTreeSet<_> = v
        .list(&Default::default())
        .expect("list")
        .documents
        .into_iter()
        .map(|d| d.id)
        .collect();
    let mut docs = Vec::new();
    let mut photos = Vec::new();
    for id in &ids {
        let doc = v.get_any(id).expect("read");
        for p in &doc.envelope().photos {
            photos.push(
                v.photo(id, &p.id, PhotoVariant::Display)
                    .unwrap_or_default(),
            );
        }
        docs.push((*id, doc));
    }
    (ids, docs, photos)
}

async fn run_case(seed: u64, proxy: &FaultProxy, photos: &[Vec<u8>]) {
    let mut rng = StdRng::seed_from_u64(seed);
    let root = tempfile::tempdir().expect("tempdir");
    proxy.set(Fault::None, u64::MAX);
    let t0 = std::time::Instant::now();
    let devices = three_devices(root.path(), &proxy.url()).await;
    let debug = std::env::var("FIELDVAULT_PROPERTY_DEBUG").is_ok();
    if debug {
        eprintln!("  setup {:.2}s", t0.elapsed().as_secs_f64());
    }

    // Shared documents everyone has before going offline.
    let admin = &devices[0];
    let damage = admin
        .vault
        .insert(s::damage_report(
            admin.vault.new_envelope::<DamageReport>(s::MUNICIPALITY),
        ))
        .expect("damage");
    let bear = admin
        .vault
        .insert(s::bear_sighting(
            admin.vault.new_envelope::<BearSighting>(s::MUNICIPALITY),
        ))
        .expect("bear");
    for d in &devices {
        d.sync().await;
    }

    // Offline edits, then syncs in random order, some interrupted.
    let mut tags = Vec::new();
    for _round in 0..2 {
        for d in &devices {
            for _ in 0..rng.gen_range(1..=3) {
                tags.extend(random_edit(&mut rng, d, &damage, &bear, photos));
            }
        }
        for _ in 0..rng.gen_range(2..=5) {
            let d = &devices[rng.gen_range(0..devices.len())];
            let proxy_mode = match rng.gen_range(0..4) {
                0 => Fault::CutAfter,
                1 => Fault::Refuse,
                _ => Fault::None,
            };
            proxy.set(proxy_mode, rng.gen_range(200..40_000));
            // Interrupted passes may fail; that is the point.
            let t = std::time::Instant::now();
            let r = d.engine().sync_once().await;
            if debug {
                eprintln!(
                    "  sync {} {:?} {:.2}s {:?}",
                    d.name,
                    proxy_mode,
                    t.elapsed().as_secs_f64(),
                    r.as_ref().err()
                );
            }
        }
    }

    if debug {
        eprintln!("  offline phase done {:.2}s", t0.elapsed().as_secs_f64());
    }
    // Connectivity returns: bounded rounds until all agree.
    proxy.set(Fault::None, u64::MAX);
    let mut last = Vec::new();
    for _ in 0..4 {
        for d in &devices {
            d.sync().await;
        }
        last = devices.iter().map(state).collect();
        if debug {
            eprintln!("  final round {:.2}s", t0.elapsed().as_secs_f64());
        }
        if last.windows(2).all(|w| w[0] == w[1]) {
            break;
        }
    }
    for (i, s) in last.iter().enumerate().skip(1) {
        assert!(
            s.0 == last[0].0,
            "seed {seed}: {} has documents {:?}, admin {:?}",
            devices[i].name,
            s.0,
            last[0].0
        );
        for ((id, a), (_, b)) in s.1.iter().zip(&last[0].1) {
            assert_eq!(
                a, b,
                "seed {seed}: document {id} differs on {}",
                devices[i].name
            );
        }
        assert!(
            s.2 == last[0].2,
            "seed {seed}: photos differ on {}",
            devices[i].name
        );
    }
    // Every concurrent text insertion survived the merge.
    let remarks = match &last[0]
        .1
        .iter()
        .find(|(id, _)| *id == damage)
        .expect("damage")
        .1
    {
        AnyDocument::DamageReport(d) => d.summary.remarks.as_str().to_string(),
        other => panic!(
            "seed {seed}: damage report expected, got {:?}",
            other.kind()
        ),
    };
    if debug {
        eprintln!("tags {tags:?}\nremarks {remarks}");
        for d in &devices {
            for h in d.vault.history(&damage).expect("history") {
                eprintln!("{}: {h:?}", d.name);
            }
        }
    }
    // Insertions may land inside one another, so check what cannot change:
    // no character lost or duplicated, and each tag (and the original text)
    // still present in order.
    let base = s::damage_report(admin.vault.new_envelope::<DamageReport>(s::MUNICIPALITY))
        .summary
        .remarks
        .as_str()
        .to_string();
    let expected: usize =
        base.chars().count() + tags.iter().map(|t| t.chars().count()).sum::<usize>();
    assert_eq!(
        remarks.chars().count(),
        expected,
        "seed {seed}: remarks {remarks:?} after {tags:?}"
    );
    for piece in tags.iter().chain([&base]) {
        assert!(
            subsequence(piece, &remarks),
            "seed {seed}: {piece} lost from {remarks:?}"
        );
    }
}

fn subsequence(needle: &str, hay: &str) -> bool {
    let mut hay = hay.chars();
    needle.chars().all(|c| hay.any(|h| h == c))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_converge_under_random_orders_and_interruptions() {
    let cases: u64 = std::env::var("FIELDVAULT_PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let seeds: Vec<u64> = match std::env::var("FIELDVAULT_PROPERTY_SEED") {
        Ok(s) => vec![s.parse().expect("numeric seed")],
        Err(_) => (0..cases).map(|i| 0x5eed_0000 + i).collect(),
    };
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    let proxy = FaultProxy::start(relay.addr()).await;
    let photos: Vec<Vec<u8>> = SMALL_PHOTOS
        .iter()
        .map(|p| std::fs::read(corpus().join(p)).expect("corpus photo"))
        .collect();
    let debug = std::env::var("FIELDVAULT_PROPERTY_DEBUG").is_ok();
    let started = std::time::Instant::now();
    for seed in &seeds {
        let t = std::time::Instant::now();
        run_case(*seed, &proxy, &photos).await;
        if debug {
            eprintln!("seed {seed}: {:.2} s", t.elapsed().as_secs_f64());
        }
    }
    println!(
        "{} cases converged in {:.1} s; {} connections cut or refused",
        seeds.len(),
        started.elapsed().as_secs_f64(),
        proxy.injected()
    );
    assert!(proxy.injected() > 0, "faults were injected");
}
