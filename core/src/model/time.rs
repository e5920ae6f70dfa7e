//! Points in time and calendar dates as stored in documents.
//!
//! * [`Timestamp`]: an instant together with the UTC offset it was recorded
//!   in (field staff in Japan record `+09:00`). Stored in Automerge and JSON
//!   as an RFC 3339 string such as `2025-06-01T09:30:00+09:00`, so other
//!   clients (JS, Swift, Kotlin) can read it without knowing Rust types.
//! * [`LocalDate`]: a calendar date without time zone (生年月日, 支払日),
//!   stored as ISO 8601 `YYYY-MM-DD`.
//!
//! Equality and ordering of [`Timestamp`] follow the *instant* (as chrono's
//! `DateTime` does): `09:00+09:00` equals `00:00Z`. The offset is still kept
//! and written back unchanged.
//!
//! Parse errors never echo the input (a date may be a birth date).
use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler};
use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::validation::ParseError;

/// An instant with the UTC offset it was recorded in.
///
/// Deliberately not `Copy` (the vault clones it explicitly).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<FixedOffset>);

impl Timestamp {
    /// The current time in the device's local offset.
    pub fn now() -> Self {
        Self(chrono::Local::now().fixed_offset())
    }

    /// Parses an RFC 3339 string (`2025-06-01T09:30:00+09:00`, `2025-06-01T00:30:00Z`).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        DateTime::parse_from_rfc3339(s.trim())
            .map(Self)
            .map_err(|_| ParseError::Timestamp)
    }

    /// RFC 3339 with the original offset; fractional seconds only when present.
    pub fn to_rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::AutoSi, false)
    }

    /// The calendar date in the recorded offset (the local date where it happened).
    pub fn local_date(&self) -> LocalDate {
        LocalDate(self.0.date_naive())
    }

    /// The inner chrono value.
    pub fn as_datetime(&self) -> &DateTime<FixedOffset> {
        &self.0
    }
}

impl From<DateTime<FixedOffset>> for Timestamp {
    fn from(dt: DateTime<FixedOffset>) -> Self {
        Self(dt)
    }
}

impl From<DateTime<chrono::Utc>> for Timestamp {
    fn from(dt: DateTime<chrono::Utc>) -> Self {
        Self(dt.fixed_offset())
    }
}

impl From<Timestamp> for DateTime<FixedOffset> {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

impl FromStr for Timestamp {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Reconcile for Timestamp {
    type Key<'a> = autosurgeon::reconcile::NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(self.to_rfc3339())
    }
}

impl Hydrate for Timestamp {
    fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
        Self::parse(s).map_err(|_| {
            HydrateError::unexpected(
                "RFC 3339 timestamp",
                "a string that is not an RFC 3339 timestamp".to_string(),
            )
        })
    }
}

/// A calendar date without time zone (`YYYY-MM-DD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalDate(pub NaiveDate);

impl LocalDate {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(Self)
            .map_err(|_| ParseError::Date)
    }

    /// Builds a date from year, month, day; `None` if no such date exists.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        NaiveDate::from_ymd_opt(year, month, day).map(Self)
    }

    /// ISO 8601 `YYYY-MM-DD`.
    pub fn to_iso(&self) -> String {
        self.0.format("%Y-%m-%d").to_string()
    }
}

impl From<NaiveDate> for LocalDate {
    fn from(d: NaiveDate) -> Self {
        Self(d)
    }
}

impl FromStr for LocalDate {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for LocalDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso())
    }
}

impl Serialize for LocalDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_iso())
    }
}

impl<'de> Deserialize<'de> for LocalDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Reconcile for LocalDate {
    type Key<'a> = autosurgeon::reconcile::NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(self.to_iso())
    }
}

impl Hydrate for LocalDate {
    fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
        Self::parse(s).map_err(|_| {
            HydrateError::unexpected(
                "ISO 8601 date (YYYY-MM-DD)",
                "a string that is not an ISO 8601 date".to_string(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{transaction::Transactable, AutoCommit, ROOT};
    use autosurgeon::{hydrate_prop, reconcile_prop};

    #[test]
    fn timestamp_round_trips_with_offset() {
        let t = Timestamp::parse("2025-06-01T09:30:00+09:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2025-06-01T09:30:00+09:00");
        assert_eq!(t.local_date().to_string(), "2025-06-01");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#""2025-06-01T09:30:00+09:00""#);
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);

        let mut doc = AutoCommit::new();
        reconcile_prop(&mut doc, ROOT, "t", &t).unwrap();
        let back: Timestamp = hydrate_prop(&doc, &ROOT, "t").unwrap();
        assert_eq!(back.to_rfc3339(), t.to_rfc3339());
    }

    #[test]
    fn timestamp_order_is_by_instant() {
        let jst = Timestamp::parse("2025-06-01T09:00:00+09:00").unwrap();
        let utc = Timestamp::parse("2025-06-01T00:00:00Z").unwrap();
        let later = Timestamp::parse("2025-06-01T00:00:01Z").unwrap();
        assert_eq!(jst, utc);
        assert!(jst < later);
    }

    #[test]
    fn bad_input_is_rejected_without_echo() {
        let err = Timestamp::parse("1980-02-30 secret").unwrap_err();
        assert!(!err.to_string().contains("secret"));
        assert_eq!(LocalDate::parse("1980-02-30"), Err(ParseError::Date));
        assert!(serde_json::from_str::<LocalDate>(r#""1980-13-01""#).is_err());

        let mut doc = AutoCommit::new();
        doc.put(ROOT, "d", "1980-13-01").unwrap();
        let err = hydrate_prop::<_, LocalDate, _, _>(&doc, &ROOT, "d").unwrap_err();
        assert!(!err.to_string().contains("1980"));
    }

    #[test]
    fn local_date_round_trips() {
        let d = LocalDate::from_ymd(1948, 4, 1).unwrap();
        assert_eq!(d.to_string(), "1948-04-01");
        assert_eq!(LocalDate::parse("1948-04-01").unwrap(), d);
        assert_eq!(serde_json::to_string(&d).unwrap(), r#""1948-04-01""#);
        let mut doc = AutoCommit::new();
        reconcile_prop(&mut doc, ROOT, "d", d).unwrap();
        assert_eq!(
            hydrate_prop::<_, LocalDate, _, _>(&doc, &ROOT, "d").unwrap(),
            d
        );
    }
}
