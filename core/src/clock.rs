//! Time, injectable so tests (retention, leases) can move it.
use std::sync::Mutex;

use chrono::{DateTime, FixedOffset, Local, Utc};

use crate::model::Timestamp;

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// Wall-clock time with the device's current UTC offset (JST on phones in Japan).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(Local::now().fixed_offset())
    }
}

/// A clock that only moves when told to; for tests and simulations.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<FixedOffset>>);

impl ManualClock {
    pub fn new(start: DateTime<FixedOffset>) -> Self {
        Self(Mutex::new(start))
    }

    pub fn at_utc(secs: i64) -> Self {
        let t = DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or_default();
        Self::new(t.fixed_offset())
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut t = crate::mutex::lock(&self.0);
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(*crate::mutex::lock(&self.0))
    }
}
