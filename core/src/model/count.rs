//! Head counts that are never a silent zero (人数・棟数・世帯数).
//!
//! In disaster and wildlife reports "0" and "not known yet" mean very
//! different things (死者 0 vs 死者 不明). [`Count`] makes the difference
//! explicit: `Known(n)` or `Unknown`; the default is `Unknown`.
//!
//! Representation (identical in JSON and Automerge): a known count is a plain
//! unsigned number, an unknown count is the string `"unknown"`. Counts are
//! `u32`, so negative values cannot be stored; [`Count::from_i64`] turns
//! external signed input into a [`FieldError`] with code `Negative`.
//!
//! [`ConfirmableCount`] adds the 未確認 flag of the FDMA damage report form
//! (第4号様式), where each figure may be reported as unconfirmed.
use std::fmt;

use autosurgeon::reconcile::NoKey;
use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::validation::{FieldError, FieldErrorCode};

const UNKNOWN: &str = "unknown";

/// A count that is either known or explicitly unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Count {
    Known(u32),
    #[default]
    Unknown,
}

impl Count {
    /// Converts signed external input; negative values are rejected with
    /// [`FieldErrorCode::Negative`], values above `u32::MAX` with `OutOfRange`.
    pub fn from_i64(field: impl Into<String>, v: i64) -> Result<Count, FieldError> {
        if v < 0 {
            return Err(FieldError::new(
                field,
                FieldErrorCode::Negative,
                "a count cannot be negative",
            ));
        }
        u32::try_from(v).map(Count::Known).map_err(|_| {
            FieldError::new(field, FieldErrorCode::OutOfRange, "the count is too large")
        })
    }

    /// The number if known.
    pub fn known(self) -> Option<u32> {
        match self {
            Count::Known(n) => Some(n),
            Count::Unknown => None,
        }
    }

    /// `true` for `Known(_)`.
    pub fn is_known(self) -> bool {
        matches!(self, Count::Known(_))
    }
}

impl From<u32> for Count {
    fn from(n: u32) -> Self {
        Count::Known(n)
    }
}

impl From<Option<u32>> for Count {
    fn from(n: Option<u32>) -> Self {
        n.map_or(Count::Unknown, Count::Known)
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Count::Known(n) => write!(f, "{n}"),
            Count::Unknown => f.write_str(UNKNOWN),
        }
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Count::Known(n) => serializer.serialize_u32(*n),
            Count::Unknown => serializer.serialize_str(UNKNOWN),
        }
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl serde::de::Visitor<'_> for CountVisitor {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative whole number or the string \"unknown\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Count, E> {
                u32::try_from(v)
                    .map(Count::Known)
                    .map_err(|_| E::custom("count is too large"))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Count, E> {
                if v < 0 {
                    return Err(E::custom("count cannot be negative"));
                }
                u32::try_from(v)
                    .map(Count::Known)
                    .map_err(|_| E::custom("count is too large"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Count, E> {
                if v == UNKNOWN {
                    Ok(Count::Unknown)
                } else {
                    Err(E::custom("expected a number or \"unknown\""))
                }
            }
        }
        deserializer.deserialize_any(CountVisitor)
    }
}

impl Reconcile for Count {
    type Key<'a> = NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        match self {
            Count::Known(n) => reconciler.u64(u64::from(*n)),
            Count::Unknown => reconciler.str(UNKNOWN),
        }
    }
}

impl Hydrate for Count {
    fn hydrate_uint(u: u64) -> Result<Self, HydrateError> {
        u32::try_from(u).map(Count::Known).map_err(|_| {
            HydrateError::unexpected("a count (u32)", "an integer which is too large".into())
        })
    }

    fn hydrate_int(i: i64) -> Result<Self, HydrateError> {
        u64::try_from(i)
            .map_err(|_| HydrateError::unexpected("a count (u32)", "a negative integer".into()))
            .and_then(Self::hydrate_uint)
    }

    fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
        if s == UNKNOWN {
            Ok(Count::Unknown)
        } else {
            Err(HydrateError::unexpected(
                "a count or \"unknown\"",
                "another string".into(),
            ))
        }
    }
}

/// A count on the damage report that may be marked 未確認 (unconfirmed).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, Reconcile, Hydrate,
)]
pub struct ConfirmableCount {
    pub count: Count,
    /// 未確認: the figure is provisional and not yet confirmed.
    pub unconfirmed: bool,
}

impl ConfirmableCount {
    /// A confirmed known count.
    pub fn known(n: u32) -> Self {
        Self {
            count: Count::Known(n),
            unconfirmed: false,
        }
    }

    /// A known but unconfirmed (未確認) count.
    pub fn unconfirmed(n: u32) -> Self {
        Self {
            count: Count::Known(n),
            unconfirmed: true,
        }
    }

    /// An unknown count (the default).
    pub fn unknown() -> Self {
        Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{transaction::Transactable, AutoCommit, ROOT};
    use autosurgeon::{hydrate_prop, reconcile_prop};

    #[test]
    fn default_is_unknown() {
        assert_eq!(Count::default(), Count::Unknown);
        assert_eq!(
            ConfirmableCount::default(),
            ConfirmableCount {
                count: Count::Unknown,
                unconfirmed: false
            }
        );
    }

    #[test]
    fn json_round_trip_shows_unknown() {
        let v = vec![Count::Known(3), Count::Unknown, Count::Known(0)];
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, r#"[3,"unknown",0]"#);
        assert_eq!(serde_json::from_str::<Vec<Count>>(&json).unwrap(), v);

        let c = ConfirmableCount::unconfirmed(12);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"count":12,"unconfirmed":true}"#);
        assert_eq!(serde_json::from_str::<ConfirmableCount>(&json).unwrap(), c);
    }

    #[test]
    fn json_rejects_negative_and_other_strings() {
        assert!(serde_json::from_str::<Count>("-1").is_err());
        assert!(serde_json::from_str::<Count>(r#""zero""#).is_err());
        assert!(serde_json::from_str::<Count>("4294967296").is_err());
        assert!(serde_json::from_str::<Count>("1.5").is_err());
    }

    #[test]
    fn from_i64() {
        assert_eq!(Count::from_i64("x", 5), Ok(Count::Known(5)));
        let err = Count::from_i64("summary.casualties.dead.count", -2).unwrap_err();
        assert_eq!(err.field, "summary.casualties.dead.count");
        assert_eq!(err.code, FieldErrorCode::Negative);
        assert!(!err.message.contains('2'));
        let err = Count::from_i64("x", i64::from(u32::MAX) + 1).unwrap_err();
        assert_eq!(err.code, FieldErrorCode::OutOfRange);
    }

    #[test]
    fn automerge_round_trip() {
        let mut doc = AutoCommit::new();
        reconcile_prop(&mut doc, ROOT, "a", Count::Known(7)).unwrap();
        reconcile_prop(&mut doc, ROOT, "b", Count::Unknown).unwrap();
        reconcile_prop(&mut doc, ROOT, "c", ConfirmableCount::unconfirmed(2)).unwrap();
        assert_eq!(
            hydrate_prop::<_, Count, _, _>(&doc, &ROOT, "a").unwrap(),
            Count::Known(7)
        );
        assert_eq!(
            hydrate_prop::<_, Count, _, _>(&doc, &ROOT, "b").unwrap(),
            Count::Unknown
        );
        assert_eq!(
            hydrate_prop::<_, ConfirmableCount, _, _>(&doc, &ROOT, "c").unwrap(),
            ConfirmableCount::unconfirmed(2)
        );
        // Signed integers written by other clients are accepted when non-negative.
        doc.put(ROOT, "d", 4_i64).unwrap();
        doc.put(ROOT, "e", -4_i64).unwrap();
        assert_eq!(
            hydrate_prop::<_, Count, _, _>(&doc, &ROOT, "d").unwrap(),
            Count::Known(4)
        );
        assert!(hydrate_prop::<_, Count, _, _>(&doc, &ROOT, "e").is_err());
    }
}
