//! OpenAI `/v1/embeddings` and Gemini's `:batchEmbedContents` (AI Studio): deterministic
//! vectors derived from each input's bytes, so tests can check that every input reached the
//! provider and came back in order.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::completion::{error_response, json_response, WireFormat};
use crate::control::Controls;
use crate::error::ApiError;
use crate::gemini::{camel, unknown_field, Gemini};
use crate::openai::OpenAi;
use crate::ExpectedKeys;

/// Vector length unless the request asks for `dimensions`.
const DEFAULT_DIMENSIONS: usize = 8;

#[derive(Deserialize)]
struct EmbeddingsRequest {
    model: Option<String>,
    input: Option<Value>,
    dimensions: Option<usize>,
}

pub async fn embed(
    State(keys): State<Arc<ExpectedKeys>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(&keys, &headers, &body).unwrap_or_else(|error| error_response::<OpenAi>(&error))
}

fn respond(keys: &ExpectedKeys, headers: &HeaderMap, body: &[u8]) -> Result<Response, ApiError> {
    OpenAi::authorize(headers, OpenAi::expected_key(keys))?;
    if let Some(status) = Controls::from_headers(headers)?.status {
        return Err(ApiError::injected(status));
    }
    let request: EmbeddingsRequest = serde_json::from_slice(body).map_err(OpenAi::undecodable)?;
    let model = request.model.ok_or_else(|| {
        ApiError::invalid_request("you must provide a model parameter").with_param("model")
    })?;
    let inputs: Vec<String> = match request.input {
        Some(Value::String(text)) => vec![text],
        Some(Value::Array(items)) if !items.is_empty() => {
            items.iter().map(Value::to_string).collect()
        }
        _ => {
            return Err(
                ApiError::invalid_request("'input' is a required property").with_param("input")
            )
        }
    };
    let dimensions = request
        .dimensions
        .unwrap_or(DEFAULT_DIMENSIONS)
        .clamp(1, 4096);
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| json!({"object": "embedding", "index": index, "embedding": vector(text, dimensions)}))
        .collect();
    let tokens: usize = inputs.iter().map(|text| text.len().div_ceil(4)).sum();
    let body = json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

// === Gemini ===

/// Fields of an `EmbedContentRequest` (camelCase; snake_case is accepted too).
const GEMINI_REQUEST_FIELDS: &[&str] = &[
    "model",
    "content",
    "taskType",
    "title",
    "outputDimensionality",
];

/// `POST /v1beta/models/{model}:batchEmbedContents`. Like Google, it refuses unknown fields
/// and requests naming another model than the URL, and reports no token counts.
pub fn gemini_batch(
    keys: &ExpectedKeys,
    model: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    gemini_respond(keys, model, headers, body)
        .unwrap_or_else(|error| error_response::<Gemini>(&error))
}

fn gemini_respond(
    keys: &ExpectedKeys,
    model: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    Gemini::authorize(headers, Gemini::expected_key(keys))?;
    if let Some(status) = Controls::from_headers(headers)?.status {
        return Err(ApiError::injected(status));
    }
    let body: Value = serde_json::from_slice(body).map_err(Gemini::undecodable)?;
    let batch = body.as_object().ok_or_else(|| {
        ApiError::invalid_request("Invalid JSON payload received. Expected an object.")
    })?;
    if let Some(name) = batch.keys().find(|k| k.as_str() != "requests") {
        return Err(unknown_field(name, None));
    }
    let requests = (batch.get("requests").and_then(Value::as_array))
        .filter(|requests| !requests.is_empty())
        .ok_or_else(|| {
            ApiError::invalid_request(
                "* BatchEmbedContentsRequest.requests: requests is not specified",
            )
        })?;
    let resource = format!("models/{model}");
    let mut embeddings = Vec::with_capacity(requests.len());
    for (i, request) in requests.iter().enumerate() {
        let at = format!("requests[{i}]");
        let fields = request.as_object().into_iter().flatten();
        if let Some((name, _)) = fields
            .clone()
            .find(|(k, _)| !GEMINI_REQUEST_FIELDS.contains(&camel(k).as_str()))
        {
            return Err(unknown_field(name, Some(&at)));
        }
        let field = |name: &str| {
            fields
                .clone()
                .find(|(k, _)| camel(k) == name)
                .map(|(_, v)| v)
        };
        if field("model").and_then(Value::as_str) != Some(resource.as_str()) {
            return Err(ApiError::invalid_request(format!(
                "* BatchEmbedContentsRequest.{at}.model: must be {resource}, the model of the batch"
            )));
        }
        let parts = field("content").and_then(|c| c["parts"].as_array());
        let text: String = (parts.into_iter().flatten())
            .filter_map(|part| part["text"].as_str())
            .collect();
        if text.is_empty() {
            return Err(ApiError::invalid_request(format!(
                "* BatchEmbedContentsRequest.{at}.content: text is not specified"
            )));
        }
        let dimensions = (field("outputDimensionality").and_then(Value::as_u64))
            .map_or(DEFAULT_DIMENSIONS, |d| d.clamp(1, 4096) as usize);
        embeddings.push(json!({"values": vector(&text, dimensions)}));
    }
    let body = json!({ "embeddings": embeddings });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// A unit-free but stable vector: the first component is the input's length.
fn vector(text: &str, dimensions: usize) -> Vec<f32> {
    (0..dimensions)
        .map(|i| match i {
            0 => text.len() as f32,
            _ => f32::from(text.as_bytes().get(i - 1).copied().unwrap_or(0)) / 255.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::vector;

    #[test]
    fn vectors_are_stable_and_sized() {
        assert_eq!(vector("ab", 3), vec![2.0, 97.0 / 255.0, 98.0 / 255.0]);
        assert_eq!(vector("ab", 5).len(), 5);
    }
}
