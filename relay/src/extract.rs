//! Request plumbing shared by the routes: path and query parameters, bodies
//! with a per-route size limit, JSON, and input validation. Every failure is
//! an [`ApiError`] (never axum's plain-text rejections).
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::header::CONTENT_LENGTH;
use axum::http::request::Parts;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Small JSON bodies (workspace creation, codes, enrollment, control requests).
pub const SMALL_BODY: usize = 64 * 1024;
/// Key envelopes: up to 1,000 per request.
pub const ENVELOPES_BODY: usize = 1024 * 1024;
/// Longest accepted workspace or device id.
pub const MAX_ID_LEN: usize = 64;

/// `Path<T>` whose rejection is a JSON 400.
pub struct PathParams<T>(pub T);

impl<S, T> FromRequestParts<S> for PathParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| PathParams(value))
            .map_err(|e| ApiError::bad_request(format!("invalid path: {}", e.body_text())))
    }
}

pub fn query<T: DeserializeOwned>(uri: &axum::http::Uri) -> Result<T, ApiError> {
    Query::<T>::try_from_uri(uri)
        .map(|Query(value)| value)
        .map_err(|e| ApiError::bad_request(format!("invalid query: {}", e.body_text())))
}

fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("the request body exceeds {limit} bytes"))
}

/// Oversized bodies up to this size are read and discarded before the 413 is
/// sent, so the client (still writing) sees the answer instead of a reset
/// connection; larger ones are cut off (the outer body limit layer).
pub const DRAIN_LIMIT: usize = 2 * fieldvault::sync::wire::MAX_ENTRIES_BODY;

fn is_length_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Reads and discards up to `budget` more bytes.
async fn drain(mut body: Body, budget: usize) {
    let mut seen = 0usize;
    while seen <= budget {
        match body.frame().await {
            Some(Ok(frame)) => seen += frame.data_ref().map(|d| d.len()).unwrap_or(0),
            _ => return,
        }
    }
}

fn declared_length(parts: &Parts) -> Result<Option<u64>, ApiError> {
    match parts.headers.get(CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("invalid Content-Length")),
    }
}

/// Refuses (413) a body whose `Content-Length` exceeds `limit`, before any
/// of it is read (a small excess is drained so the connection can be
/// reused); otherwise hands the body back unread, with its declared length.
pub async fn refuse_declared_excess(
    parts: &Parts,
    body: Body,
    limit: usize,
) -> Result<(Body, Option<u64>), ApiError> {
    match declared_length(parts)? {
        Some(len) if len > limit as u64 => {
            if len <= DRAIN_LIMIT as u64 {
                drain(body, DRAIN_LIMIT).await;
            }
            Err(too_large(limit))
        }
        declared => Ok((body, declared)),
    }
}

/// Reads the whole body, refusing (413) more than `limit` bytes — up front from
/// `Content-Length`, or while reading a chunked body.
pub async fn read_body(parts: &Parts, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let (body, declared) = refuse_declared_excess(parts, body, limit).await?;
    read_checked_body(body, declared, limit).await
}

/// Reads a body that [`refuse_declared_excess`] already let through (with
/// its declared length), refusing (413) a chunked one past `limit`.
pub async fn read_checked_body(
    mut body: Body,
    declared: Option<u64>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let capacity = declared.map(|l| l as usize).unwrap_or(0).min(limit);
    let mut buf: Vec<u8> = Vec::with_capacity(capacity);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            let inner = e.into_inner();
            if is_length_limit(inner.as_ref()) {
                too_large(limit)
            } else {
                ApiError::bad_request("the request body could not be read")
            }
        })?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                drain(body, DRAIN_LIMIT.saturating_sub(buf.len())).await;
                return Err(too_large(limit));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
}

/// Workspace and device ids: 1–64 characters of `[A-Za-z0-9_-]` (UUIDs fit).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn check_id(id: &str, what: &str) -> Result<(), ApiError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{what} must be 1-{MAX_ID_LEN} characters of A-Z a-z 0-9 - _"
        )))
    }
}

pub fn check_len(bytes: &[u8], len: usize, what: &str) -> Result<(), ApiError> {
    if bytes.len() == len {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("{what} must be {len} bytes")))
    }
}

/// A list of `count` items where at most `max` are allowed → 413
/// "at most {max} {what}" (`what`: "chunks per batch").
pub fn check_count(count: usize, max: usize, what: &str) -> Result<(), ApiError> {
    if count <= max {
        Ok(())
    } else {
        Err(ApiError::PayloadTooLarge(format!("at most {max} {what}")))
    }
}

pub fn check_len_range(bytes: &[u8], min: usize, max: usize, what: &str) -> Result<(), ApiError> {
    if (min..=max).contains(&bytes.len()) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{what} must be {min}-{max} bytes"
        )))
    }
}

pub fn check_text(text: &str, max: usize, what: &str) -> Result<(), ApiError> {
    if text.len() <= max && !text.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{what} must be at most {max} bytes without control characters"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(valid_id("3f2b7c1e-0d4a-4c1b-9b7e-0a1b2c3d4e5f"));
        assert!(!valid_id(""));
        assert!(!valid_id("a/b"));
        assert!(!valid_id(&"a".repeat(65)));
    }
}
