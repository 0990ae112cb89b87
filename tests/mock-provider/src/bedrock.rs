//! AWS Bedrock Converse: `POST /model/{modelId}/converse` (JSON) and
//! `POST /model/{modelId}/converse-stream` (`application/vnd.amazon.eventstream`); and
//! InvokeModel (`POST /model/{modelId}/invoke`) for the Titan and Cohere embedding models.
//!
//! Shapes follow the recordings in the shared fixtures (`bedrock/converse-*.json`,
//! `converse-stream-*.bin`): the model is in the path, not the body; a stream is
//! messageStart, for a tool call contentBlockStart, contentBlockDelta…, contentBlockStop,
//! messageStop (stopReason), metadata (usage, metrics), every payload padded with a `p`
//! field; errors are `{"message": …}` with the type in `x-amzn-errortype`.
//!
//! Requests are authenticated like Bedrock does: a SigV4 signature, verified over what
//! arrived when credentials are configured, or a Bedrock API key as a bearer token. The
//! request checks are the ones real gateways trip over (see the field guide): blank text
//! blocks, tool blocks without a `toolConfig`, roles that do not alternate, tool names
//! outside `[a-zA-Z0-9_-]{1,64}`, fields Converse does not have. Their messages are
//! representative, not recorded.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::control::Controls;
use crate::embeddings;
use crate::error::{ApiError, ErrorKind};
use crate::eventstream;
use crate::ids;
use crate::prompt::{self, Prompt, ToolSpec};
use crate::reply::{self, Reply, ReplyContent};
use crate::sigv4::{self, Credentials, Rejection, SignedRequest};
use crate::sse::{self, Event};
use crate::ExpectedKeys;

const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";
const REQUEST_ID_HEADER: &str = "x-amzn-requestid";
const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";
/// Padding Bedrock adds to payloads (`p`) so sizes do not reveal content.
const PADDING: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Top-level fields of a Converse request.
const CONVERSE_FIELDS: &[&str] = &[
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
];

/// How Bedrock requests must authenticate. With neither set, any `Authorization` passes.
#[derive(Debug, Clone, Default)]
pub struct BedrockAuth {
    /// Verify SigV4 signatures with these credentials.
    pub sigv4: Option<Credentials>,
    /// Accept `Authorization: Bearer <this key>` (a Bedrock API key).
    pub api_key: Option<String>,
}

/// A Bedrock error: status, type (for `x-amzn-errortype`) and message.
struct BedrockError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl BedrockError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        BedrockError {
            status,
            kind,
            message: message.into(),
        }
    }

    fn malformed() -> Self {
        Self::validation("Malformed input request, please reformat your input and try again.")
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationException", message)
    }

    fn response(&self) -> Response {
        let mut response = (
            self.status,
            [(CONTENT_TYPE, "application/json")],
            json!({"message": self.message}).to_string(),
        )
            .into_response();
        let kind = format!(
            "{}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            self.kind
        );
        if let Ok(value) = HeaderValue::from_str(&kind) {
            response.headers_mut().insert(ERROR_TYPE_HEADER, value);
        }
        response
    }
}

impl From<ApiError> for BedrockError {
    fn from(error: ApiError) -> Self {
        let kind = match error.kind {
            ErrorKind::InvalidRequest => "ValidationException",
            ErrorKind::Authentication => "UnrecognizedClientException",
            ErrorKind::PermissionDenied => "AccessDeniedException",
            ErrorKind::NotFound => "ResourceNotFoundException",
            ErrorKind::RateLimited => "ThrottlingException",
            ErrorKind::Overloaded => "ServiceUnavailableException",
            ErrorKind::Server => "InternalServerException",
        };
        BedrockError::new(error.status, kind, error.message)
    }
}

impl From<Rejection> for BedrockError {
    fn from(rejection: Rejection) -> Self {
        let forbidden = StatusCode::FORBIDDEN;
        match rejection {
            Rejection::Missing => Self::new(
                forbidden,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ),
            Rejection::Malformed(detail) => {
                Self::new(forbidden, "IncompleteSignatureException", detail)
            }
            Rejection::UnknownKey => Self::new(
                forbidden,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            Rejection::ContentHashMismatch => Self::new(
                StatusCode::BAD_REQUEST,
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ),
            Rejection::Mismatch => Self::new(
                forbidden,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service \
                 documentation for details.",
            ),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig {
    #[serde(default)]
    tools: Vec<ToolEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolEntry {
    tool_spec: Option<ToolSpecWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolSpecWire {
    name: String,
    input_schema: Option<Value>,
}

/// `POST /model/{model}/{action}`: Converse, ConverseStream, or InvokeModel for the
/// embedding models.
pub async fn converse(
    State(keys): State<Arc<ExpectedKeys>>,
    Path((model, action)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let stream = match action.as_str() {
        "invoke" => {
            let response = invoke(&keys.bedrock, &model, &method, &uri, &headers, &body)
                .unwrap_or_else(|error| error.response());
            return with_request_id(response);
        }
        "converse" => false,
        "converse-stream" => true,
        _ => {
            let error = BedrockError::new(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                format!("Unknown operation {action}"),
            );
            return with_request_id(error.response());
        }
    };
    let response = respond(&keys.bedrock, stream, &method, &uri, &headers, &body)
        .unwrap_or_else(|error| error.response());
    with_request_id(response)
}

fn with_request_id(mut response: Response) -> Response {
    let id = format!("mock-{:08}-0000-4000-8000-000000000000", ids::next_serial());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

fn respond(
    auth: &BedrockAuth,
    stream: bool,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, BedrockError> {
    let controls = admit(auth, method, uri, headers, body)?;
    let request: Value = serde_json::from_slice(body).map_err(|_| BedrockError::malformed())?;
    let tools = validate(&request)?;
    let messages: Vec<prompt::Message> =
        serde_json::from_value(request["messages"].clone()).unwrap_or_default();
    let prompt = Prompt {
        last_user_text: prompt::last_user_text(&messages),
        tools: tools
            .iter()
            .map(|(name, schema)| ToolSpec {
                name,
                schema: schema.as_ref(),
            })
            .collect(),
        stream,
    };
    let reply = reply::plan("bedrock", &prompt, &controls, body.len())?;
    if !stream {
        let body = message(&reply).to_string();
        return Ok((StatusCode::OK, [(CONTENT_TYPE, "application/json")], body).into_response());
    }
    let mut events = stream_events(&reply);
    if let Some(n) = controls.stream_error_after {
        events = sse::cut_after_content(events, n);
        events.push(exception(
            "throttlingException",
            "Too many tokens, please wait before trying again.",
        ));
    }
    Ok(sse::streamed(EVENT_STREAM, events, controls.chunk_delay))
}

// === InvokeModel (embeddings) ===

/// Fields of a Titan Text Embeddings V2 body.
const TITAN_FIELDS: &[&str] = &["inputText", "dimensions", "normalize", "embeddingTypes"];
/// Fields of a Cohere Embed body on Bedrock (no `model`: it is in the path).
const COHERE_FIELDS: &[&str] = &[
    "texts",
    "images",
    "input_type",
    "truncate",
    "embedding_types",
    "output_dimension",
    "max_tokens",
];
/// Response header with the input token count of an InvokeModel call.
const INPUT_TOKENS_HEADER: &str = "x-amzn-bedrock-input-token-count";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanRequest {
    input_text: Option<String>,
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
struct CohereEmbedRequest {
    texts: Option<Vec<String>>,
    input_type: Option<String>,
    embedding_types: Option<Vec<String>>,
    output_dimension: Option<usize>,
}

/// Reads a family's body and returns its answer and the input token count.
type EmbeddingAnswer = fn(Value) -> Result<(Value, usize), BedrockError>;

/// `POST /model/{model}/invoke` for Titan Text Embeddings V2 and Cohere Embed: the model's
/// own body, extraneous keys refused as Bedrock does, the input token count in a header.
fn invoke(
    auth: &BedrockAuth,
    model: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, BedrockError> {
    admit(auth, method, uri, headers, body)?;
    let request: Value = serde_json::from_slice(body).map_err(|_| BedrockError::malformed())?;
    let (fields, answer): (&[&str], EmbeddingAnswer) =
        if model.contains("amazon.titan-embed-text-v2") {
            (TITAN_FIELDS, titan_answer)
        } else if model.contains("cohere.embed") {
            (COHERE_FIELDS, cohere_answer)
        } else {
            return Err(BedrockError::validation(format!(
                "The mock serves InvokeModel only for embedding models, not {model}."
            )));
        };
    let object = request.as_object().ok_or_else(BedrockError::malformed)?;
    if let Some(extra) = object.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(BedrockError::validation(format!(
            "Malformed input request: extraneous key [{extra}] is not permitted, please reformat your input and try again."
        )));
    }
    let (body, tokens) = answer(request)?;
    let mut response = (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    response
        .headers_mut()
        .insert(INPUT_TOKENS_HEADER, HeaderValue::from(tokens));
    Ok(response)
}

fn titan_answer(request: Value) -> Result<(Value, usize), BedrockError> {
    let request: TitanRequest = serde_json::from_value(request).map_err(|_| {
        BedrockError::validation("Malformed input request: #/inputText: expected type: String")
    })?;
    let text = request
        .input_text
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            BedrockError::validation(
                "Malformed input request: #: required key [inputText] not found",
            )
        })?;
    let dimensions = match request.dimensions {
        None => 1024,
        Some(d @ (256 | 512 | 1024)) => d,
        Some(d) => {
            return Err(BedrockError::validation(format!(
                "Malformed input request: #/dimensions: {d} is not a valid enum value"
            )))
        }
    };
    let vector = embeddings::vector(&text, dimensions);
    let tokens = embeddings::tokens(&text);
    let body = json!({
        "embedding": vector,
        "inputTextTokenCount": tokens,
        "embeddingsByType": {"float": vector},
    });
    Ok((body, tokens))
}

fn cohere_answer(request: Value) -> Result<(Value, usize), BedrockError> {
    let request: CohereEmbedRequest =
        serde_json::from_value(request).map_err(|_| BedrockError::malformed())?;
    let (texts, vectors) = embeddings::cohere_vectors(
        request.texts,
        request.input_type.as_deref(),
        request.embedding_types.as_deref(),
        request.output_dimension,
    )?;
    let tokens = embeddings::texts_tokens(&texts);
    let response_type = if vectors.is_array() {
        "embeddings_floats"
    } else {
        "embeddings_by_type"
    };
    let id = format!("mock-{:08}", ids::next_serial());
    let body =
        json!({"id": id, "embeddings": vectors, "texts": texts, "response_type": response_type});
    Ok((body, tokens))
}

/// Authenticates the request and applies an injected `x-mock-status`; returns the other
/// controls.
fn admit(
    auth: &BedrockAuth,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Controls, BedrockError> {
    authorize(auth, method, uri, headers, body)?;
    let controls = Controls::from_headers(headers)?;
    match controls.status {
        Some(status) => Err(ApiError::injected(status).into()),
        None => Ok(controls),
    }
}

fn authorize(
    auth: &BedrockAuth,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), BedrockError> {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(key) = authorization.strip_prefix("Bearer ") {
        return match &auth.api_key {
            Some(expected) if expected != key.trim() => Err(Rejection::UnknownKey.into()),
            _ if key.trim().is_empty() => Err(Rejection::Missing.into()),
            _ => Ok(()),
        };
    }
    let Some(credentials) = &auth.sigv4 else {
        return if authorization.is_empty() {
            Err(Rejection::Missing.into())
        } else {
            Ok(())
        };
    };
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let request = SignedRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or_default(),
        headers: &headers,
        body,
    };
    sigv4::verify(&request, credentials).map_err(BedrockError::from)
}

/// Rejects what Bedrock rejects; returns the tools offered (name, schema).
fn validate(request: &Value) -> Result<Vec<(String, Option<Value>)>, BedrockError> {
    let Some(object) = request.as_object() else {
        return Err(BedrockError::malformed());
    };
    if let Some(extra) = object
        .keys()
        .find(|k| !CONVERSE_FIELDS.contains(&k.as_str()))
    {
        return Err(BedrockError::validation(format!(
            "Malformed input request: extraneous key [{extra}] is not permitted, please reformat your input and try again."
        )));
    }
    let messages = request["messages"].as_array().filter(|m| !m.is_empty()).ok_or_else(|| {
        BedrockError::validation(
            "1 validation error detected: Value null at 'messages' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let mut has_tool_blocks = false;
    for (i, message) in messages.iter().enumerate() {
        let expected = if i % 2 == 0 { "user" } else { "assistant" };
        if message["role"] != expected {
            return Err(BedrockError::validation(if i == 0 {
                "A conversation must start with a user message. Try again with a conversation that starts with a user message."
            } else {
                "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."
            }));
        }
        for (j, block) in message["content"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if block
                .get("text")
                .is_some_and(|t| t.as_str().is_none_or(|t| t.trim().is_empty()))
            {
                return Err(BedrockError::validation(format!(
                    "The text field in the ContentBlock object at messages.{i}.content.{j} is blank. Add text to the text field, and try again."
                )));
            }
            has_tool_blocks |= block.get("toolUse").is_some() || block.get("toolResult").is_some();
        }
    }
    let tools = match request.get("toolConfig") {
        None => Vec::new(),
        Some(config) => {
            let config: ToolConfig = serde_json::from_value(config.clone()).map_err(|_| {
                BedrockError::validation(
                    "Malformed toolConfig, please reformat your input and try again.",
                )
            })?;
            let mut tools = Vec::new();
            for (i, spec) in config
                .tools
                .into_iter()
                .filter_map(|t| t.tool_spec)
                .enumerate()
            {
                let valid = !spec.name.is_empty()
                    && spec.name.len() <= 64
                    && spec
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !valid {
                    return Err(BedrockError::validation(format!(
                        "1 validation error detected: Value '{}' at 'toolConfig.tools.{}.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+",
                        spec.name,
                        i + 1
                    )));
                }
                let schema = spec.input_schema.and_then(|s| s.get("json").cloned());
                tools.push((spec.name, schema));
            }
            tools
        }
    };
    if has_tool_blocks && request.get("toolConfig").is_none() {
        return Err(BedrockError::validation(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks.",
        ));
    }
    Ok(tools)
}

fn stop_reason(reply: &Reply) -> &'static str {
    match reply.content {
        ReplyContent::Text(_) => "end_turn",
        ReplyContent::ToolCall(_) => "tool_use",
    }
}

fn tool_use_id(reply: &Reply) -> String {
    format!("tooluse_mock{:08}", reply.serial)
}

/// `inputTokens` excludes cache reads, which are reported only when there are some.
fn usage(reply: &Reply) -> Value {
    let u = &reply.usage;
    let mut usage = json!({
        "inputTokens": u.uncached_input,
        "outputTokens": u.output,
        "totalTokens": u.total_input() + u.output,
    });
    if u.cache_read > 0 {
        usage["cacheReadInputTokens"] = json!(u.cache_read);
        usage["cacheWriteInputTokens"] = json!(0);
    }
    usage
}

fn message(reply: &Reply) -> Value {
    let block = match &reply.content {
        ReplyContent::Text(text) => json!({"text": text}),
        ReplyContent::ToolCall(call) => json!({"toolUse": {
            "toolUseId": tool_use_id(reply), "name": call.name, "input": call.input,
        }}),
    };
    json!({
        "output": {"message": {"role": "assistant", "content": [block]}},
        "stopReason": stop_reason(reply),
        "usage": usage(reply),
        "metrics": {"latencyMs": 42},
    })
}

/// An event frame whose payload gets Bedrock's `p` padding.
fn event(event_type: &str, mut payload: Value, ordinal: usize) -> Event {
    payload["p"] = json!(&PADDING[..(ordinal * 7 + 3) % PADDING.len()]);
    let headers = [
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ];
    Event::binary(eventstream::frame(&headers, payload.to_string().as_bytes()))
}

fn exception(kind: &str, message: &str) -> Event {
    let headers = [
        (":exception-type", kind),
        (":content-type", "application/json"),
        (":message-type", "exception"),
    ];
    Event::binary(eventstream::frame(
        &headers,
        json!({"message": message}).to_string().as_bytes(),
    ))
}

fn stream_events(reply: &Reply) -> Vec<Event> {
    let mut events = vec![event("messageStart", json!({"role": "assistant"}), 0)];
    if let ReplyContent::ToolCall(call) = &reply.content {
        let start = json!({"toolUse": {"toolUseId": tool_use_id(reply), "name": call.name}});
        events.push(event(
            "contentBlockStart",
            json!({"contentBlockIndex": 0, "start": start}),
            1,
        ));
    }
    for (i, piece) in reply.content.deltas().enumerate() {
        let delta = match reply.content {
            ReplyContent::Text(_) => json!({"text": piece}),
            ReplyContent::ToolCall(_) => json!({"toolUse": {"input": piece}}),
        };
        let payload = json!({"contentBlockIndex": 0, "delta": delta});
        events.push(event("contentBlockDelta", payload, i + 2).with_content());
    }
    let n = events.len();
    events.extend([
        event("contentBlockStop", json!({"contentBlockIndex": 0}), n),
        event(
            "messageStop",
            json!({"stopReason": stop_reason(reply)}),
            n + 1,
        ),
        event(
            "metadata",
            json!({"usage": usage(reply), "metrics": {"latencyMs": 42}}),
            n + 2,
        ),
    ]);
    events
}
