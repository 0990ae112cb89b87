//! OpenAI Chat Completions: `POST /v1/chat/completions` and `GET /v1/models`.
//!
//! Shapes follow the recordings in the shared fixtures (`openai/*.json`, `*.sse`): the
//! first stream delta carries the role (plus the tool call's id and name, with empty
//! arguments), the finish chunk has an empty delta, and with
//! `stream_options.include_usage` every chunk has `"usage":null` until a last chunk
//! with `choices: []` carries the usage, right before `data: [DONE]`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::completion::{error_response, is_expected_key, json_response, WireFormat};
use crate::error::{ApiError, ErrorKind};
use crate::prompt::{self, Message, Prompt, ToolSpec};
use crate::reply::{Reply, ReplyContent, Usage};
use crate::sse::Event;
use crate::ExpectedKeys;

const SYSTEM_FINGERPRINT: &str = "fp_tollgate_mock";
/// OpenAI pads every chunk with a random-length `obfuscation` string; the mock sends a
/// fixed one so gateways meet the field without the randomness.
const OBFUSCATION: &str = "tollgate";
const MODELS: &[&str] = &["gpt-4o", "gpt-4o-mini", "gpt-4.1-mini"];

pub struct OpenAi;

#[derive(Deserialize)]
pub struct ChatRequest {
    model: Option<String>,
    messages: Option<Vec<Message>>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    tools: Option<Vec<Tool>>,
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

/// `{"type":"function","function":{…}}`; other tool types have no `function`. Cohere v2
/// took the same shape.
#[derive(Deserialize)]
pub struct Tool {
    function: Option<Function>,
}

#[derive(Deserialize)]
struct Function {
    name: String,
    parameters: Option<Value>,
}

/// The functions among `tools`, as the neutral view needs them.
pub fn tool_specs<'a>(tools: impl IntoIterator<Item = &'a Tool>) -> Vec<ToolSpec<'a>> {
    tools
        .into_iter()
        .filter_map(|tool| tool.function.as_ref())
        .map(|function| ToolSpec {
            name: &function.name,
            schema: function.parameters.as_ref(),
        })
        .collect()
}

impl ChatRequest {
    fn model(&self) -> &str {
        self.model.as_deref().unwrap_or_default()
    }

    fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|options| options.include_usage)
            .unwrap_or(false)
    }
}

impl WireFormat for OpenAi {
    const NAME: &'static str = "openai";
    type Request = ChatRequest;

    fn expected_key(keys: &ExpectedKeys) -> Option<&str> {
        keys.openai.as_deref()
    }

    fn authorize(headers: &HeaderMap, expected_key: Option<&str>) -> Result<(), ApiError> {
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map_or("", str::trim);
        if presented.is_empty() {
            return Err(ApiError::authentication(
                "You didn't provide an API key. You need to provide your API key in an \
                 Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            ));
        }
        if !is_expected_key(presented, expected_key) {
            return Err(ApiError::authentication(format!(
                "Incorrect API key provided: {}. You can find your API key at \
                 https://platform.openai.com/account/api-keys.",
                masked(presented)
            ))
            .with_code("invalid_api_key"));
        }
        Ok(())
    }

    fn prompt(request: &ChatRequest) -> Result<Prompt<'_>, ApiError> {
        if request.model.is_none() {
            return Err(ApiError::invalid_request(
                "you must provide a model parameter",
            ));
        }
        prompt_of(request)
    }

    fn undecodable(error: serde_json::Error) -> ApiError {
        if error.is_syntax() || error.is_eof() {
            return ApiError::invalid_request(
                "We could not parse the JSON body of your request. (HINT: This likely means \
                 you aren't using your HTTP library correctly. The OpenAI API expects a JSON \
                 payload, but what was sent was not valid JSON.)",
            );
        }
        ApiError::invalid_request(format!("Invalid request body: {error}"))
    }

    fn message(request: &ChatRequest, reply: &Reply) -> String {
        completion(request, reply).to_string()
    }

    fn stream(request: &ChatRequest, reply: &Reply) -> Vec<Event> {
        events(stream_chunks(request, reply))
    }

    fn stream_error() -> Event {
        Event::data(json!({"error": {
            "message": "The server had an error while processing your request \
                        (x-mock-stream-error).",
            "type": "server_error", "param": null, "code": null,
        }}))
    }

    fn error_body(error: &ApiError) -> String {
        error_object(error).to_string()
    }
}

/// `{"error": {message, type, param, code}}`.
pub fn error_object(error: &ApiError) -> Value {
    let kind = match error.kind {
        ErrorKind::RateLimited => "requests",
        ErrorKind::Overloaded | ErrorKind::Server => "server_error",
        ErrorKind::InvalidRequest
        | ErrorKind::Authentication
        | ErrorKind::PermissionDenied
        | ErrorKind::NotFound => "invalid_request_error",
    };
    json!({"error": {
        "message": error.message, "type": kind, "param": error.param, "code": error.code,
    }})
}

/// The neutral view of a Chat Completions request, `model` aside (Azure's deployment
/// addressing does not need it).
pub fn prompt_of(request: &ChatRequest) -> Result<Prompt<'_>, ApiError> {
    let messages = match &request.messages {
        None => {
            return Err(
                ApiError::invalid_request("Missing required parameter: 'messages'.")
                    .with_param("messages")
                    .with_code("missing_required_parameter"),
            )
        }
        Some(messages) if messages.is_empty() => {
            return Err(ApiError::invalid_request(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, \
                     but got an empty array instead.",
            )
            .with_param("messages")
            .with_code("empty_array"))
        }
        Some(messages) => messages,
    };
    Ok(Prompt {
        last_user_text: prompt::last_user_text(messages),
        tools: tool_specs(request.tools.iter().flatten()),
        stream: request.stream.unwrap_or(false),
    })
}

/// A `chat.completion` body.
pub fn completion(request: &ChatRequest, reply: &Reply) -> Value {
    let message = match &reply.content {
        ReplyContent::Text(text) => json!({
            "role": "assistant", "content": text, "refusal": null, "annotations": [],
        }),
        ReplyContent::ToolCall(call) => json!({
            "role": "assistant", "content": null, "refusal": null, "annotations": [],
            "tool_calls": [{
                "id": call_id(reply), "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }],
        }),
    };
    json!({
        "id": completion_id(reply),
        "object": "chat.completion",
        "created": unix_now(),
        "model": request.model(),
        "choices": [{
            "index": 0, "message": message, "logprobs": null,
            "finish_reason": finish_reason(reply),
        }],
        "usage": usage(&reply.usage),
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    })
}

/// One `chat.completion.chunk`, and whether it carries a piece of the reply.
pub struct Chunk {
    pub json: Value,
    pub content: bool,
}

/// A stream's chunks, without the closing `data: [DONE]`.
pub fn stream_chunks(request: &ChatRequest, reply: &Reply) -> Vec<Chunk> {
    let chunks = Chunks {
        id: completion_id(reply),
        created: unix_now(),
        model: request.model(),
        include_usage: request.include_usage(),
    };
    let opening = match &reply.content {
        ReplyContent::Text(_) => json!({"role": "assistant", "content": "", "refusal": null}),
        ReplyContent::ToolCall(call) => json!({
            "role": "assistant", "content": null, "refusal": null,
            "tool_calls": [{
                "index": 0, "id": call_id(reply), "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }],
        }),
    };
    let mut out = vec![chunks.delta(opening, None, false)];
    out.extend(reply.content.deltas().map(|piece| {
        let delta = match reply.content {
            ReplyContent::Text(_) => json!({"content": piece}),
            ReplyContent::ToolCall(_) => {
                json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            }
        };
        chunks.delta(delta, None, true)
    }));
    out.push(chunks.delta(json!({}), Some(finish_reason(reply)), false));
    if chunks.include_usage {
        out.push(Chunk {
            json: chunks.chunk(json!([]), usage(&reply.usage)),
            content: false,
        });
    }
    out
}

/// Chunks as SSE events, closed by `data: [DONE]`.
pub fn events(chunks: Vec<Chunk>) -> Vec<Event> {
    let mut events: Vec<Event> = chunks
        .into_iter()
        .map(|chunk| {
            let event = Event::data(chunk.json);
            if chunk.content {
                event.with_content()
            } else {
                event
            }
        })
        .collect();
    events.push(Event::data("[DONE]"));
    events
}

/// The common fields of one stream's `chat.completion.chunk` objects.
struct Chunks<'a> {
    id: String,
    created: u64,
    model: &'a str,
    include_usage: bool,
}

impl Chunks<'_> {
    fn delta(&self, delta: Value, finish_reason: Option<&str>, content: bool) -> Chunk {
        let choice = json!({
            "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason,
        });
        Chunk {
            json: self.chunk(json!([choice]), Value::Null),
            content,
        }
    }

    /// `usage` is only sent when the client asked for it, and then on every chunk.
    fn chunk(&self, choices: Value, usage: Value) -> Value {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": choices,
            "obfuscation": OBFUSCATION,
        });
        if self.include_usage {
            chunk["usage"] = usage;
        }
        chunk
    }
}

/// `prompt_tokens` includes cached tokens and `completion_tokens` includes reasoning.
fn usage(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.total_input(),
        "completion_tokens": usage.output,
        "total_tokens": usage.total_input() + usage.output,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
        },
    })
}

fn finish_reason(reply: &Reply) -> &'static str {
    match reply.content {
        ReplyContent::Text(_) => "stop",
        ReplyContent::ToolCall(_) => "tool_calls",
    }
}

fn completion_id(reply: &Reply) -> String {
    format!("chatcmpl-mock{:08}", reply.serial)
}

fn call_id(reply: &Reply) -> String {
    format!("call_mock{:08}", reply.serial)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Like OpenAI, never echo a full key: keep a short prefix and the last four chars.
fn masked(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "***".to_owned();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}***{tail}")
}

/// `GET /v1/models`: a fixed list; the chat endpoint accepts any model name.
pub async fn list_models(State(keys): State<Arc<ExpectedKeys>>, headers: HeaderMap) -> Response {
    if let Err(error) = OpenAi::authorize(&headers, OpenAi::expected_key(&keys)) {
        return error_response::<OpenAi>(&error);
    }
    let data: Vec<Value> = MODELS
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "system"}))
        .collect();
    json_response(
        StatusCode::OK,
        json!({"object": "list", "data": data}).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::masked;

    #[test]
    fn masks_keys() {
        assert_eq!(masked("sk-test-1234567890"), "sk-***7890");
        assert_eq!(masked("short"), "***");
    }
}
