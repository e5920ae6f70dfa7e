//! Workspace creation (operator token), workspace status, health.
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use fieldvault::sync::wire::{self, CreateWorkspace};

use super::json;
use crate::auth::{self, now_ms, Signed};
use crate::error::ApiError;
use crate::extract::{self, check_id, check_len, check_text, PathParams, SMALL_BODY};
use crate::messages::{Health, WorkspaceCreated};
use crate::server::App;
use crate::store::NewWorkspace;

/// Longest accepted lease (one year).
pub const MAX_LEASE_HOURS: u32 = 24 * 366;

/// `GET /healthz`: 200 when the database answers (for load balancers).
pub async fn health(State(app): State<App>) -> Result<Response, ApiError> {
    app.store.ping().await?;
    Ok(json(StatusCode::OK, &Health { ok: true }))
}

/// Checks a device's public keys as sent by a client.
pub fn check_device_keys(keys: &wire::DeviceKeys) -> Result<(), ApiError> {
    check_id(&keys.device_id, "device_id")?;
    check_len(&keys.signing_public, 32, "signing_public")?;
    check_len(&keys.agreement_public, 32, "agreement_public")
}

/// `POST /v1/workspaces` (operator token) → 201 `{"workspace_id"}`.
pub async fn create(State(app): State<App>, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    auth::check_operator(&app, &parts.headers)?;
    let bytes = extract::read_body(&parts, body, SMALL_BODY).await?;
    let create: CreateWorkspace = extract::json(&bytes)?;
    check_id(&create.workspace_id, "workspace_id")?;
    check_device_keys(&create.admin)?;
    check_text(&create.app_version, 64, "app_version")?;
    if !(1..=MAX_LEASE_HOURS).contains(&create.lease_hours) {
        return Err(ApiError::bad_request(format!(
            "lease_hours must be 1-{MAX_LEASE_HOURS}"
        )));
    }
    let workspace_id = create.workspace_id.clone();
    app.store
        .create_workspace(NewWorkspace {
            workspace_id: create.workspace_id,
            admin: create.admin,
            lease_hours: create.lease_hours,
            app_version: create.app_version,
            now_ms: now_ms(),
        })
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &WorkspaceCreated { workspace_id },
    ))
}

/// `GET /v1/workspaces/{ws}/status` (any unrevoked member).
pub async fn status(
    State(app): State<App>,
    PathParams(ws): PathParams<String>,
    _signed: Signed,
) -> Result<Response, ApiError> {
    let (current_epoch, lease_hours) = app.store.workspace_status(&ws).await?;
    Ok(json(
        StatusCode::OK,
        &wire::WorkspaceStatus {
            current_epoch,
            lease_hours,
            revoked: false,
        },
    ))
}
