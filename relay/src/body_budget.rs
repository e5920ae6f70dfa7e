//! A relay-wide bound on the memory held by signed request bodies.
//!
//! Each route limits its own body (8 MiB for an entry batch, 300 KiB for a
//! photo chunk), but nothing bounded how many such bodies one process
//! buffers at once: after an outage, hundreds of phones reconnecting with
//! full queues would each hold up to 8 MiB in the relay, enough to get it
//! killed for memory — and every phone would then retry against a restarting
//! relay. Here every signed request reserves its body's size (its
//! `Content-Length`, or the route's limit for a chunked body) before reading
//! it and keeps the reservation until its handler has finished with it. A
//! request that cannot reserve within [`RelayConfig::body_memory_wait`] gets a
//! `503 busy` with `Retry-After`, which devices treat like any transient
//! failure (backoff with jitter).
//!
//! The reservation is made after the device lookup, so requests naming an
//! unknown device cannot take the budget. It has to come before the
//! signature check (the signature covers the body's hash), so someone who
//! knows a workspace id and an enrolled device id could claim room without
//! the device's key: each device id may therefore hold at most
//! [`PER_DEVICE_BYTES`] at once (more than an honest device ever sends in
//! parallel: one entry batch, or eight photo chunk batches of ~1 MiB), and past that gets `503
//! busy` at once. Unauthenticated routes (workspace creation, enrollment)
//! read at most 64 KiB and are not counted.
//!
//! [`RelayConfig::body_memory_wait`]: crate::RelayConfig::body_memory_wait
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// Reservations are counted in KiB, so a budget of many GiB still fits the
/// semaphore's `u32` permits.
const UNIT: usize = 1024;

/// The most one device id may hold at once: two full entry batches.
pub const PER_DEVICE_BYTES: usize = 2 * fieldvault::sync::wire::MAX_ENTRIES_BODY;

/// Units held per `(workspace, device)`.
type Holders = Arc<Mutex<HashMap<(String, String), u32>>>;

/// The budget shared by all requests of one relay process.
pub struct BodyBudget {
    permits: Arc<Semaphore>,
    total_units: u32,
    wait: Duration,
    holders: Holders,
}

/// Held while a body (or what was made from it) is in memory.
#[must_use]
pub struct BodyReservation {
    _permit: Option<OwnedSemaphorePermit>,
    _holder: Option<HolderShare>,
}

/// One request's part of its device's share; given back on drop.
struct HolderShare {
    holders: Holders,
    key: (String, String),
    units: u32,
}

impl Drop for HolderShare {
    fn drop(&mut self) {
        let mut holders = self.holders.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = holders.get_mut(&self.key) {
            *held = held.saturating_sub(self.units);
            if *held == 0 {
                holders.remove(&self.key);
            }
        }
    }
}

fn units_for(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX)
}

impl BodyBudget {
    /// A budget of `bytes` (at least one unit); a request waits at most
    /// `wait` for its share.
    pub fn new(bytes: usize, wait: Duration) -> Self {
        let total_units = u32::try_from(bytes / UNIT)
            .unwrap_or(u32::MAX)
            .clamp(1, Semaphore::MAX_PERMITS as u32);
        Self {
            permits: Arc::new(Semaphore::new(total_units as usize)),
            total_units,
            wait,
            holders: Arc::default(),
        }
    }

    /// Reserves room for a body of `bytes` sent as `device` of `ws`: at
    /// once within the device's share (else `Busy`), then within the whole
    /// budget, waiting for room up to the configured time. A body larger than
    /// the whole budget waits until it is alone (the configuration keeps the
    /// budget above the largest route limit, so this only happens in tests).
    pub async fn reserve(
        &self,
        ws: &str,
        device: &str,
        bytes: usize,
    ) -> Result<BodyReservation, ApiError> {
        if bytes == 0 {
            return Ok(BodyReservation {
                _permit: None,
                _holder: None,
            });
        }
        let units = units_for(bytes).min(self.total_units);
        let holder = self.take_device_share(ws, device, units)?;
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_many_owned(units)).await
        {
            Ok(Ok(permit)) => Ok(BodyReservation {
                _permit: Some(permit),
                _holder: Some(holder),
            }),
            // Timed out, or the semaphore was closed (never done). The
            // device's share is given back as `holder` drops.
            _ => Err(ApiError::Busy),
        }
    }

    fn take_device_share(
        &self,
        ws: &str,
        device: &str,
        units: u32,
    ) -> Result<HolderShare, ApiError> {
        let key = (ws.to_owned(), device.to_owned());
        let mut holders = self.holders.lock().unwrap_or_else(PoisonError::into_inner);
        let held = holders.entry(key.clone()).or_insert(0);
        if held.saturating_add(units) > units_for(PER_DEVICE_BYTES).max(units) {
            if *held == 0 {
                holders.remove(&key);
            }
            return Err(ApiError::Busy);
        }
        *held += units;
        Ok(HolderShare {
            holders: self.holders.clone(),
            key,
            units,
        })
    }

    /// Bytes currently free (for tests and diagnostics).
    pub fn available_bytes(&self) -> usize {
        self.permits.available_permits() * UNIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_wait_then_refuse_and_free_on_drop() {
        let budget = BodyBudget::new(4 * UNIT, Duration::from_millis(50));
        let first = budget.reserve("ws", "a", 3 * UNIT).await.expect("fits");
        assert_eq!(budget.available_bytes(), UNIT);
        // 1,025 bytes need two units: only one is free.
        assert!(matches!(
            budget.reserve("ws", "b", UNIT + 1).await,
            Err(ApiError::Busy)
        ));
        let small = budget
            .reserve("ws", "b", UNIT)
            .await
            .expect("one unit left");
        assert_eq!(budget.available_bytes(), 0);
        drop(first);
        drop(small);
        assert_eq!(budget.available_bytes(), 4 * UNIT);
        // Larger than the whole budget: takes all of it, alone.
        let all = budget.reserve("ws", "c", 100 * UNIT).await.expect("alone");
        assert_eq!(budget.available_bytes(), 0);
        drop(all);
        // An empty body reserves nothing, even when the budget is spent.
        let spent = budget.reserve("ws", "c", 4 * UNIT).await.expect("fits");
        let _ = budget.reserve("ws", "d", 0).await.expect("empty body");
        drop(spent);
        assert!(
            budget.holders.lock().expect("lock").is_empty(),
            "shares left behind"
        );
    }

    #[tokio::test]
    async fn a_waiting_reservation_gets_room_freed_meanwhile() {
        let budget = Arc::new(BodyBudget::new(2 * UNIT, Duration::from_secs(10)));
        let held = budget.reserve("ws", "a", 2 * UNIT).await.expect("fits");
        let waiter = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.reserve("ws", "b", UNIT).await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "reserved without room");
        drop(held);
        let result = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter is woken")
            .expect("task");
        assert!(result.is_ok());
    }

    #[tokio::test]
    async fn one_device_id_cannot_take_more_than_its_share() {
        let budget = BodyBudget::new(8 * PER_DEVICE_BYTES, Duration::from_secs(10));
        let first = budget
            .reserve("ws", "a", PER_DEVICE_BYTES - UNIT)
            .await
            .expect("within the share");
        // Past the share: refused at once, though the budget has room.
        let started = std::time::Instant::now();
        assert!(matches!(
            budget.reserve("ws", "a", 2 * UNIT).await,
            Err(ApiError::Busy)
        ));
        assert!(started.elapsed() < Duration::from_secs(5), "waited");
        // The same id in another workspace, and another device, are not held back.
        let other_ws = budget
            .reserve("ws2", "a", UNIT)
            .await
            .expect("other workspace");
        let other = budget
            .reserve("ws", "b", PER_DEVICE_BYTES)
            .await
            .expect("other device");
        // The rest of the share is still there, and comes back on drop.
        let last = budget
            .reserve("ws", "a", UNIT)
            .await
            .expect("rest of the share");
        drop((first, last, other_ws, other));
        assert!(
            budget.holders.lock().expect("lock").is_empty(),
            "shares left behind"
        );
        assert_eq!(budget.available_bytes(), 8 * PER_DEVICE_BYTES);
    }
}
