//! The device list (admin).
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::json;
use crate::auth::{self, RevokedDevices};
use crate::error::ApiError;
use crate::extract::{PathParams, SMALL_BODY};
use crate::server::App;

/// `GET /v1/workspaces/{ws}/devices` (admin) → `wire::DeviceList`.
pub async fn list(
    State(app): State<App>,
    PathParams(ws): PathParams<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let authed = auth::signed(&app, &ws, &parts, body, SMALL_BODY, RevokedDevices::Refuse).await?;
    authed.require_admin()?;
    Ok(json(StatusCode::OK, &app.store.list_devices(&ws).await?))
}
