//! OpenAI `/v1/embeddings`, Gemini's `:batchEmbedContents` (AI Studio), Vertex AI's
//! `:predict` and Cohere's `/v2/embed` (Bedrock's InvokeModel embeddings live with Bedrock):
//! deterministic vectors derived from each input's bytes, so tests can check that every
//! input reached the provider and came back in order.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::cohere::Cohere;
use crate::completion::{error_response, json_response, WireFormat};
use crate::control::Controls;
use crate::error::ApiError;
use crate::gemini::{camel, unknown_field, Gemini, Vertex};
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
    admit::<OpenAi>(keys, headers)?;
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
    let tokens = texts_tokens(&inputs);
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
    admit::<Gemini>(keys, headers)?;
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

// === Vertex AI ===

/// `POST {publisher path}/models/{model}:predict`. Like Vertex, it takes `instances` of
/// `{content, task_type?, title?}` and `parameters` of `{outputDimensionality?,
/// autoTruncate?}`, and reports a token count per instance.
pub fn vertex_predict(keys: &ExpectedKeys, headers: &HeaderMap, body: &[u8]) -> Response {
    vertex_respond(keys, headers, body).unwrap_or_else(|error| error_response::<Vertex>(&error))
}

fn vertex_respond(
    keys: &ExpectedKeys,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    admit::<Vertex>(keys, headers)?;
    let body: Value = serde_json::from_slice(body).map_err(Vertex::undecodable)?;
    if let Some(name) = (body.as_object().into_iter().flatten())
        .map(|(k, _)| k)
        .find(|k| !["instances", "parameters"].contains(&k.as_str()))
    {
        return Err(unknown_field(name, None));
    }
    let instances = (body["instances"].as_array())
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::invalid_request("Empty instances."))?;
    let dimensions = match body["parameters"].get("outputDimensionality") {
        None => DEFAULT_DIMENSIONS,
        Some(d) => d.as_u64().map_or(0, |d| d as usize),
    };
    if !(1..=4096).contains(&dimensions) {
        return Err(ApiError::invalid_request(
            "Invalid outputDimensionality: must be a positive integer.",
        ));
    }
    let mut predictions = Vec::with_capacity(instances.len());
    for instance in instances {
        let text = instance["content"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::invalid_request("The text content is empty."))?;
        predictions.push(json!({"embeddings": {
            "statistics": {"truncated": false, "token_count": tokens(text)},
            "values": vector(text, dimensions),
        }}));
    }
    let body = json!({"predictions": predictions, "metadata": {"billableCharacterCount": 0}});
    Ok(json_response(StatusCode::OK, body.to_string()))
}

// === Cohere ===

/// `embedding_types` Cohere knows.
const COHERE_EMBEDDING_TYPES: &[&str] = &["float", "int8", "uint8", "binary", "ubinary", "base64"];
/// `input_type`s Cohere knows.
const COHERE_INPUT_TYPES: &[&str] = &[
    "search_document",
    "search_query",
    "classification",
    "clustering",
    "image",
];

#[derive(Deserialize)]
struct CohereEmbedRequest {
    model: Option<String>,
    texts: Option<Vec<String>>,
    input_type: Option<String>,
    embedding_types: Option<Vec<String>>,
    output_dimension: Option<usize>,
}

/// `POST /v2/embed`: `input_type` is required (every current model is v3 or later), the
/// vectors come back by type, and `meta.billed_units` counts the input tokens.
pub async fn cohere_embed(
    State(keys): State<Arc<ExpectedKeys>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    cohere_respond(&keys, &headers, &body).unwrap_or_else(|error| error_response::<Cohere>(&error))
}

fn cohere_respond(
    keys: &ExpectedKeys,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    admit::<Cohere>(keys, headers)?;
    let request: CohereEmbedRequest = serde_json::from_slice(body).map_err(Cohere::undecodable)?;
    if request.model.is_none() {
        return Err(ApiError::invalid_request(
            "invalid request: model must be specified",
        ));
    }
    let (texts, embeddings) = cohere_vectors(
        request.texts,
        request.input_type.as_deref(),
        request.embedding_types.as_deref(),
        request.output_dimension,
    )?;
    let body = json!({
        "id": "mock-embed",
        "embeddings": embeddings,
        "texts": texts,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": texts_tokens(&texts)}},
        "response_type": "embeddings_by_type",
    });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// Validates a Cohere Embed body's fields (shared with Bedrock, which hosts the same
/// models) and returns the texts and their `embeddings` by type. Errors are
/// invalid-request errors with Cohere's messages.
pub fn cohere_vectors(
    texts: Option<Vec<String>>,
    input_type: Option<&str>,
    embedding_types: Option<&[String]>,
    output_dimension: Option<usize>,
) -> Result<(Vec<String>, Value), ApiError> {
    let texts = texts
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::invalid_request("invalid request: texts must not be empty"))?;
    match input_type {
        None => {
            return Err(ApiError::invalid_request(
                "invalid request: input_type is required for embed models v3 and higher",
            ))
        }
        Some(kind) if !COHERE_INPUT_TYPES.contains(&kind) => {
            return Err(ApiError::invalid_request(format!(
                "invalid request: input_type '{kind}' is not supported"
            )))
        }
        Some(_) => {}
    }
    let types = embedding_types.unwrap_or_default();
    if let Some(unknown) = types
        .iter()
        .find(|t| !COHERE_EMBEDDING_TYPES.contains(&t.as_str()))
    {
        return Err(ApiError::invalid_request(format!(
            "invalid request: embedding_types '{unknown}' is not supported"
        )));
    }
    let dimensions = match output_dimension {
        None => DEFAULT_DIMENSIONS,
        Some(d @ (256 | 512 | 1024 | 1536)) => d,
        Some(_) => {
            return Err(ApiError::invalid_request(
                "invalid request: output_dimension must be one of 256, 512, 1024, 1536",
            ))
        }
    };
    let floats: Vec<Vec<f32>> = texts.iter().map(|t| vector(t, dimensions)).collect();
    // Without `embedding_types` older answers are a plain list of float vectors.
    let embeddings = if types.is_empty() {
        json!(floats)
    } else {
        json!({ "float": floats })
    };
    Ok((texts, embeddings))
}

/// A stand-in token count: one per four bytes, at least one.
pub fn tokens(text: &str) -> usize {
    text.len().div_ceil(4).max(1)
}

pub fn texts_tokens(texts: &[String]) -> usize {
    texts.iter().map(|t| tokens(t)).sum()
}

/// Authenticates like `F` and applies an injected `x-mock-status`.
pub(crate) fn admit<F: WireFormat>(
    keys: &ExpectedKeys,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    F::authorize(headers, F::expected_key(keys))?;
    match Controls::from_headers(headers)?.status {
        Some(status) => Err(ApiError::injected(status)),
        None => Ok(()),
    }
}

/// A unit-free but stable vector: the first component is the input's length.
pub fn vector(text: &str, dimensions: usize) -> Vec<f32> {
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
