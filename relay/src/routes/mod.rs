//! One module per resource of `docs/protocol.md`.
pub mod blobs;
pub mod devices;
pub mod enroll;
pub mod entries;
pub mod key_envelopes;
pub mod revocation;
pub mod workspaces;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// A JSON response with a status.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, Json(value)).into_response()
}
