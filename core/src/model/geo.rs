//! Geographic positions (位置情報), WGS 84 decimal degrees.
//!
//! Numbers are written to Automerge as `f64`. Hydration also accepts integer
//! scalars, because other Automerge clients (notably JavaScript) store whole
//! numbers such as an altitude of `120` as integers.
use autosurgeon::{Hydrate, HydrateError, Prop, ReadDoc, Reconcile};
use serde::{Deserialize, Serialize};

use super::validation::{FieldErrorCode, ValidationErrors};

/// A point on the earth with optional accuracy and altitude.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct GeoPoint {
    /// Latitude in degrees, −90 ..= 90 (north positive).
    #[autosurgeon(hydrate = "hydrate_number")]
    pub latitude: f64,
    /// Longitude in degrees, −180 ..= 180 (east positive).
    #[autosurgeon(hydrate = "hydrate_number")]
    pub longitude: f64,
    /// Horizontal uncertainty radius in metres (GPS accuracy), ≥ 0.
    #[autosurgeon(hydrate = "hydrate_opt_number")]
    pub uncertainty_m: Option<f64>,
    /// Altitude above sea level in metres.
    #[autosurgeon(hydrate = "hydrate_opt_number")]
    pub altitude_m: Option<f64>,
}

impl GeoPoint {
    /// A point without uncertainty or altitude.
    pub fn new(latitude: f64, longitude: f64) -> Self {
        Self {
            latitude,
            longitude,
            uncertainty_m: None,
            altitude_m: None,
        }
    }

    /// Checks ranges; errors are reported as `{field_prefix}.latitude` etc.
    pub fn validate(&self, field_prefix: &str, errors: &mut ValidationErrors) {
        let path = |name: &str| format!("{field_prefix}.{name}");
        check_range(
            self.latitude,
            -90.0,
            90.0,
            &path("latitude"),
            "latitude must be between -90 and 90 degrees",
            errors,
        );
        check_range(
            self.longitude,
            -180.0,
            180.0,
            &path("longitude"),
            "longitude must be between -180 and 180 degrees",
            errors,
        );
        if let Some(u) = self.uncertainty_m {
            let field = path("uncertainty_m");
            if !u.is_finite() {
                errors.push(
                    field,
                    FieldErrorCode::InvalidFormat,
                    "uncertainty must be a finite number",
                );
            } else if u < 0.0 {
                errors.push(
                    field,
                    FieldErrorCode::Negative,
                    "uncertainty cannot be negative",
                );
            }
        }
        if let Some(a) = self.altitude_m {
            if !a.is_finite() {
                errors.push(
                    path("altitude_m"),
                    FieldErrorCode::InvalidFormat,
                    "altitude must be a finite number",
                );
            }
        }
    }
}

fn check_range(
    v: f64,
    min: f64,
    max: f64,
    field: &str,
    message: &str,
    errors: &mut ValidationErrors,
) {
    if !v.is_finite() {
        errors.push(
            field,
            FieldErrorCode::InvalidFormat,
            "must be a finite number",
        );
    } else if !(min..=max).contains(&v) {
        errors.push(field, FieldErrorCode::OutOfRange, message);
    }
}

/// A number hydrated from an `f64`, `int` or `uint` scalar.
struct LenientNumber(f64);

impl Hydrate for LenientNumber {
    fn hydrate_f64(f: f64) -> Result<Self, HydrateError> {
        Ok(Self(f))
    }
    fn hydrate_int(i: i64) -> Result<Self, HydrateError> {
        Ok(Self(i as f64))
    }
    fn hydrate_uint(u: u64) -> Result<Self, HydrateError> {
        Ok(Self(u as f64))
    }
}

fn hydrate_number<D: ReadDoc>(
    doc: &D,
    obj: &automerge::ObjId,
    prop: Prop<'_>,
) -> Result<f64, HydrateError> {
    LenientNumber::hydrate(doc, obj, prop).map(|n| n.0)
}

fn hydrate_opt_number<D: ReadDoc>(
    doc: &D,
    obj: &automerge::ObjId,
    prop: Prop<'_>,
) -> Result<Option<f64>, HydrateError> {
    Option::<LenientNumber>::hydrate(doc, obj, prop).map(|n| n.map(|n| n.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{transaction::Transactable, AutoCommit, ObjType, ROOT};
    use autosurgeon::{hydrate_prop, reconcile_prop};

    #[test]
    fn valid_point_has_no_errors() {
        let mut errors = ValidationErrors::new();
        GeoPoint {
            latitude: 43.0642,
            longitude: 141.3469,
            uncertainty_m: Some(0.0),
            altitude_m: Some(-3.5),
        }
        .validate("location", &mut errors);
        assert!(errors.is_empty(), "{errors}");
    }

    #[test]
    fn invalid_point_reports_each_field() {
        let mut errors = ValidationErrors::new();
        GeoPoint {
            latitude: 91.0,
            longitude: f64::NAN,
            uncertainty_m: Some(-1.0),
            altitude_m: Some(f64::INFINITY),
        }
        .validate("sites[1].position", &mut errors);
        assert_eq!(errors.len(), 4, "{errors}");
        assert!(errors.contains("sites[1].position.latitude", FieldErrorCode::OutOfRange));
        assert!(errors.contains("sites[1].position.longitude", FieldErrorCode::InvalidFormat));
        assert!(errors.contains("sites[1].position.uncertainty_m", FieldErrorCode::Negative));
        assert!(errors.contains(
            "sites[1].position.altitude_m",
            FieldErrorCode::InvalidFormat
        ));
        assert!(!errors.to_string().contains("91"));
    }

    #[test]
    fn round_trip_and_integer_tolerance() {
        let p = GeoPoint {
            latitude: 39.7186,
            longitude: 140.1024,
            uncertainty_m: Some(8.5),
            altitude_m: None,
        };
        let mut doc = AutoCommit::new();
        reconcile_prop(&mut doc, ROOT, "p", p).unwrap();
        assert_eq!(
            hydrate_prop::<_, GeoPoint, _, _>(&doc, &ROOT, "p").unwrap(),
            p
        );

        // Written by a client that stores whole numbers as integers.
        let obj = doc.put_object(ROOT, "q", ObjType::Map).unwrap();
        doc.put(&obj, "latitude", 35_i64).unwrap();
        doc.put(&obj, "longitude", 139_u64).unwrap();
        doc.put(&obj, "uncertainty_m", 10_i64).unwrap();
        doc.put(&obj, "altitude_m", ()).unwrap();
        let q: GeoPoint = hydrate_prop(&doc, &ROOT, "q").unwrap();
        assert_eq!(
            q,
            GeoPoint {
                latitude: 35.0,
                longitude: 139.0,
                uncertainty_m: Some(10.0),
                altitude_m: None
            }
        );
    }
}
