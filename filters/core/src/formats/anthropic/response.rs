//! Anthropic `message` responses.

use serde::Deserialize;
use serde_json::{json, Value};

use super::ids::response_tool_id;
use super::request::arguments_to_input;
use super::usage::WireUsage;
use super::{decode_stop_reason, encode_stop_reason, error};
use crate::model::{ApiError, ContentPart, Response};

#[derive(Debug, Deserialize)]
struct WireMessage {
    id: Option<String>,
    model: Option<String>,
    content: Option<Vec<Value>>,
    stop_reason: Option<String>,
    stop_sequence: Option<String>,
    usage: Option<WireUsage>,
    error: Option<Value>,
}

/// Decodes a provider's `message` body.
pub fn decode(body: &[u8]) -> Result<Response, ApiError> {
    let wire: WireMessage = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_upstream("the provider's response is not a valid message"))?;
    if let (Some(err), None) = (&wire.error, &wire.content) {
        return Err(error::decode_value(err, None));
    }
    Ok(Response {
        id: wire.id.unwrap_or_default(),
        model: wire.model.unwrap_or_default(),
        created: None,
        content: wire
            .content
            .unwrap_or_default()
            .iter()
            .filter_map(decode_block)
            .collect(),
        stop_reason: wire.stop_reason.as_deref().map(decode_stop_reason),
        stop_sequence: wire.stop_sequence,
        usage: wire.usage.map(|u| u.to_usage()).unwrap_or_default(),
    })
}

/// A response content block as a canonical part; blocks other formats cannot carry (server
/// tools and their results, compaction) are skipped.
fn decode_block(block: &Value) -> Option<ContentPart> {
    let text = |key: &str| block.get(key).and_then(Value::as_str).map(str::to_owned);
    match block.get("type").and_then(Value::as_str)? {
        "text" => Some(ContentPart::text(text("text").unwrap_or_default())),
        "tool_use" => Some(ContentPart::ToolCall {
            id: text("id").unwrap_or_default(),
            name: text("name").unwrap_or_default(),
            arguments: block
                .get("input")
                .map_or_else(|| "{}".to_owned(), Value::to_string),
        }),
        "thinking" => Some(ContentPart::Thinking {
            text: text("thinking").unwrap_or_default(),
            signature: text("signature"),
        }),
        "redacted_thinking" => Some(ContentPart::RedactedThinking {
            data: text("data").unwrap_or_default(),
        }),
        _ => None,
    }
}

/// Encodes a canonical response as a `message` body. Empty text blocks are left out.
pub fn encode(response: &Response) -> Value {
    let mut tool_ordinal = 0;
    let content: Vec<Value> = response
        .content
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text { text, .. } if !text.is_empty() => {
                Some(json!({"type": "text", "text": text}))
            }
            ContentPart::ToolCall {
                id,
                name,
                arguments,
            } => {
                let id = response_tool_id(id, tool_ordinal);
                tool_ordinal += 1;
                Some(json!({
                    "type": "tool_use",
                    "id": id,
                    "name": name,
                    "input": arguments_to_input(arguments),
                }))
            }
            ContentPart::Thinking { text, signature } => Some(json!({
                "type": "thinking",
                "thinking": text,
                "signature": signature.as_deref().unwrap_or_default(),
            })),
            ContentPart::RedactedThinking { data } => {
                Some(json!({"type": "redacted_thinking", "data": data}))
            }
            _ => None,
        })
        .collect();
    json!({
        "id": response.id,
        "type": "message",
        "role": "assistant",
        "model": response.model,
        "content": content,
        "stop_reason": response.stop_reason.as_ref().map(encode_stop_reason),
        "stop_sequence": response.stop_sequence,
        "usage": super::usage::encode(&response.usage),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{StopReason, Usage};

    #[test]
    fn decodes_blocks_and_skips_server_tools() {
        let body = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude",
            "content":[{"type":"thinking","thinking":"t","signature":"s"},
                       {"type":"server_tool_use","id":"srv","name":"web_search","input":{}},
                       {"type":"text","text":"hi"},
                       {"type":"tool_use","id":"toolu_1","name":"f","input":{"a":1}}],
            "stop_reason":"tool_use","stop_sequence":null,
            "usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":2}}"#;
        let r = decode(body).unwrap();
        assert_eq!(r.content.len(), 3);
        assert_eq!(
            r.content[2],
            ContentPart::ToolCall {
                id: "toolu_1".into(),
                name: "f".into(),
                arguments: "{\"a\":1}".into()
            }
        );
        assert_eq!(r.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(r.usage.cache_read_tokens, Some(2));
    }

    #[test]
    fn encode_skips_empty_text_and_generates_missing_ids() {
        let r = Response {
            id: "chatcmpl-1".into(),
            content: vec![
                ContentPart::text(""),
                ContentPart::ToolCall {
                    id: String::new(),
                    name: "f".into(),
                    arguments: String::new(),
                },
            ],
            stop_reason: Some(StopReason::ToolUse),
            usage: Usage {
                input_tokens: Some(1),
                output_tokens: Some(2),
                ..Usage::default()
            },
            ..Response::default()
        };
        let v = encode(&r);
        assert_eq!(v["content"].as_array().unwrap().len(), 1);
        assert_eq!(v["content"][0]["id"], "toolu_gen_0");
        assert_eq!(v["content"][0]["input"], json!({}));
        assert_eq!(v["stop_reason"], "tool_use");
        assert_eq!(v["usage"]["output_tokens"], 2);
    }
}
