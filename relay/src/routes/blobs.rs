//! Photo blobs: sealed chunks (idempotent PUT), status for resuming, chunk GET.
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fieldvault::sync::wire::{self, b64};
use serde::Deserialize;

use super::json;
use crate::auth::{now_ms, Signed};
use crate::error::ApiError;
use crate::extract::{self, check_len, PathParams};
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

/// `PUT /v1/workspaces/{ws}/blobs/{blob_id}/chunks/{index}?count=&epoch=` → 204.
/// The same bytes again → 204; different bytes or another count → 409.
pub async fn put_chunk(
    State(app): State<App>,
    PathParams((ws, blob, index)): PathParams<(String, String, u32)>,
    Signed(authed): Signed<{ wire::MAX_CHUNK_BODY }>,
) -> Result<Response, ApiError> {
    let q: ChunkQuery = extract::query(&authed.uri)?;
    let blob_id = blob_id(&blob)?;
    if !(1..=MAX_CHUNKS).contains(&q.count) {
        return Err(ApiError::bad_request(format!(
            "count must be 1-{MAX_CHUNKS}"
        )));
    }
    if index >= q.count {
        return Err(ApiError::bad_request("the chunk index must be below count"));
    }
    if authed.body.is_empty() {
        return Err(ApiError::bad_request("the chunk body is empty"));
    }
    app.store
        .put_chunk(
            &ws,
            NewChunk {
                blob_id,
                index,
                count: q.count,
                epoch: q.epoch,
                body: authed.body.to_vec(),
                body_hash: authed.body_sha256,
                device_id: authed.device_id,
                now_ms: now_ms(),
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
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
    if query.blob_ids.len() > wire::MAX_BLOB_STATUS_IDS {
        return Err(ApiError::PayloadTooLarge(format!(
            "at most {} blob ids per request",
            wire::MAX_BLOB_STATUS_IDS
        )));
    }
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
        .get_chunk(&ws, &blob_id, index)
        .await?
        .ok_or_else(|| ApiError::not_found("no such chunk"))?;
    let mut resp = (StatusCode::OK, chunk).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    Ok(resp)
}
