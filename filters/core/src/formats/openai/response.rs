//! OpenAI `chat.completion` responses.
//!
//! Reasoning from other providers is returned LiteLLM-style: `reasoning_content` with the
//! text and `thinking_blocks` with the signed blocks the client must send back.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::usage::WireUsage;
use super::{decode_finish_reason, encode_finish_reason, error};
use crate::formats::fields::lenient_count;
use crate::model::{ApiError, ContentPart, Response};

#[derive(Debug, Deserialize)]
struct WireResponse {
    id: Option<String>,
    model: Option<String>,
    #[serde(default, deserialize_with = "lenient_count")]
    created: Option<u64>,
    choices: Option<Vec<WireChoice>>,
    usage: Option<WireUsage>,
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct WireChoice {
    #[serde(default, deserialize_with = "lenient_count")]
    index: Option<u64>,
    message: Option<WireMessage>,
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    /// A string, or (some compatible servers) an array of text parts.
    content: Option<Value>,
    refusal: Option<String>,
    /// DeepSeek's reasoning field.
    reasoning_content: Option<String>,
    /// Groq's and OpenRouter's reasoning field.
    reasoning: Option<String>,
    thinking_blocks: Option<Vec<Value>>,
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Debug, Deserialize)]
struct WireToolCall {
    id: Option<String>,
    function: Option<WireFunction>,
}

#[derive(Debug, Deserialize)]
struct WireFunction {
    name: Option<String>,
    arguments: Option<Value>,
}

/// Decodes a provider's `chat.completion` body. A body that only carries an `error` (some
/// compatible servers answer errors with status 200) decodes to that error.
pub fn decode(body: &[u8]) -> Result<Response, ApiError> {
    let wire: WireResponse = serde_json::from_slice(body).map_err(|_| {
        ApiError::bad_upstream("the provider's response is not a valid chat completion")
    })?;
    if let (Some(err), None) = (&wire.error, &wire.choices) {
        return Err(error::decode_value(err, None));
    }
    let choice = wire
        .choices
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.index.unwrap_or(0) == 0);
    let mut response = Response {
        id: wire.id.unwrap_or_default(),
        model: wire.model.unwrap_or_default(),
        created: wire.created,
        usage: wire.usage.map(|u| u.to_usage()).unwrap_or_default(),
        ..Response::default()
    };
    if let Some(choice) = choice {
        response.stop_reason = choice.finish_reason.as_deref().map(decode_finish_reason);
        if let Some(message) = choice.message {
            response.content = message_content(message);
        }
    }
    Ok(response)
}

fn message_content(message: WireMessage) -> Vec<ContentPart> {
    let mut parts = Vec::new();
    match message.thinking_blocks {
        Some(blocks) => parts.extend(blocks.iter().filter_map(decode_thinking_block)),
        None => {
            if let Some(text) = message.reasoning_content.or(message.reasoning) {
                if !text.is_empty() {
                    parts.push(ContentPart::Thinking {
                        text,
                        signature: None,
                    });
                }
            }
        }
    }
    match message.content {
        Some(Value::String(text)) if !text.is_empty() => parts.push(ContentPart::text(text)),
        Some(Value::Array(items)) => parts.extend(
            items
                .iter()
                .filter_map(|item| item.get("text").and_then(Value::as_str))
                .map(ContentPart::text),
        ),
        _ => {}
    }
    if let Some(refusal) = message.refusal.filter(|r| !r.is_empty()) {
        parts.push(ContentPart::text(refusal));
    }
    for call in message.tool_calls.unwrap_or_default() {
        parts.push(tool_call_part(call));
    }
    parts
}

fn tool_call_part(call: WireToolCall) -> ContentPart {
    let function = call.function;
    let (name, arguments) = match function {
        Some(f) => (f.name, f.arguments),
        None => (None, None),
    };
    ContentPart::ToolCall {
        id: call.id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        arguments: match arguments {
            None => String::new(),
            Some(Value::String(text)) => text,
            Some(other) => other.to_string(),
        },
    }
}

fn decode_thinking_block(block: &Value) -> Option<ContentPart> {
    let text = |key: &str| block.get(key).and_then(Value::as_str).map(str::to_owned);
    match block.get("type").and_then(Value::as_str)? {
        "thinking" => Some(ContentPart::Thinking {
            text: text("thinking").unwrap_or_default(),
            signature: text("signature"),
        }),
        "redacted_thinking" => Some(ContentPart::RedactedThinking {
            data: text("data")?,
        }),
        _ => None,
    }
}

/// A thinking part as a `thinking_blocks` entry.
pub(crate) fn thinking_block(part: &ContentPart) -> Option<Value> {
    match part {
        ContentPart::Thinking { text, signature } => Some(json!({
            "type": "thinking",
            "thinking": text,
            "signature": signature,
        })),
        ContentPart::RedactedThinking { data } => {
            Some(json!({"type": "redacted_thinking", "data": data}))
        }
        _ => None,
    }
}

/// Encodes a canonical response as a `chat.completion` body. `created` is used when the
/// provider did not say when the answer was made.
pub fn encode(response: &Response, created: u64) -> Value {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    for part in &response.content {
        match part {
            ContentPart::Text { text: t, .. } => text.push_str(t),
            ContentPart::Thinking { text: t, .. } => reasoning.push_str(t),
            ContentPart::ToolCall {
                id,
                name,
                arguments,
            } => tool_calls.push(json!({
                "id": id,
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            })),
            ContentPart::RedactedThinking { .. }
            | ContentPart::Image { .. }
            | ContentPart::ToolResult { .. } => {}
        }
        thinking_blocks.extend(thinking_block(part));
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    let content = if text.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    };
    message.insert("content".into(), content);
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), Value::String(reasoning));
    }
    if !thinking_blocks.is_empty() {
        message.insert("thinking_blocks".into(), Value::Array(thinking_blocks));
    }
    let finish_reason = response
        .stop_reason
        .as_ref()
        .map_or("stop", encode_finish_reason);
    json!({
        "id": response.id,
        "object": "chat.completion",
        "created": response.created.unwrap_or(created),
        "model": response.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
        "usage": super::usage::encode(&response.usage),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ErrorClass, StopReason};

    #[test]
    fn decodes_text_tool_calls_and_usage() {
        let body = br#"{"id":"chatcmpl-1","model":"gpt","created":5,"choices":[{"index":0,
            "message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
            "function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}],
            "usage":{"prompt_tokens":50,"completion_tokens":15,"total_tokens":65}}"#;
        let r = decode(body).unwrap();
        assert_eq!(r.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(r.usage.input_tokens, Some(50));
        assert_eq!(
            r.content,
            vec![ContentPart::ToolCall {
                id: "call_1".into(),
                name: "f".into(),
                arguments: "{\"a\":1}".into()
            }]
        );
    }

    #[test]
    fn compatible_reasoning_becomes_unsigned_thinking() {
        let body = br#"{"choices":[{"message":{"content":"4","reasoning_content":"2+2"}}]}"#;
        let r = decode(body).unwrap();
        assert_eq!(
            r.content[0],
            ContentPart::Thinking {
                text: "2+2".into(),
                signature: None
            }
        );
    }

    #[test]
    fn error_with_status_200() {
        let err = decode(br#"{"error":{"code":429,"message":"slow down"}}"#).unwrap_err();
        assert_eq!(err.class, ErrorClass::RateLimited);
    }

    #[test]
    fn malformed_is_bad_upstream_without_echo() {
        let err = decode(b"{\"choices\": 7, \"secret\": \"x\"}").unwrap_err();
        assert_eq!(err.class, ErrorClass::Server);
        assert!(!err.message.contains("secret"));
    }

    #[test]
    fn encode_carries_thinking_blocks_and_reasoning() {
        let r = Response {
            id: "msg_1".into(),
            model: "claude".into(),
            content: vec![
                ContentPart::Thinking {
                    text: "hmm".into(),
                    signature: Some("sig".into()),
                },
                ContentPart::text("hi"),
            ],
            stop_reason: Some(StopReason::EndTurn),
            ..Response::default()
        };
        let v = encode(&r, 7);
        let message = &v["choices"][0]["message"];
        assert_eq!(message["content"], "hi");
        assert_eq!(message["reasoning_content"], "hmm");
        assert_eq!(message["thinking_blocks"][0]["signature"], "sig");
        assert_eq!(v["created"], 7);
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
    }
}
