//! Converse responses: `{output: {message}, stopReason, usage, metrics,
//! additionalModelResponseFields}`. Bedrock names neither the response nor the model in
//! the body, so the canonical id and model stay empty.

use serde::Deserialize;
use serde_json::{json, Value};

use super::usage::WireUsage;
use super::{decode_stop_reason, encode_stop_reason, tool_use_id};
use crate::formats::fields::arguments_to_input;
use crate::model::{ApiError, ContentPart, Response};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireResponse {
    output: Option<WireOutput>,
    stop_reason: Option<String>,
    usage: Option<WireUsage>,
    additional_model_response_fields: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct WireOutput {
    message: Option<WireMessage>,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Vec<Value>,
}

/// Decodes a Converse response body.
pub fn decode(body: &[u8]) -> Result<Response, ApiError> {
    let wire: WireResponse = serde_json::from_slice(body).map_err(|_| {
        ApiError::bad_upstream("the provider's response is not a valid Converse response")
    })?;
    let Some(message) = wire.output.and_then(|o| o.message) else {
        return Err(ApiError::bad_upstream(
            "the provider's response has no output message",
        ));
    };
    Ok(Response {
        content: message.content.iter().filter_map(decode_block).collect(),
        stop_reason: wire.stop_reason.as_deref().map(decode_stop_reason),
        stop_sequence: stop_sequence(wire.additional_model_response_fields.as_ref()),
        usage: wire.usage.map(|u| u.to_usage()).unwrap_or_default(),
        ..Response::default()
    })
}

/// The stop sequence that ended generation, which Claude models report in
/// `additionalModelResponseFields.stop_sequence`.
pub fn stop_sequence(fields: Option<&Value>) -> Option<String> {
    fields?
        .get("stop_sequence")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// An output content block as a canonical part; blocks other formats cannot carry
/// (citations, images, guard content) are skipped.
fn decode_block(block: &Value) -> Option<ContentPart> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    if let Some(t) = text(block, "text") {
        return Some(ContentPart::text(t));
    }
    if let Some(tool_use) = block.get("toolUse") {
        return Some(ContentPart::ToolCall {
            id: text(tool_use, "toolUseId").unwrap_or_default(),
            name: text(tool_use, "name").unwrap_or_default(),
            arguments: tool_use
                .get("input")
                .map_or_else(|| "{}".to_owned(), Value::to_string),
        });
    }
    let reasoning = block.get("reasoningContent")?;
    if let Some(reasoning_text) = reasoning.get("reasoningText") {
        return Some(ContentPart::Thinking {
            text: text(reasoning_text, "text").unwrap_or_default(),
            signature: text(reasoning_text, "signature"),
        });
    }
    text(reasoning, "redactedContent").map(|data| ContentPart::RedactedThinking { data })
}

/// Encodes a canonical response as a Converse body. Empty text blocks are left out.
pub fn encode(response: &Response) -> Value {
    let content: Vec<Value> = response
        .content
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text { text, .. } if !text.is_empty() => Some(json!({"text": text})),
            ContentPart::ToolCall {
                id,
                name,
                arguments,
            } => Some(json!({"toolUse": {
                "toolUseId": tool_use_id(id),
                "name": name,
                "input": arguments_to_input(arguments),
            }})),
            ContentPart::Thinking { text, signature } => {
                let mut reasoning = json!({"text": text});
                if let Some(signature) = signature {
                    reasoning["signature"] = json!(signature);
                }
                Some(json!({"reasoningContent": {"reasoningText": reasoning}}))
            }
            ContentPart::RedactedThinking { data } => {
                Some(json!({"reasoningContent": {"redactedContent": data}}))
            }
            _ => None,
        })
        .collect();
    let mut body = json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": response.stop_reason.as_ref().map_or("end_turn", encode_stop_reason),
        "usage": super::usage::encode(&response.usage),
        "metrics": {"latencyMs": 0},
    });
    if let Some(sequence) = &response.stop_sequence {
        body["additionalModelResponseFields"] = json!({"stop_sequence": sequence});
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{StopReason, Usage};

    #[test]
    fn decodes_text_tools_reasoning_and_usage() {
        let body = br#"{"output":{"message":{"role":"assistant","content":[
            {"reasoningContent":{"reasoningText":{"text":"hmm","signature":"sig"}}},
            {"reasoningContent":{"redactedContent":"cmVk"}},
            {"text":"Let me check."},
            {"citationsContent":{}},
            {"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"city":"Paris"}}}]}},
            "stopReason":"tool_use","metrics":{"latencyMs":10},
            "usage":{"inputTokens":5,"outputTokens":7,"totalTokens":12,"cacheReadInputTokens":3}}"#;
        let r = decode(body).unwrap();
        assert_eq!(r.content.len(), 4);
        assert_eq!(
            r.content[0],
            ContentPart::Thinking {
                text: "hmm".into(),
                signature: Some("sig".into())
            }
        );
        assert_eq!(
            r.content[1],
            ContentPart::RedactedThinking {
                data: "cmVk".into()
            }
        );
        assert_eq!(
            r.content[3],
            ContentPart::ToolCall {
                id: "tooluse_1".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into()
            }
        );
        assert_eq!(r.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(r.usage.input_tokens, Some(5));
        assert_eq!(r.usage.cache_read_tokens, Some(3));
        assert_eq!(r.usage.prompt_tokens(), 8);
    }

    #[test]
    fn guardrails_are_a_content_filter_and_stop_sequences_are_kept() {
        let body = br#"{"output":{"message":{"role":"assistant","content":[{"text":"x"}]}},
            "stopReason":"guardrail_intervened","usage":{"inputTokens":1,"outputTokens":1}}"#;
        assert_eq!(
            decode(body).unwrap().stop_reason,
            Some(StopReason::ContentFilter)
        );
        let body = br#"{"output":{"message":{"role":"assistant","content":[]}},
            "stopReason":"stop_sequence","additionalModelResponseFields":{"stop_sequence":"END"}}"#;
        let r = decode(body).unwrap();
        assert_eq!(r.stop_sequence.as_deref(), Some("END"));
        assert!(r.usage.is_empty());
    }

    #[test]
    fn unreadable_bodies_are_bad_upstream() {
        for body in [&b"not json"[..], br#"{"stopReason":"end_turn"}"#] {
            let err = decode(body).unwrap_err();
            assert_eq!(err.code.as_deref(), Some("bad_upstream_response"));
        }
    }

    #[test]
    fn encode_round_trips() {
        let response = Response {
            content: vec![
                ContentPart::Thinking {
                    text: "t".into(),
                    signature: Some("s".into()),
                },
                ContentPart::text(""),
                ContentPart::text("hi"),
                ContentPart::ToolCall {
                    id: "tooluse_1".into(),
                    name: "f".into(),
                    arguments: r#"{"a":1}"#.into(),
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
        let back = decode(encode(&response).to_string().as_bytes()).unwrap();
        let mut expected = response.clone();
        expected.content.remove(1);
        assert_eq!(back, expected);
    }
}
