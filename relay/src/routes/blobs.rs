//! Photo blobs: sealed chunks (idempotent PUT, or several blobs' chunks in
//! one POST), status for resuming, chunk GET (one, or several in one POST).
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashSet;

use fieldvault::sync::wire::{self, b64, chunk_batch};
use serde::Deserialize;

use super::json;
use crate::auth::{now_ms, Authed, Signed};
use crate::error::ApiError;
use crate::extract::{self, check_count, check_len, PathParams};
use crate::server::App;
use crate::store::NewChunk;

/// Most chunks of one blob (64 Ki × 256 KiB = 16 GiB).
pub const MAX_CHUNKS: u32 = 1 << 16;

fn blob_id(text: &str) -> Result<Vec<u8>, ApiError> {
    b64::decode(text)
        .filter(|id| id.len() == 32)
        .ok_or_else(|| ApiError::bad_request("the blob id must be 32 bytes in base64url"))
}

#[derive(Deserialize)]
struct ChunkQuery {
    count: u32,
    epoch: u32,
}

/// Checks one uploaded chunk's position and body.
fn new_chunk(
    authed: &Authed,
    blob_id: Vec<u8>,
    index: u32,
    count: u32,
    epoch: u32,
    body: Vec<u8>,
    body_hash: [u8; 32],
) -> Result<NewChunk, ApiError> {
    if !(1..=MAX_CHUNKS).contains(&count) {
        return Err(ApiError::bad_request(format!(
            "count must be 1-{MAX_CHUNKS}"
        )));
    }
    if index >= count {
        return Err(ApiError::bad_request("the chunk index must be below count"));
    }
    if body.is_empty() {
        return Err(ApiError::bad_request("the chunk body is empty"));
    }
    if body.len() > wire::MAX_CHUNK_BODY {
        return Err(ApiError::PayloadTooLarge(format!(
            "a chunk is at most {} bytes",
            wire::MAX_CHUNK_BODY
        )));
    }
    Ok(NewChunk {
        blob_id,
        index,
        count,
        epoch,
        body,
        body_hash,
        device_id: authed.device_id.clone(),
        now_ms: now_ms(),
    })
}

/// `PUT /v1/workspaces/{ws}/blobs/{blob_id}/chunks/{index}?count=&epoch=` → 204.
/// The same bytes again → 204; different bytes or another count → 409.
pub async fn put_chunk(
    State(app): State<App>,
    PathParams((ws, blob, index)): PathParams<(String, String, u32)>,
    Signed(authed): Signed<{ wire::MAX_CHUNK_BODY }>,
) -> Result<Response, ApiError> {
    let q: ChunkQuery = extract::query(&authed.uri)?;
    let blob_id = blob_id(&blob)?;
    let body = authed.body.to_vec();
    let chunk = new_chunk(
        &authed,
        blob_id,
        index,
        q.count,
        q.epoch,
        body,
        authed.body_sha256,
    )?;
    app.store.put_chunks(&ws, vec![chunk]).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/workspaces/{ws}/chunks`, a body framed by
/// [`chunk_batch::encode_uploads`]: up to [`chunk_batch::MAX_CHUNKS_PER_BATCH`]
/// chunks, each of another blob → 204 once all are stored. Any refused
/// chunk refuses the request, and none of its chunks is stored. An empty
/// batch → 204 (devices ask it once to learn the route exists).
pub async fn put_chunks(
    State(app): State<App>,
    PathParams(ws): PathParams<String>,
    Signed(authed): Signed<{ chunk_batch::MAX_CHUNK_BATCH_BODY }>,
) -> Result<Response, ApiError> {
    let frames = chunk_batch::decode_uploads(&authed.body)
        .map_err(|e| ApiError::bad_request(format!("malformed chunk batch: {e}")))?;
    if frames.is_empty() {
        // Stores nothing: how a device learns that this relay takes batches.
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    check_count(
        frames.len(),
        chunk_batch::MAX_CHUNKS_PER_BATCH,
        "chunks per batch",
    )?;
    let mut blobs = HashSet::new();
    let mut chunks = Vec::with_capacity(frames.len());
    for f in frames {
        check_len(&f.blob_id, 32, "each blob id")?;
        if !blobs.insert(f.blob_id.clone()) {
            return Err(ApiError::bad_request(
                "a batch holds at most one chunk of each blob",
            ));
        }
        let hash = wire::body_sha256(&f.sealed);
        chunks.push(new_chunk(
            &authed, f.blob_id, f.index, f.count, f.epoch, f.sealed, hash,
        )?);
    }
    app.store.put_chunks(&ws, chunks).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/workspaces/{ws}/chunk-fetch` with `chunk_batch::ChunkFetch` →
/// the sealed chunks framed by [`chunk_batch::encode_fetched`], one slot per
/// asked chunk (empty where there is no such chunk). Up to
/// [`chunk_batch::MAX_CHUNKS_PER_FETCH`] chunks.
pub async fn fetch_chunks(
    State(app): State<App>,
    PathParams(ws): PathParams<String>,
    Signed(authed): Signed,
) -> Result<Response, ApiError> {
    let fetch: chunk_batch::ChunkFetch = extract::json(&authed.body)?;
    if fetch.chunks.is_empty() {
        return Err(ApiError::bad_request("the request names no chunk"));
    }
    check_count(
        fetch.chunks.len(),
        chunk_batch::MAX_CHUNKS_PER_FETCH,
        "chunks per request",
    )?;
    let mut wanted = Vec::with_capacity(fetch.chunks.len());
    for c in fetch.chunks {
        check_len(&c.blob_id, 32, "each blob id")?;
        wanted.push((c.blob_id, c.index));
    }
    let slots = app.store.get_chunks(&ws, wanted).await?;
    Ok(octet_stream(chunk_batch::encode_fetched(&slots)))
}

fn octet_stream(body: Vec<u8>) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    resp
}

/// `GET /v1/workspaces/{ws}/blobs/{blob_id}` → `wire::BlobStatus`, 404 if no chunk was ever stored.
pub async fn status(
    State(app): State<App>,
    PathParams((ws, blob)): PathParams<(String, String)>,
    _signed: Signed,
) -> Result<Response, ApiError> {
    let blob_id = blob_id(&blob)?;
    match app.store.blob_statuses(&ws, vec![blob_id]).await?.pop() {
        Some(Some(status)) => Ok(json(StatusCode::OK, &status)),
        _ => Err(ApiError::not_found("no such blob")),
    }
}

/// `POST /v1/workspaces/{ws}/blob-status` with `wire::BlobStatusQuery` →
/// `wire::BlobStatuses`: one slot per blob, in order, `null` for a blob with
/// no chunk stored. Up to [`wire::MAX_BLOB_STATUS_IDS`] ids.
pub async fn statuses(
    State(app): State<App>,
    PathParams(ws): PathParams<String>,
    Signed(authed): Signed,
) -> Result<Response, ApiError> {
    let query: wire::BlobStatusQuery = extract::json(&authed.body)?;
    check_count(
        query.blob_ids.len(),
        wire::MAX_BLOB_STATUS_IDS,
        "blob ids per request",
    )?;
    for id in &query.blob_ids {
        check_len(id, 32, "each blob id")?;
    }
    let statuses = app.store.blob_statuses(&ws, query.blob_ids).await?;
    Ok(json(StatusCode::OK, &wire::BlobStatuses { statuses }))
}

/// `GET /v1/workspaces/{ws}/blobs/{blob_id}/chunks/{index}` → the sealed chunk.
pub async fn get_chunk(
    State(app): State<App>,
    PathParams((ws, blob, index)): PathParams<(String, String, u32)>,
    _signed: Signed,
) -> Result<Response, ApiError> {
    let blob_id = blob_id(&blob)?;
    let chunk = app
        .store
        .get_chunks(&ws, vec![(blob_id, index)])
        .await?
        .pop()
        .flatten()
        .ok_or_else(|| ApiError::not_found("no such chunk"))?;
    Ok(octet_stream(chunk))
}
