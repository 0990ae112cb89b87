//! The admin REST API for MCP tool pins: the pins of a server's tools, with the definition
//! each server was last seen listing when it is not the pinned one, and the approval of
//! that definition. Guarded by the admin credentials, like the key API.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::registry::{PinError, PinRegistry, ToolView};
use crate::keys::api::{answer, authenticate, internal_error, respond, Admin, Refusal};
use crate::service::Routes;

pub const TOOLS_PATH: &str = "/v1/admin/mcp/{server}/tools";
pub const APPROVE_PATH: &str = "/v1/admin/mcp/{server}/tools/{tool}/approve";

#[derive(Clone)]
struct PinState {
    registry: Arc<PinRegistry>,
    admins: Arc<Vec<Admin>>,
}

pub fn routes(registry: Arc<PinRegistry>, admins: Vec<Admin>) -> Routes {
    let state = PinState {
        registry,
        admins: Arc::new(admins),
    };
    Routes::default()
        .route(TOOLS_PATH, get(list).with_state(state.clone()))
        .route(APPROVE_PATH, post(approve).with_state(state))
}

/// `GET /v1/admin/mcp/{server}/tools`.
#[derive(Debug, Serialize)]
pub struct ToolList<'a> {
    pub server: String,
    pub tools: &'a [ToolView],
}

/// `POST …/approve`: the definition approved, as the tool list shows it (`seen_sha256`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    pub sha256: String,
}

fn pin_error(e: &PinError) -> Refusal {
    let status = match e {
        PinError::UnknownServer(_) | PinError::NotPinned { .. } => StatusCode::NOT_FOUND,
        PinError::ConfigPin { .. } | PinError::Stale { .. } => StatusCode::CONFLICT,
        PinError::Store(_) | PinError::Audit(_) => {
            eprintln!("tollgate service: {e}");
            let message = "the pin store or audit log failed; nothing was changed, retry later";
            return Refusal(StatusCode::SERVICE_UNAVAILABLE, message.into());
        }
    };
    Refusal(status, e.to_string())
}

impl PinState {
    /// Runs a registry operation off the async threads (the store blocks).
    async fn run<T: Send + 'static>(
        &self,
        operation: impl FnOnce(&PinRegistry) -> Result<T, PinError> + Send + 'static,
    ) -> Result<T, Refusal> {
        let registry = Arc::clone(&self.registry);
        match tokio::task::spawn_blocking(move || operation(&registry)).await {
            Ok(outcome) => outcome.map_err(|e| pin_error(&e)),
            Err(e) => {
                eprintln!("tollgate service: pin task failed: {e}");
                Err(internal_error())
            }
        }
    }
}

fn listed(server: String, tools: &[ToolView]) -> Response {
    answer(StatusCode::OK, &ToolList { server, tools })
}

async fn list(
    State(state): State<PinState>,
    headers: HeaderMap,
    Path(server): Path<String>,
) -> Response {
    respond(
        async {
            authenticate(&state.admins, &headers)?;
            let name = server.clone();
            let tools = state.run(move |registry| registry.list(&name)).await?;
            Ok(listed(server, &tools))
        }
        .await,
    )
}

async fn approve(
    State(state): State<PinState>,
    headers: HeaderMap,
    Path((server, tool)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    respond(
        async {
            let actor = authenticate(&state.admins, &headers)?;
            let body: ApproveBody = serde_json::from_slice(&body).map_err(|e| {
                Refusal(
                    StatusCode::BAD_REQUEST,
                    format!("the body is not valid: {e}; send {{\"sha256\": \"<seen_sha256>\"}}"),
                )
            })?;
            let view = state
                .run(move |registry| registry.approve(&actor, &server, &tool, &body.sha256))
                .await?;
            Ok(answer(StatusCode::OK, &view))
        }
        .await,
    )
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
