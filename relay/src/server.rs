//! The HTTP server: routes, body limit, request timeout, error bodies for
//! everything (including routing and layer errors), and request logs that
//! carry only method, route template, status, duration and sizes.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{MatchedPath, Request};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::body_budget::BodyBudget;
use crate::config::{Backend, RelayConfig, MIN_BODY_MEMORY, MIN_OPERATOR_TOKEN_LEN};
use crate::error::{body_for_status, error_response, ApiError};
use crate::routes;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{sha256, Store};

/// Shared by all requests of one relay process.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub operator_token_hash: Vec<u8>,
    pub body_budget: BodyBudget,
}

pub type App = Arc<AppState>;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("storage: {0}")]
    Storage(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Serve(String),
}

/// A relay serving in the background.
pub struct RunningRelay {
    local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningRelay {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets in-flight requests finish, and returns.
    pub async fn shutdown(mut self) -> Result<(), StartError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.wait().await
    }

    /// Waits until the server stops (after [`RunningRelay::shutdown`] or a failure).
    async fn wait(&mut self) -> Result<(), StartError> {
        match (&mut self.task).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StartError::Serve(e.to_string())),
            Err(e) => Err(StartError::Serve(e.to_string())),
        }
    }
}

/// Opens the storage (creating the schema), binds `config.listen` and serves
/// in a background task.
pub async fn start(config: RelayConfig) -> Result<RunningRelay, StartError> {
    let token = config.operator_token.trim();
    if token.len() < MIN_OPERATOR_TOKEN_LEN {
        return Err(StartError::Config(format!(
            "the operator token must be at least {MIN_OPERATOR_TOKEN_LEN} characters"
        )));
    }
    if config.max_body_memory < MIN_BODY_MEMORY {
        return Err(StartError::Config(format!(
            "the body memory budget must be at least {} MiB",
            MIN_BODY_MEMORY / (1024 * 1024)
        )));
    }
    let store: Arc<dyn Store> = match &config.backend {
        Backend::Sqlite(dir) => {
            Arc::new(SqliteStore::open(dir).map_err(|e| StartError::Storage(storage_detail(&e)))?)
        }
        Backend::Postgres(url) => Arc::new(
            PostgresStore::connect(url, config.postgres_pool_size)
                .await
                .map_err(|e| StartError::Storage(storage_detail(&e)))?,
        ),
    };
    let state = Arc::new(AppState {
        store,
        operator_token_hash: sha256(token.as_bytes()),
        body_budget: BodyBudget::new(config.max_body_memory, config.body_memory_wait),
    });
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let app = router(state, config.request_timeout);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(%local_addr, "relay listening");
    Ok(RunningRelay {
        local_addr,
        shutdown: Some(tx),
        task,
    })
}

fn storage_detail(e: &ApiError) -> String {
    match e {
        ApiError::Internal(detail) => detail.clone(),
        other => other.to_string(),
    }
}

/// All routes with their layers.
pub fn router(state: App, request_timeout: Duration) -> Router {
    let ws = "/v1/workspaces/{ws}";
    Router::new()
        .route("/healthz", get(routes::workspaces::health))
        .route("/v1/workspaces", post(routes::workspaces::create))
        .route(&format!("{ws}/status"), get(routes::workspaces::status))
        .route(&format!("{ws}/codes"), post(routes::enroll::issue_code))
        .route(&format!("{ws}/enroll"), post(routes::enroll::enroll))
        .route(&format!("{ws}/devices"), get(routes::devices::list))
        .route(
            &format!("{ws}/key-envelopes"),
            post(routes::key_envelopes::post).get(routes::key_envelopes::get),
        )
        .route(
            &format!("{ws}/entries"),
            post(routes::entries::push).get(routes::entries::pull),
        )
        .route(
            &format!("{ws}/blobs/{{blob_id}}"),
            get(routes::blobs::status),
        )
        .route(&format!("{ws}/blob-status"), post(routes::blobs::statuses))
        .route(&format!("{ws}/chunks"), post(routes::blobs::put_chunks))
        .route(
            &format!("{ws}/chunk-fetch"),
            post(routes::blobs::fetch_chunks),
        )
        .route(
            &format!("{ws}/blobs/{{blob_id}}/chunks/{{index}}"),
            put(routes::blobs::put_chunk).get(routes::blobs::get_chunk),
        )
        .route(
            &format!("{ws}/devices/{{device_id}}/revoke"),
            post(routes::revocation::revoke),
        )
        .route(
            &format!("{ws}/epochs"),
            post(routes::revocation::bump_epoch),
        )
        .route(
            &format!("{ws}/wipe-receipt"),
            post(routes::revocation::wipe_receipt),
        )
        .fallback(not_found)
        .with_state(state)
        // Innermost first: the body limit guards every route (the routes
        // apply their own, smaller limits, reading and discarding bodies up
        // to this one so the client sees the 413); then the timeout; then every
        // error response gets a JSON body; the trace layer logs the result.
        .layer(RequestBodyLimitLayer::new(crate::extract::DRAIN_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(axum::middleware::map_response(json_errors))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(make_span)
                .on_request(())
                .on_response(on_response)
                .on_body_chunk(())
                .on_eos(())
                .on_failure(()),
        )
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// Gives a [`wire::ErrorBody`] to error responses produced by layers or
/// routing (405, 408, 413, ...) that would otherwise have a text body.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    error_response(status, &body_for_status(status))
}

/// The request span: method and route template only — never the concrete
/// path (it holds blob ids derived from content) nor any header.
fn make_span(req: &Request<Body>) -> Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "<unmatched>".to_owned());
    let request_bytes = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    tracing::info_span!("request", method = %req.method(), route = %route, request_bytes)
}

fn on_response(resp: &Response<Body>, latency: Duration, _span: &Span) {
    let response_bytes = resp.body().size_hint().exact().unwrap_or(0);
    let status = resp.status().as_u16();
    let duration_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    if resp.status().is_server_error() {
        tracing::warn!(status, duration_ms, response_bytes, "request");
    } else {
        tracing::info!(status, duration_ms, response_bytes, "request");
    }
}
