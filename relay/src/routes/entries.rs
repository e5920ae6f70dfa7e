//! Sealed document entries: push (idempotent on entry_id) and pull by cursor.
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use fieldvault::sync::wire::{self, PushEntries, PushResult};
use serde::Deserialize;

use super::json;
use crate::auth::{now_ms, Signed};
use crate::error::ApiError;
use crate::extract::{self, check_count, check_len, PathParams};
use crate::server::App;

/// Pull page size when `limit` is absent.
pub const DEFAULT_PULL_LIMIT: u32 = 100;

/// `POST /v1/workspaces/{ws}/entries` → 200 `wire::PushResult` (one ack per
/// entry, in request order; duplicates carry the first copy's seq).
pub async fn push(
    State(app): State<App>,
    PathParams(ws): PathParams<String>,
    Signed(authed): Signed<{ wire::MAX_ENTRIES_BODY }>,
) -> Result<Response, ApiError> {
    let push: PushEntries = extract::json(&authed.body)?;
    check_count(
        push.entries.len(),
        wire::MAX_ENTRIES_PER_PUSH,
        "entries per push",
    )?;
    for e in &push.entries {
        check_len(&e.entry_id, 16, "entry_id")?;
        check_len(&e.doc_id, 32, "doc_id")?;
        if e.sealed.is_empty() {
            return Err(ApiError::bad_request("sealed must not be empty"));
        }
    }
    let acked = app
        .store
        .push_entries(&ws, &authed.device_id, push.entries, now_ms())
        .await?;
    Ok(json(StatusCode::OK, &PushResult { acked }))
}

#[derive(Deserialize)]
struct PullQuery {
    after: Option<i64>,
    limit: Option<u32>,
    /// `true`: leave out the requesting device's own entries.
    others_only: Option<bool>,
}

/// `GET /v1/workspaces/{ws}/entries?after=&limit=&others_only=` → `wire::PullResult`.
/// With `others_only=true`, entries the requesting device uploaded are left
/// out. `last_seq` is the seq of the last entry returned (or `after` when none):
/// a safe cursor. Pages may be shorter than `limit` (byte budget); pull until
/// a page is empty.
pub async fn pull(
    State(app): State<App>,
    PathParams(ws): PathParams<String>,
    Signed(authed): Signed,
) -> Result<Response, ApiError> {
    let q: PullQuery = extract::query(&authed.uri)?;
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::bad_request("after must be ≥ 0"));
    }
    let limit = q.limit.unwrap_or(DEFAULT_PULL_LIMIT);
    if !(1..=wire::MAX_PULL_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be 1-{}",
            wire::MAX_PULL_LIMIT
        )));
    }
    Ok(json(
        StatusCode::OK,
        &app.store
            .pull_entries(
                &ws,
                q.others_only
                    .unwrap_or(false)
                    .then_some(authed.device_id.as_str()),
                after,
                limit,
            )
            .await?,
    ))
}
