//! GPS position from EXIF values, with the rules that keep placeholders and
//! garbage out of documents.
//!
//! A position is accepted only when all of these hold:
//! * `GPSStatus` is not `V` (measurement void; `A` or absent is fine);
//! * latitude and longitude are both present, each 1–3 rationals
//!   (degrees, minutes, seconds) with non-zero denominators, minutes and
//!   seconds within 0–60, and a reference of `N`/`S` resp. `E`/`W`;
//! * the result is finite, within ±90° / ±180°, and not exactly 0,0 (the
//!   "null island" placeholder cameras write without a fix).
//!
//! Altitude and accuracy (`GPSHPositioningError` → `uncertainty_m`) are
//! optional extras: an invalid one is dropped without dropping the position.
use crate::model::GeoPoint;

/// One rational value: `None` when its denominator is zero or it is negative
/// or not finite.
pub(crate) type Rational = Option<f64>;

/// The raw GPS values of an EXIF block.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GpsInputs {
    pub status: Option<Vec<u8>>,
    pub latitude: Option<Vec<Rational>>,
    pub latitude_ref: Option<Vec<u8>>,
    pub longitude: Option<Vec<Rational>>,
    pub longitude_ref: Option<Vec<u8>>,
    pub altitude: Option<Rational>,
    /// 0 = above sea level, 1 = below.
    pub altitude_ref: Option<u32>,
    pub h_positioning_error: Option<Rational>,
}

/// Outcome of [`position`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GpsOutcome {
    /// No coordinates at all (no GPS IFD, or one without latitude/longitude).
    Absent,
    Valid(GeoPoint),
    /// Coordinates were present but rejected; the value is the flag to record.
    Rejected(&'static str),
}

pub(crate) const FLAG_VOID: &str = "gps_void";
pub(crate) const FLAG_INVALID: &str = "gps_invalid";

/// Highest/lowest altitude accepted, in metres (beyond: dropped as garbage).
const MAX_ABS_ALTITUDE_M: f64 = 100_000.0;

fn dms(parts: &[Rational]) -> Option<f64> {
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let mut value = 0.0;
    for (i, part) in parts.iter().enumerate() {
        let v = (*part)?;
        if !v.is_finite() || v < 0.0 {
            return None;
        }
        // Minutes and seconds must be within a minute/hour.
        if i > 0 && v > 60.0 {
            return None;
        }
        value += v / [1.0, 60.0, 3600.0][i];
    }
    value.is_finite().then_some(value)
}

fn reference(r: Option<&[u8]>, positive: u8, negative: u8) -> Option<f64> {
    let c = r?.iter().find(|b| !b.is_ascii_whitespace() && **b != 0)?;
    match c.to_ascii_uppercase() {
        c if c == positive => Some(1.0),
        c if c == negative => Some(-1.0),
        _ => None,
    }
}

/// Applies the rules above.
pub(crate) fn position(g: &GpsInputs) -> GpsOutcome {
    let (lat_parts, lon_parts) = match (&g.latitude, &g.longitude) {
        (None, None) => return GpsOutcome::Absent,
        (Some(lat), Some(lon)) => (lat, lon),
        _ => return GpsOutcome::Rejected(FLAG_INVALID),
    };
    if g.status
        .as_deref()
        .and_then(|s| s.iter().find(|b| !b.is_ascii_whitespace()))
        .is_some_and(|b| b.eq_ignore_ascii_case(&b'V'))
    {
        return GpsOutcome::Rejected(FLAG_VOID);
    }
    let lat = dms(lat_parts)
        .zip(reference(g.latitude_ref.as_deref(), b'N', b'S'))
        .map(|(v, s)| v * s);
    let lon = dms(lon_parts)
        .zip(reference(g.longitude_ref.as_deref(), b'E', b'W'))
        .map(|(v, s)| v * s);
    let (Some(latitude), Some(longitude)) = (lat, lon) else {
        return GpsOutcome::Rejected(FLAG_INVALID);
    };
    if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
        return GpsOutcome::Rejected(FLAG_INVALID);
    }
    if latitude == 0.0 && longitude == 0.0 {
        return GpsOutcome::Rejected(FLAG_INVALID);
    }
    let altitude_m = g
        .altitude
        .flatten()
        .filter(|a| a.is_finite() && *a <= MAX_ABS_ALTITUDE_M)
        // Below sea level is negative; 0 stays +0.0.
        .map(|a| {
            if g.altitude_ref == Some(1) && a != 0.0 {
                -a
            } else {
                a
            }
        });
    let uncertainty_m = g
        .h_positioning_error
        .flatten()
        .filter(|e| e.is_finite() && *e >= 0.0);
    GpsOutcome::Valid(GeoPoint {
        latitude,
        longitude,
        uncertainty_m,
        altitude_m,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(lat: &[Rational], lat_ref: &str, lon: &[Rational], lon_ref: &str) -> GpsInputs {
        GpsInputs {
            latitude: Some(lat.to_vec()),
            latitude_ref: Some(lat_ref.as_bytes().to_vec()),
            longitude: Some(lon.to_vec()),
            longitude_ref: Some(lon_ref.as_bytes().to_vec()),
            ..Default::default()
        }
    }

    fn valid(o: GpsOutcome) -> GeoPoint {
        match o {
            GpsOutcome::Valid(p) => p,
            other => panic!("expected a position, got {other:?}"),
        }
    }

    #[test]
    fn degrees_minutes_seconds_and_references() {
        // Paris (Samsung S7 sample): 48°53'33" N, 2°14'11" E.
        let p = valid(position(&inputs(
            &[Some(48.0), Some(53.0), Some(33.0)],
            "N",
            &[Some(2.0), Some(14.0), Some(11.0)],
            "E",
        )));
        assert!((p.latitude - 48.8925).abs() < 1e-4);
        assert!((p.longitude - 2.23639).abs() < 1e-4);
        // Seattle with decimal minutes: 47°37.63' N, 122°20.24' W.
        let p = valid(position(&inputs(
            &[Some(47.0), Some(37.63), Some(0.0)],
            "N",
            &[Some(122.0), Some(20.24), Some(0.0)],
            "W",
        )));
        assert!((p.latitude - 47.62717).abs() < 1e-4);
        assert!((p.longitude + 122.33733).abs() < 1e-4);
        // Southern hemisphere, lowercase reference, one decimal-degree rational.
        let p = valid(position(&inputs(
            &[Some(33.8688)],
            "s",
            &[Some(151.2093)],
            "e",
        )));
        assert_eq!((p.latitude, p.longitude), (-33.8688, 151.2093));
    }

    #[test]
    fn placeholders_and_garbage_are_rejected() {
        let ok_lat = [Some(43.0), Some(4.0), Some(0.0)];
        let ok_lon = [Some(141.0), Some(21.0), Some(0.0)];
        // No coordinates at all.
        assert_eq!(position(&GpsInputs::default()), GpsOutcome::Absent);
        // Null island.
        let zero = [Some(0.0), Some(0.0), Some(0.0)];
        assert_eq!(
            position(&inputs(&zero, "N", &zero, "E")),
            GpsOutcome::Rejected(FLAG_INVALID)
        );
        // Zero denominators (Leica: 0/0), with and without status V.
        let nan = [None, None, None];
        assert_eq!(
            position(&inputs(&nan, "N", &nan, "E")),
            GpsOutcome::Rejected(FLAG_INVALID)
        );
        let mut void = inputs(&ok_lat, "N", &ok_lon, "E");
        void.status = Some(b"V".to_vec());
        assert_eq!(position(&void), GpsOutcome::Rejected(FLAG_VOID));
        void.status = Some(b"A".to_vec());
        assert!(matches!(position(&void), GpsOutcome::Valid(_)));
        // Out of range, bad minutes, missing or wrong reference, one axis only.
        for bad in [
            inputs(&[Some(91.0)], "N", &ok_lon, "E"),
            inputs(&ok_lat, "N", &[Some(181.0)], "E"),
            inputs(&[Some(43.0), Some(61.0), Some(0.0)], "N", &ok_lon, "E"),
            inputs(
                &[Some(43.0), Some(1.0), Some(0.0), Some(1.0)],
                "N",
                &ok_lon,
                "E",
            ),
            inputs(&[], "N", &ok_lon, "E"),
            inputs(&ok_lat, "", &ok_lon, "E"),
            inputs(&ok_lat, "E", &ok_lon, "E"),
            inputs(&ok_lat, "N", &ok_lon, "X"),
            inputs(&[Some(f64::INFINITY)], "N", &ok_lon, "E"),
            inputs(&[Some(f64::NAN)], "N", &ok_lon, "E"),
            inputs(&[Some(-5.0)], "N", &ok_lon, "E"),
            GpsInputs {
                latitude: Some(ok_lat.to_vec()),
                latitude_ref: Some(b"N".to_vec()),
                ..Default::default()
            },
        ] {
            assert_eq!(
                position(&bad),
                GpsOutcome::Rejected(FLAG_INVALID),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn altitude_and_accuracy_are_optional_extras() {
        let mut g = inputs(&[Some(43.0)], "N", &[Some(141.0)], "E");
        g.altitude = Some(Some(12.5));
        g.altitude_ref = Some(1);
        g.h_positioning_error = Some(Some(4.79));
        let p = valid(position(&g));
        assert_eq!(p.altitude_m, Some(-12.5));
        assert_eq!(p.uncertainty_m, Some(4.79));
        g.altitude = Some(None); // 0/0
        g.h_positioning_error = Some(None);
        let p = valid(position(&g));
        assert_eq!((p.altitude_m, p.uncertainty_m), (None, None));
        g.altitude = Some(Some(0.0));
        assert!(valid(position(&g))
            .altitude_m
            .is_some_and(|a| a.is_sign_positive()));
        g.altitude = Some(Some(1e12));
        g.altitude_ref = Some(0);
        assert_eq!(valid(position(&g)).altitude_m, None);
    }
}
