//! When a photo was taken: the camera clock versus the GPS (satellite) clock.
//!
//! Inputs: the camera's local time (`DateTimeOriginal`, else
//! `DateTimeDigitized`, else `DateTime`), its UTC offset if written
//! (`OffsetTimeOriginal`/`OffsetTimeDigitized`/`OffsetTime`), and the GPS
//! UTC time (`GPSDateStamp` + `GPSTimeStamp`; without the date it is unusable).
//!
//! The rule, in order:
//! 1. **Camera offset present** → the camera time with that offset. If a GPS
//!    time exists and that instant differs from it by more than 2 minutes,
//!    the camera clock is wrong: use the GPS instant (shown in the camera's
//!    offset) and flag `camera_clock_mismatch`.
//! 2. **No offset, GPS time present** → `d = camera local − GPS UTC`. When
//!    `d` is within ±2 minutes of a multiple of 15 minutes and that multiple
//!    is within ±14 h, it is the UTC offset: camera time with that offset
//!    (flag `offset_from_gps`). Otherwise the clocks disagree (e.g. a camera
//!    clock a day off): trust the satellite clock, use the GPS instant shown
//!    in the default offset, flag `camera_clock_mismatch` and `offset_assumed`.
//! 3. **No offset, no usable GPS time** → camera time in the policy's default
//!    offset (JST by default), flag `offset_assumed`.
//! 4. **No camera time, GPS time present** → the GPS instant in the camera
//!    offset if written, else the default offset (`offset_assumed`); flag
//!    `time_from_gps`.
//! 5. Neither → no time.
//!
//! Independently, a camera time before 2001 or after "now" in every time
//! zone (UTC+14) is flagged `camera_clock_implausible` (reset clocks write
//! dates like 2000-01-01). The value is still reported unless rule 1 or 2
//! replaced it by the GPS time.
use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc,
};

use crate::model::Timestamp;

pub(crate) const FLAG_MISMATCH: &str = "camera_clock_mismatch";
pub(crate) const FLAG_OFFSET_ASSUMED: &str = "offset_assumed";
pub(crate) const FLAG_OFFSET_FROM_GPS: &str = "offset_from_gps";
pub(crate) const FLAG_IMPLAUSIBLE: &str = "camera_clock_implausible";
pub(crate) const FLAG_TIME_FROM_GPS: &str = "time_from_gps";

/// Camera and GPS clocks agree when their difference is within this of a
/// quarter-hour multiple (GPS timestamps lag the shutter by seconds).
const AGREEMENT_SECS: i64 = 120;
const QUARTER_HOUR_SECS: i64 = 900;
const MAX_OFFSET_SECS: i64 = 14 * 3600;
const EARLIEST_PLAUSIBLE_YEAR: i32 = 2001;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TimeInputs {
    /// Camera clock, local wall time.
    pub local: Option<NaiveDateTime>,
    /// Camera's UTC offset, if written.
    pub offset: Option<FixedOffset>,
    /// GPS UTC date and time.
    pub gps_utc: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedTime {
    pub taken_at: Option<Timestamp>,
    pub flags: Vec<&'static str>,
}

/// A fixed offset from minutes east of UTC, clamped to ±14 h.
pub(crate) fn offset_from_minutes(minutes: i32) -> FixedOffset {
    let secs = (i64::from(minutes) * 60).clamp(-MAX_OFFSET_SECS, MAX_OFFSET_SECS) as i32;
    FixedOffset::east_opt(secs).unwrap_or_else(|| Utc.fix())
}

fn local_in(local: NaiveDateTime, offset: FixedOffset) -> Option<Timestamp> {
    offset.from_local_datetime(&local).single().map(Timestamp)
}

fn utc_in(utc: NaiveDateTime, offset: FixedOffset) -> Timestamp {
    Timestamp(Utc.from_utc_datetime(&utc).with_timezone(&offset))
}

/// Applies the rule in the module documentation. `now` is the current time
/// (a parameter so tests are deterministic).
pub(crate) fn resolve(
    inputs: &TimeInputs,
    default_offset_minutes: i32,
    now: DateTime<Utc>,
) -> ResolvedTime {
    let default_offset = offset_from_minutes(default_offset_minutes);
    let mut flags = Vec::new();
    if let Some(local) = inputs.local {
        let earliest_instant = local - Duration::seconds(MAX_OFFSET_SECS);
        if local.year() < EARLIEST_PLAUSIBLE_YEAR || earliest_instant > now.naive_utc() {
            flags.push(FLAG_IMPLAUSIBLE);
        }
    }
    let taken_at = match (inputs.local, inputs.offset, inputs.gps_utc) {
        (Some(local), Some(offset), gps) => {
            let camera_utc = local - Duration::seconds(i64::from(offset.local_minus_utc()));
            match gps {
                Some(g) if (camera_utc - g).num_seconds().abs() > AGREEMENT_SECS => {
                    flags.push(FLAG_MISMATCH);
                    Some(utc_in(g, offset))
                }
                _ => local_in(local, offset),
            }
        }
        (Some(local), None, Some(g)) => {
            let d = (local - g).num_seconds();
            let quarter =
                (d + QUARTER_HOUR_SECS / 2).div_euclid(QUARTER_HOUR_SECS) * QUARTER_HOUR_SECS;
            let offset = (quarter.abs() <= MAX_OFFSET_SECS
                && (d - quarter).abs() <= AGREEMENT_SECS)
                .then(|| i32::try_from(quarter).ok())
                .flatten()
                .and_then(FixedOffset::east_opt);
            match offset {
                Some(offset) => {
                    flags.push(FLAG_OFFSET_FROM_GPS);
                    local_in(local, offset)
                }
                None => {
                    flags.push(FLAG_MISMATCH);
                    flags.push(FLAG_OFFSET_ASSUMED);
                    Some(utc_in(g, default_offset))
                }
            }
        }
        (Some(local), None, None) => {
            flags.push(FLAG_OFFSET_ASSUMED);
            local_in(local, default_offset)
        }
        (None, offset, Some(g)) => {
            flags.push(FLAG_TIME_FROM_GPS);
            if offset.is_none() {
                flags.push(FLAG_OFFSET_ASSUMED);
            }
            Some(utc_in(g, offset.unwrap_or(default_offset)))
        }
        (None, _, None) => None,
    };
    ResolvedTime { taken_at, flags }
}

/// Two ASCII digits at `at` as a number.
fn two_digits(s: &[u8], at: usize) -> Option<u32> {
    let d = s.get(at..at + 2)?;
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(u32::from(d[0] - b'0') * 10 + u32::from(d[1] - b'0'))
}

/// `YYYY:MM:DD` (or with `-`), the start of `s`.
pub(crate) fn parse_date(s: &[u8]) -> Option<NaiveDate> {
    let year = two_digits(s, 0)? * 100 + two_digits(s, 2)?;
    if s.get(4).is_none_or(u8::is_ascii_digit) || s.get(7).is_none_or(u8::is_ascii_digit) {
        return None;
    }
    let month = two_digits(s, 5)?;
    let day = two_digits(s, 8)?;
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// EXIF `YYYY:MM:DD HH:MM:SS` (trailing NULs/spaces ignored; blank or
/// zeroed values give `None`).
pub(crate) fn parse_exif_datetime(s: &[u8]) -> Option<NaiveDateTime> {
    let date = parse_date(s)?;
    if s.get(10).is_none_or(u8::is_ascii_digit) {
        return None;
    }
    let hour = two_digits(s, 11)?;
    let minute = two_digits(s, 14)?;
    // A leap second (60) is clamped to 59.
    let second = two_digits(s, 17)?.min(59);
    let time = NaiveTime::from_hms_opt(hour, minute, second)?;
    Some(date.and_time(time))
}

/// EXIF `OffsetTime*`: `+HH:MM` / `-HH:MM` (also `+HHMM`), within ±14 h.
pub(crate) fn parse_offset(s: &[u8]) -> Option<FixedOffset> {
    let sign = match s.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours = two_digits(s, 1)?;
    let minutes = match s.get(3) {
        Some(b':') => two_digits(s, 4)?,
        _ => two_digits(s, 3)?,
    };
    if minutes >= 60 {
        return None;
    }
    let secs = i64::from(hours * 3600 + minutes * 60);
    if secs > MAX_OFFSET_SECS {
        return None;
    }
    FixedOffset::east_opt(sign * secs as i32)
}

/// `GPSTimeStamp` (hours, minutes, seconds as numbers) on a `GPSDateStamp` date.
pub(crate) fn gps_datetime(date: NaiveDate, hms: &[Option<f64>]) -> Option<NaiveDateTime> {
    let [Some(h), Some(m), Some(s)] = hms else {
        return None;
    };
    let valid = |v: f64, max: f64| v.is_finite() && (0.0..max).contains(&v);
    if !valid(*h, 24.0) || !valid(*m, 60.0) || !valid(*s, 61.0) {
        return None;
    }
    // In range, so the casts are exact for the whole part.
    let time = NaiveTime::from_hms_opt(*h as u32, *m as u32, (*s as u32).min(59))?;
    Some(date.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        parse_exif_datetime(s.as_bytes()).expect("test datetime")
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0)
            .single()
            .expect("now")
    }

    fn resolve_str(local: Option<&str>, offset: Option<&str>, gps: Option<&str>) -> ResolvedTime {
        resolve(
            &TimeInputs {
                local: local.map(dt),
                offset: offset.and_then(|o| parse_offset(o.as_bytes())),
                gps_utc: gps.map(dt),
            },
            540,
            now(),
        )
    }

    fn rfc(r: &ResolvedTime) -> String {
        r.taken_at
            .as_ref()
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    }

    #[test]
    fn parsing() {
        assert_eq!(
            parse_exif_datetime(b"2017:02:09 19:51:38\0"),
            Some(dt("2017-02-09 19:51:38"))
        );
        assert_eq!(parse_exif_datetime(b"    :  :     :  :  "), None);
        assert_eq!(parse_exif_datetime(b"0000:00:00 00:00:00"), None);
        assert_eq!(parse_exif_datetime(b"2017:13:09 19:51:38"), None);
        assert_eq!(parse_exif_datetime(b"2017:02:09"), None);
        assert_eq!(parse_exif_datetime(b"20170209195138"), None);
        assert_eq!(parse_exif_datetime(b""), None);
        assert_eq!(parse_offset(b"+09:00"), FixedOffset::east_opt(9 * 3600));
        assert_eq!(
            parse_offset(b"-05:30"),
            FixedOffset::east_opt(-(5 * 3600 + 1800))
        );
        assert_eq!(
            parse_offset(b"+0545"),
            FixedOffset::east_opt(5 * 3600 + 2700)
        );
        assert_eq!(parse_offset(b"+15:00"), None);
        assert_eq!(parse_offset(b"   :  "), None);
        assert_eq!(parse_offset(b"+09:60"), None);
        let d = parse_date(b"2008:10:23").expect("date");
        assert_eq!(
            gps_datetime(d, &[Some(14.0), Some(27.0), Some(7.46)]),
            Some(dt("2008:10:23 14:27:07"))
        );
        assert_eq!(gps_datetime(d, &[Some(24.0), Some(0.0), Some(0.0)]), None);
        assert_eq!(gps_datetime(d, &[Some(1.0), None, Some(0.0)]), None);
        assert_eq!(gps_datetime(d, &[Some(1.0), Some(2.0)]), None);
        assert_eq!(
            gps_datetime(d, &[Some(f64::NAN), Some(0.0), Some(0.0)]),
            None
        );
    }

    #[test]
    fn camera_offset_wins_when_gps_agrees() {
        // Nokia 8.3: 14:12:31 +03:00, GPS 11:12:32 UTC.
        let r = resolve_str(
            Some("2022:06:11 14:12:31"),
            Some("+03:00"),
            Some("2022:06:11 11:12:32"),
        );
        assert_eq!(rfc(&r), "2022-06-11T14:12:31+03:00");
        assert!(r.flags.is_empty(), "{:?}", r.flags);
        // No GPS at all.
        let r = resolve_str(Some("2024:01:02 03:04:05"), Some("-08:00"), None);
        assert_eq!(rfc(&r), "2024-01-02T03:04:05-08:00");
        assert!(r.flags.is_empty());
    }

    #[test]
    fn camera_offset_with_disagreeing_gps_trusts_gps() {
        let r = resolve_str(
            Some("2022:06:11 14:12:31"),
            Some("+03:00"),
            Some("2022:06:11 12:00:00"),
        );
        assert_eq!(rfc(&r), "2022-06-11T15:00:00+03:00");
        assert_eq!(r.flags, vec![FLAG_MISMATCH]);
    }

    #[test]
    fn offset_derived_from_gps() {
        // Samsung S7: 19:51:38 local, GPS 18:51:28 UTC → +01:00.
        let r = resolve_str(
            Some("2017:02:09 19:51:38"),
            None,
            Some("2017:02:09 18:51:28"),
        );
        assert_eq!(rfc(&r), "2017-02-09T19:51:38+01:00");
        assert_eq!(r.flags, vec![FLAG_OFFSET_FROM_GPS]);
        // Nepal +05:45, across midnight, GPS 90 s behind.
        let r = resolve_str(
            Some("2020:01:01 05:30:00"),
            None,
            Some("2019:12:31 23:43:30"),
        );
        assert_eq!(rfc(&r), "2020-01-01T05:30:00+05:45");
        // Negative offset.
        let r = resolve_str(
            Some("2020:07:04 16:11:25"),
            None,
            Some("2020:07:04 23:11:25"),
        );
        assert_eq!(rfc(&r), "2020-07-04T16:11:25-07:00");
    }

    #[test]
    fn clocks_a_day_apart_trust_the_satellite() {
        // Nikon DSCN0010: camera 2008-10-22 16:28:39, GPS 2008-10-23 14:27:07 UTC.
        let r = resolve_str(
            Some("2008:10:22 16:28:39"),
            None,
            Some("2008:10:23 14:27:07"),
        );
        assert_eq!(rfc(&r), "2008-10-23T23:27:07+09:00");
        assert_eq!(r.flags, vec![FLAG_MISMATCH, FLAG_OFFSET_ASSUMED]);
        // 7 minutes off a quarter hour: also a mismatch.
        let r = resolve_str(
            Some("2020:01:01 10:07:00"),
            None,
            Some("2020:01:01 01:00:00"),
        );
        assert_eq!(r.flags, vec![FLAG_MISMATCH, FLAG_OFFSET_ASSUMED]);
        assert_eq!(rfc(&r), "2020-01-01T10:00:00+09:00");
    }

    #[test]
    fn no_offset_no_gps_assumes_default() {
        let r = resolve_str(Some("2019:04:20 09:15:00"), None, None);
        assert_eq!(rfc(&r), "2019-04-20T09:15:00+09:00");
        assert_eq!(r.flags, vec![FLAG_OFFSET_ASSUMED]);
        let r = resolve(
            &TimeInputs {
                local: Some(dt("2019:04:20 09:15:00")),
                ..Default::default()
            },
            -300,
            now(),
        );
        assert_eq!(rfc(&r), "2019-04-20T09:15:00-05:00");
        // Absurd default offsets are clamped to ±14 h.
        assert_eq!(offset_from_minutes(100_000).local_minus_utc(), 14 * 3600);
    }

    #[test]
    fn gps_only_and_nothing() {
        let r = resolve_str(None, None, Some("2021:03:04 05:06:07"));
        assert_eq!(rfc(&r), "2021-03-04T14:06:07+09:00");
        assert_eq!(r.flags, vec![FLAG_TIME_FROM_GPS, FLAG_OFFSET_ASSUMED]);
        let r = resolve_str(None, Some("+02:00"), Some("2021:03:04 05:06:07"));
        assert_eq!(rfc(&r), "2021-03-04T07:06:07+02:00");
        assert_eq!(r.flags, vec![FLAG_TIME_FROM_GPS]);
        let r = resolve_str(None, Some("+02:00"), None);
        assert_eq!(
            r,
            ResolvedTime {
                taken_at: None,
                flags: vec![]
            }
        );
    }

    #[test]
    fn implausible_camera_clock() {
        // docomo SC-02C: 2000:01:02.
        let r = resolve_str(Some("2000:01:02 03:04:05"), None, None);
        assert_eq!(rfc(&r), "2000-01-02T03:04:05+09:00");
        assert_eq!(r.flags, vec![FLAG_IMPLAUSIBLE, FLAG_OFFSET_ASSUMED]);
        // In the future everywhere on earth.
        let r = resolve_str(Some("2026:05:02 15:00:00"), Some("+09:00"), None);
        assert_eq!(r.flags, vec![FLAG_IMPLAUSIBLE]);
        // "Now" in UTC+14 is not the future.
        let r = resolve_str(Some("2026:05:01 13:59:00"), None, None);
        assert_eq!(r.flags, vec![FLAG_OFFSET_ASSUMED]);
        // A reset clock with GPS: the GPS time replaces it.
        let r = resolve_str(
            Some("2000:01:01 00:00:00"),
            None,
            Some("2015:05:05 05:05:05"),
        );
        assert_eq!(
            r.flags,
            vec![FLAG_IMPLAUSIBLE, FLAG_MISMATCH, FLAG_OFFSET_ASSUMED]
        );
        assert_eq!(rfc(&r), "2015-05-05T14:05:05+09:00");
    }
}
