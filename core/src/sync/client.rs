//! HTTP client for the relay: every request signed with the device's Ed25519
//! key (`docs/protocol.md`). reqwest over rustls with ring — one crypto library
//! in the binary. A custom root certificate can be trusted for closed
//! government networks.
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::identity::DeviceIdentity;
use super::wire::chunk_batch::{self, ChunkFetch, ChunkRef, ChunkUpload};
use super::wire::{self, b64};
use crate::crypto::random;
use crate::error::{Error, Result};

/// How to reach the relay.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub relay_url: String,
    /// PEM root certificate(s) to trust in addition to the built-in roots.
    pub root_certificate_pem: Option<String>,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
}

impl ClientConfig {
    pub fn new(relay_url: impl Into<String>) -> Self {
        Self {
            relay_url: relay_url.into(),
            root_certificate_pem: None,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// The relay of an enrolled vault, with the root certificate recorded at
    /// enrolment.
    pub fn for_enrolment(settings: &crate::vault::SyncSettings) -> Self {
        Self {
            root_certificate_pem: settings.relay_root_certificate_pem.clone(),
            ..Self::new(settings.relay_url.clone())
        }
    }
}

/// The certificates of a PEM bundle (a town's root and its intermediates may
/// come together); text with no certificate in it is refused, not silently
/// ignored.
pub(crate) fn root_certificates(pem: &str) -> Result<Vec<reqwest::Certificate>> {
    reqwest::Certificate::from_pem_bundle(pem.as_bytes())
        .ok()
        .filter(|certs| !certs.is_empty())
        .ok_or_else(|| Error::InvalidInput("the root certificate is not valid PEM".into()))
}

fn build_http(config: &ClientConfig) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(config.request_timeout)
        .connect_timeout(config.connect_timeout)
        .http1_only()
        .user_agent(concat!("fieldvault/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = &config.root_certificate_pem {
        for cert in root_certificates(pem)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| Error::Network(format!("could not set up HTTP: {e}")))
}

fn network(e: reqwest::Error) -> Error {
    // reqwest errors name the URL but never bodies or headers.
    Error::Network(if e.is_timeout() {
        "the relay did not answer in time".into()
    } else if e.is_connect() {
        "could not connect to the relay".into()
    } else {
        format!("transfer failed: {e}")
    })
}

/// Most bytes read from one answer of the relay. The largest honest answer
/// is a pull page: at most 16 MiB of sealed entries plus the one that
/// crosses the budget (≤ 4 MiB), in base64 inside JSON (~27 MiB). A relay,
/// or whoever holds a trusted certificate, cannot fill the phone's memory.
pub const MAX_ANSWER_BYTES: usize = 48 * 1024 * 1024;

/// Reads an answer's body, refusing one larger than `max` (at most
/// [`MAX_ANSWER_BYTES`]) before it is buffered (by its `Content-Length`, or
/// as it streams).
async fn read_body(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>> {
    let too_large =
        || Error::Network("the relay sent an answer larger than any it may send".into());
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(piece) = resp.chunk().await.map_err(network)? {
        if body.len() + piece.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&piece);
    }
    Ok(body)
}

async fn into_result(resp: reqwest::Response, max: usize) -> Result<Vec<u8>> {
    let status = resp.status();
    let body = read_body(resp, max).await?;
    if status.is_success() {
        return Ok(body);
    }
    let parsed: Option<wire::ErrorBody> = serde_json::from_slice(&body).ok();
    let (code, message) = parsed
        .map(|b| (b.error, b.message))
        .unwrap_or_else(|| ("unknown".into(), format!("HTTP {status}")));
    if status == StatusCode::FORBIDDEN && code == "revoked" {
        return Err(Error::Revoked);
    }
    Err(Error::Relay {
        status: status.as_u16(),
        code,
        message,
    })
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body)
        .map_err(|_| Error::Network("the relay sent a malformed answer".into()))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::Internal(e.to_string()))
}

/// Requests that need no device signature (workspace creation, enrollment).
pub struct UnsignedClient {
    http: reqwest::Client,
    base: String,
}

impl UnsignedClient {
    pub fn new(config: &ClientConfig) -> Result<Self> {
        Ok(Self {
            http: build_http(config)?,
            base: config.relay_url.trim_end_matches('/').to_owned(),
        })
    }

    pub async fn create_workspace(
        &self,
        operator_token: &str,
        req: &wire::CreateWorkspace,
    ) -> Result<()> {
        let resp = self
            .http
            .post(format!("{}/v1/workspaces", self.base))
            .bearer_auth(operator_token)
            .header("content-type", "application/json")
            .body(encode(req)?)
            .send()
            .await
            .map_err(network)?;
        into_result(resp, MAX_ANSWER_BYTES).await.map(|_| ())
    }

    pub async fn enroll(&self, workspace: &str, req: &wire::Enroll) -> Result<()> {
        let resp = self
            .http
            .post(format!("{}/v1/workspaces/{workspace}/enroll", self.base))
            .header("content-type", "application/json")
            .body(encode(req)?)
            .send()
            .await
            .map_err(network)?;
        into_result(resp, MAX_ANSWER_BYTES).await.map(|_| ())
    }
}

/// Signed requests of one enrolled device.
pub struct RelayClient {
    http: reqwest::Client,
    base: String,
    workspace: String,
    device_id: String,
    identity: Arc<DeviceIdentity>,
    /// Whether the relay takes several chunks per request: `None` until
    /// asked (see [`RelayClient::chunk_batches`]).
    chunk_batches: tokio::sync::Mutex<Option<bool>>,
}

/// Whether `e` is a relay saying it does not know the route: an older relay.
fn is_missing_route(e: &Error) -> bool {
    matches!(e, Error::Relay { status, message, .. }
        if *status == 405 || (*status == 404 && message == "no such route"))
}

impl RelayClient {
    pub fn new(
        config: &ClientConfig,
        workspace: &str,
        device_id: &str,
        identity: Arc<DeviceIdentity>,
    ) -> Result<Self> {
        Ok(Self {
            http: build_http(config)?,
            base: config.relay_url.trim_end_matches('/').to_owned(),
            workspace: workspace.into(),
            device_id: device_id.into(),
            identity,
            chunk_batches: tokio::sync::Mutex::new(None),
        })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Vec<u8>> {
        self.send_capped(method, path, body, content_type, MAX_ANSWER_BYTES)
            .await
    }

    /// [`Self::send`], refusing an answer above `max_answer` bytes.
    async fn send_capped(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
        max_answer: usize,
    ) -> Result<Vec<u8>> {
        let timestamp = chrono::Utc::now().timestamp_millis();
        let nonce = b64::encode(&random::bytes::<16>()?);
        let signed = wire::signing_bytes(
            method.as_str(),
            path,
            &self.workspace,
            &self.device_id,
            timestamp,
            &nonce,
            &wire::body_sha256(&body),
        );
        let signature = b64::encode(&self.identity.sign(&signed));
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(wire::HEADER_DEVICE, &self.device_id)
            .header(wire::HEADER_TIMESTAMP, timestamp.to_string())
            .header(wire::HEADER_NONCE, nonce)
            .header(wire::HEADER_SIGNATURE, signature)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .map_err(network)?;
        into_result(resp, max_answer.min(MAX_ANSWER_BYTES)).await
    }

    fn ws_path(&self, rest: &str) -> String {
        format!("/v1/workspaces/{}{rest}", self.workspace)
    }

    async fn get<T: DeserializeOwned>(&self, rest: &str) -> Result<T> {
        decode(
            &self
                .send(
                    Method::GET,
                    &self.ws_path(rest),
                    Vec::new(),
                    "application/json",
                )
                .await?,
        )
    }

    async fn post<B: serde::Serialize>(&self, rest: &str, body: &B) -> Result<Vec<u8>> {
        self.send(
            Method::POST,
            &self.ws_path(rest),
            encode(body)?,
            "application/json",
        )
        .await
    }

    pub async fn status(&self) -> Result<wire::WorkspaceStatus> {
        self.get("/status").await
    }

    pub async fn issue_code(&self, req: &wire::IssueCode) -> Result<()> {
        self.post("/codes", req).await.map(|_| ())
    }

    pub async fn devices(&self) -> Result<wire::DeviceList> {
        self.get("/devices").await
    }

    pub async fn post_key_envelopes(&self, envelopes: Vec<wire::KeyEnvelope>) -> Result<()> {
        self.post("/key-envelopes", &envelopes).await.map(|_| ())
    }

    pub async fn key_envelopes(&self) -> Result<wire::KeyEnvelopes> {
        self.get("/key-envelopes").await
    }

    pub async fn push(&self, entries: Vec<wire::Entry>) -> Result<wire::PushResult> {
        decode(
            &self
                .post("/entries", &wire::PushEntries { entries })
                .await?,
        )
    }

    /// Entries after `after` uploaded by other devices (this device has its own).
    pub async fn pull(&self, after: i64, limit: u32) -> Result<wire::PullResult> {
        self.get(&format!(
            "/entries?after={after}&limit={limit}&others_only=true"
        ))
        .await
    }

    pub async fn put_chunk(
        &self,
        blob_id: &[u8],
        index: u32,
        count: u32,
        epoch: u32,
        sealed: Vec<u8>,
    ) -> Result<()> {
        let path = self.ws_path(&format!(
            "/blobs/{}/chunks/{index}?count={count}&epoch={epoch}",
            b64::encode(blob_id)
        ));
        self.send(Method::PUT, &path, sealed, "application/octet-stream")
            .await
            .map(|_| ())
    }

    /// Which chunks of each blob the relay holds (`None`: none), in order:
    /// one request per [`wire::MAX_BLOB_STATUS_IDS`] blobs. A relay that
    /// predates `blob-status` (it answers "no such route") is asked blob by
    /// blob.
    pub async fn blob_statuses(
        &self,
        blob_ids: &[Vec<u8>],
    ) -> Result<Vec<Option<wire::BlobStatus>>> {
        let mut out = Vec::with_capacity(blob_ids.len());
        for batch in blob_ids.chunks(wire::MAX_BLOB_STATUS_IDS) {
            let query = wire::BlobStatusQuery {
                blob_ids: batch.to_vec(),
            };
            match self.post("/blob-status", &query).await {
                Ok(body) => {
                    let answer: wire::BlobStatuses = decode(&body)?;
                    if answer.statuses.len() != batch.len() {
                        return Err(Error::Network(
                            "the relay answered for a different number of photos".into(),
                        ));
                    }
                    out.extend(answer.statuses);
                }
                Err(e) if is_missing_route(&e) => {
                    for blob_id in batch {
                        out.push(self.blob_status(blob_id).await?);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Which chunks of one blob the relay holds; `None` if none.
    pub async fn blob_status(&self, blob_id: &[u8]) -> Result<Option<wire::BlobStatus>> {
        match self.get(&format!("/blobs/{}", b64::encode(blob_id))).await {
            Ok(s) => Ok(Some(s)),
            Err(Error::Relay { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the relay takes batched chunk requests, asked once with an
    /// empty batch (which stores nothing): a relay that predates them answers
    /// "no such route". Asked before sending chunks because an old relay
    /// answers a full batch before reading its body, and the device would
    /// see a broken upload instead of the answer. Held while asking, so
    /// requests started together ask once.
    async fn chunk_batches(&self) -> Result<bool> {
        let mut known = self.chunk_batches.lock().await;
        if let Some(batches) = *known {
            return Ok(batches);
        }
        let path = self.ws_path("/chunks");
        let batches = match self
            .send(Method::POST, &path, Vec::new(), "application/octet-stream")
            .await
        {
            Ok(_) => true,
            Err(e) if is_missing_route(&e) => false,
            Err(e) => return Err(e),
        };
        *known = Some(batches);
        Ok(batches)
    }

    /// `POST` to a batched chunk route. A "no such route" answer (the relay
    /// behind this address was replaced by an older one) makes the next
    /// request ask [`Self::chunk_batches`] again.
    async fn send_batched(
        &self,
        route: &str,
        body: Vec<u8>,
        content_type: &str,
        max_answer: usize,
    ) -> Result<Vec<u8>> {
        let path = self.ws_path(route);
        let answer = self
            .send_capped(Method::POST, &path, body, content_type, max_answer)
            .await;
        if let Err(e) = &answer {
            if is_missing_route(e) {
                *self.chunk_batches.lock().await = None;
            }
        }
        answer
    }

    /// Uploads chunks of different blobs in one request (`POST .../chunks`):
    /// the relay stores all of them or none. A relay that predates the route
    /// gets them one request each, in order.
    pub async fn put_chunks(&self, chunks: Vec<ChunkUpload>) -> Result<()> {
        if self.chunk_batches().await? {
            let body = chunk_batch::encode_uploads(&chunks);
            return self
                .send_batched(
                    "/chunks",
                    body,
                    "application/octet-stream",
                    MAX_ANSWER_BYTES,
                )
                .await
                .map(|_| ());
        }
        for c in chunks {
            self.put_chunk(&c.blob_id, c.index, c.count, c.epoch, c.sealed)
                .await?;
        }
        Ok(())
    }

    /// Fetches several sealed chunks in one request (`POST .../chunk-fetch`):
    /// one slot per asked chunk, in order, `None` where the relay holds no
    /// such chunk. A relay that predates the route is asked chunk by chunk.
    /// The answer is read only up to what that many chunks can take.
    pub async fn get_chunks(&self, refs: Vec<ChunkRef>) -> Result<Vec<Option<Vec<u8>>>> {
        if !self.chunk_batches().await? {
            return self.get_chunks_one_by_one(&refs).await;
        }
        let expected = refs.len();
        let max_answer = expected * (4 + wire::MAX_CHUNK_BODY);
        let body = encode(&ChunkFetch { chunks: refs })?;
        let answer = self
            .send_batched("/chunk-fetch", body, "application/json", max_answer)
            .await?;
        chunk_batch::decode_fetched(&answer, expected)
            .map_err(|_| Error::Network("the relay sent a malformed answer".into()))
    }

    async fn get_chunks_one_by_one(&self, refs: &[ChunkRef]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(refs.len());
        for r in refs {
            out.push(match self.get_chunk(&r.blob_id, r.index).await {
                Ok(bytes) => Some(bytes),
                Err(Error::Relay { status: 404, .. }) => None,
                Err(e) => return Err(e),
            });
        }
        Ok(out)
    }

    pub async fn get_chunk(&self, blob_id: &[u8], index: u32) -> Result<Vec<u8>> {
        let path = self.ws_path(&format!("/blobs/{}/chunks/{index}", b64::encode(blob_id)));
        self.send(Method::GET, &path, Vec::new(), "application/octet-stream")
            .await
    }

    pub async fn revoke(&self, device_id: &str) -> Result<()> {
        self.post(
            &format!("/devices/{device_id}/revoke"),
            &serde_json::json!({}),
        )
        .await
        .map(|_| ())
    }

    pub async fn bump_epoch(&self, epoch: u32) -> Result<()> {
        self.post("/epochs", &wire::EpochBump { epoch })
            .await
            .map(|_| ())
    }

    pub async fn post_wipe_receipt(&self, receipt: Vec<u8>) -> Result<()> {
        self.post("/wipe-receipt", &wire::WipeReceipt { receipt })
            .await
            .map(|_| ())
    }
}
