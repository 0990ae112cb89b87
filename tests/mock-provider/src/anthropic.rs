//! Anthropic Messages: `POST /v1/messages`.
//!
//! Shapes follow the recordings in the shared fixtures (`anthropic/*.json`, `*.sse`).
//! A stream is message_start (input and cache counts), content_block_start, ping,
//! content_block_delta…, content_block_stop, message_delta (stop_reason, cumulative
//! output_tokens, input and cache counts repeated), message_stop. A tool_use block
//! starts with `"input":{}` and its first input_json_delta is an empty string.

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::completion::{is_expected_key, WireFormat};
use crate::error::{ApiError, ErrorKind};
use crate::ids;
use crate::prompt::{self, Message, Prompt, ToolSpec};
use crate::reply::{Reply, ReplyContent, Usage};
use crate::sse::Event;
use crate::ExpectedKeys;

pub const VERSION_HEADER: &str = "anthropic-version";
const API_KEY_HEADER: &str = "x-api-key";
/// Anthropic's ping is spaced differently from every other event; sent byte for byte.
const PING: &str = r#"{"type": "ping"}"#;
/// The in-stream error quoted from a real stream in anthropic-sdk-go issue #200.
const OVERLOADED: &str =
    r#"{"type":"error","error":{"details":null,"type":"overloaded_error","message":"Overloaded"}}"#;

pub struct Anthropic;

#[derive(Deserialize)]
pub struct MessagesRequest {
    model: Option<String>,
    max_tokens: Option<u64>,
    messages: Option<Vec<Message>>,
    stream: Option<bool>,
    tools: Option<Vec<Tool>>,
}

/// Client tools carry `input_schema`; server tools (web search, …) only a name.
#[derive(Deserialize)]
struct Tool {
    name: String,
    input_schema: Option<Value>,
}

impl MessagesRequest {
    fn model(&self) -> &str {
        self.model.as_deref().unwrap_or_default()
    }
}

impl WireFormat for Anthropic {
    const NAME: &'static str = "anthropic";
    type Request = MessagesRequest;

    fn expected_key(keys: &ExpectedKeys) -> Option<&str> {
        keys.anthropic.as_deref()
    }

    fn authorize(headers: &HeaderMap, expected_key: Option<&str>) -> Result<(), ApiError> {
        let presented = headers
            .get(API_KEY_HEADER)
            .and_then(|value| value.to_str().ok())
            .map_or("", str::trim);
        if presented.is_empty() {
            return Err(ApiError::authentication("x-api-key header is required"));
        }
        if !is_expected_key(presented, expected_key) {
            return Err(ApiError::authentication("invalid x-api-key"));
        }
        if !headers.contains_key(VERSION_HEADER) {
            return Err(ApiError::invalid_request(
                "anthropic-version: header is required",
            ));
        }
        Ok(())
    }

    fn prompt(request: &MessagesRequest) -> Result<Prompt<'_>, ApiError> {
        let required = |field: &str| ApiError::invalid_request(format!("{field}: Field required"));
        if request.model.is_none() {
            return Err(required("model"));
        }
        if request.max_tokens.is_none() {
            return Err(required("max_tokens"));
        }
        let messages = request
            .messages
            .as_ref()
            .ok_or_else(|| required("messages"))?;
        if messages.is_empty() {
            return Err(ApiError::invalid_request(
                "messages: at least one message is required",
            ));
        }
        Ok(Prompt {
            last_user_text: prompt::last_user_text(messages),
            tools: (request.tools.iter().flatten())
                .map(|tool| ToolSpec {
                    name: &tool.name,
                    schema: tool.input_schema.as_ref(),
                })
                .collect(),
            stream: request.stream.unwrap_or(false),
        })
    }

    fn undecodable(error: serde_json::Error) -> ApiError {
        ApiError::invalid_request(format!(
            "There was an error parsing the body of your request: {error}"
        ))
    }

    fn message(request: &MessagesRequest, reply: &Reply) -> String {
        let block = match &reply.content {
            ReplyContent::Text(text) => json!({"type": "text", "text": text}),
            ReplyContent::ToolCall(call) => json!({
                "type": "tool_use", "id": tool_use_id(reply), "name": call.name,
                "input": call.input,
            }),
        };
        type_first(
            "message",
            json!({
                "id": message_id(reply),
                "role": "assistant",
                "model": request.model(),
                "content": [block],
                "stop_reason": stop_reason(reply),
                "stop_sequence": null,
                "usage": usage(&reply.usage, reply.usage.output),
            }),
        )
    }

    fn stream(request: &MessagesRequest, reply: &Reply) -> Vec<Event> {
        let (block, opening_delta) = match &reply.content {
            ReplyContent::Text(_) => (json!({"type": "text", "text": ""}), None),
            ReplyContent::ToolCall(call) => (
                json!({
                    "type": "tool_use", "id": tool_use_id(reply), "name": call.name,
                    "input": {}, "caller": {"type": "direct"},
                }),
                Some(block_delta(
                    json!({"type": "input_json_delta", "partial_json": ""}),
                )),
            ),
        };
        let message = json!({
            "id": message_id(reply), "type": "message", "role": "assistant",
            "model": request.model(), "content": [], "stop_reason": null, "stop_sequence": null,
            // Real streams report the first output token already in message_start.
            "usage": usage(&reply.usage, 1),
        });
        let mut events = vec![
            event("message_start", json!({"message": message})),
            event(
                "content_block_start",
                json!({"index": 0, "content_block": block}),
            ),
            Event::named("ping", PING),
        ];
        events.extend(opening_delta);
        events.extend(reply.content.deltas().map(|piece| {
            let delta = match reply.content {
                ReplyContent::Text(_) => json!({"type": "text_delta", "text": piece}),
                ReplyContent::ToolCall(_) => {
                    json!({"type": "input_json_delta", "partial_json": piece})
                }
            };
            block_delta(delta).with_content()
        }));
        let totals = &reply.usage;
        events.extend([
            event("content_block_stop", json!({"index": 0})),
            event(
                "message_delta",
                json!({
                    "delta": {"stop_reason": stop_reason(reply), "stop_sequence": null},
                    "usage": {
                        "input_tokens": totals.uncached_input,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": totals.cache_read,
                        "output_tokens": totals.output,
                    },
                }),
            ),
            event("message_stop", json!({})),
        ]);
        events
    }

    fn stream_error() -> Event {
        Event::named("error", OVERLOADED)
    }

    fn error_body(error: &ApiError) -> String {
        let kind = match error.kind {
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::PermissionDenied => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::Overloaded => "overloaded_error",
            ErrorKind::Server => "api_error",
        };
        type_first(
            "error",
            json!({
                "error": {"type": kind, "message": error.message},
                "request_id": format!("req_mock{:08}", ids::next_serial()),
            }),
        )
    }
}

/// An event whose name is repeated as the data's `type`, as Anthropic always does.
fn event(name: &str, fields: Value) -> Event {
    Event::named(name, type_first(name, fields))
}

/// `{"type": kind, …fields}`. Anthropic always writes `type` first, and serde_json's
/// default map sorts keys, which would put it last.
fn type_first(kind: &str, fields: Value) -> String {
    #[derive(Serialize)]
    struct TypeFirst<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        #[serde(flatten)]
        fields: Value,
    }
    serde_json::to_string(&TypeFirst { kind, fields })
        .expect("a string key and a JSON object always serialise")
}

fn block_delta(delta: Value) -> Event {
    event("content_block_delta", json!({"index": 0, "delta": delta}))
}

/// `input_tokens` excludes cache reads, unlike OpenAI's `prompt_tokens`.
fn usage(usage: &Usage, output_tokens: u64) -> Value {
    json!({
        "input_tokens": usage.uncached_input,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cache_read,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
        "inference_geo": "not_available",
    })
}

fn stop_reason(reply: &Reply) -> &'static str {
    match reply.content {
        ReplyContent::Text(_) => "end_turn",
        ReplyContent::ToolCall(_) => "tool_use",
    }
}

fn message_id(reply: &Reply) -> String {
    format!("msg_mock{:08}", reply.serial)
}

fn tool_use_id(reply: &Reply) -> String {
    format!("toolu_mock{:08}", reply.serial)
}
