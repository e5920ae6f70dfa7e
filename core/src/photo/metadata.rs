//! Metadata from the EXIF block (kamadak-exif, tolerant mode) and XMP:
//! orientation, capture time and GPS position, filtered by the policy.
//!
//! Nothing here touches pixels. A broken EXIF block never fails the photo:
//! what can be read is used (kamadak-exif's partial result), the rest is
//! absent. Orientation falls back to XMP `tiff:Orientation` when EXIF has none.
use std::panic::{catch_unwind, AssertUnwindSafe};

use chrono::{DateTime, Utc};
use exif::{Exif, In, Reader, Tag, Value};

use super::capture_time::{self, TimeInputs};
use super::container::Container;
use super::gps::{self, GpsInputs, GpsOutcome};
use super::policy::PhotoPolicy;
use crate::model::{GeoPoint, Timestamp};

/// What the vault stores about a photo (in `PhotoRef`), already filtered by
/// the policy: no position unless `keep_position`, no time unless `keep_time`.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoMetadata {
    /// Capture time; see `docs/photos.md` for how camera and GPS clocks are reconciled.
    pub taken_at: Option<Timestamp>,
    /// GPS position, only when valid (see the `gps` rules) and the policy keeps it.
    pub position: Option<GeoPoint>,
    /// EXIF orientation 1–8 of the *source* (0, missing or invalid → 1). The
    /// outputs are already rotated; this records what was applied.
    pub orientation: u16,
    /// Processing notes, e.g. `offset_assumed`, `camera_clock_mismatch`,
    /// `gps_void`, `position_removed`, `truncated`, `downscaled`.
    pub flags: Vec<String>,
}

pub(crate) const FLAG_EXIF_UNREADABLE: &str = "exif_unreadable";
pub(crate) const FLAG_POSITION_REMOVED: &str = "position_removed";
pub(crate) const FLAG_TIME_REMOVED: &str = "time_removed";

/// Parses the EXIF TIFF structure, keeping whatever a damaged block yields.
/// `None` when nothing at all could be read.
fn read_exif(tiff: &[u8]) -> Option<Exif> {
    let data = tiff.to_vec();
    // Defence in depth: a panic inside the third-party parser on hostile
    // input becomes "no EXIF", never a crash of the app.
    let result = catch_unwind(AssertUnwindSafe(|| {
        Reader::new().continue_on_error(true).read_raw(data)
    }))
    .ok()?;
    match result {
        Ok(exif) => Some(exif),
        Err(exif::Error::PartialResult(partial)) => Some(partial.into_inner().0),
        Err(_) => None,
    }
}

fn value(exif: &Exif, tag: Tag) -> Option<&Value> {
    exif.get_field(tag, In::PRIMARY).map(|f| &f.value)
}

/// The first string of an ASCII field, without trailing NULs.
fn ascii(exif: &Exif, tag: Tag) -> Option<Vec<u8>> {
    match value(exif, tag)? {
        Value::Ascii(strings) => {
            let s = strings.first()?;
            let end = s.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            let s = s.get(..end)?;
            (!s.is_empty()).then(|| s.to_vec())
        }
        _ => None,
    }
}

fn uint(exif: &Exif, tag: Tag) -> Option<u32> {
    value(exif, tag)?.get_uint(0)
}

/// Rationals as numbers; a zero denominator or negative value is `None`.
fn rationals(exif: &Exif, tag: Tag) -> Option<Vec<gps::Rational>> {
    let checked = |num: f64, denom: f64| {
        let v = num / denom;
        (denom != 0.0 && v.is_finite() && v >= 0.0).then_some(v)
    };
    match value(exif, tag)? {
        Value::Rational(v) => Some(
            v.iter()
                .map(|r| checked(f64::from(r.num), f64::from(r.denom)))
                .collect(),
        ),
        Value::SRational(v) => Some(
            v.iter()
                .map(|r| checked(f64::from(r.num), f64::from(r.denom)))
                .collect(),
        ),
        _ => None,
    }
}

fn rational(exif: &Exif, tag: Tag) -> Option<gps::Rational> {
    rationals(exif, tag)?.first().copied()
}

fn gps_inputs(exif: &Exif) -> GpsInputs {
    GpsInputs {
        status: ascii(exif, Tag::GPSStatus),
        latitude: rationals(exif, Tag::GPSLatitude),
        latitude_ref: ascii(exif, Tag::GPSLatitudeRef),
        longitude: rationals(exif, Tag::GPSLongitude),
        longitude_ref: ascii(exif, Tag::GPSLongitudeRef),
        altitude: rational(exif, Tag::GPSAltitude),
        altitude_ref: uint(exif, Tag::GPSAltitudeRef),
        h_positioning_error: rational(exif, Tag::GPSHPositioningError),
    }
}

fn time_inputs(exif: &Exif) -> TimeInputs {
    let pairs = [
        (Tag::DateTimeOriginal, Tag::OffsetTimeOriginal),
        (Tag::DateTimeDigitized, Tag::OffsetTimeDigitized),
        (Tag::DateTime, Tag::OffsetTime),
    ];
    let chosen = pairs.iter().find_map(|(time_tag, offset_tag)| {
        let local = capture_time::parse_exif_datetime(&ascii(exif, *time_tag)?)?;
        Some((local, *offset_tag))
    });
    let (local, offset) = match chosen {
        Some((local, offset_tag)) => {
            // The offset written for that time, else the general OffsetTime.
            let offset = [offset_tag, Tag::OffsetTime]
                .iter()
                .find_map(|t| capture_time::parse_offset(&ascii(exif, *t)?));
            (Some(local), offset)
        }
        None => (
            None,
            [Tag::OffsetTimeOriginal, Tag::OffsetTime]
                .iter()
                .find_map(|t| capture_time::parse_offset(&ascii(exif, *t)?)),
        ),
    };
    let gps_utc = ascii(exif, Tag::GPSDateStamp)
        .and_then(|d| capture_time::parse_date(&d))
        .zip(rationals(exif, Tag::GPSTimeStamp))
        .and_then(|(date, hms)| capture_time::gps_datetime(date, &hms));
    TimeInputs {
        local,
        offset,
        gps_utc,
    }
}

/// EXIF orientation: `Some(1..=8)` when the tag is present (0 or invalid → 1),
/// `None` when absent.
fn exif_orientation(exif: &Exif) -> Option<u16> {
    let v = uint(exif, Tag::Orientation)?;
    Some(match v {
        1..=8 => v as u16,
        _ => 1,
    })
}

fn trim_start(s: &[u8]) -> &[u8] {
    let skip = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    s.get(skip..).unwrap_or_default()
}

/// `tiff:Orientation` from an XMP packet, as an attribute
/// (`tiff:Orientation="6"`) or an element (`<tiff:Orientation>6</…>`).
pub(crate) fn xmp_orientation(xmp: &[u8]) -> Option<u16> {
    const KEY: &[u8] = b"tiff:Orientation";
    let mut rest = xmp;
    while let Some(i) = rest.windows(KEY.len()).position(|w| w == KEY) {
        rest = rest.get(i + KEY.len()..)?;
        let after = trim_start(rest);
        let digits = if let Some(v) = after.strip_prefix(b"=") {
            let v = trim_start(v);
            v.strip_prefix(b"\"").or_else(|| v.strip_prefix(b"'"))
        } else {
            after.strip_prefix(b">").map(trim_start)
        };
        if let Some(&[d, next, ..]) = digits {
            if (b'1'..=b'8').contains(&d) && !next.is_ascii_digit() {
                return Some(u16::from(d - b'0'));
            }
        }
    }
    None
}

/// Everything the metadata step produces, before the policy filter.
struct Extracted {
    orientation: u16,
    taken_at: Option<Timestamp>,
    position: Option<GeoPoint>,
    time_flags: Vec<&'static str>,
    gps_flags: Vec<&'static str>,
    other_flags: Vec<&'static str>,
}

fn extract_unfiltered(
    container: &Container<'_>,
    default_offset_minutes: i32,
    now: DateTime<Utc>,
) -> Extracted {
    let mut out = Extracted {
        orientation: 1,
        taken_at: None,
        position: None,
        time_flags: Vec::new(),
        gps_flags: Vec::new(),
        other_flags: Vec::new(),
    };
    let exif = container.exif.as_deref().and_then(|tiff| {
        let parsed = read_exif(tiff);
        if parsed.is_none() {
            out.other_flags.push(FLAG_EXIF_UNREADABLE);
        }
        parsed
    });
    let mut orientation = exif.as_ref().and_then(exif_orientation);
    if orientation.is_none() {
        orientation = container.xmp.and_then(xmp_orientation);
    }
    out.orientation = orientation.unwrap_or(1);
    if let Some(exif) = &exif {
        let time = capture_time::resolve(&time_inputs(exif), default_offset_minutes, now);
        out.taken_at = time.taken_at;
        out.time_flags = time.flags;
        match gps::position(&gps_inputs(exif)) {
            GpsOutcome::Absent => {}
            GpsOutcome::Valid(p) => out.position = Some(p),
            GpsOutcome::Rejected(flag) => out.gps_flags.push(flag),
        }
    }
    out
}

/// Reads and filters the metadata. Flags about a removed item are kept
/// (`position_removed`, `time_removed`), details about it are not.
pub(crate) fn extract(
    container: &Container<'_>,
    policy: &PhotoPolicy,
    now: DateTime<Utc>,
) -> PhotoMetadata {
    let e = extract_unfiltered(container, policy.default_utc_offset_minutes, now);
    let mut flags: Vec<&'static str> = e.other_flags;
    let taken_at = if policy.keep_time {
        flags.extend(&e.time_flags);
        e.taken_at
    } else {
        if e.taken_at.is_some() {
            flags.push(FLAG_TIME_REMOVED);
        }
        None
    };
    let position = if policy.keep_position {
        flags.extend(&e.gps_flags);
        e.position
    } else {
        if e.position.is_some() {
            flags.push(FLAG_POSITION_REMOVED);
        }
        None
    };
    PhotoMetadata {
        taken_at,
        position,
        orientation: e.orientation,
        flags: flags.into_iter().map(String::from).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DocumentKind;
    use crate::photo::detect::SourceFormat;
    use std::borrow::Cow;

    /// A big-endian TIFF with IFD0 holding `entries` (tag, type, count, value/offset),
    /// and extra data appended after the IFD.
    fn tiff(entries: &[(u16, u16, u32, u32)], extra: &[u8]) -> Vec<u8> {
        let mut v = b"MM\0*\0\0\0\x08".to_vec();
        v.extend_from_slice(&(entries.len() as u16).to_be_bytes());
        for (tag, typ, count, val) in entries {
            v.extend_from_slice(&tag.to_be_bytes());
            v.extend_from_slice(&typ.to_be_bytes());
            v.extend_from_slice(&count.to_be_bytes());
            v.extend_from_slice(&val.to_be_bytes());
        }
        v.extend_from_slice(&[0, 0, 0, 0]);
        v.extend_from_slice(extra);
        v
    }

    fn container<'a>(exif: Option<Vec<u8>>, xmp: Option<&'a [u8]>) -> Container<'a> {
        Container {
            format: SourceFormat::Jpeg,
            width: 1,
            height: 1,
            exif: exif.map(Cow::Owned),
            xmp,
            truncated: None,
            decode_bytes: 0,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("now")
            .with_timezone(&Utc)
    }

    #[test]
    fn orientation_from_exif_xmp_or_default() {
        // SHORT value 6 is left-justified in the 4-byte field.
        let six = tiff(&[(0x0112, 3, 1, 6 << 16)], &[]);
        let m = extract(
            &container(Some(six), None),
            &PhotoPolicy::for_kind(DocumentKind::BearSighting),
            now(),
        );
        assert_eq!(m.orientation, 6);
        let zero = tiff(&[(0x0112, 3, 1, 0)], &[]);
        let xmp = b"<x tiff:Orientation=\"3\"/>";
        let m = extract(
            &container(Some(zero), Some(xmp)),
            &PhotoPolicy::for_kind(DocumentKind::BearSighting),
            now(),
        );
        assert_eq!(
            m.orientation, 1,
            "invalid 0 in EXIF wins over XMP and means 1"
        );
        let m = extract(
            &container(None, Some(xmp)),
            &PhotoPolicy::for_kind(DocumentKind::BearSighting),
            now(),
        );
        assert_eq!(m.orientation, 3);
        let m = extract(
            &container(Some(b"garbage".to_vec()), None),
            &PhotoPolicy::for_kind(DocumentKind::BearSighting),
            now(),
        );
        assert_eq!(m.orientation, 1);
        assert_eq!(m.flags, vec![FLAG_EXIF_UNREADABLE]);
    }

    #[test]
    fn xmp_forms() {
        assert_eq!(xmp_orientation(b"tiff:Orientation='8'"), Some(8));
        assert_eq!(xmp_orientation(b"tiff:Orientation = \"2\" "), Some(2));
        assert_eq!(
            xmp_orientation(b"<tiff:Orientation>\n 5 </tiff:Orientation>"),
            Some(5)
        );
        assert_eq!(xmp_orientation(b"tiff:Orientation=\"9\""), None);
        assert_eq!(xmp_orientation(b"tiff:Orientation=\"12\""), None);
        assert_eq!(xmp_orientation(b"tiff:Orientation=\"1"), None);
        assert_eq!(xmp_orientation(b"tiff:Orientation"), None);
        assert_eq!(xmp_orientation(b""), None);
        assert_eq!(
            xmp_orientation(b"tiff:OrientationX tiff:Orientation=\"7\"/"),
            Some(7)
        );
    }

    /// EXIF with a GPS IFD: 43°N 141°E (one rational each) at offset `gps_ifd`.
    fn gps_tiff() -> Vec<u8> {
        // IFD0 at 8 with one entry (GPS pointer) → 8 + 2 + 12 + 4 = 26.
        let gps_ifd = 26u32;
        // GPS IFD: 4 entries → 26 + 2 + 48 + 4 = 80; rationals after it.
        let lat_off = 80u32;
        let lon_off = 88u32;
        let mut extra = Vec::new();
        extra.extend_from_slice(&4u16.to_be_bytes());
        for (tag, typ, count, val) in [
            (1u16, 2u16, 2u32, u32::from_be_bytes(*b"N\0\0\0")),
            (2, 5, 1, lat_off),
            (3, 2, 2, u32::from_be_bytes(*b"E\0\0\0")),
            (4, 5, 1, lon_off),
        ] {
            extra.extend_from_slice(&tag.to_be_bytes());
            extra.extend_from_slice(&typ.to_be_bytes());
            extra.extend_from_slice(&count.to_be_bytes());
            extra.extend_from_slice(&val.to_be_bytes());
        }
        extra.extend_from_slice(&[0, 0, 0, 0]);
        for (num, den) in [(43u32, 1u32), (141, 1)] {
            extra.extend_from_slice(&num.to_be_bytes());
            extra.extend_from_slice(&den.to_be_bytes());
        }
        tiff(&[(0x8825, 4, 1, gps_ifd)], &extra)
    }

    #[test]
    fn policy_filters_position_and_time() {
        let exif = gps_tiff();
        let bear = extract(
            &container(Some(exif.clone()), None),
            &PhotoPolicy::for_kind(DocumentKind::BearSighting),
            now(),
        );
        let p = bear.position.expect("position kept");
        assert_eq!((p.latitude, p.longitude), (43.0, 141.0));
        assert!(bear.flags.is_empty(), "{:?}", bear.flags);

        let tax = extract(
            &container(Some(exif.clone()), None),
            &PhotoPolicy::for_kind(DocumentKind::TaxAssist),
            now(),
        );
        assert_eq!(tax.position, None);
        assert_eq!(tax.flags, vec![FLAG_POSITION_REMOVED]);

        let mut no_time = PhotoPolicy::for_kind(DocumentKind::DamageReport);
        no_time.keep_time = false;
        let m = extract(&container(Some(exif), None), &no_time, now());
        assert_eq!(m.taken_at, None);
        assert!(m.position.is_some());
    }
}
