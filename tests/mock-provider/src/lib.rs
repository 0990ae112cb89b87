//! Loopback mock of LLM providers that speaks their real wire formats.
//!
//! One listener serves OpenAI Chat Completions (`/v1/chat/completions`, `/v1/models`,
//! `/v1/moderations`),
//! Anthropic Messages (`/v1/messages`), Cohere Chat v2 (`/v2/chat`), Azure OpenAI
//! (`/openai/deployments/{d}/chat/completions?api-version=…`, `/openai/v1/chat/completions`)
//! and Gemini `generateContent` on AI Studio (`/v1beta/models/{model}:…`) and Vertex AI
//! (`/v1/projects/…/publishers/google/models/…`), and Bedrock Converse
//! (`/model/{id}/converse`, `/model/{id}/converse-stream`, SigV4-verified). It backs the end-to-end tests, the
//! `make run` demo and the benchmark, so the hot path stays cheap: no logging, no sleeps
//! unless a request asks for them, and the request journal is one short mutex push.
//!
//! Replies are deterministic. What to answer is planned once, format-neutrally, in
//! [`reply`]; the format modules only decode requests and encode that plan.
//! Tests program faults per request with `x-mock-*` headers ([`control`]) and inspect
//! what reached the upstream through `GET /__mock/requests` ([`journal`]).

mod anthropic;
mod azure;
mod bedrock;
mod cohere;
mod completion;
mod control;
mod embeddings;
mod error;
mod eventstream;
mod gemini;
mod ids;
mod journal;
mod moderations;
mod openai;
mod prompt;
mod reply;
mod sigv4;
mod sse;

use std::future::Future;
use std::io;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;

use crate::anthropic::Anthropic;
use crate::cohere::Cohere;
use crate::error::ApiError;
use crate::gemini::Gemini;
use crate::journal::Journal;
use crate::openai::OpenAi;

pub use crate::bedrock::BedrockAuth;
pub use crate::sigv4::Credentials as AwsCredentials;

/// Largest request body accepted; generous so guardrail tests can send big prompts.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The credential each provider format expects. `None` accepts any non-empty key, which
/// keeps ad-hoc runs easy; a missing credential header is always rejected.
#[derive(Debug, Clone, Default)]
pub struct ExpectedKeys {
    pub openai: Option<String>,
    pub anthropic: Option<String>,
    pub cohere: Option<String>,
    pub azure: Option<String>,
    /// AI Studio's `x-goog-api-key`.
    pub gemini: Option<String>,
    /// Vertex AI's OAuth access token (`Authorization: Bearer`).
    pub vertex: Option<String>,
    pub bedrock: BedrockAuth,
}

/// All routes of the mock, ready to serve.
pub fn router(keys: ExpectedKeys) -> Router {
    let journal = Arc::new(Journal::default());
    Router::new()
        .route("/v1/chat/completions", post(completion::complete::<OpenAi>))
        .route("/v1/models", get(openai::list_models))
        .route("/v1/embeddings", post(embeddings::embed))
        .route("/v1/moderations", post(moderations::moderate))
        .route("/v1/messages", post(completion::complete::<Anthropic>))
        .route("/v2/chat", post(completion::complete::<Cohere>))
        .route("/v2/embed", post(embeddings::cohere_embed))
        .route(
            "/openai/deployments/{deployment}/chat/completions",
            post(azure::deployment_chat),
        )
        .route("/openai/v1/chat/completions", post(azure::v1_chat))
        .route("/v1beta/models/{call}", post(gemini::ai_studio))
        .route(
            "/v1/projects/{project}/locations/{location}/publishers/google/models/{call}",
            post(gemini::vertex),
        )
        .route("/model/{model}/{action}", post(bedrock::converse))
        .with_state(Arc::new(keys))
        .merge(journal::routes(journal.clone()))
        .route("/__mock/health", get(|| async { "ok" }))
        .fallback(unknown_route)
        .layer(axum::middleware::from_fn(control::faults))
        .layer(axum::middleware::from_fn_with_state(
            journal,
            journal::record,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// Serves the mock on `listener` (HTTP/1.1) until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    keys: ExpectedKeys,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // Streams are many small writes; with Nagle on, each waits for the client's delayed
    // ACK (~40 ms). Failing to set it only costs latency, so it is not an error.
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, router(keys))
        .with_graceful_shutdown(shutdown)
        .await
}

/// 404 in the caller's dialect: Anthropic clients always send `anthropic-version`, Google
/// clients call Google-shaped paths.
async fn unknown_route(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let error = ApiError::not_found(format!("Invalid URL ({method} {})", uri.path()));
    if headers.contains_key(anthropic::VERSION_HEADER) {
        completion::error_response::<Anthropic>(&error)
    } else if gemini::is_google_call(&uri, &headers) {
        completion::error_response::<Gemini>(&error)
    } else {
        completion::error_response::<OpenAi>(&error)
    }
}
