//! Storage: one trait, two backends (SQLite for one process, PostgreSQL for
//! several). The decisions both backends must take identically (code checks,
//! sequence assignment, epoch rules) live here as plain functions; the
//! backends only read and write rows inside their transactions.
use std::collections::HashMap;

use async_trait::async_trait;
use fieldvault::sync::wire::{
    self, b64, Acked, DeviceKeys, DeviceList, Entry, KeyEnvelope, PullResult, PulledEntry, Role,
};

use crate::error::ApiError;

pub mod postgres;
pub mod sqlite;
mod wal_checkpointer;

/// Upper bound on the sealed bytes of one pull page (at least one entry is
/// always returned). Keeps a page of 1,000 large entries from being built in
/// memory at once; a short page does not mean the end — pull until empty.
pub const PULL_BYTE_BUDGET: i64 = 16 * 1024 * 1024;

/// The cursor a pull page answers with (`last_seq`). When the page holds
/// every entry up to `head` (the workspace's last seq, read before the
/// page) — fewer than `limit` entries and under the byte budget — it is
/// `head`, so a device moves past its own entries (which `others_only`
/// leaves out) instead of scanning them again at every pull; otherwise the
/// last entry's seq. Never below `after`.
pub fn page_cursor(entries: &[PulledEntry], after: i64, head: i64, limit: u32) -> i64 {
    let bytes: i64 = entries.iter().map(|e| e.entry.sealed.len() as i64).sum();
    let last = entries.last().map_or(after, |e| e.seq);
    let complete = entries.len() < limit as usize && bytes < PULL_BYTE_BUDGET;
    if complete {
        head.max(last)
    } else {
        last
    }
}

pub struct NewWorkspace {
    pub workspace_id: String,
    pub admin: DeviceKeys,
    pub lease_hours: u32,
    pub app_version: String,
    pub now_ms: i64,
}

/// What the signature check needs to know about the claimed device.
#[derive(Debug, Clone)]
pub enum DeviceLookup {
    NoWorkspace,
    NoDevice,
    Found(AuthDevice),
}

#[derive(Debug, Clone)]
pub struct AuthDevice {
    pub role: Role,
    pub signing_public: Vec<u8>,
    pub revoked: bool,
}

pub struct NewCode {
    pub code_id: Vec<u8>,
    pub token_hash: Vec<u8>,
    pub expires_at_ms: i64,
    pub issued_by: String,
    pub now_ms: i64,
}

pub struct Enrollment {
    pub code_id: Vec<u8>,
    /// SHA-256 of the presented enrollment token (the token itself is never stored).
    pub presented_hash: Vec<u8>,
    pub device: DeviceKeys,
    pub binding: Vec<u8>,
    pub device_name: String,
    pub app_version: String,
    pub now_ms: i64,
    /// Set when the request carried a valid, recent signature by
    /// `device.signing_public` (checked by the route before the store sees
    /// it): [`possession_nonce`] of that signature. An accepted enrollment
    /// remembers it like a request nonce, so the same request presented
    /// again inside the clock window is refused as replayed.
    pub possession_nonce: Option<String>,
}

/// A stored enrollment code as the enroll check sees it.
pub struct CodeState {
    pub token_hash: Vec<u8>,
    pub expires_at_ms: i64,
    /// The device that used the code, if it was used.
    pub used_by: Option<String>,
}

/// The workspace's existing record of the enrolling device id, if any.
#[derive(Clone)]
pub struct KnownDevice {
    pub signing_public: Vec<u8>,
    pub agreement_public: Vec<u8>,
    pub role: Role,
    pub revoked: bool,
}

/// What an accepted enrollment does.
#[derive(Debug, PartialEq, Eq)]
pub enum EnrollAs {
    /// Registers a new member and marks the code used.
    New,
    /// The device is already registered (its pairing broke off after the
    /// relay accepted it) and proved it holds the registered signing key:
    /// its agreement key, code and binding are replaced, its key envelopes
    /// (made for the abandoned pairing) deleted, and the code marked used.
    Again,
    /// The code this device used and the same keys again, signed anew (the
    /// very same request is refused before this as replayed). Nothing
    /// changes, so it cannot clear envelopes delivered meanwhile.
    Unchanged,
}

/// Decides an enrollment from the code and the device's existing record.
/// The token must match before anything about the code's state is revealed
/// (unknown code 404, wrong token 401); then a code used by another device
/// 409, an expired code 410; then a known device id 409 unless it is the
/// same unrevoked member enrolling again with proof of its key, with a fresh
/// code or the one it used itself; a used code is 409 for anyone else.
pub fn plan_enrollment(
    code: Option<CodeState>,
    known: Option<KnownDevice>,
    e: &Enrollment,
) -> Result<EnrollAs, ApiError> {
    let used = || ApiError::conflict("this enrollment code was already used");
    let code = code.ok_or_else(|| ApiError::not_found("unknown enrollment code"))?;
    if !constant_time_eq(&code.token_hash, &e.presented_hash) {
        return Err(ApiError::unauthorized(
            "the enrollment token does not match the code",
        ));
    }
    if code
        .used_by
        .as_deref()
        .is_some_and(|by| by != e.device.device_id)
    {
        return Err(used());
    }
    if e.now_ms >= code.expires_at_ms {
        return Err(ApiError::Gone("this enrollment code has expired".into()));
    }
    let Some(known) = known else {
        // Used by this id, yet the id is unknown: cannot happen while
        // devices are never deleted; refuse like any used code.
        return match code.used_by {
            Some(_) => Err(used()),
            None => Ok(EnrollAs::New),
        };
    };
    if known.revoked {
        return Err(ApiError::conflict(
            "this device was revoked and cannot enroll again",
        ));
    }
    let same_key = constant_time_eq(&known.signing_public, &e.device.signing_public);
    if known.role != Role::Member || !same_key || e.possession_nonce.is_none() {
        return Err(ApiError::conflict(
            "a device with this id is already enrolled",
        ));
    }
    if code.used_by.is_some() && known.agreement_public == e.device.agreement_public {
        return Ok(EnrollAs::Unchanged);
    }
    Ok(EnrollAs::Again)
}

pub struct NewChunk {
    pub blob_id: Vec<u8>,
    pub index: u32,
    pub count: u32,
    pub epoch: u32,
    pub body: Vec<u8>,
    /// SHA-256 of `body`: a repeated upload must carry the same bytes.
    pub body_hash: [u8; 32],
    pub device_id: String,
    pub now_ms: i64,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// A trivial query: is the database reachable?
    async fn ping(&self) -> Result<(), ApiError>;
    /// Registers the workspace and its admin device. Existing id → 409.
    async fn create_workspace(&self, ws: NewWorkspace) -> Result<(), ApiError>;
    async fn lookup_device(&self, ws: &str, device_id: &str) -> Result<DeviceLookup, ApiError>;
    /// Stores the nonce (unique per device; seen inside the window →
    /// [`ApiError::Replayed`]), forgets nonces older than the window, and
    /// records `last_seen`, in one transaction.
    async fn record_request(
        &self,
        ws: &str,
        device_id: &str,
        nonce: &str,
        now_ms: i64,
    ) -> Result<(), ApiError>;
    /// Existing code id → 409.
    async fn issue_code(&self, ws: &str, code: NewCode) -> Result<(), ApiError>;
    /// Decides with [`plan_enrollment`], then registers the device as a
    /// member (or renews its pairing keys) and marks the code used,
    /// atomically.
    async fn enroll(&self, ws: &str, enrollment: Enrollment) -> Result<(), ApiError>;
    async fn list_devices(&self, ws: &str) -> Result<DeviceList, ApiError>;
    /// Stores (replaces) envelopes for existing, unrevoked devices; all or nothing.
    async fn put_key_envelopes(
        &self,
        ws: &str,
        envelopes: Vec<KeyEnvelope>,
    ) -> Result<(), ApiError>;
    async fn key_envelopes(&self, ws: &str, device_id: &str) -> Result<Vec<KeyEnvelope>, ApiError>;
    /// Assigns sequence numbers under the workspace row lock ([`plan_push`]).
    async fn push_entries(
        &self,
        ws: &str,
        device_id: &str,
        entries: Vec<Entry>,
        now_ms: i64,
    ) -> Result<Vec<Acked>, ApiError>;
    /// Entries after `after`, in sequence order; with `exclude_device`,
    /// without those that device uploaded (it has them already).
    async fn pull_entries(
        &self,
        ws: &str,
        exclude_device: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<PullResult, ApiError>;
    /// Stores chunks (each of another blob, or one chunk): all of them, or
    /// none and the first refusal. A repeat of a stored chunk with the same
    /// bytes is accepted and stores nothing.
    async fn put_chunks(&self, ws: &str, chunks: Vec<NewChunk>) -> Result<(), ApiError>;
    /// The status of each blob, in order (`None`: no chunk stored), read in
    /// one transaction so the answers are consistent with each other.
    async fn blob_statuses(
        &self,
        ws: &str,
        blob_ids: Vec<Vec<u8>>,
    ) -> Result<Vec<Option<wire::BlobStatus>>, ApiError>;
    /// The sealed chunks asked for, `(blob id, index)` each, in order
    /// (`None`: no such chunk).
    async fn get_chunks(
        &self,
        ws: &str,
        wanted: Vec<(Vec<u8>, u32)>,
    ) -> Result<Vec<Option<Vec<u8>>>, ApiError>;
    /// Unknown device → 404; already revoked → 409.
    async fn revoke(&self, ws: &str, device_id: &str, now_ms: i64) -> Result<(), ApiError>;
    /// `epoch` must be current + 1 → returns the new current epoch.
    async fn bump_epoch(&self, ws: &str, epoch: u32) -> Result<u32, ApiError>;
    /// Only for a revoked device; the first receipt is kept.
    async fn put_wipe_receipt(
        &self,
        ws: &str,
        device_id: &str,
        receipt: Vec<u8>,
        now_ms: i64,
    ) -> Result<(), ApiError>;
    /// `(current_epoch, lease_hours)`.
    async fn workspace_status(&self, ws: &str) -> Result<(u32, u32), ApiError>;
}

pub fn role_str(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Member => "member",
    }
}

pub fn parse_role(text: &str) -> Result<Role, ApiError> {
    match text {
        "admin" => Ok(Role::Admin),
        "member" => Ok(Role::Member),
        _ => Err(ApiError::internal("stored role is invalid")),
    }
}

/// Byte-wise comparison whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Rows to insert and acknowledgements to send for one push.
#[derive(Debug)]
pub struct PushPlan {
    pub acked: Vec<Acked>,
    /// New entries with their sequence numbers, ascending.
    pub inserts: Vec<(i64, Entry)>,
    pub last_seq: i64,
}

/// Every entry's epoch must be a started epoch (1..=current).
pub fn check_entry_epochs(entries: &[Entry], current_epoch: u32) -> Result<(), ApiError> {
    for e in entries {
        if e.epoch == 0 || e.epoch > current_epoch {
            return Err(ApiError::bad_request(format!(
                "entry epoch {} is not a started epoch of this workspace (current epoch {current_epoch})",
                e.epoch
            )));
        }
    }
    Ok(())
}

/// Assigns `last_seq + 1, ...` to entries not yet stored (by `entry_id`);
/// duplicates — already stored, or repeated in this request — are acked with
/// the sequence number of the first copy.
pub fn plan_push(
    entries: Vec<Entry>,
    current_epoch: u32,
    last_seq: i64,
    mut existing: HashMap<Vec<u8>, i64>,
) -> Result<PushPlan, ApiError> {
    check_entry_epochs(&entries, current_epoch)?;
    let mut next = last_seq;
    let mut acked = Vec::with_capacity(entries.len());
    let mut inserts = Vec::new();
    for entry in entries {
        if let Some(seq) = existing.get(&entry.entry_id) {
            acked.push(Acked {
                entry_id: entry.entry_id,
                seq: *seq,
            });
            continue;
        }
        next += 1;
        existing.insert(entry.entry_id.clone(), next);
        acked.push(Acked {
            entry_id: entry.entry_id.clone(),
            seq: next,
        });
        inserts.push((next, entry));
    }
    Ok(PushPlan {
        acked,
        inserts,
        last_seq: next,
    })
}

pub fn check_epoch_bump(current: u32, requested: u32) -> Result<u32, ApiError> {
    match current.checked_add(1) {
        Some(next) if next == requested => Ok(next),
        _ => Err(ApiError::bad_request(format!(
            "the next epoch must be {} (current epoch {current})",
            current.saturating_add(1)
        ))),
    }
}

/// `revoked_at` of the target device: `None` = unknown device.
pub fn check_revoke(target: Option<Option<i64>>) -> Result<(), ApiError> {
    match target {
        None => Err(ApiError::not_found("no such device in this workspace")),
        Some(Some(_)) => Err(ApiError::conflict("this device is already revoked")),
        Some(None) => Ok(()),
    }
}

/// A chunk is sealed under a started epoch (1..=current).
pub fn check_chunk_epoch(epoch: u32, current_epoch: u32) -> Result<(), ApiError> {
    if epoch == 0 || epoch > current_epoch {
        return Err(ApiError::bad_request(format!(
            "chunk epoch {epoch} is not a started epoch of this workspace (current epoch {current_epoch})"
        )));
    }
    Ok(())
}

/// A device row to insert (workspace creation and enrollment).
pub struct NewDevice<'a> {
    pub keys: &'a DeviceKeys,
    pub role: Role,
    pub code_id: &'a [u8],
    pub binding: &'a [u8],
    pub device_name: &'a str,
    pub app_version: &'a str,
    pub now_ms: i64,
}

/// Checks a chunk against its blob's stored chunk count.
pub fn check_chunk_count(stored_count: u32, count: u32) -> Result<(), ApiError> {
    if stored_count != count {
        return Err(ApiError::conflict(format!(
            "this blob has {stored_count} chunks, not {count}"
        )));
    }
    Ok(())
}

/// An existing chunk may only be re-sent with the same bytes.
pub fn check_chunk_repeat(stored_hash: &[u8], new_hash: &[u8]) -> Result<(), ApiError> {
    if stored_hash != new_hash {
        return Err(ApiError::conflict(
            "a different chunk is already stored at this index",
        ));
    }
    Ok(())
}

/// The replay-window nonce that stands for an enrollment's possession
/// signature. Its prefix keeps it apart from request nonces (16 bytes in
/// base64url), and Ed25519 signatures are deterministic, so the same signed
/// enrollment always maps to the same nonce.
pub fn possession_nonce(signature: &[u8]) -> String {
    format!("enroll:{}", b64::encode(&sha256(signature)))
}

pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// Groups `(device_id, epoch)` rows into each device's epoch list.
pub fn epochs_by_device(rows: Vec<(String, u32)>) -> HashMap<String, Vec<u32>> {
    let mut map: HashMap<String, Vec<u32>> = HashMap::new();
    for (device, epoch) in rows {
        map.entry(device).or_default().push(epoch);
    }
    for epochs in map.values_mut() {
        epochs.sort_unstable();
    }
    map
}

/// Converts a stored integer column to `u32`.
pub fn to_u32(value: i64, what: &str) -> Result<u32, ApiError> {
    u32::try_from(value).map_err(|_| ApiError::internal(format!("stored {what} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u8, epoch: u32) -> Entry {
        Entry {
            entry_id: vec![id; 16],
            doc_id: vec![1; 32],
            epoch,
            sealed: vec![id],
        }
    }

    #[test]
    fn duplicates_get_the_first_seq() {
        let existing = HashMap::from([(vec![9u8; 16], 3i64)]);
        let plan = plan_push(
            vec![entry(1, 1), entry(9, 1), entry(1, 1), entry(2, 1)],
            1,
            5,
            existing,
        )
        .expect("plan");
        let seqs: Vec<i64> = plan.acked.iter().map(|a| a.seq).collect();
        assert_eq!(seqs, vec![6, 3, 6, 7]);
        assert_eq!(
            plan.inserts.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            vec![6, 7]
        );
        assert_eq!(plan.last_seq, 7);
    }

    #[test]
    fn future_or_zero_epochs_are_refused() {
        assert!(plan_push(vec![entry(1, 2)], 1, 0, HashMap::new()).is_err());
        assert!(plan_push(vec![entry(1, 0)], 1, 0, HashMap::new()).is_err());
    }

    fn enrollment(device_id: &str, signing: u8, proven: bool, now_ms: i64) -> Enrollment {
        Enrollment {
            code_id: vec![1; 16],
            presented_hash: sha256(b"token"),
            device: DeviceKeys {
                device_id: device_id.into(),
                signing_public: vec![signing; 32],
                agreement_public: vec![9; 32],
            },
            binding: vec![0; 32],
            device_name: String::new(),
            app_version: String::new(),
            now_ms,
            possession_nonce: proven.then(|| possession_nonce(b"signature")),
        }
    }

    fn code(used_by: Option<&str>, expires_at_ms: i64) -> Option<CodeState> {
        Some(CodeState {
            token_hash: sha256(b"token"),
            expires_at_ms,
            used_by: used_by.map(Into::into),
        })
    }

    fn known(signing: u8, role: Role, revoked: bool) -> Option<KnownDevice> {
        Some(KnownDevice {
            signing_public: vec![signing; 32],
            agreement_public: vec![8; 32],
            role,
            revoked,
        })
    }

    #[test]
    fn code_checks_in_order() {
        let fresh = enrollment("d1", 7, true, 0);
        assert!(matches!(
            plan_enrollment(None, None, &fresh),
            Err(ApiError::NotFound(_))
        ));
        let mut wrong_token = enrollment("d1", 7, true, 0);
        wrong_token.presented_hash = sha256(b"x");
        assert!(matches!(
            plan_enrollment(code(Some("d2"), 0), None, &wrong_token),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(matches!(
            plan_enrollment(code(Some("d2"), 10), None, &fresh),
            Err(ApiError::Conflict(_))
        ));
        assert!(matches!(
            plan_enrollment(code(None, 0), None, &fresh),
            Err(ApiError::Gone(_))
        ));
        assert_eq!(
            plan_enrollment(code(None, 10), None, &fresh).ok(),
            Some(EnrollAs::New)
        );
    }

    #[test]
    fn only_the_same_member_with_proof_of_its_key_enrolls_again() {
        let again = enrollment("d1", 7, true, 0);
        // With a fresh code, or with the code it used itself.
        for used_by in [None, Some("d1")] {
            assert_eq!(
                plan_enrollment(code(used_by, 10), known(7, Role::Member, false), &again).ok(),
                Some(EnrollAs::Again),
                "{used_by:?}"
            );
        }
        // The very same request again (its answer was lost, or a replay):
        // accepted, and nothing changes.
        let mut same = enrollment("d1", 7, true, 0);
        same.device.agreement_public = vec![8; 32];
        assert_eq!(
            plan_enrollment(code(Some("d1"), 10), known(7, Role::Member, false), &same).ok(),
            Some(EnrollAs::Unchanged)
        );
        assert_eq!(
            plan_enrollment(code(None, 10), known(7, Role::Member, false), &same).ok(),
            Some(EnrollAs::Again),
            "a fresh code always renews the pairing"
        );
        // A code another device used stays used, even for a known device.
        assert!(matches!(
            plan_enrollment(code(Some("d2"), 10), known(7, Role::Member, false), &again),
            Err(ApiError::Conflict(_))
        ));
        // Its own used code, expired: 410 like any expired code.
        assert!(matches!(
            plan_enrollment(code(Some("d1"), 0), known(7, Role::Member, false), &again),
            Err(ApiError::Gone(_))
        ));
        let refusals = [
            // No proof of the key (an older app, or someone who only knows the public key).
            (enrollment("d1", 7, false, 0), known(7, Role::Member, false)),
            // Another signing key under the same id.
            (enrollment("d1", 8, true, 0), known(7, Role::Member, false)),
            // A revoked device stays out.
            (again, known(7, Role::Member, true)),
            // The admin's id.
            (enrollment("d1", 7, true, 0), known(7, Role::Admin, false)),
        ];
        for (e, device) in refusals {
            for used_by in [None, Some("d1")] {
                assert!(matches!(
                    plan_enrollment(code(used_by, 10), device.clone(), &e),
                    Err(ApiError::Conflict(_))
                ));
            }
        }
    }
}
