//! Cohere v2 chat responses: `{id, message: {role, content: [{type: "text" | "thinking"}],
//! tool_plan, tool_calls, citations}, finish_reason, usage}`. There is no model field.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::usage::WireUsage;
use super::{decode_finish_reason, encode_finish_reason, response_tool_id, Finish};
use crate::formats::openai_shapes::tool_call;
use crate::model::{ApiError, ContentPart, ErrorClass, Response};

#[derive(Debug, Deserialize)]
struct WireResponse {
    id: Option<String>,
    /// The assistant message; a string here is an error answered with status 200.
    message: Option<Value>,
    finish_reason: Option<String>,
    usage: Option<WireUsage>,
}

#[derive(Debug, Default, Deserialize)]
struct WireMessage {
    content: Option<Vec<Value>>,
    tool_plan: Option<String>,
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct WireToolCall {
    pub id: Option<String>,
    pub function: Option<WireFunction>,
}

#[derive(Debug, Deserialize)]
pub(super) struct WireFunction {
    pub name: Option<String>,
    /// A JSON string; kept as its text when a server sends the object itself.
    pub arguments: Option<Value>,
}

impl WireFunction {
    pub fn arguments_text(&self) -> String {
        match &self.arguments {
            None => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        }
    }
}

/// Decodes a provider's chat body. `finish_reason` `ERROR` or `TIMEOUT` makes the answer
/// an error even though the status was 200.
pub fn decode(body: &[u8]) -> Result<Response, ApiError> {
    let wire: WireResponse = serde_json::from_slice(body).map_err(|_| {
        ApiError::bad_upstream("the provider's response is not a valid chat response")
    })?;
    let message = match wire.message {
        Some(Value::String(error)) => return Err(ApiError::new(ErrorClass::Server, error)),
        Some(value) => serde_json::from_value::<WireMessage>(value).map_err(|_| {
            ApiError::bad_upstream("the provider's response message is not readable")
        })?,
        None => WireMessage::default(),
    };
    let stop_reason = match wire.finish_reason.as_deref() {
        None => None,
        Some(reason) => match decode_finish_reason(reason, None) {
            Finish::Stopped(reason) => Some(reason),
            Finish::Failed(err) => return Err(err),
        },
    };
    Ok(Response {
        id: wire.id.unwrap_or_default(),
        stop_reason,
        content: message_content(message),
        usage: wire.usage.map(|u| u.to_usage()).unwrap_or_default(),
        ..Response::default()
    })
}

/// Thinking and text blocks in order, then the tool plan, then the tool calls. Citation and
/// other blocks are skipped.
fn message_content(message: WireMessage) -> Vec<ContentPart> {
    let mut parts: Vec<ContentPart> =
        message
            .content
            .unwrap_or_default()
            .iter()
            .filter_map(|block| {
                let text = |key: &str| block.get(key).and_then(Value::as_str).map(str::to_owned);
                match block.get("type").and_then(Value::as_str)? {
                    "text" => text("text")
                        .filter(|t| !t.is_empty())
                        .map(ContentPart::text),
                    "thinking" => text("thinking").filter(|t| !t.is_empty()).map(|text| {
                        ContentPart::Thinking {
                            text,
                            signature: None,
                        }
                    }),
                    _ => None,
                }
            })
            .collect();
    if let Some(plan) = message.tool_plan.filter(|p| !p.is_empty()) {
        parts.push(ContentPart::text(plan));
    }
    for call in message.tool_calls.unwrap_or_default() {
        let (name, arguments) = match &call.function {
            Some(f) => (f.name.clone().unwrap_or_default(), f.arguments_text()),
            None => (String::new(), String::new()),
        };
        parts.push(ContentPart::ToolCall {
            id: call.id.unwrap_or_default(),
            name,
            arguments,
        });
    }
    parts
}

/// Encodes a canonical response as a v2 chat body. As Cohere does, the text of an answer
/// with tool calls is its `tool_plan`; thinking is sent as `thinking` blocks (without
/// signatures, which Cohere has no field for).
pub fn encode(response: &Response) -> Value {
    let mut text = String::new();
    let mut thinking = Vec::new();
    let mut calls = Vec::new();
    for part in &response.content {
        match part {
            ContentPart::Text { text: t, .. } => text.push_str(t),
            ContentPart::Thinking { text: t, .. } => {
                thinking.push(json!({"type": "thinking", "thinking": t}));
            }
            ContentPart::ToolCall {
                id,
                name,
                arguments,
            } => {
                let id = response_tool_id(id, calls.len());
                calls.push(tool_call(&id, name, arguments));
            }
            _ => {}
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    let mut content = thinking;
    if calls.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    } else {
        message.insert("tool_plan".into(), json!(text));
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    if !content.is_empty() {
        message.insert("content".into(), Value::Array(content));
    }
    json!({
        "id": response.id,
        "message": message,
        "finish_reason": response.stop_reason.as_ref().map_or("COMPLETE", encode_finish_reason),
        "usage": super::usage::encode(&response.usage),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StopReason;

    #[test]
    fn decodes_tool_plan_and_calls() {
        let body = br#"{"id":"r1","message":{"role":"assistant","tool_plan":"I will use f.",
            "tool_calls":[{"id":"f_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
            "finish_reason":"TOOL_CALL","usage":{"billed_units":{"input_tokens":23,"output_tokens":41},
            "tokens":{"input_tokens":906,"output_tokens":77}}}"#;
        let r = decode(body).unwrap();
        assert_eq!(r.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(
            r.content,
            vec![
                ContentPart::text("I will use f."),
                ContentPart::ToolCall {
                    id: "f_1".into(),
                    name: "f".into(),
                    arguments: r#"{"a":1}"#.into()
                }
            ]
        );
        assert_eq!(
            (r.usage.input_tokens, r.usage.output_tokens),
            (Some(906), Some(77))
        );
        assert_eq!(r.model, "");
    }

    #[test]
    fn decodes_thinking_then_text() {
        let body = br#"{"id":"r","message":{"role":"assistant","content":[
            {"type":"thinking","thinking":"2+2"},{"type":"text","text":"4"}]},"finish_reason":"COMPLETE"}"#;
        let r = decode(body).unwrap();
        assert_eq!(
            r.content,
            vec![
                ContentPart::Thinking {
                    text: "2+2".into(),
                    signature: None
                },
                ContentPart::text("4")
            ]
        );
    }

    // Field guide §4.7, pitfall 10: ERROR and TIMEOUT are failures, not stop reasons.
    #[test]
    fn error_finish_is_an_error() {
        let err = decode(br#"{"id":"r","message":{"content":[]},"finish_reason":"TIMEOUT"}"#)
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::Timeout);
        let err = decode(br#"{"id":"r","message":"internal error"}"#).unwrap_err();
        assert_eq!(err.message, "internal error");
    }

    #[test]
    fn malformed_is_bad_upstream_without_echo() {
        let err = decode(br#"{"message": 7, "secret": "x"}"#).unwrap_err();
        assert_eq!(err.code.as_deref(), Some("bad_upstream_response"));
        assert!(!err.message.contains("secret"));
    }

    #[test]
    fn encode_round_trips() {
        let response = Response {
            id: "r".into(),
            content: vec![
                ContentPart::Thinking {
                    text: "hmm".into(),
                    signature: None,
                },
                ContentPart::text("Calling."),
                ContentPart::ToolCall {
                    id: "c".into(),
                    name: "f".into(),
                    arguments: "{}".into(),
                },
            ],
            stop_reason: Some(StopReason::ToolUse),
            ..Response::default()
        };
        let wire = encode(&response);
        assert_eq!(wire["message"]["tool_plan"], "Calling.");
        assert_eq!(wire["finish_reason"], "TOOL_CALL");
        let back = decode(wire.to_string().as_bytes()).unwrap();
        assert_eq!(back.content, response.content);
    }
}
