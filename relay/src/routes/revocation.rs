//! Revocation and key rotation (issue #5): revoke a device, start the next
//! epoch, and the wipe receipt — the one request a revoked device may make.
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fieldvault::sync::wire::{EpochBump, WipeReceipt};

use super::json;
use crate::auth::{now_ms, Signed};
use crate::error::ApiError;
use crate::extract::{self, check_len_range, PathParams, SMALL_BODY};
use crate::messages::EpochStarted;
use crate::server::App;

/// `POST /v1/workspaces/{ws}/devices/{device_id}/revoke` (admin) → 204.
/// Unknown device 404, already revoked 409, the admin itself 400.
pub async fn revoke(
    State(app): State<App>,
    PathParams((ws, device_id)): PathParams<(String, String)>,
    Signed(authed): Signed,
) -> Result<Response, ApiError> {
    authed.require_admin()?;
    if device_id == authed.device_id {
        return Err(ApiError::bad_request("a device cannot revoke itself"));
    }
    if !extract::valid_id(&device_id) {
        return Err(ApiError::not_found("no such device in this workspace"));
    }
    app.store.revoke(&ws, &device_id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/workspaces/{ws}/epochs` (admin) `{"epoch": current + 1}` → 200 `{"current_epoch"}`.
pub async fn bump_epoch(
    State(app): State<App>,
    PathParams(ws): PathParams<String>,
    Signed(authed): Signed,
) -> Result<Response, ApiError> {
    authed.require_admin()?;
    let bump: EpochBump = extract::json(&authed.body)?;
    let current_epoch = app.store.bump_epoch(&ws, bump.epoch).await?;
    Ok(json(StatusCode::OK, &EpochStarted { current_epoch }))
}

/// `POST /v1/workspaces/{ws}/wipe-receipt` (signed by the revoked device) → 204.
/// A device that is not revoked → 409. The first receipt is kept.
pub async fn wipe_receipt(
    State(app): State<App>,
    PathParams(ws): PathParams<String>,
    Signed(authed): Signed<SMALL_BODY, true>,
) -> Result<Response, ApiError> {
    let receipt: WipeReceipt = extract::json(&authed.body)?;
    check_len_range(&receipt.receipt, 1, 16 * 1024, "receipt")?;
    if !authed.revoked {
        return Err(ApiError::conflict(
            "only a revoked device sends a wipe receipt",
        ));
    }
    app.store
        .put_wipe_receipt(&ws, &authed.device_id, receipt.receipt, now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
