//! Azure OpenAI: the OpenAI format at Azure's addresses, with Azure's quirks.
//!
//! - `POST /openai/deployments/{deployment}/chat/completions?api-version=…` (classic; the
//!   body's `model` is optional, a missing `api-version` is a 404 "Resource not found") and
//!   `POST /openai/v1/chat/completions` (the v1 API; the deployment is the body's `model`).
//! - The key comes in `api-key`, never `Authorization`; errors about it, unknown routes and
//!   rate limits use Azure's own `{"error": {"code": "<status>", "message"}}` body, and
//!   429s carry `retry-after-ms` and `x-ms-retry-after-ms` besides `retry-after`.
//! - Responses carry `prompt_filter_results` and per-choice `content_filter_results`;
//!   streams open with a chunk that has empty `choices`, an empty id and model and only
//!   the prompt filter results, as reported by SDK users (e.g. microsoft/autogen#6465).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use crate::completion::{self, error_response, is_expected_key, WireFormat};
use crate::error::{ApiError, ErrorKind};
use crate::openai::{self, ChatRequest, OpenAi};
use crate::prompt::Prompt;
use crate::reply::Reply;
use crate::sse::Event;
use crate::ExpectedKeys;

const API_KEY_HEADER: &str = "api-key";
const API_VERSION: &str = "api-version";

pub struct AzureOpenAi;

impl WireFormat for AzureOpenAi {
    const NAME: &'static str = "azure";
    type Request = ChatRequest;

    fn expected_key(keys: &ExpectedKeys) -> Option<&str> {
        keys.azure.as_deref()
    }

    fn authorize(headers: &HeaderMap, expected_key: Option<&str>) -> Result<(), ApiError> {
        let presented = headers
            .get(API_KEY_HEADER)
            .and_then(|value| value.to_str().ok())
            .map_or("", str::trim);
        if presented.is_empty() {
            return Err(ApiError::authentication(
                "Access denied due to missing subscription key. Make sure to include \
                 subscription key when making requests to an API.",
            ));
        }
        if !is_expected_key(presented, expected_key) {
            return Err(ApiError::authentication(
                "Access denied due to invalid subscription key or wrong API endpoint. Make \
                 sure to provide a valid key for an active subscription and use a correct \
                 regional API endpoint for your resource.",
            ));
        }
        Ok(())
    }

    /// The deployment route does not need `model`; the v1 route checks it itself.
    fn prompt(request: &ChatRequest) -> Result<Prompt<'_>, ApiError> {
        openai::prompt_of(request)
    }

    fn undecodable(error: serde_json::Error) -> ApiError {
        ApiError::invalid_request(format!("Invalid request body: {error}"))
    }

    fn message(request: &ChatRequest, reply: &Reply) -> String {
        let mut body = openai::completion(request, reply);
        body["prompt_filter_results"] = prompt_filter_results();
        annotate_choices(&mut body);
        body.to_string()
    }

    fn stream(request: &ChatRequest, reply: &Reply) -> Vec<Event> {
        let mut chunks = openai::stream_chunks(request, reply);
        for chunk in &mut chunks {
            annotate_choices(&mut chunk.json);
        }
        let preamble = json!({"choices": [], "created": 0, "id": "", "model": "", "object": "",
            "prompt_filter_results": prompt_filter_results()});
        chunks.insert(
            0,
            openai::Chunk {
                json: preamble,
                content: false,
            },
        );
        openai::events(chunks)
    }

    fn stream_error() -> Event {
        OpenAi::stream_error()
    }

    fn error_body(error: &ApiError) -> String {
        match error.kind {
            ErrorKind::Authentication | ErrorKind::NotFound | ErrorKind::RateLimited => {
                let code = error.status.as_u16().to_string();
                json!({"error": {"code": code, "message": error.message}}).to_string()
            }
            _ => openai::error_object(error).to_string(),
        }
    }

    fn retry_headers() -> &'static [(&'static str, &'static str)] {
        &[
            ("retry-after", "1"),
            ("retry-after-ms", "1000"),
            ("x-ms-retry-after-ms", "1000"),
        ]
    }
}

/// `POST /openai/deployments/{deployment}/chat/completions?api-version=…`.
pub async fn deployment_chat(
    state: State<Arc<ExpectedKeys>>,
    Path(_deployment): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if query.get(API_VERSION).is_none_or(|v| v.is_empty()) {
        return error_response::<AzureOpenAi>(&ApiError::not_found("Resource not found"));
    }
    completion::complete::<AzureOpenAi>(state, headers, body).await
}

/// `POST /openai/v1/chat/completions`: like OpenAI, the deployment is the body's `model`.
pub async fn v1_chat(state: State<Arc<ExpectedKeys>>, headers: HeaderMap, body: Bytes) -> Response {
    let has_model = serde_json::from_slice::<Value>(&body)
        .ok()
        .is_some_and(|body| body.get("model").is_some_and(Value::is_string));
    if !has_model {
        let error = ApiError::invalid_request("Missing required parameter: 'model'.")
            .with_param("model")
            .with_code("missing_required_parameter");
        return error_response::<AzureOpenAi>(&error);
    }
    completion::complete::<AzureOpenAi>(state, headers, body).await
}

fn prompt_filter_results() -> Value {
    json!([{"prompt_index": 0, "content_filter_results": {
        "hate": {"filtered": false, "severity": "safe"},
        "jailbreak": {"filtered": false, "detected": false},
        "self_harm": {"filtered": false, "severity": "safe"},
        "sexual": {"filtered": false, "severity": "safe"},
        "violence": {"filtered": false, "severity": "safe"},
    }}])
}

/// Azure annotates every choice: with the four category verdicts, or `{}` on the role
/// and finish chunks.
fn annotate_choices(body: &mut Value) {
    let Some(choices) = body.get_mut("choices").and_then(Value::as_array_mut) else {
        return;
    };
    for choice in choices {
        let carries_content = choice
            .pointer("/delta/content")
            .or_else(|| choice.pointer("/message/content"))
            .is_some_and(|c| c.as_str().is_some_and(|t| !t.is_empty()));
        choice["content_filter_results"] = if carries_content {
            json!({
                "hate": {"filtered": false, "severity": "safe"},
                "self_harm": {"filtered": false, "severity": "safe"},
                "sexual": {"filtered": false, "severity": "safe"},
                "violence": {"filtered": false, "severity": "safe"},
            })
        } else {
            json!({})
        };
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn choices_with_text_get_verdicts() {
        let mut body = json!({"choices": [
            {"index": 0, "delta": {"content": "hi"}},
            {"index": 1, "delta": {}},
        ]});
        annotate_choices(&mut body);
        assert_eq!(
            body["choices"][0]["content_filter_results"]["hate"]["severity"],
            "safe"
        );
        assert_eq!(body["choices"][1]["content_filter_results"], json!({}));
    }

    #[test]
    fn auth_errors_use_azure_codes() {
        let error = ApiError::authentication("Access denied");
        let body: Value = serde_json::from_str(&AzureOpenAi::error_body(&error)).unwrap();
        assert_eq!(
            body,
            json!({"error": {"code": "401", "message": "Access denied"}})
        );
        assert_eq!(error.status, StatusCode::UNAUTHORIZED);
    }
}
