//! The one error type of the relay. Every non-2xx response is a
//! [`wire::ErrorBody`] JSON document; the `error` codes are listed in
//! `docs/relay.md`.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fieldvault::sync::wire;

/// Error `code` sent to a revoked device (403): the device wipes itself.
pub const CODE_REVOKED: &str = "revoked";

/// `Retry-After` (seconds) sent with a `503 busy`.
pub const BUSY_RETRY_AFTER_S: &str = "5";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    /// A nonce this device already used inside the replay window.
    #[error("this request was already received (replayed nonce)")]
    Replayed,
    /// The device was revoked; it must wipe its workspace data.
    #[error("this device was revoked")]
    Revoked,
    /// An authenticated device lacks the role for this request.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// An enrollment code past its expiry.
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The relay holds as many request bodies as its memory budget allows
    /// (`body_budget`); the device retries after `Retry-After`.
    #[error("the relay is busy; retry in a few seconds")]
    Busy,
    /// A storage or runtime failure. The text is for the log only (it never
    /// contains request data) and is not sent to the client.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::BadRequest(msg.into())
    }

    pub fn unauthorized(msg: impl Into<String>) -> Self {
        Self::Unauthorized(msg.into())
    }

    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }

    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::Conflict(msg.into())
    }

    pub fn internal(msg: impl Into<String>) -> Self {
        Self::Internal(msg.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) | Self::Replayed => StatusCode::UNAUTHORIZED,
            Self::Revoked | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Replayed => "replayed",
            Self::Revoked => CODE_REVOKED,
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Gone(_) => "expired",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Busy => "busy",
            Self::Internal(_) => "internal",
        }
    }

    pub fn body(&self) -> wire::ErrorBody {
        wire::ErrorBody {
            error: self.code().to_owned(),
            message: self.to_string(),
        }
    }
}

/// Builds a JSON error response.
pub fn error_response(status: StatusCode, body: &wire::ErrorBody) -> Response {
    let bytes = serde_json::to_vec(body)
        .unwrap_or_else(|_| b"{\"error\":\"internal\",\"message\":\"internal error\"}".to_vec());
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            // `detail` is built by the relay from error kinds, never from request data.
            tracing::error!(detail = %detail, "request failed");
        }
        let mut resp = error_response(self.status(), &self.body());
        if matches!(self, Self::Busy) {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(BUSY_RETRY_AFTER_S),
            );
        }
        resp
    }
}

/// The error body for a response produced outside the handlers (routing,
/// body-limit and timeout layers), keyed by its status.
pub fn body_for_status(status: StatusCode) -> wire::ErrorBody {
    let (code, message) = match status {
        StatusCode::BAD_REQUEST => ("bad_request", "the request is malformed"),
        StatusCode::UNAUTHORIZED => ("unauthorized", "authentication failed"),
        StatusCode::FORBIDDEN => ("forbidden", "forbidden"),
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => ("bad_request", "method not allowed on this route"),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long"),
        StatusCode::CONFLICT => ("conflict", "conflict"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("bad_request", "unsupported media type"),
        StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests"),
        s if s.is_server_error() => ("internal", "internal error"),
        _ => ("bad_request", "the request was refused"),
    };
    wire::ErrorBody {
        error: code.into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak_their_detail() {
        let e = ApiError::internal("sqlite: disk I/O error");
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.body().message, "internal error");
    }

    #[test]
    fn revoked_is_a_403_with_its_own_code() {
        assert_eq!(ApiError::Revoked.status(), StatusCode::FORBIDDEN);
        assert_eq!(ApiError::Revoked.body().error, "revoked");
        assert_eq!(ApiError::Replayed.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ApiError::Replayed.body().error, "replayed");
    }
}
