//! Who may do what: device request signatures (Ed25519 over
//! `wire::signing_bytes`, timestamp window, nonce replay), the operator token,
//! and roles.
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Uri};
use fieldvault::sync::wire::{self, b64, Role};
use ring::signature::{UnparsedPublicKey, ED25519};

use crate::body_budget::BodyReservation;
use crate::error::ApiError;
use crate::extract::{read_checked_body, refuse_declared_excess, valid_id, SMALL_BODY};
use crate::server::{App, AppState};
use crate::store::{constant_time_eq, sha256, DeviceLookup};

/// Whether a revoked device may make this request (only the wipe receipt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokedDevices {
    Refuse,
    Allow,
}

/// A request whose signature, timestamp and nonce were accepted.
pub struct Authed {
    pub device_id: String,
    pub role: Role,
    pub revoked: bool,
    pub body: Bytes,
    /// SHA-256 of `body` (computed for the signature).
    pub body_sha256: [u8; 32],
    /// The request's URI (for its query string).
    pub uri: Uri,
    /// The body's share of the relay's memory budget, held until the
    /// handler is done.
    _reservation: BodyReservation,
}

/// Extractor for a device-signed request to a workspace route
/// (`/v1/workspaces/{ws}/...`): runs [`signed`] with a body of at most
/// `LIMIT` bytes; `ALLOW_REVOKED` only for the wipe receipt. Use it as the
/// handler's last argument (it consumes the body).
pub struct Signed<const LIMIT: usize = SMALL_BODY, const ALLOW_REVOKED: bool = false>(pub Authed);

impl<const LIMIT: usize, const ALLOW_REVOKED: bool> FromRequest<App>
    for Signed<LIMIT, ALLOW_REVOKED>
{
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &App) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let path = RawPathParams::from_request_parts(&mut parts, app)
            .await
            .map_err(|_| ApiError::not_found("no such workspace"))?;
        let ws = path
            .iter()
            .find_map(|(name, value)| (name == "ws").then(|| value.to_owned()))
            .ok_or_else(|| ApiError::not_found("no such workspace"))?;
        let revoked = if ALLOW_REVOKED {
            RevokedDevices::Allow
        } else {
            RevokedDevices::Refuse
        };
        signed(app, &ws, &parts, body, LIMIT, revoked)
            .await
            .map(Signed)
    }
}

impl Authed {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Member => Err(ApiError::Forbidden(
                "only the workspace admin device may do this".into(),
            )),
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .ok_or_else(|| ApiError::unauthorized(format!("missing {name} header")))?
        .to_str()
        .map_err(|_| ApiError::unauthorized(format!("invalid {name} header")))
}

/// The relay's clock now, if `timestamp` is within the allowed skew of it.
pub(crate) fn check_clock(timestamp: i64) -> Result<i64, ApiError> {
    let now = now_ms();
    if now.abs_diff(timestamp) > wire::MAX_CLOCK_SKEW_MS.unsigned_abs() {
        return Err(ApiError::unauthorized(
            "the request timestamp is too far from the relay's clock",
        ));
    }
    Ok(now)
}

/// Current time in unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Checks a signed device request and reads its body (≤ `limit`). Order:
/// headers and clock (401) → declared body size (413) → workspace (404) and
/// device (401) → room in the body memory budget (503 `busy`) → body (413
/// past `limit`) → clock again (401) → signature (401) → nonce (401
/// `replayed`; also records `last_seen`) → revocation (403 `revoked`).
async fn signed(
    app: &AppState,
    ws: &str,
    parts: &Parts,
    body: Body,
    limit: usize,
    revoked: RevokedDevices,
) -> Result<Authed, ApiError> {
    let device_id = header(&parts.headers, wire::HEADER_DEVICE)?;
    if !valid_id(device_id) {
        return Err(ApiError::unauthorized("unknown device"));
    }
    let timestamp: i64 = header(&parts.headers, wire::HEADER_TIMESTAMP)?
        .parse()
        .map_err(|_| ApiError::unauthorized("invalid timestamp header"))?;
    let nonce = header(&parts.headers, wire::HEADER_NONCE)?;
    if b64::decode(nonce).map(|n| n.len()) != Some(16) {
        return Err(ApiError::unauthorized(
            "the nonce must be 16 bytes in base64url",
        ));
    }
    let signature = b64::decode(header(&parts.headers, wire::HEADER_SIGNATURE)?)
        .filter(|s| s.len() == 64)
        .ok_or_else(|| ApiError::unauthorized("invalid signature header"))?;
    check_clock(timestamp)?;
    let (body, declared) = refuse_declared_excess(parts, body, limit).await?;
    // Who is asking, before the body is read: a request for an unknown
    // workspace or device costs the relay one indexed read, never a
    // buffered body of up to `limit` bytes.
    if !valid_id(ws) {
        return Err(ApiError::not_found("no such workspace"));
    }
    let device = match app.store.lookup_device(ws, device_id).await? {
        DeviceLookup::NoWorkspace => return Err(ApiError::not_found("no such workspace")),
        DeviceLookup::NoDevice => return Err(ApiError::unauthorized("unknown device")),
        DeviceLookup::Found(d) => d,
    };
    let reservation = app
        .body_budget
        .reserve(ws, device_id, expected_body_len(&body, declared, limit))
        .await?;
    let body = read_checked_body(body, declared, limit).await?;
    // Again once the body is in: a request trickled in slowly is judged by
    // when it arrived whole, which keeps the nonce window sufficient
    // (`wire::NONCE_WINDOW_MS`).
    let now = check_clock(timestamp)?;
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or_else(|| parts.uri.path());
    let body_sha256 = wire::body_sha256(&body);
    let message = wire::signing_bytes(
        parts.method.as_str(),
        path_and_query,
        ws,
        device_id,
        timestamp,
        nonce,
        &body_sha256,
    );
    UnparsedPublicKey::new(&ED25519, &device.signing_public)
        .verify(&message, &signature)
        .map_err(|_| ApiError::unauthorized("bad signature"))?;
    app.store.record_request(ws, device_id, nonce, now).await?;
    if device.revoked && revoked == RevokedDevices::Refuse {
        return Err(ApiError::Revoked);
    }
    Ok(Authed {
        device_id: device_id.to_owned(),
        role: device.role,
        revoked: device.revoked,
        body,
        body_sha256,
        uri: parts.uri.clone(),
        _reservation: reservation,
    })
}

/// What a body will hold at most: its declared length, nothing for a request
/// known to have none, and `limit` for a chunked one.
fn expected_body_len(body: &Body, declared: Option<u64>, limit: usize) -> usize {
    let hinted = declared.or_else(|| HttpBody::size_hint(body).exact());
    hinted.map_or(limit, |len| {
        usize::try_from(len).unwrap_or(limit).min(limit)
    })
}

/// `Authorization: Bearer <operator token>`, compared by SHA-256.
pub fn check_operator(app: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let value = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("the operator token is required"))?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::unauthorized("the operator token is required"))?;
    if constant_time_eq(&sha256(token.trim().as_bytes()), &app.operator_token_hash) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("wrong operator token"))
    }
}
