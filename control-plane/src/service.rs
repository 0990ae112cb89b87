//! The Tollgate service: an HTTP API beside Envoy. It ingests the usage batches the
//! gateway filter ships (`POST /v1/usage/records`) and hands them to the configured exports
//! (counters at `GET /v1/exports`), answers usage reports (`GET /v1/usage`) and run
//! timelines (`GET /v1/runs…`), tells each Envoy what the others spent per budget
//! (`GET /v1/budgets/state`), manages virtual keys (`/v1/admin/keys…`, see
//! [`crate::keys::api`]) and describes itself (`GET /openapi.json`). It listens on
//! loopback unless configured otherwise; usage and budget requests must carry the ingest
//! key and admin requests an admin key, so other local processes can neither write nor read.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tollgate_core::budget::poll::{self, BudgetState};
use tollgate_core::budget::Budget;
use tollgate_core::keys::digest;
use tollgate_core::usage_outbox::{INGEST_KEY_HEADER, INGEST_PATH, MAX_BATCH_BYTES};

use crate::audit::mcp::ShippedEvent;
use crate::audit::AuditSink;
use crate::budgets;
use crate::export::Exports;
use crate::pins::registry::PinRegistry;
use crate::pins::PinEvent;
use crate::runs::{self, ListRequest};
use crate::usage::ingest::parse_batch;
use crate::usage::report::Format;
use crate::usage::store::{StoreError, UsageStore};
use crate::usage::ReportRequest;

/// Path of usage reports.
pub const REPORT_PATH: &str = "/v1/usage";
/// Path of the OpenAPI description of every route.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// The checked-in OpenAPI document (a test keeps it and the routes in step).
pub const OPENAPI: &str = include_str!("../openapi.json");
/// Path of run listings.
pub const RUNS_PATH: &str = "/v1/runs";
/// Path of one run's timeline.
pub const RUN_PATH: &str = "/v1/runs/{id}";
/// Path of the export counters.
pub const EXPORTS_PATH: &str = "/v1/exports";

/// A router that remembers its paths, so a test can hold them against the OpenAPI
/// document.
#[derive(Default)]
pub struct Routes {
    router: Router,
    paths: Vec<&'static str>,
}

impl Routes {
    pub fn route(mut self, path: &'static str, methods: MethodRouter) -> Self {
        self.router = self.router.route(path, methods);
        self.paths.push(path);
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }

    pub fn paths(&self) -> &[&'static str] {
        &self.paths
    }

    pub fn into_router(self) -> Router {
        self.router
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BATCH_BYTES))
    }
}

/// The usage store, shared by the routes and the budget alert loop.
pub type SharedStore = Arc<Mutex<Box<dyn UsageStore>>>;

pub fn shared(store: Box<dyn UsageStore>) -> SharedStore {
    Arc::new(Mutex::new(store))
}

#[derive(Clone)]
struct AppState {
    store: SharedStore,
    ingest_digest: [u8; 32],
    budgets: Arc<[Budget]>,
    exports: Arc<Exports>,
    /// Where events shipped beside usage records go (MCP tool changes).
    audit: Arc<dyn AuditSink>,
    /// Where shipped MCP tool pins go; without it they are dropped.
    pins: Option<Arc<PinRegistry>>,
}

/// The usage, run and budget routes over `store`, guarded by `ingest_key`, and the OpenAPI
/// document; `budgets` are those the Envoys enforce, stored records go on to `exports`,
/// shipped audit events to `audit` and shipped MCP tool pins to `pins`.
pub fn routes(
    store: SharedStore,
    ingest_key: &str,
    budgets: Vec<Budget>,
    exports: Exports,
    audit: Arc<dyn AuditSink>,
    pins: Option<Arc<PinRegistry>>,
) -> Routes {
    let state = AppState {
        store,
        ingest_digest: digest(ingest_key),
        budgets: budgets.into(),
        exports: Arc::new(exports),
        audit,
        pins,
    };
    Routes::default()
        .route(INGEST_PATH, post(ingest).with_state(state.clone()))
        .route(REPORT_PATH, get(report).with_state(state.clone()))
        .route(
            poll::STATE_PATH,
            get(budget_state).with_state(state.clone()),
        )
        .route(RUNS_PATH, get(list_runs).with_state(state.clone()))
        .route(RUN_PATH, get(show_run).with_state(state.clone()))
        .route(EXPORTS_PATH, get(export_stats).with_state(state))
        .route(OPENAPI_PATH, get(openapi))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
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

/// The service's error answer: `{"error": {"message": …}}`.
pub fn error(status: StatusCode, message: &str) -> Response {
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
    blocking("the usage store", move || {
        let mut store = store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        operation(store.as_mut())
    })
    .await
}

/// Runs blocking `work` off the async threads; its failure is a 503 naming `what`.
async fn blocking<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            eprintln!("tollgate service: {e}");
            Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("{what} failed; retry later"),
            ))
        }
        Err(e) => {
            eprintln!("tollgate service: {what} task failed: {e}");
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
    let (stored, records) = match stored {
        Ok(stored) => stored,
        Err(response) => return response,
    };
    // After the usage records: if the audit log fails, Envoy resends the batch, and both
    // the store and the log keep one of each.
    let audited = match audit_shipped(&state, batch.audit).await {
        Ok(audited) => audited,
        Err(response) => return response,
    };
    let pinned = match pin_shipped(&state, batch.pins).await {
        Ok(pinned) => pinned,
        Err(response) => return response,
    };
    // Only once stored: a batch the store refused comes back from Envoy.
    state.exports.offer(records.iter().map(|r| r.json.as_str()));
    Json(json!({
        "received": received,
        "stored": stored,
        "duplicates": received - stored,
        "rejected": batch.rejected,
        "audited": audited,
        "pinned": pinned,
    }))
    .into_response()
}

/// Logs the shipped events not logged before (off the async threads: the log blocks);
/// returns how many were new.
async fn audit_shipped(state: &AppState, events: Vec<ShippedEvent>) -> Result<usize, Response> {
    if events.is_empty() {
        return Ok(0);
    }
    let audit = Arc::clone(&state.audit);
    blocking("the audit log", move || {
        events.into_iter().try_fold(0, |new, shipped| {
            let fresh = audit.record_once(&shipped.source, shipped.event)?;
            Ok::<_, crate::audit::AuditError>(new + usize::from(fresh))
        })
    })
    .await
}

/// Stores the shipped pins (off the async threads: the store blocks); returns how many
/// tools got a pin.
async fn pin_shipped(state: &AppState, events: Vec<PinEvent>) -> Result<usize, Response> {
    let Some(pins) = state.pins.as_ref().filter(|_| !events.is_empty()) else {
        return Ok(0);
    };
    let pins = Arc::clone(pins);
    blocking("the MCP pin store", move || pins.ingest(&events)).await
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

#[derive(Debug, Deserialize)]
struct StateParams {
    exclude_instance: Option<String>,
}

/// What every budget's scope spent in its current period, leaving out the asking Envoy's
/// own records (it counts those itself).
async fn budget_state(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<StateParams>,
) -> Response {
    if !authorised(&state, &headers) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong ingest key");
    }
    let budgets = Arc::clone(&state.budgets);
    let now = budgets::now_ms();
    let outcome = with_store(&state, move |store| {
        let exclude = params.exclude_instance.as_deref();
        let spent = budgets
            .iter()
            .map(|b| budgets::spend(store, b, now, exclude));
        Ok(BudgetState {
            budgets: spent.collect::<Result<_, _>>()?,
        })
    })
    .await;
    match outcome {
        Ok(body) => Json(body).into_response(),
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
struct RunsParams {
    agent: Option<String>,
    key: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

async fn list_runs(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<RunsParams>,
) -> Response {
    if !authorised(&state, &headers) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong ingest key");
    }
    let request = match ListRequest::parse(
        params.agent.as_deref(),
        params.key.as_deref(),
        params.from.as_deref(),
        params.to.as_deref(),
    ) {
        Ok(request) => request,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    match with_store(&state, move |store| request.run(store)).await {
        Ok(list) => Json(list).into_response(),
        Err(response) => response,
    }
}

async fn show_run(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorised(&state, &headers) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong ingest key");
    }
    match with_store(&state, move |store| runs::show(store, &id)).await {
        Ok(Some(run)) => Json(run).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no step of this run is stored"),
        Err(response) => response,
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod openapi_tests;
