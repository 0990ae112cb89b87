//! The Tollgate service: an HTTP API beside Envoy. Today it ingests the usage batches the
//! gateway filter ships (`POST /v1/usage/records`), hands them to the configured exports,
//! answers usage reports (`GET /v1/usage`) and reports how the exports fare
//! (`GET /v1/exports`). It listens on loopback unless configured otherwise, and every
//! request must carry the ingest key, so other local processes can neither write nor
//! read usage.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tollgate_core::keys::digest;
use tollgate_core::usage_outbox::{INGEST_KEY_HEADER, INGEST_PATH, MAX_BATCH_BYTES};

use crate::export::Exports;
use crate::usage::ingest::parse_batch;
use crate::usage::report::Format;
use crate::usage::store::{StoreError, UsageStore};
use crate::usage::ReportRequest;

/// Path of usage reports.
pub const REPORT_PATH: &str = "/v1/usage";
/// Path of the export counters.
pub const EXPORTS_PATH: &str = "/v1/exports";

type SharedStore = Arc<Mutex<Box<dyn UsageStore>>>;

#[derive(Clone)]
struct AppState {
    store: SharedStore,
    ingest_digest: [u8; 32],
    exports: Arc<Exports>,
}

/// The service's routes over `store`, guarded by `ingest_key`; stored records go on to
/// `exports`.
pub fn router(store: Box<dyn UsageStore>, ingest_key: &str, exports: Exports) -> Router {
    let state = AppState {
        store: Arc::new(Mutex::new(store)),
        ingest_digest: digest(ingest_key),
        exports: Arc::new(exports),
    };
    Router::new()
        .route(INGEST_PATH, post(ingest))
        .route(REPORT_PATH, get(report))
        .route(EXPORTS_PATH, get(export_stats))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BATCH_BYTES))
        .with_state(state)
}

/// Serves `router` on an already bound listener until `shutdown` completes.
pub async fn serve(
    listener: std::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds the service's address (before Envoy starts, so a taken port fails early).
pub fn bind(listen: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    std::net::TcpListener::bind(listen)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": {"message": message}}))).into_response()
}

fn authorised(state: &AppState, headers: &HeaderMap) -> bool {
    headers
        .get(INGEST_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        // Digests compared, so the time taken says nothing about the key itself.
        .is_some_and(|key| digest(key) == state.ingest_digest)
}

/// Runs a store operation off the async threads (SQLite blocks).
async fn with_store<T: Send + 'static>(
    state: &AppState,
    operation: impl FnOnce(&mut dyn UsageStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Response> {
    let store = Arc::clone(&state.store);
    let outcome = tokio::task::spawn_blocking(move || {
        let mut store = store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        operation(store.as_mut())
    })
    .await;
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            eprintln!("tollgate service: {e}");
            Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the usage store failed; retry later",
            ))
        }
        Err(e) => {
            eprintln!("tollgate service: store task failed: {e}");
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
        }
    }
}

async fn ingest(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    if !authorised(&state, &headers) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong ingest key");
    }
    let batch = parse_batch(&body);
    if batch.rejected > 0 {
        eprintln!(
            "tollgate service: {} line(s) of a usage batch are not usage records",
            batch.rejected
        );
    }
    let received = batch.records.len();
    let records = batch.records;
    let stored = with_store(&state, move |store| {
        store.insert(&records).map(|stored| (stored, records))
    })
    .await;
    match stored {
        Ok((stored, records)) => {
            // Only once stored: a batch the store refused comes back from Envoy.
            state.exports.offer(records.iter().map(|r| r.json.as_str()));
            Json(json!({
                "received": received,
                "stored": stored,
                "duplicates": received - stored,
                "rejected": batch.rejected,
            }))
            .into_response()
        }
        Err(response) => response,
    }
}

async fn export_stats(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !authorised(&state, &headers) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong ingest key");
    }
    Json(json!({"exports": state.exports.stats()})).into_response()
}

#[derive(Debug, Deserialize)]
struct ReportParams {
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
    format: Option<String>,
}

async fn report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<ReportParams>,
) -> Response {
    if !authorised(&state, &headers) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong ingest key");
    }
    let request = match ReportRequest::parse(
        params.from.as_deref(),
        params.to.as_deref(),
        params.group_by.as_deref(),
        params.format.as_deref(),
    ) {
        Ok(request) => request,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let content_type = match request.format {
        Format::Json => "application/json",
        Format::Csv => "text/csv; charset=utf-8",
    };
    match with_store(&state, move |store| request.run(store)).await {
        Ok(body) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(response) => response,
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
