//! Cohere Chat API v2: `POST /v2/chat`, Bearer auth.
//!
//! Shapes follow the recordings in the shared fixtures (`cohere/chat-v2-*.json`, `*.sse`):
//! a text stream is message-start, content-start, content-delta…, content-end, message-end,
//! then a bare `data: [DONE]`; a tool-call stream replaces the content block with
//! tool-plan-delta… and tool-call-start (empty arguments), tool-call-delta…, tool-call-end.
//! Every event is named by its `type`. `finish_reason` is upper case and usage has both
//! `billed_units` and `tokens` (plus `cached_tokens` when there are any). Error bodies are
//! `{"id", "message"}`, with the kind of failure in the status only; the exact messages
//! are the ones Cohere users report (e.g. `invalid api token`).

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::completion::{is_expected_key, WireFormat};
use crate::error::{ApiError, ErrorKind};
use crate::openai::{tool_specs, Tool};
use crate::prompt::{self, Message, Prompt};
use crate::reply::{Reply, ReplyContent, Usage};
use crate::sse::Event;
use crate::ExpectedKeys;

pub struct Cohere;

#[derive(Deserialize)]
pub struct ChatRequest {
    model: Option<String>,
    messages: Option<Vec<Message>>,
    stream: Option<bool>,
    tools: Option<Vec<Tool>>,
}

impl WireFormat for Cohere {
    const NAME: &'static str = "cohere";
    type Request = ChatRequest;

    fn expected_key(keys: &ExpectedKeys) -> Option<&str> {
        keys.cohere.as_deref()
    }

    fn authorize(headers: &HeaderMap, expected_key: Option<&str>) -> Result<(), ApiError> {
        // Cohere accepts the scheme in any case (its own docs write `bearer`).
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map_or("", |(_, key)| key.trim());
        if presented.is_empty() {
            return Err(ApiError::authentication("no api key supplied"));
        }
        if !is_expected_key(presented, expected_key) {
            return Err(ApiError::authentication("invalid api token"));
        }
        Ok(())
    }

    fn prompt(request: &ChatRequest) -> Result<Prompt<'_>, ApiError> {
        if request.model.is_none() {
            return Err(ApiError::invalid_request(
                "invalid request: model is required",
            ));
        }
        let messages = match &request.messages {
            Some(messages) if !messages.is_empty() => messages,
            _ => {
                return Err(ApiError::invalid_request(
                    "invalid request: messages must contain at least one message",
                ))
            }
        };
        Ok(Prompt {
            last_user_text: prompt::last_user_text(messages),
            tools: tool_specs(request.tools.iter().flatten()),
            stream: request.stream.unwrap_or(false),
        })
    }

    fn undecodable(error: serde_json::Error) -> ApiError {
        ApiError::invalid_request(format!("invalid request: {error}"))
    }

    fn message(_: &ChatRequest, reply: &Reply) -> String {
        let message = match &reply.content {
            ReplyContent::Text(text) => json!({
                "role": "assistant", "content": [{"type": "text", "text": text}],
            }),
            ReplyContent::ToolCall(call) => json!({
                "role": "assistant", "tool_plan": tool_plan(&call.name),
                "tool_calls": [{
                    "id": call_id(reply, &call.name), "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }],
            }),
        };
        json!({
            "id": response_id(reply),
            "message": message,
            "finish_reason": finish_reason(reply),
            "usage": usage(&reply.usage),
        })
        .to_string()
    }

    fn stream(_: &ChatRequest, reply: &Reply) -> Vec<Event> {
        let start = json!({"role": "assistant", "content": [], "tool_plan": "",
            "tool_calls": [], "citations": []});
        let mut events = vec![event(
            "message-start",
            json!({"id": response_id(reply), "delta": {"message": start}}),
        )];
        match &reply.content {
            ReplyContent::Text(_) => {
                events.push(indexed(
                    "content-start",
                    json!({"content": {"type": "text", "text": ""}}),
                ));
                events.extend(reply.content.deltas().map(|piece| {
                    indexed("content-delta", json!({"content": {"text": piece}})).with_content()
                }));
                events.push(event("content-end", json!({"index": 0})));
            }
            ReplyContent::ToolCall(call) => {
                let plan = tool_plan(&call.name);
                events.extend(words(&plan).map(|word| {
                    event(
                        "tool-plan-delta",
                        json!({"delta": {"message": {"tool_plan": word}}}),
                    )
                }));
                let opening = json!({"id": call_id(reply, &call.name), "type": "function",
                    "function": {"name": call.name, "arguments": ""}});
                events.push(indexed("tool-call-start", json!({"tool_calls": opening})));
                events.extend(reply.content.deltas().map(|piece| {
                    let fragment = json!({"function": {"arguments": piece}});
                    indexed("tool-call-delta", json!({"tool_calls": fragment})).with_content()
                }));
                events.push(event("tool-call-end", json!({"index": 0})));
            }
        }
        let end = json!({"finish_reason": finish_reason(reply), "usage": usage(&reply.usage)});
        events.push(event("message-end", json!({"delta": end})));
        events.push(Event::data("[DONE]"));
        events
    }

    /// Cohere ends a failed generation with `finish_reason: ERROR` on `message-end` (what
    /// else a real stream carries then is not documented; the message is the mock's).
    fn stream_error() -> Event {
        let delta = json!({"finish_reason": "ERROR",
            "error": "internal server error (x-mock-stream-error)"});
        event("message-end", json!({"delta": delta}))
    }

    fn error_body(error: &ApiError) -> String {
        let message = match error.kind {
            ErrorKind::RateLimited => {
                "You are using a Trial key, which is limited to 10 API calls / minute. \
                 (x-mock-status: 429)"
                    .to_owned()
            }
            _ => error.message.clone(),
        };
        json!({"id": format!("mock-{:08}", crate::ids::next_serial()), "message": message})
            .to_string()
    }
}

/// A named event whose data repeats the name as `type`, as Cohere always does.
fn event(name: &str, mut fields: Value) -> Event {
    fields["type"] = json!(name);
    Event::named(name, fields)
}

/// A block event at index 0 carrying `message` as its delta.
fn indexed(name: &str, message: Value) -> Event {
    event(name, json!({"index": 0, "delta": {"message": message}}))
}

/// The plan Cohere writes before calling a tool.
fn tool_plan(tool: &str) -> String {
    format!("I will use the {tool} tool to answer the question.")
}

/// Words with their leading space, as the plan is streamed.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(' ').enumerate().map(|(i, word)| {
        if i == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        }
    })
}

/// `tokens` counts everything the model read and wrote (cache included), `billed_units`
/// what is charged: here the uncached input.
fn usage(usage: &Usage) -> Value {
    let mut out = json!({
        "billed_units": {"input_tokens": usage.uncached_input, "output_tokens": usage.output},
        "tokens": {"input_tokens": usage.total_input(), "output_tokens": usage.output},
    });
    if usage.cache_read > 0 {
        out["cached_tokens"] = json!(usage.cache_read);
    }
    out
}

fn finish_reason(reply: &Reply) -> &'static str {
    match reply.content {
        ReplyContent::Text(_) => "COMPLETE",
        ReplyContent::ToolCall(_) => "TOOL_CALL",
    }
}

fn response_id(reply: &Reply) -> String {
    format!("00000000-0000-4000-8000-{:012}", reply.serial)
}

/// Cohere names calls `<tool>_<random suffix>`.
fn call_id(reply: &Reply, tool: &str) -> String {
    format!("{tool}_mock{:08}", reply.serial)
}
