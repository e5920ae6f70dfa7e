//! Every message of the sync protocol, version 1 (see `docs/protocol.md`), and
//! the canonical bytes that request signatures cover. Shared by the device
//! engine and the relay so the two cannot drift apart.
use serde::{Deserialize, Serialize};

pub mod chunk_batch;

/// Protocol version carried in paths (`/v1/...`).
pub const VERSION: &str = "v1";
pub const HEADER_DEVICE: &str = "x-fv-device";
pub const HEADER_TIMESTAMP: &str = "x-fv-timestamp";
pub const HEADER_NONCE: &str = "x-fv-nonce";
pub const HEADER_SIGNATURE: &str = "x-fv-signature";
/// Allowed clock difference between a device and the relay.
pub const MAX_CLOCK_SKEW_MS: i64 = 300_000;
/// How long the relay remembers nonces. A request is accepted only while
/// its timestamp is within [`MAX_CLOCK_SKEW_MS`] of the relay's clock, both
/// when it arrives and once its body is read, so two acceptances of the same
/// signed request would be at most twice the skew apart; the extra minute
/// covers the clock difference between relay processes sharing a database.
pub const NONCE_WINDOW_MS: i64 = 2 * MAX_CLOCK_SKEW_MS + 60_000;
pub const MAX_ENTRIES_BODY: usize = 8 * 1024 * 1024;
pub const MAX_CHUNK_BODY: usize = 300 * 1024;
pub const MAX_ENTRIES_PER_PUSH: usize = 1_000;
/// Most key envelopes in one `POST key-envelopes`.
pub const MAX_ENVELOPES_PER_POST: usize = 1_000;
/// Largest change set a device queues for the relay (Automerge bytes). A
/// push of one such entry — sealed, base64 in JSON — stays well under
/// [`MAX_ENTRIES_BODY`], so a queued change can always be sent; a larger
/// edit is refused when it is made, with nothing stored.
pub const MAX_QUEUED_CHANGE: usize = 4 * 1024 * 1024;
pub const MAX_PULL_LIMIT: u32 = 1_000;
/// Most blobs one `POST .../blob-status` asks about.
pub const MAX_BLOB_STATUS_IDS: usize = 500;
/// Plaintext bytes per photo chunk.
pub const CHUNK_SIZE: usize = 256 * 1024;

/// Binary fields travel as base64url without padding.
pub mod b64 {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn encode(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(text: &str) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(text).ok()
    }

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        decode(&text).ok_or_else(|| serde::de::Error::custom("invalid base64url"))
    }
}

/// SHA-256 of a request body, as the signature covers it.
pub fn body_sha256(body: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// The bytes an Ed25519 request signature covers; the body enters as its
/// [`body_sha256`] (which the relay keeps as a stored chunk's hash rather
/// than hashing the body twice).
pub fn signing_bytes(
    method: &str,
    path_and_query: &str,
    workspace_id: &str,
    device_id: &str,
    timestamp_ms: i64,
    nonce_b64: &str,
    body_hash: &[u8; 32],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    out.extend_from_slice(b"FV-SIG-1\n");
    for part in [method, path_and_query, workspace_id, device_id] {
        out.extend_from_slice(part.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(timestamp_ms.to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(nonce_b64.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(hex(body_hash).as_bytes());
    out
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Error body of every non-2xx response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Member,
}

/// A device's public keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceKeys {
    pub device_id: String,
    #[serde(with = "b64")]
    pub signing_public: Vec<u8>,
    #[serde(with = "b64")]
    pub agreement_public: Vec<u8>,
}

/// `POST /v1/workspaces` (operator token).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateWorkspace {
    pub workspace_id: String,
    pub admin: DeviceKeys,
    pub lease_hours: u32,
    #[serde(default)]
    pub app_version: String,
}

/// `POST /v1/workspaces/{ws}/codes` (admin).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssueCode {
    #[serde(with = "b64")]
    pub code_id: Vec<u8>,
    #[serde(with = "b64")]
    pub token_hash: Vec<u8>,
    pub expires_at_ms: i64,
}

/// `POST /v1/workspaces/{ws}/enroll` (enrollment token). `Debug` leaves
/// out the token.
#[derive(Clone, Serialize, Deserialize)]
pub struct Enroll {
    #[serde(with = "b64")]
    pub code_id: Vec<u8>,
    #[serde(with = "b64")]
    pub enroll_token: Vec<u8>,
    pub device: DeviceKeys,
    #[serde(with = "b64")]
    pub binding: Vec<u8>,
    #[serde(default)]
    pub device_name: String,
    #[serde(default)]
    pub app_version: String,
    /// Ed25519 signature by the device's signing key over
    /// [`enroll_possession_bytes`]: proves the device holds the key it
    /// enrolls with, which lets a device the relay already knows (a pairing
    /// that broke off after the relay registered it) enroll again with a
    /// code instead of being refused for good.
    #[serde(default, with = "opt_b64", skip_serializing_if = "Option::is_none")]
    pub possession: Option<Vec<u8>>,
    /// When the device signed `possession` (its clock, ms since the epoch).
    /// The relay accepts the signature only within [`MAX_CLOCK_SKEW_MS`] of
    /// its own clock, so a captured enrollment cannot be replayed later.
    /// A `possession` without it (a library before it) proves nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub possession_at_ms: Option<i64>,
}

/// What [`Enroll::possession`] signs: `"FV-ENROLL-2"`, then the workspace
/// id, the code id and the three device keys, each as `len32 || bytes`,
/// then the signing time `at_ms` (i64 big-endian).
pub fn enroll_possession_bytes(ws: &str, code_id: &[u8], keys: &DeviceKeys, at_ms: i64) -> Vec<u8> {
    let mut m = b"FV-ENROLL-2".to_vec();
    for part in [
        ws.as_bytes(),
        code_id,
        keys.device_id.as_bytes(),
        &keys.signing_public,
        &keys.agreement_public,
    ] {
        m.extend_from_slice(&(part.len() as u32).to_be_bytes());
        m.extend_from_slice(part);
    }
    m.extend_from_slice(&at_ms.to_be_bytes());
    m
}

impl std::fmt::Debug for Enroll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enroll")
            .field("device", &self.device)
            .field("device_name", &self.device_name)
            .field("app_version", &self.app_version)
            .finish_non_exhaustive()
    }
}

/// One device as the relay describes it (`GET /v1/workspaces/{ws}/devices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub keys: DeviceKeys,
    pub role: Role,
    #[serde(with = "b64")]
    pub code_id: Vec<u8>,
    #[serde(with = "b64")]
    pub binding: Vec<u8>,
    pub device_name: String,
    pub app_version: String,
    pub enrolled_at_ms: i64,
    pub last_seen_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    /// Signed wipe receipt reported by the device after revocation.
    #[serde(default, with = "opt_b64")]
    pub wipe_receipt: Option<Vec<u8>>,
    /// Epochs for which this device has a key envelope.
    pub key_epochs: Vec<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceList {
    pub devices: Vec<DeviceInfo>,
    pub current_epoch: u32,
    pub lease_hours: u32,
}

/// A workspace key wrapped for one device (`POST/GET /v1/workspaces/{ws}/key-envelopes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEnvelope {
    pub device_id: String,
    pub epoch: u32,
    pub from_device: String,
    #[serde(with = "b64")]
    pub wrapped: Vec<u8>,
    #[serde(with = "b64")]
    pub signature: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyEnvelopes {
    pub envelopes: Vec<KeyEnvelope>,
}

/// One sealed document entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(with = "b64")]
    pub entry_id: Vec<u8>,
    #[serde(with = "b64")]
    pub doc_id: Vec<u8>,
    pub epoch: u32,
    #[serde(with = "b64")]
    pub sealed: Vec<u8>,
}

/// `POST /v1/workspaces/{ws}/entries`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushEntries {
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acked {
    #[serde(with = "b64")]
    pub entry_id: Vec<u8>,
    pub seq: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushResult {
    pub acked: Vec<Acked>,
}

/// An entry as pulled, with its relay sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PulledEntry {
    pub seq: i64,
    #[serde(flatten)]
    pub entry: Entry,
    pub device_id: String,
}

/// `GET /v1/workspaces/{ws}/entries?after=&limit=`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullResult {
    pub entries: Vec<PulledEntry>,
    pub last_seq: i64,
}

/// `GET /v1/workspaces/{ws}/blobs/{blob_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobStatus {
    pub count: u32,
    pub present: Vec<u32>,
}

/// `POST /v1/workspaces/{ws}/blob-status`: the status of several blobs in
/// one round trip (a sync pass asks about every photo it has to move).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobStatusQuery {
    #[serde(with = "b64_list")]
    pub blob_ids: Vec<Vec<u8>>,
}

/// The answer: one slot per asked blob, in request order; `None` where the
/// relay holds no chunk of that blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobStatuses {
    pub statuses: Vec<Option<BlobStatus>>,
}

/// `GET /v1/workspaces/{ws}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceStatus {
    pub current_epoch: u32,
    pub lease_hours: u32,
    pub revoked: bool,
}

/// `POST /v1/workspaces/{ws}/epochs` (admin): start epoch `epoch` (= current + 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochBump {
    pub epoch: u32,
}

/// `POST /v1/workspaces/{ws}/devices/{device}/revoke` (admin) and
/// `POST /v1/workspaces/{ws}/rotate` results and wipe receipts (issue #5).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WipeReceipt {
    #[serde(with = "b64")]
    pub receipt: Vec<u8>,
}

mod b64_list {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|bytes| super::b64::encode(bytes)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| {
                super::b64::decode(t).ok_or_else(|| serde::de::Error::custom("invalid base64url"))
            })
            .collect()
    }
}

mod opt_b64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(bytes) => s.serialize_some(&super::b64::encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| {
                super::b64::decode(&t).ok_or_else(|| serde::de::Error::custom("invalid base64url"))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_bytes_cover_every_part() {
        let signing_bytes = |method, path, ws, dev, ts, nonce, body: &[u8]| {
            signing_bytes(method, path, ws, dev, ts, nonce, &body_sha256(body))
        };
        let base = signing_bytes("POST", "/v1/x", "ws", "dev", 1, "n", b"body");
        assert!(base.starts_with(b"FV-SIG-1\nPOST\n/v1/x\nws\ndev\n1\nn\n"));
        for other in [
            signing_bytes("GET", "/v1/x", "ws", "dev", 1, "n", b"body"),
            signing_bytes("POST", "/v1/y", "ws", "dev", 1, "n", b"body"),
            signing_bytes("POST", "/v1/x", "ws2", "dev", 1, "n", b"body"),
            signing_bytes("POST", "/v1/x", "ws", "dev2", 1, "n", b"body"),
            signing_bytes("POST", "/v1/x", "ws", "dev", 2, "n", b"body"),
            signing_bytes("POST", "/v1/x", "ws", "dev", 1, "m", b"body"),
            signing_bytes("POST", "/v1/x", "ws", "dev", 1, "n", b"bodx"),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn entries_round_trip_as_json_with_base64url() {
        let e = Entry {
            entry_id: vec![1, 2],
            doc_id: vec![255; 4],
            epoch: 3,
            sealed: vec![0; 5],
        };
        let json = serde_json::to_string(&e).expect("json");
        assert!(json.contains("\"_____w\""), "{json}");
        assert_eq!(serde_json::from_str::<Entry>(&json).expect("back"), e);
    }

    #[test]
    fn blob_status_queries_round_trip_and_refuse_bad_base64() {
        let q = BlobStatusQuery {
            blob_ids: vec![vec![255; 2], vec![0; 3]],
        };
        let json = serde_json::to_string(&q).expect("json");
        assert_eq!(json, r#"{"blob_ids":["__8","AAAA"]}"#);
        assert_eq!(
            serde_json::from_str::<BlobStatusQuery>(&json).expect("back"),
            q
        );
        assert!(serde_json::from_str::<BlobStatusQuery>(r#"{"blob_ids":["!"]}"#).is_err());
    }
}
