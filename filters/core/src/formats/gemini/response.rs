//! Gemini `GenerateContentResponse` bodies (non-streaming).
//!
//! A whole response has exactly the shape of one stream chunk, so it is decoded by the
//! stream decoder ([`super::stream::ChunkDecoder`]) and its events are folded into a
//! response: the parts, ids, signatures, finish reason and usage rules live in one place.

use serde_json::{json, Map, Value};

use super::stream::{ChunkDecoder, WireResponse};
use super::{encode_finish_reason, ids};
use crate::model::{ApiError, BlockDelta, BlockStart, ContentPart, Response, StreamEvent};

/// Decodes a provider's `generateContent` body. A body that only carries an `error` decodes
/// to that error.
pub fn decode(body: &[u8]) -> Result<Response, ApiError> {
    let wire: WireResponse = serde_json::from_slice(body).map_err(|_| {
        ApiError::bad_upstream("the provider's response is not a valid GenerateContentResponse")
    })?;
    let mut events = Vec::new();
    ChunkDecoder::new().on_chunk(wire, &mut events);
    fold(events)
}

/// The response a sequence of canonical events describes.
fn fold(events: Vec<StreamEvent>) -> Result<Response, ApiError> {
    let mut response = Response::default();
    // Canonical block index → position in `response.content`.
    let mut blocks: Vec<(u32, usize)> = Vec::new();
    for event in events {
        match event {
            StreamEvent::Start {
                id,
                model,
                created,
                usage,
            } => {
                response.id = id;
                response.model = model;
                response.created = created;
                response.usage.update(&usage);
            }
            StreamEvent::Usage(usage) => response.usage.update(&usage),
            StreamEvent::BlockStart { index, block } => {
                blocks.push((index, response.content.len()));
                response.content.push(match block {
                    BlockStart::Text => ContentPart::text(""),
                    BlockStart::Thinking => ContentPart::Thinking {
                        text: String::new(),
                        signature: None,
                    },
                    BlockStart::RedactedThinking { data } => ContentPart::RedactedThinking { data },
                    BlockStart::ToolCall { id, name } => ContentPart::ToolCall {
                        id,
                        name,
                        arguments: String::new(),
                    },
                });
            }
            StreamEvent::BlockDelta { index, delta } => {
                let part = blocks
                    .iter()
                    .rev()
                    .find(|(i, _)| *i == index)
                    .and_then(|(_, at)| response.content.get_mut(*at));
                if let Some(part) = part {
                    append(part, delta);
                }
            }
            StreamEvent::Finish {
                reason,
                stop_sequence,
            } => {
                response.stop_reason = Some(reason);
                response.stop_sequence = stop_sequence;
            }
            StreamEvent::Error(err) => return Err(err),
            StreamEvent::BlockStop { .. } | StreamEvent::End => {}
        }
    }
    Ok(response)
}

fn append(part: &mut ContentPart, delta: BlockDelta) {
    match (part, delta) {
        (ContentPart::Text { text, .. }, BlockDelta::Text(more))
        | (ContentPart::Thinking { text, .. }, BlockDelta::Thinking(more))
        | (
            ContentPart::ToolCall {
                arguments: text, ..
            },
            BlockDelta::ToolArguments(more),
        ) => {
            text.push_str(&more);
        }
        (ContentPart::Thinking { signature, .. }, BlockDelta::Signature(more)) => {
            signature.get_or_insert_with(String::new).push_str(&more);
        }
        _ => {}
    }
}

/// A tool call as a `functionCall` part, with the signature its id carries.
pub(super) fn call_part(id: &str, name: &str, arguments: &str) -> Value {
    let args = match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => value,
        _ => json!({}),
    };
    let mut part = json!({"functionCall": {"name": name, "args": args}});
    if let (Some(map), (_, Some(signature))) = (part.as_object_mut(), ids::unpack(id)) {
        map.insert("thoughtSignature".into(), json!(signature));
    }
    part
}

/// Encodes a canonical response as a `GenerateContentResponse`. Thinking becomes `thought`
/// parts carrying their signature; content Gemini has no part for is left out.
pub fn encode(response: &Response) -> Value {
    let parts: Vec<Value> = response
        .content
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text { text, .. } if !text.is_empty() => Some(json!({"text": text})),
            ContentPart::Thinking { text, signature } => {
                let mut part = json!({"text": text, "thought": true});
                if let (Some(map), Some(signature)) = (part.as_object_mut(), signature) {
                    map.insert("thoughtSignature".into(), json!(signature));
                }
                Some(part)
            }
            ContentPart::ToolCall {
                id,
                name,
                arguments,
            } => Some(call_part(id, name, arguments)),
            _ => None,
        })
        .collect();
    let mut candidate = Map::new();
    candidate.insert("content".into(), json!({"parts": parts, "role": "model"}));
    if let Some(reason) = &response.stop_reason {
        candidate.insert("finishReason".into(), json!(encode_finish_reason(reason)));
    }
    candidate.insert("index".into(), json!(0));
    json!({
        "candidates": [candidate],
        "usageMetadata": super::usage::encode(&response.usage),
        "modelVersion": response.model,
        "responseId": response.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ErrorClass, StopReason, Usage};

    #[test]
    fn function_calls_get_ids_signatures_and_tool_use() {
        let body = br#"{"candidates":[{"content":{"parts":[
              {"text":"Let me check.","thoughtSignature":"c2ln"},
              {"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"Q+/x"},
              {"functionCall":{"name":"get_weather","args":{"city":"Rome"}}}],
            "role":"model"},"finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":83,"candidatesTokenCount":30,"thoughtsTokenCount":190,"totalTokenCount":303},
            "modelVersion":"gemini-3-flash-preview","responseId":"wOd8abGuO5rgz7IP5tLEGA"}"#;
        let r = decode(body).unwrap();
        assert_eq!(r.id, "wOd8abGuO5rgz7IP5tLEGA");
        assert_eq!(r.model, "gemini-3-flash-preview");
        assert_eq!(r.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(
            r.content,
            vec![
                ContentPart::Thinking {
                    text: String::new(),
                    signature: Some("c2ln".into())
                },
                ContentPart::text("Let me check."),
                ContentPart::ToolCall {
                    id: "call_wOd8abGuO5rgz7IP5tLEGA_0__thought__Q-_x".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into(),
                },
                ContentPart::ToolCall {
                    id: "call_wOd8abGuO5rgz7IP5tLEGA_1".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Rome"}"#.into(),
                },
            ]
        );
        assert_eq!(r.usage.input_tokens, Some(83));
        assert_eq!(r.usage.output_tokens, Some(220));
        assert_eq!(r.usage.reasoning_tokens, Some(190));
    }

    #[test]
    fn blocked_prompt_is_a_content_filter_stop() {
        let body = br#"{"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[]},
            "usageMetadata":{"promptTokenCount":7,"totalTokenCount":7},"modelVersion":"m"}"#;
        let r = decode(body).unwrap();
        assert!(r.content.is_empty());
        assert_eq!(r.stop_reason, Some(StopReason::ContentFilter));
        assert_eq!(r.usage.input_tokens, Some(7));
    }

    #[test]
    fn safety_finish_and_thoughts() {
        let body = br#"{"candidates":[{"content":{"parts":[{"text":"Plan.","thought":true},{"text":"Par"}],"role":"model"},
            "finishReason":"SAFETY"}],"usageMetadata":{"promptTokenCount":3}}"#;
        let r = decode(body).unwrap();
        assert_eq!(r.stop_reason, Some(StopReason::ContentFilter));
        assert_eq!(
            r.content[0],
            ContentPart::Thinking {
                text: "Plan.".into(),
                signature: None
            }
        );
        assert_eq!(r.content[1], ContentPart::text("Par"));
    }

    #[test]
    fn error_bodies_and_garbage() {
        let err =
            decode(br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}"#)
                .unwrap_err();
        assert_eq!(err.class, ErrorClass::RateLimited);
        let err = decode(b"not json").unwrap_err();
        assert_eq!(err.code.as_deref(), Some("bad_upstream_response"));
    }

    #[test]
    fn encode_then_decode_keeps_content() {
        let response = Response {
            id: "r1".into(),
            model: "gemini".into(),
            content: vec![
                ContentPart::Thinking {
                    text: "hmm".into(),
                    signature: None,
                },
                ContentPart::text("Hi"),
                ContentPart::ToolCall {
                    id: ids::pack("call_r1_0", Some("c2ln")),
                    name: "f".into(),
                    arguments: r#"{"a":1}"#.into(),
                },
            ],
            stop_reason: Some(StopReason::ToolUse),
            usage: Usage {
                input_tokens: Some(5),
                cache_read_tokens: Some(0),
                output_tokens: Some(9),
                reasoning_tokens: Some(2),
                ..Usage::default()
            },
            ..Response::default()
        };
        let wire = encode(&response);
        assert_eq!(wire["candidates"][0]["finishReason"], "STOP");
        assert_eq!(
            wire["candidates"][0]["content"]["parts"][2]["thoughtSignature"],
            "c2ln"
        );
        let back = decode(wire.to_string().as_bytes()).unwrap();
        assert_eq!(back, response);
    }
}
