//! Enrollment codes (admin) and enrollment (enrollment token).
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use fieldvault::sync::identity;
use fieldvault::sync::wire::{self, Enroll, IssueCode};

use super::json;
use super::workspaces::check_device_keys;
use crate::auth::{check_clock, now_ms, Signed};
use crate::error::ApiError;
use crate::extract::{self, check_len, check_text, valid_id, PathParams, SMALL_BODY};
use crate::messages::{CodeIssued, Enrolled};
use crate::server::App;
use crate::store::{possession_nonce, sha256, Enrollment, NewCode};

/// Longest validity of an enrollment code.
pub const MAX_CODE_VALIDITY_MS: i64 = 30 * 24 * 3600 * 1000;

/// `POST /v1/workspaces/{ws}/codes` (admin) → 201.
pub async fn issue_code(
    State(app): State<App>,
    PathParams(ws): PathParams<String>,
    Signed(authed): Signed,
) -> Result<Response, ApiError> {
    authed.require_admin()?;
    let code: IssueCode = extract::json(&authed.body)?;
    check_len(&code.code_id, 16, "code_id")?;
    check_len(&code.token_hash, 32, "token_hash")?;
    let now = now_ms();
    if code.expires_at_ms <= now || code.expires_at_ms - now > MAX_CODE_VALIDITY_MS {
        return Err(ApiError::bad_request(
            "expires_at_ms must be in the future and at most 30 days away",
        ));
    }
    app.store
        .issue_code(
            &ws,
            NewCode {
                code_id: code.code_id,
                token_hash: code.token_hash,
                expires_at_ms: code.expires_at_ms,
                issued_by: authed.device_id,
                now_ms: now,
            },
        )
        .await?;
    Ok(json(StatusCode::CREATED, &CodeIssued {}))
}

/// Whether the enrollment proves the device holds its signing key, as the
/// nonce the store remembers for it. A signature that is present (with its
/// time) must verify and be recent: a bad or stale one is refused here,
/// whether or not the device id is known (no hint either way). Without its
/// time (a library before it) it proves nothing, so such a device can
/// enroll but not enroll again.
fn check_possession(ws: &str, enroll: &Enroll) -> Result<Option<String>, ApiError> {
    let (Some(signature), Some(at_ms)) = (&enroll.possession, enroll.possession_at_ms) else {
        return Ok(None);
    };
    let message = wire::enroll_possession_bytes(ws, &enroll.code_id, &enroll.device, at_ms);
    if !identity::verify(&enroll.device.signing_public, &message, signature) {
        return Err(ApiError::unauthorized(
            "the device signature on the enrollment does not verify",
        ));
    }
    check_clock(at_ms)?;
    Ok(Some(possession_nonce(signature)))
}

/// `POST /v1/workspaces/{ws}/enroll` (enrollment token) → 201.
/// Unknown code 404, wrong token or a bad or stale possession signature 401, used code
/// or enrolled device 409, expired 410 ([`crate::store::plan_enrollment`]); the
/// same signed request again 401 `replayed`.
pub async fn enroll(
    State(app): State<App>,
    PathParams(ws): PathParams<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = extract::read_body(&parts, body, SMALL_BODY).await?;
    if !valid_id(&ws) {
        return Err(ApiError::not_found("no such workspace"));
    }
    let enroll: Enroll = extract::json(&bytes)?;
    check_len(&enroll.code_id, 16, "code_id")?;
    check_len(&enroll.enroll_token, 32, "enroll_token")?;
    check_len(&enroll.binding, 32, "binding")?;
    check_device_keys(&enroll.device)?;
    check_text(&enroll.device_name, 200, "device_name")?;
    check_text(&enroll.app_version, 64, "app_version")?;
    let possession_nonce = check_possession(&ws, &enroll)?;
    let device_id = enroll.device.device_id.clone();
    app.store
        .enroll(
            &ws,
            Enrollment {
                code_id: enroll.code_id,
                presented_hash: sha256(&enroll.enroll_token),
                device: enroll.device,
                binding: enroll.binding,
                device_name: enroll.device_name,
                app_version: enroll.app_version,
                now_ms: now_ms(),
                possession_nonce,
            },
        )
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &Enrolled {
            workspace_id: ws,
            device_id,
        },
    ))
}
