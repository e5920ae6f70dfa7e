//! Photos in the vault: sealed chunked storage, dedup, per-kind policy,
//! tamper detection, shredding, and no plaintext window on disk.
mod common;

use fieldvault::model::{BearSighting, TaxAssist};
use fieldvault::photo::PhotoError;
use fieldvault::{Error, PhotoVariant, DB_FILE};

fn corpus_photo(name: &str) -> Vec<u8> {
    std::fs::read(common::corpus().join("photos/camera").join(name)).expect("corpus photo")
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const W: usize = 32;

/// Polynomial rolling hashes of every `W`-byte window of `data`.
fn window_hashes(data: &[u8]) -> Vec<(u64, usize)> {
    if data.len() < W {
        return Vec::new();
    }
    const B: u64 = 1_099_511_628_211;
    let pow = (0..W - 1).fold(1u64, |p, _| p.wrapping_mul(B));
    let mut h = data[..W]
        .iter()
        .fold(0u64, |h, &b| h.wrapping_mul(B).wrapping_add(u64::from(b)));
    let mut out = Vec::with_capacity(data.len() - W + 1);
    out.push((h, 0));
    for i in W..data.len() {
        h = h.wrapping_sub(u64::from(data[i - W]).wrapping_mul(pow));
        h = h.wrapping_mul(B).wrapping_add(u64::from(data[i]));
        out.push((h, i + 1 - W));
    }
    out
}

/// A window with fewer than 8 distinct byte values (zero padding, 0xFF fill,
/// short repeating patterns) carries no information about the picture and
/// also occurs in SQLite's own zeroed pages, so it is not counted as a leak.
fn informative(window: &[u8]) -> bool {
    let mut seen = [false; 256];
    window.iter().for_each(|&b| seen[usize::from(b)] = true);
    seen.iter().filter(|&&s| s).count() >= 8
}

/// Offsets in `haystack` where any informative 32-byte window of
/// `needle_source` occurs.
fn shared_windows(needle_source: &[u8], haystack: &[u8]) -> usize {
    let mut needles: Vec<(u64, usize)> = window_hashes(needle_source)
        .into_iter()
        .filter(|&(_, off)| informative(&needle_source[off..off + W]))
        .collect();
    needles.sort_unstable();
    let mut found = 0;
    for (h, at) in window_hashes(haystack) {
        let start = needles.partition_point(|(x, _)| *x < h);
        for &(x, off) in &needles[start..] {
            if x != h {
                break;
            }
            if needle_source[off..off + W] == haystack[at..at + W] {
                found += 1;
                break;
            }
        }
    }
    found
}

#[test]
fn the_window_scanner_finds_a_copied_window() {
    let src: Vec<u8> = (0..5000u32)
        .map(|i| (i * 7 % 251) as u8)
        .chain(std::iter::repeat_n(0, 64))
        .collect();
    let mut hay = vec![0u8; 3000];
    hay.extend_from_slice(&src[1234..1234 + W]);
    hay.extend(vec![1u8; 100]);
    assert_eq!(shared_windows(&src, &hay), 1);
    assert_eq!(shared_windows(&src, &hay[..3000 + W - 1]), 0);
    // Zero runs are in both but carry nothing.
    assert_eq!(shared_windows(&src, &[0u8; 4096]), 0);
}

#[test]
fn photos_are_stored_sealed_deduplicated_and_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = common::new_vault(dir.path(), "s");
    let bear = vault.insert(common::fixtures::bear(&vault)).expect("bear");
    let original = corpus_photo("nikon_p6000_gps_DSCN0010.jpg");
    let photo = vault.ingest_photo(&bear, &original, None).expect("ingest");
    let position = photo.position.expect("bear sightings keep the position");
    assert!(
        (position.latitude - 43.4674).abs() < 1e-3 && (position.longitude - 11.8851).abs() < 1e-3
    );

    let display = vault
        .photo(&bear, &photo.id, PhotoVariant::Display)
        .expect("display");
    assert_eq!(sha256_hex(&display), photo.sha256_hex);
    assert_eq!(display.len() as u64, photo.byte_size);
    assert!(
        fieldvault::photo::metadata_segments(&display).is_empty(),
        "no APPn/COM in the stored image"
    );
    let thumb = vault
        .photo(&bear, &photo.id, PhotoVariant::Thumbnail)
        .expect("thumbnail");
    assert!(thumb.len() < display.len());

    // The document references the photo; ingesting the same picture again stores nothing new.
    let doc = vault.get::<BearSighting>(&bear).expect("get");
    assert_eq!(doc.envelope.photos, vec![photo.clone()]);
    let again = vault.ingest_photo(&bear, &original, None).expect("again");
    assert_eq!(again, photo);
    assert_eq!(
        vault
            .get::<BearSighting>(&bear)
            .expect("get")
            .envelope
            .photos
            .len(),
        1
    );

    // Streaming reads give the same bytes in ≤ 256 KiB pieces.
    let mut streamed = Vec::new();
    vault
        .read_photo(&bear, &photo.id, PhotoVariant::Display, |chunk| {
            assert!(chunk.len() <= fieldvault::vault::PHOTO_CHUNK_SIZE);
            streamed.extend_from_slice(chunk);
            Ok(())
        })
        .expect("stream");
    assert_eq!(streamed, display);

    // No 32-byte window of the original or of the sanitized output is on disk.
    vault.checkpoint().expect("checkpoint");
    for file in common::files_below(dir.path()) {
        let bytes = std::fs::read(&file).expect("read");
        assert_eq!(
            shared_windows(&original, &bytes),
            0,
            "original leaked into {}",
            file.display()
        );
        assert_eq!(
            shared_windows(&display, &bytes),
            0,
            "display leaked into {}",
            file.display()
        );
        assert_eq!(
            shared_windows(&thumb, &bytes),
            0,
            "thumbnail leaked into {}",
            file.display()
        );
    }
}

#[test]
fn tax_forms_keep_no_position_and_heic_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = common::new_vault(dir.path(), "s");
    let tax = vault.insert(common::fixtures::tax(&vault)).expect("tax");
    let photo = vault
        .ingest_photo(&tax, &corpus_photo("nikon_p6000_gps_DSCN0021.jpg"), None)
        .expect("ingest");
    assert_eq!(
        photo.position, None,
        "a resident's home must not be recorded"
    );
    assert_eq!(
        vault.get::<TaxAssist>(&tax).expect("get").envelope.photos[0].position,
        None
    );

    let err = vault
        .ingest_photo(
            &tax,
            &corpus_photo("iphone13promax_12mp_orient6.heic"),
            None,
        )
        .expect_err("HEIC");
    assert!(
        matches!(err, Error::Photo(PhotoError::UnsupportedFormat { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("JPEG"), "{err}");
    assert_eq!(
        vault
            .get::<TaxAssist>(&tax)
            .expect("get")
            .envelope
            .photos
            .len(),
        1,
        "nothing added"
    );
}

#[test]
fn tampered_chunks_fail_and_delete_shreds_photos() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = common::new_vault(dir.path(), "s");
    let a = vault.insert(common::fixtures::bear(&vault)).expect("a");
    let b = vault.insert(common::fixtures::bear(&vault)).expect("b");
    let pa = vault
        .ingest_photo(&a, &corpus_photo("nikon_p6000_gps_DSCN0042.jpg"), None)
        .expect("pa");
    let pb = vault
        .ingest_photo(&b, &corpus_photo("nikon_p6000_gps_DSCN0021.jpg"), None)
        .expect("pb");
    vault.checkpoint().expect("checkpoint");
    {
        let c = rusqlite::Connection::open(dir.path().join(DB_FILE)).expect("raw");
        // Flip a byte in the first chunk of the first stored blob of document a.
        let (doc, blob, sealed): (Vec<u8>, Vec<u8>, Vec<u8>) = c
            .query_row("SELECT doc, blob, sealed FROM photo_chunks WHERE idx = 0 ORDER BY doc, blob LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("chunk");
        let mut t = sealed.clone();
        let mid = t.len() / 2;
        t[mid] ^= 1;
        c.execute(
            "UPDATE photo_chunks SET sealed = ?1 WHERE doc = ?2 AND blob = ?3 AND idx = 0",
            rusqlite::params![t, doc, blob],
        )
        .expect("tamper");
    }
    let failures = [
        vault.photo(&a, &pa.id, PhotoVariant::Display),
        vault.photo(&a, &pa.id, PhotoVariant::Thumbnail),
        vault.photo(&b, &pb.id, PhotoVariant::Display),
        vault.photo(&b, &pb.id, PhotoVariant::Thumbnail),
    ]
    .iter()
    .filter(|r| matches!(r, Err(Error::Corrupted(_))))
    .count();
    assert_eq!(failures, 1, "exactly the tampered variant fails");

    vault.delete(&b).expect("delete");
    let left: i64 = rusqlite::Connection::open(dir.path().join(DB_FILE))
        .expect("raw")
        .query_row("SELECT COUNT(DISTINCT doc) FROM photo_chunks", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(left, 1, "the deleted document's photo chunks are gone");
    assert!(matches!(
        vault.photo(&b, &pb.id, PhotoVariant::Display),
        Err(Error::NotFound(_))
    ));
}
