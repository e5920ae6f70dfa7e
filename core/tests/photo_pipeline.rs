//! The photo pipeline against the shared corpus (read in place from
//! `$FIELDVAULT_CORPUS`, else `../shared/corpus` beside the repository):
//! orientation, camera metadata, malformed and hostile files, output
//! sanitisation, limits, truncation, per-kind policy, WebP/PNG inputs.
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use fieldvault::model::DocumentKind;
use fieldvault::photo::{
    self, metadata_segments, PhotoError, PhotoPolicy, ProcessedPhoto, SourceFormat,
};
use image::RgbImage;

fn corpus() -> PathBuf {
    std::env::var_os("FIELDVAULT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus"))
        })
}

fn read(rel: &str) -> Vec<u8> {
    let path = corpus().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every file under `rel`, recursively, sorted.
fn files_under(rel: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![corpus().join(rel)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("corpus directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no files under {rel}");
    out
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn bear() -> PhotoPolicy {
    PhotoPolicy::for_kind(DocumentKind::BearSighting)
}

fn process_ok(rel: &str, policy: &PhotoPolicy) -> ProcessedPhoto {
    photo::process(&read(rel), policy).unwrap_or_else(|e| panic!("{rel}: {e:?}"))
}

fn decode_jpeg(jpeg: &[u8]) -> RgbImage {
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .expect("output decodes as JPEG")
        .to_rgb8()
}

/// Mean absolute difference per channel (0–255) of two same-size images.
fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

// ---------------------------------------------------------------- orientation

/// Measured on this corpus (mean absolute difference, 0–255): orientations
/// 2–4 of the recurser set differ from their `_1` reference by 0.3–1.6,
/// 5–8 (stored transposed, so chroma subsampling differs) by 2.3–4.0, the
/// invalid `_0` by 1.8–2.3; the nearest *wrong* transform gives 43–74.
const RECURSER_MAX_DIFF: f64 = 5.0;
/// The pillow variants were re-encoded from slightly different pixels:
/// 5.3–5.7 for every orientation; the nearest wrong transform gives 20+.
const HOPPER_MAX_DIFF: f64 = 7.0;

#[test]
fn recurser_orientations_match_their_reference() {
    let policy = bear();
    for set in ["Landscape", "Portrait"] {
        let reference = process_ok(&format!("photos/orientation/recurser/{set}_1.jpg"), &policy);
        let ref_display = decode_jpeg(&reference.display_jpeg);
        let ref_thumb = decode_jpeg(&reference.thumbnail_jpeg);
        for n in 0..=8u16 {
            let rel = format!("photos/orientation/recurser/{set}_{n}.jpg");
            let out = process_ok(&rel, &policy);
            // Orientation 0 is invalid and means 1.
            assert_eq!(out.metadata.orientation, n.max(1), "{rel}");
            assert_eq!(
                (out.display_width, out.display_height),
                (reference.display_width, reference.display_height),
                "{rel}"
            );
            let display = decode_jpeg(&out.display_jpeg);
            assert_eq!(
                display.dimensions(),
                (out.display_width, out.display_height)
            );
            let d = mean_abs_diff(&display, &ref_display);
            let t = mean_abs_diff(&decode_jpeg(&out.thumbnail_jpeg), &ref_thumb);
            let wrong = [
                image::imageops::flip_horizontal(&ref_display),
                image::imageops::flip_vertical(&ref_display),
                image::imageops::rotate180(&ref_display),
            ]
            .iter()
            .map(|w| mean_abs_diff(&display, w))
            .fold(f64::INFINITY, f64::min);
            println!("{rel}: display diff {d:.2}, thumbnail diff {t:.2}, nearest wrong transform {wrong:.2}");
            assert!(
                wrong > 5.0 * RECURSER_MAX_DIFF,
                "{rel}: the test cannot tell transforms apart"
            );
            assert!(d < RECURSER_MAX_DIFF, "{rel}: display differs by {d:.2}");
            assert!(t < RECURSER_MAX_DIFF, "{rel}: thumbnail differs by {t:.2}");
        }
    }
}

#[test]
fn pillow_orientations_match_their_reference() {
    let policy = bear();
    let reference =
        decode_jpeg(&process_ok("photos/orientation/pillow/hopper.jpg", &policy).display_jpeg);
    for n in 2..=8u16 {
        let rel = format!("photos/orientation/pillow/hopper_orientation_{n}.jpg");
        let out = process_ok(&rel, &policy);
        assert_eq!(out.metadata.orientation, n, "{rel}");
        let display = decode_jpeg(&out.display_jpeg);
        let d = mean_abs_diff(&display, &reference);
        let wrong = [
            image::imageops::flip_horizontal(&reference),
            image::imageops::flip_vertical(&reference),
            image::imageops::rotate90(&reference),
        ]
        .iter()
        .map(|w| mean_abs_diff(&display, w))
        .fold(f64::INFINITY, f64::min);
        println!("{rel}: display diff {d:.2}, nearest wrong transform {wrong:.2}");
        assert!(
            wrong > 3.0 * HOPPER_MAX_DIFF,
            "{rel}: the test cannot tell transforms apart"
        );
        assert!(d < HOPPER_MAX_DIFF, "{rel}: display differs by {d:.2}");
    }
}

/// Files whose reference is the source itself transformed by the `image`
/// crate's own (independent) operations.
#[test]
fn png_and_tiny_orientation_files_match_image_crate_transforms() {
    let policy = bear();
    for (rel, orientation) in [
        // EXIF in ImageMagick's hex "Raw profile type exif" tEXt chunk.
        (
            "photos/orientation/pillow/exif_imagemagick_orientation.png",
            3,
        ),
        // Orientation only in XMP (tiff:Orientation).
        ("photos/orientation/pillow/xmp_tags_orientation.png", 3),
        ("photos/orientation/pillow/orientation_rectangle.jpg", 8),
    ] {
        let bytes = read(rel);
        let out = photo::process(&bytes, &policy).expect(rel);
        assert_eq!(out.metadata.orientation, orientation, "{rel}");
        assert_eq!(
            photo::read_metadata(&bytes, &policy)
                .expect(rel)
                .orientation,
            orientation
        );
        // The source composited on white, like the pipeline does.
        let src = image::load_from_memory(&bytes).expect(rel).to_rgba8();
        let flat = RgbImage::from_fn(src.width(), src.height(), |x, y| {
            let p = src.get_pixel(x, y).0;
            let a = u32::from(p[3]);
            let c = |v: u8| ((u32::from(v) * a + 255 * (255 - a) + 127) / 255) as u8;
            image::Rgb([c(p[0]), c(p[1]), c(p[2])])
        });
        let expected = match orientation {
            3 => image::imageops::rotate180(&flat),
            8 => image::imageops::rotate270(&flat),
            _ => unreachable!(),
        };
        let display = decode_jpeg(&out.display_jpeg);
        assert_eq!(display.dimensions(), expected.dimensions(), "{rel}");
        let d = mean_abs_diff(&display, &expected);
        println!("{rel}: diff {d:.2}");
        // JPEG q85 of the output only (the 2×1 file: chroma subsampling of 2 pixels).
        assert!(d < 6.0, "{rel}: differs by {d:.2}");
    }
}

// ------------------------------------------------------------ camera photos

/// What the MANIFEST / observation table lead us to expect of a camera photo.
struct Expect {
    file: &'static str,
    source: (u32, u32),
    display: (u32, u32),
    orientation: u16,
    /// (latitude, longitude) to 1e-4.
    position: Option<(f64, f64)>,
    uncertainty_m: Option<f64>,
    /// RFC 3339 with the offset the rules give.
    taken_at: &'static str,
    flags: &'static [&'static str],
}

const CAMERA: &[Expect] = &[
    Expect {
        // GPS 48.8925N 2.2364E; 19:51:38 local, GPS 18:51:28 UTC → +01:00.
        file: "samsung_galaxy_s7edge_12mp_gps.jpg",
        source: (4032, 3024),
        display: (2048, 1536),
        orientation: 1,
        position: Some((48.8925, 2.2364)),
        uncertainty_m: None,
        taken_at: "2017-02-09T19:51:38+01:00",
        flags: &["offset_from_gps", "downscaled"],
    },
    Expect {
        // GPSStatus V with 0/0 rationals: no position, no NaN.
        file: "leica_t_16mp_orient8.jpg",
        source: (4928, 3264),
        display: (1356, 2048),
        orientation: 8,
        position: None,
        uncertainty_m: None,
        taken_at: "2014-04-24T12:18:42+09:00",
        flags: &["offset_assumed", "gps_void", "downscaled"],
    },
    Expect {
        file: "canon_5d3_22mp.jpg",
        source: (5760, 3840),
        display: (2048, 1365),
        orientation: 1,
        position: None,
        uncertainty_m: None,
        taken_at: "2016-01-12T15:33:28+09:00",
        flags: &["offset_assumed", "downscaled"],
    },
    Expect {
        // GPSTimeStamp without GPSDateStamp: unusable, default offset.
        file: "iphone5_orient3_gps.jpg",
        source: (3264, 2448),
        display: (2048, 1536),
        orientation: 3,
        position: Some((47.6272, -122.3373)),
        uncertainty_m: None,
        taken_at: "2012-09-29T16:11:25+09:00",
        flags: &["offset_assumed", "downscaled"],
    },
    Expect {
        // Camera clock reset to 2000-01-02.
        file: "docomo_sc02c_orient6.jpg",
        source: (3264, 2448),
        display: (1536, 2048),
        orientation: 6,
        position: None,
        uncertainty_m: None,
        taken_at: "2000-01-02T08:26:46+09:00",
        flags: &["camera_clock_implausible", "offset_assumed", "downscaled"],
    },
    Expect {
        // GPS exactly 0,0: a no-fix placeholder.
        file: "galaxy_s_orient6_gps_null_island.jpg",
        source: (640, 480),
        display: (480, 640),
        orientation: 6,
        position: None,
        uncertainty_m: None,
        taken_at: "2011-04-02T18:30:10+09:00",
        flags: &["offset_assumed", "gps_invalid"],
    },
    Expect {
        // GPSHPositioningError 4.79 m; GPSDateStamp without GPSTimeStamp.
        file: "iphone_xr_1x1_gps.jpg",
        source: (1, 1),
        display: (1, 1),
        orientation: 1,
        position: Some((43.8595, 15.5033)),
        uncertainty_m: Some(4.79),
        taken_at: "2020-09-02T18:52:42+09:00",
        flags: &["offset_assumed"],
    },
    Expect {
        file: "canon_a85_orient8.jpg",
        source: (1704, 2272),
        display: (2048, 1536),
        orientation: 8,
        position: None,
        uncertainty_m: None,
        taken_at: "2005-01-31T05:51:17+09:00",
        flags: &["offset_assumed", "downscaled"],
    },
    Expect {
        // Camera 2008-10-22 16:28:39 vs GPS 2008-10-23 14:27:07 UTC: trust GPS
        // (shown in the default +09:00, since GPS cannot tell the offset).
        file: "nikon_p6000_gps_DSCN0010.jpg",
        source: (640, 480),
        display: (640, 480),
        orientation: 1,
        position: Some((43.4674, 11.8851)),
        uncertainty_m: None,
        taken_at: "2008-10-23T23:27:07+09:00",
        flags: &["camera_clock_mismatch", "offset_assumed"],
    },
    Expect {
        file: "nikon_p6000_gps_DSCN0021.jpg",
        source: (640, 480),
        display: (640, 480),
        orientation: 1,
        position: Some((43.4671, 11.8845)),
        uncertainty_m: None,
        taken_at: "2008-10-23T23:36:47+09:00",
        flags: &["camera_clock_mismatch", "offset_assumed"],
    },
    Expect {
        file: "nikon_p6000_gps_DSCN0042.jpg",
        source: (640, 480),
        display: (640, 480),
        orientation: 1,
        position: Some((43.4645, 11.8815)),
        uncertainty_m: None,
        taken_at: "2008-10-23T23:57:41+09:00",
        flags: &["camera_clock_mismatch", "offset_assumed"],
    },
    Expect {
        // GPS IFD without coordinates: no position and no flag.
        file: "canon_sx60_orient6_gps.jpg",
        source: (2048, 1536),
        display: (1536, 2048),
        orientation: 6,
        position: None,
        uncertainty_m: None,
        taken_at: "2015-02-09T22:47:44+09:00",
        flags: &["offset_assumed"],
    },
    Expect {
        // OffsetTimeOriginal +03:00, consistent with GPS UTC.
        file: "nokia83_9mp_gps.jpg",
        source: (4608, 1976),
        display: (2048, 878),
        orientation: 1,
        position: Some((60.1467, 24.9068)),
        uncertainty_m: None,
        taken_at: "2022-08-14T14:12:31+03:00",
        flags: &["downscaled"],
    },
    Expect {
        file: "nikon_d70s_gps_portrait.jpg",
        source: (1488, 2240),
        display: (1360, 2048),
        orientation: 1,
        position: Some((43.7856, 11.2346)),
        uncertainty_m: None,
        taken_at: "2005-12-14T14:39:47+09:00",
        flags: &["offset_assumed", "downscaled"],
    },
    Expect {
        // Zero-length ASCII string in EXIF; no DateTimeOriginal (DateTime used).
        file: "samsung_s7_zero_length_string_gps.jpg",
        source: (4032, 2012),
        display: (2048, 1022),
        orientation: 1,
        position: Some((51.0250, 7.5919)),
        uncertainty_m: None,
        taken_at: "2016-09-12T10:05:31+09:00",
        flags: &["offset_assumed", "downscaled"],
    },
];

const HEIC: &str = "iphone13promax_12mp_orient6.heic";

#[test]
fn camera_photos_match_the_table() {
    let policy = bear();
    let listed: HashSet<&str> = CAMERA.iter().map(|e| e.file).chain([HEIC]).collect();
    for path in files_under("photos/camera") {
        assert!(
            listed.contains(name_of(&path).as_str()),
            "{} has no table row",
            path.display()
        );
    }
    for e in CAMERA {
        let rel = format!("photos/camera/{}", e.file);
        let bytes = read(&rel);
        let out = photo::process(&bytes, &policy).unwrap_or_else(|err| panic!("{rel}: {err:?}"));
        let m = &out.metadata;
        assert_eq!(out.source_format, SourceFormat::Jpeg, "{rel}");
        assert_eq!((out.source_width, out.source_height), e.source, "{rel}");
        assert_eq!((out.display_width, out.display_height), e.display, "{rel}");
        assert!(
            out.thumbnail_width.max(out.thumbnail_height) <= 320,
            "{rel}"
        );
        assert_eq!(m.orientation, e.orientation, "{rel}");
        match (e.position, m.position) {
            (None, None) => {}
            (Some((lat, lon)), Some(p)) => {
                assert!(
                    (p.latitude - lat).abs() < 1e-4,
                    "{rel}: latitude {}",
                    p.latitude
                );
                assert!(
                    (p.longitude - lon).abs() < 1e-4,
                    "{rel}: longitude {}",
                    p.longitude
                );
                let mut errors = fieldvault::model::ValidationErrors::new();
                p.validate("position", &mut errors);
                assert!(errors.is_empty(), "{rel}: {errors}");
            }
            (want, got) => panic!("{rel}: position {got:?}, expected {want:?}"),
        }
        if let Some(p) = m.position {
            assert!(p.latitude.is_finite() && p.longitude.is_finite(), "{rel}");
            assert!(p.altitude_m.is_none_or(f64::is_finite), "{rel}");
            match (e.uncertainty_m, p.uncertainty_m) {
                (Some(want), Some(got)) => assert!((got - want).abs() < 0.01, "{rel}: {got}"),
                (None, None) => {}
                (want, got) => panic!("{rel}: uncertainty {got:?}, expected {want:?}"),
            }
        }
        let taken = m
            .taken_at
            .as_ref()
            .unwrap_or_else(|| panic!("{rel}: no time"));
        let want = fieldvault::model::Timestamp::parse(e.taken_at).expect("table time");
        assert_eq!(taken, &want, "{rel}: instant");
        assert_eq!(taken.to_rfc3339(), e.taken_at, "{rel}: offset");
        assert_eq!(m.flags, e.flags, "{rel}: flags");

        // The metadata-only path agrees (it has no "downscaled" flag).
        let quick = photo::read_metadata(&bytes, &policy).expect(&rel);
        assert_eq!(quick.position, m.position, "{rel}");
        assert_eq!(quick.taken_at, m.taken_at, "{rel}");
        assert_eq!(quick.orientation, m.orientation, "{rel}");
        let mut flags = m.flags.clone();
        flags.retain(|f| f != photo::FLAG_DOWNSCALED);
        assert_eq!(quick.flags, flags, "{rel}");
    }
}

#[test]
fn heic_is_rejected_with_a_conversion_hint() {
    let bytes = read(&format!("photos/camera/{HEIC}"));
    for result in [
        photo::process(&bytes, &bear()).map(|_| ()),
        photo::read_metadata(&bytes, &bear()).map(|_| ()),
    ] {
        match result {
            Err(PhotoError::UnsupportedFormat { detected, message }) => {
                assert_eq!(detected, "heic");
                assert!(message.contains("JPEG"), "{message}");
                assert!(message.contains("iOS"), "{message}");
            }
            other => panic!("expected UnsupportedFormat, got {other:?}"),
        }
    }
}

#[test]
fn tax_assist_keeps_no_position() {
    let tax = PhotoPolicy::for_kind(DocumentKind::TaxAssist);
    for file in [
        "samsung_galaxy_s7edge_12mp_gps.jpg",
        "nokia83_9mp_gps.jpg",
        "iphone_xr_1x1_gps.jpg",
    ] {
        let rel = format!("photos/camera/{file}");
        let bytes = read(&rel);
        let out = photo::process(&bytes, &tax).expect(&rel);
        assert_eq!(out.metadata.position, None, "{rel}");
        assert!(out.metadata.taken_at.is_some(), "{rel}: time is kept");
        assert!(
            out.metadata.flags.iter().any(|f| f == "position_removed"),
            "{rel}"
        );
        assert!(
            !out.metadata.flags.iter().any(|f| f.starts_with("gps_")),
            "{rel}"
        );
        assert_eq!(
            photo::read_metadata(&bytes, &tax).expect(&rel).position,
            None
        );
        // Damage reports keep it.
        let damage = PhotoPolicy::for_kind(DocumentKind::DamageReport);
        assert!(photo::read_metadata(&bytes, &damage)
            .expect(&rel)
            .position
            .is_some());
    }
}

// ------------------------------------------------------------ sanitisation

/// Byte ranges of the DHT and DQT segments of one of our (well-formed)
/// outputs. Their content comes from the quality setting and the standard
/// Huffman tables of ITU T.81 Annex K, which many cameras use too: equal
/// bytes there are not a leak of the source.
fn table_ranges(jpeg: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut pos = 2;
    while pos + 4 <= jpeg.len() && jpeg[pos] == 0xFF && jpeg[pos + 1] != 0xDA {
        let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        if matches!(jpeg[pos + 1], 0xC4 | 0xDB) {
            ranges.push(pos..pos + 2 + len);
        }
        pos += 2 + len;
    }
    ranges
}

/// Every `window`-byte slice of `jpeg` outside its quantisation and Huffman tables.
fn windows(jpeg: &[u8], window: usize) -> HashSet<&[u8]> {
    let tables = table_ranges(jpeg);
    assert!(!tables.is_empty());
    jpeg.windows(window)
        .enumerate()
        .filter(|(start, _)| {
            !tables
                .iter()
                .any(|t| *start < t.end && start + window > t.start)
        })
        .map(|(_, w)| w)
        .collect()
}

/// Byte ranges of the APPn and COM segments of a JPEG (before its first scan).
fn metadata_ranges(jpeg: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut pos = 2;
    while pos + 4 <= jpeg.len() && jpeg[pos] == 0xFF && jpeg[pos + 1] != 0xDA {
        let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        if matches!(jpeg[pos + 1], 0xE0..=0xEF | 0xFE) {
            ranges.push(pos..(pos + 2 + len).min(jpeg.len()));
        }
        pos += 2 + len;
    }
    ranges
}

/// Asserts that no `window`-byte slice of `source` at the given offsets is in `out`.
fn assert_no_shared_window(
    source: &[u8],
    offsets: impl Iterator<Item = usize>,
    out: &HashSet<&[u8]>,
    what: &str,
) -> usize {
    let mut checked = 0;
    for offset in offsets {
        if let Some(w) = source.get(offset..offset + 32) {
            assert!(
                !out.contains(w),
                "{what}: source bytes at {offset} appear in the output"
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn outputs_carry_no_metadata_and_no_source_bytes() {
    for file in [
        "samsung_galaxy_s7edge_12mp_gps.jpg",
        "iphone5_orient3_gps.jpg",
        "nokia83_9mp_gps.jpg",
        "iphone_xr_1x1_gps.jpg",
        "nikon_p6000_gps_DSCN0010.jpg",
        "galaxy_s_orient6_gps_null_island.jpg",
    ] {
        let rel = format!("photos/camera/{file}");
        let source = read(&rel);
        let meta = metadata_ranges(&source);
        assert!(
            !metadata_segments(&source).is_empty() && !meta.is_empty(),
            "{rel}: the source has metadata"
        );
        // Default quality: every window of the source's metadata segments
        // (EXIF with GPS, maker notes, embedded thumbnails, XMP, ICC).
        // Quality 71: every window of the first 256 KiB and a sample of the
        // rest. (A photo that needs no resize, re-encoded with the very
        // quantisation tables its camera used — DSCN0010 matches IJG q84 —
        // legitimately reproduces runs of the same entropy-coded bytes: that
        // is the picture, not a leak. No camera here uses IJG q71.)
        for quality in [85, 71] {
            let mut policy = bear();
            policy.jpeg_quality = quality;
            let out = photo::process(&source, &policy).expect(&rel);
            for (what, jpeg, dims) in [
                (
                    "display",
                    &out.display_jpeg,
                    (out.display_width, out.display_height),
                ),
                (
                    "thumbnail",
                    &out.thumbnail_jpeg,
                    (out.thumbnail_width, out.thumbnail_height),
                ),
            ] {
                let what = format!("{rel} {what} q{quality}");
                assert_eq!(metadata_segments(jpeg), Vec::<u8>::new(), "{what}");
                assert_eq!(decode_jpeg(jpeg).dimensions(), dims, "{what}");
                for needle in [
                    &b"Exif"[..],
                    b"http://ns.adobe.com",
                    b"ICC_PROFILE",
                    b"Photoshop",
                ] {
                    assert!(!jpeg.windows(needle.len()).any(|w| w == needle), "{what}");
                }
                let out_windows = windows(jpeg, 32);
                let checked = if quality == 85 {
                    let offsets = meta.iter().flat_map(|r| r.clone());
                    assert_no_shared_window(&source, offsets, &out_windows, &what)
                } else {
                    let offsets = (0..source.len()).filter(|&o| o < 256 * 1024 || o % 257 == 0);
                    assert_no_shared_window(&source, offsets, &out_windows, &what)
                };
                assert!(checked > 500, "{what}: only {checked} windows checked");
            }
        }
    }
}

// ---------------------------------------------------- malformed and hostile

/// A check of one result.
type Check = fn(&Result<ProcessedPhoto, PhotoError>) -> bool;

/// What the MANIFEST says about particular files.
fn malformed_expectation(dir: &str, name: &str) -> Option<Check> {
    Some(match name {
        // Must decode.
        "jdec_extraneous-bytes-after-sos.jpg"
        | "jdec_multiple-0xff-before-eoi.jpg"
        | "ljt_testorig.jpg"
        | "pillow_jpeg_ff00_header.jpg"
        | "pillow_junk_jpeg_header.jpg"
        | "pillow_icc-after-SOF.jpg" => |r| r.is_ok(),
        // Truncated: never processed silently as whole.
        "olympus_10mp_truncated_scan.jpg" | "pillow_truncated_jpeg.jpg" => {
            |r| matches!(r, Err(PhotoError::Truncated))
        }
        "pillow_truncated_image.png" | "pillow_truncated_end_chunk.png" => {
            |r| matches!(r, Err(PhotoError::Truncated))
        }
        // Not accepted formats.
        "gif_decompression_bomb.gif" | "gif_decompression_bomb_extents.gif" => {
            |r| matches!(r, Err(PhotoError::UnsupportedFormat { detected, .. }) if detected == "gif")
        }
        "bmp_Bad_reallybig.bmp" => {
            |r| matches!(r, Err(PhotoError::UnsupportedFormat { detected, .. }) if detected == "bmp")
        }
        // Its bomb is a compressed text chunk, which is never inflated.
        "png_text_chunk_zlib_bomb.png" => |r| r.is_ok(),
        // Unsupported JPEG codings are refused from the frame header.
        "ljt_monkey12_12bit.jpg"
        | "ljt_testimgari_arithmetic.jpg"
        | "jdec_invalid-prediction-shift.jpg" => {
            |r| matches!(r, Err(PhotoError::UnsupportedFormat { .. }))
        }
        // Empty GPS IFD: no location, not an error.
        "ianare_45-gps_ifd_empty.jpg" | "pillow_empty_gps_ifd.jpg" => {
            |r| matches!(r, Ok(p) if p.metadata.position.is_none())
        }
        // IPTC and XMP must not survive.
        "image_iptc.jpg" | "image_exif-xmp-metadata.jpg" => |r| {
            matches!(r, Ok(p) if metadata_segments(&p.display_jpeg).is_empty()
                && metadata_segments(&p.thumbnail_jpeg).is_empty())
        },
        // Declared-dimension bombs: refused by the size limit before any allocation.
        _ if dir == "bombs" => |r| matches!(r, Err(PhotoError::TooLarge { .. })),
        // PngSuite x* and image-png x_* files must be rejected.
        n if n.starts_with("pngsuite_x") || n.starts_with("ipng_x_") => |r| r.is_err(),
        _ => return None,
    })
}

/// Bound on the whole malformed-corpus loop: generous for an unoptimised
/// test build on a shared 2-core machine (it takes about 10 s there and
/// well under a second per file in release); a hang fails instead of blocking.
const MALFORMED_LOOP_LIMIT: Duration = Duration::from_secs(180);

#[test]
fn malformed_corpus_never_panics_or_hangs() {
    let current = Arc::new(Mutex::new(String::new()));
    let (done_tx, done_rx) = mpsc::channel();
    let worker_current = Arc::clone(&current);
    let worker = std::thread::spawn(move || {
        malformed_loop(&worker_current);
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(MALFORMED_LOOP_LIMIT) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let file = current.lock().map(|c| c.clone()).unwrap_or_default();
            panic!("no result after {MALFORMED_LOOP_LIMIT:?}: stuck on {file}");
        }
        // The worker's assertions failed: report its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => {}
    }
    if let Err(panic) = worker.join() {
        std::panic::resume_unwind(panic);
    }
}

fn malformed_loop(current: &Mutex<String>) {
    let policy = bear();
    let start = Instant::now();
    let mut slowest = (Duration::ZERO, String::new());
    let mut panics = Vec::new();
    let mut unmet = Vec::new();
    let mut counts = [0usize; 5];
    let files = files_under("images/malformed");
    for path in &files {
        let name = name_of(path);
        if let Ok(mut c) = current.lock() {
            c.clone_from(&name);
        }
        let bytes = std::fs::read(path).expect("read");
        let t = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| photo::process(&bytes, &policy)));
        let meta = catch_unwind(AssertUnwindSafe(|| photo::read_metadata(&bytes, &policy)));
        let elapsed = t.elapsed();
        if elapsed > slowest.0 {
            slowest = (elapsed, name.clone());
        }
        let (Ok(result), Ok(meta)) = (result, meta) else {
            panics.push(name);
            continue;
        };
        for p in meta
            .iter()
            .filter_map(|m| m.position)
            .chain(result.iter().filter_map(|r| r.metadata.position))
        {
            assert!(
                p.latitude.is_finite() && p.longitude.is_finite(),
                "{name}: NaN position"
            );
            assert!(
                p.latitude != 0.0 || p.longitude != 0.0,
                "{name}: null island"
            );
        }
        counts[match &result {
            Ok(_) => 0,
            Err(PhotoError::UnsupportedFormat { .. }) => 1,
            Err(PhotoError::TooLarge { .. }) => 2,
            Err(PhotoError::Truncated) => 3,
            Err(_) => 4,
        }] += 1;
        if let Ok(out) = &result {
            assert!(metadata_segments(&out.display_jpeg).is_empty(), "{name}");
            assert_eq!(
                decode_jpeg(&out.display_jpeg).dimensions(),
                (out.display_width, out.display_height),
                "{name}"
            );
        }
        let dir = path.parent().map(name_of).unwrap_or_default();
        if let Some(check) = malformed_expectation(&dir, &name) {
            if !check(&result) {
                unmet.push(format!("{name}: {:?}", result.map(|p| p.metadata)));
            }
        }
    }
    let total = start.elapsed();
    println!(
        "{} files in {total:?}; slowest {} ({:?}); ok {}, unsupported {}, too large {}, truncated {}, malformed {}",
        files.len(),
        slowest.1,
        slowest.0,
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4]
    );
    assert!(panics.is_empty(), "panicked on: {panics:?}");
    assert!(
        unmet.is_empty(),
        "unexpected results:\n{}",
        unmet.join("\n")
    );
}

#[test]
fn truncated_images_follow_the_policy() {
    let mut lenient = bear();
    lenient.accept_truncated = true;
    for rel in [
        "images/malformed/jpeg/olympus_10mp_truncated_scan.jpg",
        "images/malformed/jpeg/pillow_truncated_jpeg.jpg",
    ] {
        let bytes = read(rel);
        assert_eq!(
            photo::process(&bytes, &bear()).map(|_| ()),
            Err(PhotoError::Truncated),
            "{rel}"
        );
        let out = photo::process(&bytes, &lenient).expect(rel);
        assert!(out.metadata.flags.iter().any(|f| f == "truncated"), "{rel}");
    }
    // A whole photo cut short in the scan, and with its EOI restored.
    let whole = read("photos/camera/nikon_p6000_gps_DSCN0010.jpg");
    let mut cut = whole[..whole.len() * 2 / 3].to_vec();
    assert_eq!(
        photo::process(&cut, &bear()).map(|_| ()),
        Err(PhotoError::Truncated)
    );
    let out = photo::process(&cut, &lenient).expect("lenient");
    assert!(out.metadata.flags.iter().any(|f| f == "truncated"));
    cut.extend_from_slice(&[0xFF, 0xD9]);
    let appended_eoi = photo::process(&cut, &bear());
    println!(
        "cut scan + appended EOI: {:?}",
        appended_eoi.as_ref().map(|p| &p.metadata.flags)
    );
    // PNG without its end: the decoder cannot salvage it either way.
    let png = read("photos/orientation/pillow/xmp_tags_orientation.png");
    let cut_png = &png[..png.len() / 2];
    assert_eq!(
        photo::process(cut_png, &bear()).map(|_| ()),
        Err(PhotoError::Truncated)
    );
    assert_eq!(
        photo::process(cut_png, &lenient).map(|_| ()),
        Err(PhotoError::Truncated)
    );
}

#[test]
fn limits_refuse_before_decoding() {
    let bytes = read("photos/camera/samsung_galaxy_s7edge_12mp_gps.jpg");
    let mut small = bear();
    small.limits.max_pixels = 12_000_000;
    let t = Instant::now();
    assert!(matches!(
        photo::process(&bytes, &small),
        Err(PhotoError::TooLarge { .. })
    ));
    let mut narrow = bear();
    narrow.limits.max_dimension = 4000;
    assert!(matches!(
        photo::process(&bytes, &narrow),
        Err(PhotoError::TooLarge { .. })
    ));
    let mut tiny_input = bear();
    tiny_input.limits.max_input_bytes = 1 << 20;
    assert!(matches!(
        photo::process(&bytes, &tiny_input),
        Err(PhotoError::TooLarge { .. })
    ));
    assert!(matches!(
        photo::read_metadata(&bytes, &tiny_input),
        Err(PhotoError::TooLarge { .. })
    ));
    let mut low_memory = bear();
    low_memory.limits.max_decode_alloc = 30 << 20;
    assert!(matches!(
        photo::process(&bytes, &low_memory),
        Err(PhotoError::TooLarge { .. })
    ));
    // None of this decoded 12 MP (which alone takes longer than this).
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // The 186-byte 65535×65535 header is refused from the header.
    let bomb = read("images/malformed/bombs/jpeg_65535x65535_max_size.jpg");
    match photo::process(&bomb, &bear()) {
        Err(PhotoError::TooLarge { what }) => assert!(what.contains("65535"), "{what}"),
        other => panic!("{:?}", other.map(|p| p.metadata)),
    }
}

// ------------------------------------------------------------ other inputs

/// Wraps a lossless WebP bitstream (from the image crate) into an extended
/// WebP with an EXIF chunk holding `orientation`.
fn webp_with_orientation(img: &RgbImage, orientation: u16) -> Vec<u8> {
    let mut simple = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut simple)
        .encode(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("webp");
    // simple = RIFF size WEBP + one VP8L chunk.
    let vp8l = simple[12..].to_vec();
    let mut tiff = b"II*\0\x08\0\0\0\x01\0".to_vec();
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&u32::from(orientation).to_le_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    let chunk = |fourcc: &[u8], data: &[u8]| {
        let mut c = fourcc.to_vec();
        c.extend_from_slice(&(data.len() as u32).to_le_bytes());
        c.extend_from_slice(data);
        if data.len() % 2 == 1 {
            c.push(0);
        }
        c
    };
    let mut vp8x = vec![0x08, 0, 0, 0]; // EXIF flag
    vp8x.extend_from_slice(&(img.width() - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(img.height() - 1).to_le_bytes()[..3]);
    let mut body = b"WEBP".to_vec();
    body.extend(chunk(b"VP8X", &vp8x));
    body.extend_from_slice(&vp8l);
    body.extend(chunk(b"EXIF", &tiff));
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

#[test]
fn webp_input_with_exif_orientation() {
    let img = RgbImage::from_fn(60, 40, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 6) as u8, 90])
    });
    let webp = webp_with_orientation(&img, 6);
    let out = photo::process(&webp, &bear()).expect("webp");
    assert_eq!(out.source_format, SourceFormat::WebP);
    assert_eq!(out.source_format.as_str(), "webp");
    assert_eq!(out.metadata.orientation, 6);
    assert_eq!((out.display_width, out.display_height), (40, 60));
    let d = mean_abs_diff(
        &decode_jpeg(&out.display_jpeg),
        &image::imageops::rotate90(&img),
    );
    assert!(d < 4.0, "diff {d}");
    // RIFF size larger than the data.
    let cut = &webp[..webp.len() - 10];
    assert_eq!(
        photo::process(cut, &bear()).map(|_| ()),
        Err(PhotoError::Truncated)
    );
}

#[test]
fn transparent_png_is_composited_on_white() {
    let img = image::RgbaImage::from_fn(50, 50, |x, _| {
        if x < 25 {
            image::Rgba([0, 0, 0, 0])
        } else {
            image::Rgba([0, 0, 255, 255])
        }
    });
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    let out = photo::process(&png, &bear()).expect("png");
    let rgb = decode_jpeg(&out.display_jpeg);
    let left = rgb.get_pixel(5, 25).0;
    let right = rgb.get_pixel(45, 25).0;
    assert!(
        left.iter().all(|&c| c > 245),
        "transparent → white, got {left:?}"
    );
    assert!(
        right[2] > 230 && right[0] < 25,
        "opaque blue stays blue, got {right:?}"
    );
}

#[test]
fn format_comes_from_content_not_names() {
    // A JPEG handed over as if it were anything: the bytes decide.
    let jpeg = read("photos/orientation/pillow/hopper.jpg");
    assert_eq!(
        photo::process(&jpeg, &bear()).expect("jpeg").source_format,
        SourceFormat::Jpeg
    );
    let png = read("photos/orientation/pillow/xmp_tags_orientation.png");
    assert_eq!(
        photo::process(&png, &bear()).expect("png").source_format,
        SourceFormat::Png
    );
    for bytes in [&b""[..], b"not an image at all", b"GIF89a\x01\x00\x01\x00"] {
        assert!(matches!(
            photo::process(bytes, &bear()),
            Err(PhotoError::UnsupportedFormat { .. })
        ));
    }
}
