//! Workspace keys wrapped for one device: posted by the admin, fetched by the device.
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fieldvault::sync::wire::{KeyEnvelope, KeyEnvelopes};
use serde::Deserialize;

use super::json;
use crate::auth::Signed;
use crate::error::ApiError;
use crate::extract::{
    self, check_count, check_id, check_len, check_len_range, PathParams, ENVELOPES_BODY,
};
use crate::server::App;

/// Most envelopes in one request.
pub const MAX_ENVELOPES: usize = fieldvault::sync::wire::MAX_ENVELOPES_PER_POST;

/// protocol.md shows a bare array; `wire::KeyEnvelopes` is an object. Both are accepted.
#[derive(Deserialize)]
#[serde(untagged)]
enum EnvelopesBody {
    List(Vec<KeyEnvelope>),
    Object(KeyEnvelopes),
}

/// `POST /v1/workspaces/{ws}/key-envelopes` (admin) → 204. All or nothing:
/// every named device must be enrolled (404) and not revoked (409).
pub async fn post(
    State(app): State<App>,
    PathParams(ws): PathParams<String>,
    Signed(authed): Signed<{ ENVELOPES_BODY }>,
) -> Result<Response, ApiError> {
    authed.require_admin()?;
    let mut envelopes = match extract::json::<EnvelopesBody>(&authed.body).map_err(|_| {
        ApiError::bad_request("malformed JSON body: expected a list of key envelopes")
    })? {
        EnvelopesBody::List(list) => list,
        EnvelopesBody::Object(obj) => obj.envelopes,
    };
    check_count(envelopes.len(), MAX_ENVELOPES, "key envelopes per request")?;
    for env in &mut envelopes {
        check_id(&env.device_id, "device_id")?;
        check_len_range(&env.wrapped, 1, 4096, "wrapped")?;
        check_len(&env.signature, 64, "signature")?;
        if env.from_device.is_empty() {
            env.from_device = authed.device_id.clone();
        } else if env.from_device != authed.device_id {
            return Err(ApiError::bad_request(
                "from_device must be the signing device",
            ));
        }
    }
    app.store.put_key_envelopes(&ws, envelopes).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/workspaces/{ws}/key-envelopes` → the calling device's envelopes.
pub async fn get(
    State(app): State<App>,
    PathParams(ws): PathParams<String>,
    Signed(authed): Signed,
) -> Result<Response, ApiError> {
    let envelopes = app.store.key_envelopes(&ws, &authed.device_id).await?;
    Ok(json(StatusCode::OK, &KeyEnvelopes { envelopes }))
}
