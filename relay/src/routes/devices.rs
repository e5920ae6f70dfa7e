//! The device list (admin).
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::json;
use crate::auth::Signed;
use crate::error::ApiError;
use crate::extract::PathParams;
use crate::server::App;

/// `GET /v1/workspaces/{ws}/devices` (admin) → `wire::DeviceList`.
pub async fn list(
    State(app): State<App>,
    PathParams(ws): PathParams<String>,
    Signed(authed): Signed,
) -> Result<Response, ApiError> {
    authed.require_admin()?;
    Ok(json(StatusCode::OK, &app.store.list_devices(&ws).await?))
}
