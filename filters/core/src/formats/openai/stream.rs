//! OpenAI `chat.completion.chunk` streams.
//!
//! [`ChunkDecoder`] turns provider chunks into canonical events. Chunks have no block
//! structure, so the decoder opens a block when the kind of delta changes (reasoning, text,
//! a new tool call) and closes it when another starts or the choice finishes. Empty
//! fragments open nothing, which keeps empty text blocks out of formats that reject them.
//!
//! [`ChunkEncoder`] writes canonical events as chunks for an OpenAI client: one chunk per
//! event that carries content, the usage chunk (`choices: []`) only when the client asked for
//! it, then `data: [DONE]`. An error becomes `data: {"error": …}` with no `[DONE]`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::response::thinking_block;
use super::usage::WireUsage;
use super::{decode_finish_reason, encode_finish_reason, error};
use crate::formats::fields::lenient_count;
use crate::formats::json_events::{json_data, JsonEventDecoder};
use crate::model::{ApiError, BlockDelta, BlockStart, ContentPart, StreamEvent, Usage};
use crate::sse::{write_event, SseEvent};

// === decode ===

#[derive(Debug, Deserialize)]
struct WireChunk {
    id: Option<String>,
    model: Option<String>,
    #[serde(default, deserialize_with = "lenient_count")]
    created: Option<u64>,
    choices: Option<Vec<WireChoice>>,
    usage: Option<WireUsage>,
    /// OpenRouter reports mid-stream failures as a chunk with an `error` object.
    error: Option<Value>,
}

impl WireChunk {
    /// Azure OpenAI opens streams with a chunk that has no choices, an empty id and model,
    /// and only its `prompt_filter_results`; the answer's id and model come with the next
    /// chunk, so this one must not start the answer. (Passthrough still forwards it.)
    fn is_annotation_only(&self) -> bool {
        self.choices.as_ref().is_none_or(Vec::is_empty)
            && self.usage.is_none()
            && self.error.is_none()
    }
}

#[derive(Debug, Deserialize)]
struct WireChoice {
    #[serde(default, deserialize_with = "lenient_count")]
    index: Option<u64>,
    delta: Option<WireDelta>,
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireDelta {
    content: Option<Value>,
    refusal: Option<String>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
    tool_calls: Option<Vec<WireToolCallDelta>>,
}

#[derive(Debug, Deserialize)]
struct WireToolCallDelta {
    #[serde(default, deserialize_with = "lenient_count")]
    index: Option<u64>,
    id: Option<String>,
    function: Option<WireFunctionDelta>,
}

#[derive(Debug, Deserialize)]
struct WireFunctionDelta {
    name: Option<String>,
    arguments: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Text,
    Thinking,
    Tool,
}

#[derive(Debug, Clone, Copy)]
struct OpenBlock {
    index: u32,
    kind: BlockKind,
}

/// A tool call seen in this stream.
#[derive(Debug)]
struct ToolSlot {
    /// The call's `index` in OpenAI's `tool_calls` array.
    wire_index: u64,
    id: String,
    block: u32,
}

/// Provider chunks → canonical events.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    started: bool,
    open: Option<OpenBlock>,
    next_block: u32,
    tools: Vec<ToolSlot>,
    finished: bool,
    /// `[DONE]` or a provider error was seen; nothing after it counts.
    closed: bool,
}

impl ChunkDecoder {
    pub fn new() -> ChunkDecoder {
        ChunkDecoder::default()
    }

    pub fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        let Some(data) = json_data(self, event, out) else {
            return;
        };
        if event.event.as_deref() == Some("error") {
            // Groq: `event: error` with `{"error": {...}}`.
            let err = match serde_json::from_str::<Value>(data) {
                Ok(v) => error::decode_value(v.get("error").unwrap_or(&v), None),
                Err(_) => ApiError::bad_upstream("the provider reported an unreadable error"),
            };
            self.fail(err, out);
            return;
        }
        let Ok(chunk) = serde_json::from_str::<WireChunk>(data) else {
            out.push(StreamEvent::Error(ApiError::bad_upstream(
                "the provider sent a stream chunk that is not valid JSON",
            )));
            return;
        };
        if !self.started {
            if chunk.is_annotation_only() {
                return;
            }
            self.started = true;
            out.push(StreamEvent::Start {
                id: chunk.id.clone().unwrap_or_default(),
                model: chunk.model.clone().unwrap_or_default(),
                created: chunk.created,
                usage: Usage::default(),
            });
        }
        if let Some(err) = &chunk.error {
            if let Some(usage) = &chunk.usage {
                out.push(StreamEvent::Usage(usage.to_usage()));
            }
            self.fail(error::decode_value(err, None), out);
            return;
        }
        for choice in chunk.choices.unwrap_or_default() {
            // Only the first choice is translated; n > 1 is refused for other formats.
            if choice.index.unwrap_or(0) == 0 {
                self.on_choice(choice, out);
            }
        }
        if let Some(usage) = &chunk.usage {
            out.push(StreamEvent::Usage(usage.to_usage()));
        }
    }

    /// The provider body ended. A stream that finished without `[DONE]` (some compatible
    /// servers) still ends cleanly; one that never finished ends with nothing (its open block
    /// stays open, as it is incomplete), and the caller reports the truncation.
    pub fn on_end(&mut self, out: &mut Vec<StreamEvent>) {
        if self.closed {
            return;
        }
        self.closed = true;
        if self.finished {
            self.close_block(out);
            out.push(StreamEvent::End);
        }
    }

    fn on_choice(&mut self, choice: WireChoice, out: &mut Vec<StreamEvent>) {
        if let Some(delta) = choice.delta {
            self.on_delta(delta, out);
        }
        if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
            self.close_block(out);
            self.finished = true;
            out.push(StreamEvent::Finish {
                reason: decode_finish_reason(&reason),
                stop_sequence: None,
            });
        }
    }

    fn on_delta(&mut self, delta: WireDelta, out: &mut Vec<StreamEvent>) {
        if let Some(text) = delta.reasoning_content.or(delta.reasoning) {
            self.text_like(BlockKind::Thinking, BlockDelta::Thinking(text), out);
        }
        if let Some(Value::String(text)) = delta.content {
            self.text_like(BlockKind::Text, BlockDelta::Text(text), out);
        }
        if let Some(refusal) = delta.refusal {
            self.text_like(BlockKind::Text, BlockDelta::Text(refusal), out);
        }
        for (position, call) in delta.tool_calls.unwrap_or_default().into_iter().enumerate() {
            self.on_tool_call(position as u64, call, out);
        }
    }

    fn text_like(&mut self, kind: BlockKind, delta: BlockDelta, out: &mut Vec<StreamEvent>) {
        let empty = match &delta {
            BlockDelta::Text(t) | BlockDelta::Thinking(t) => t.is_empty(),
            _ => false,
        };
        if empty {
            return;
        }
        let index = match self.open {
            Some(open) if open.kind == kind => open.index,
            _ => {
                let block = match kind {
                    BlockKind::Thinking => BlockStart::Thinking,
                    _ => BlockStart::Text,
                };
                self.open_block(kind, block, out)
            }
        };
        out.push(StreamEvent::BlockDelta { index, delta });
    }

    fn on_tool_call(&mut self, position: u64, call: WireToolCallDelta, out: &mut Vec<StreamEvent>) {
        let wire_index = call.index.unwrap_or(position);
        let id = call.id.unwrap_or_default();
        let (name, arguments) = match call.function {
            Some(f) => (f.name, f.arguments),
            None => (None, None),
        };
        let arguments = match arguments {
            None => String::new(),
            Some(Value::String(text)) => text,
            Some(other) => other.to_string(),
        };
        // Some servers number every call 0; a new id at a known index is a new call.
        let known = self
            .tools
            .iter()
            .rev()
            .find(|slot| slot.wire_index == wire_index)
            .filter(|slot| id.is_empty() || slot.id == id)
            .map(|slot| slot.block);
        let index = match known {
            Some(block) => block,
            None => {
                let start = BlockStart::ToolCall {
                    id: id.clone(),
                    name: name.unwrap_or_default(),
                };
                let block = self.open_block(BlockKind::Tool, start, out);
                self.tools.push(ToolSlot {
                    wire_index,
                    id,
                    block,
                });
                block
            }
        };
        if !arguments.is_empty() {
            out.push(StreamEvent::BlockDelta {
                index,
                delta: BlockDelta::ToolArguments(arguments),
            });
        }
    }

    fn open_block(
        &mut self,
        kind: BlockKind,
        block: BlockStart,
        out: &mut Vec<StreamEvent>,
    ) -> u32 {
        self.close_block(out);
        let index = self.next_block;
        self.next_block = self.next_block.saturating_add(1);
        self.open = Some(OpenBlock { index, kind });
        out.push(StreamEvent::BlockStart { index, block });
        index
    }

    fn close_block(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(open) = self.open.take() {
            out.push(StreamEvent::BlockStop { index: open.index });
        }
    }

    fn fail(&mut self, err: ApiError, out: &mut Vec<StreamEvent>) {
        self.closed = true;
        out.push(StreamEvent::Error(err));
    }
}

impl JsonEventDecoder for ChunkDecoder {
    fn closed(&mut self) -> &mut bool {
        &mut self.closed
    }

    fn close_blocks(&mut self, out: &mut Vec<StreamEvent>) {
        self.close_block(out);
    }
}

// === encode ===

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: &'a [ChunkChoice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Value>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    finish_reason: Option<&'static str>,
}

#[derive(Default, Serialize)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_blocks: Option<[Value; 1]>,
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

/// A thinking block being streamed, kept whole for its `thinking_blocks` entry.
#[derive(Debug)]
struct ThinkingBlock {
    index: u32,
    text: String,
    signature: Option<String>,
}

/// Canonical events → chunks for an OpenAI client.
#[derive(Debug)]
pub struct ChunkEncoder {
    include_usage: bool,
    id: String,
    model: String,
    created: u64,
    usage: Usage,
    /// Canonical block index → index in OpenAI's `tool_calls` array.
    tool_indices: Vec<(u32, u32)>,
    thinking: Option<ThinkingBlock>,
    started: bool,
    done: bool,
}

impl ChunkEncoder {
    /// `include_usage`: the client asked for `stream_options.include_usage`. `created` is the
    /// timestamp used when the provider gives none.
    pub fn new(include_usage: bool, created: u64) -> ChunkEncoder {
        ChunkEncoder {
            include_usage,
            id: String::new(),
            model: String::new(),
            created,
            usage: Usage::default(),
            tool_indices: Vec::new(),
            thinking: None,
            started: false,
            done: false,
        }
    }

    pub fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if let StreamEvent::Start {
            id,
            model,
            created,
            usage,
        } = event
        {
            self.id.clone_from(id);
            self.model.clone_from(model);
            self.created = created.unwrap_or(self.created);
            self.usage.update(usage);
        }
        if !self.started && !matches!(event, StreamEvent::Error(_)) {
            self.started = true;
            let delta = Delta {
                role: Some("assistant"),
                content: Some(""),
                ..Delta::default()
            };
            self.write_delta(delta, None, out);
        }
        match event {
            StreamEvent::Start { .. } => {}
            StreamEvent::Usage(usage) => self.usage.update(usage),
            StreamEvent::BlockStart { index, block } => self.block_start(*index, block, out),
            StreamEvent::BlockDelta { index, delta } => self.block_delta(*index, delta, out),
            StreamEvent::BlockStop { index } => self.block_stop(*index, out),
            StreamEvent::Finish { reason, .. } => {
                self.write_delta(Delta::default(), Some(encode_finish_reason(reason)), out);
            }
            StreamEvent::End => {
                if self.include_usage {
                    let chunk = Chunk {
                        id: &self.id,
                        object: "chat.completion.chunk",
                        created: self.created,
                        model: &self.model,
                        choices: &[],
                        usage: Some(super::usage::encode(&self.usage)),
                    };
                    write_json(out, &chunk);
                }
                write_event(out, None, "[DONE]");
                self.done = true;
            }
            StreamEvent::Error(err) => {
                write_event(out, None, &error::encode(err).to_string());
                self.done = true;
            }
        }
    }

    fn block_start(&mut self, index: u32, block: &BlockStart, out: &mut Vec<u8>) {
        match block {
            BlockStart::Text => {}
            BlockStart::Thinking => {
                self.thinking = Some(ThinkingBlock {
                    index,
                    text: String::new(),
                    signature: None,
                });
            }
            BlockStart::RedactedThinking { data } => {
                let part = ContentPart::RedactedThinking { data: data.clone() };
                self.write_thinking_block(&part, out);
            }
            BlockStart::ToolCall { id, name } => {
                let tool_index = u32::try_from(self.tool_indices.len()).unwrap_or(u32::MAX);
                self.tool_indices.push((index, tool_index));
                let call = ToolCallDelta {
                    index: tool_index,
                    id: Some(id),
                    kind: Some("function"),
                    function: FunctionDelta {
                        name: Some(name),
                        arguments: "",
                    },
                };
                let delta = Delta {
                    tool_calls: Some([call]),
                    ..Delta::default()
                };
                self.write_delta(delta, None, out);
            }
        }
    }

    fn block_delta(&mut self, index: u32, delta: &BlockDelta, out: &mut Vec<u8>) {
        match delta {
            BlockDelta::Text(text) if !text.is_empty() => {
                let delta = Delta {
                    content: Some(text),
                    ..Delta::default()
                };
                self.write_delta(delta, None, out);
            }
            BlockDelta::Thinking(text) if !text.is_empty() => {
                if let Some(block) = self.thinking.as_mut().filter(|b| b.index == index) {
                    block.text.push_str(text);
                }
                let delta = Delta {
                    reasoning_content: Some(text),
                    ..Delta::default()
                };
                self.write_delta(delta, None, out);
            }
            BlockDelta::Signature(signature) => {
                if let Some(block) = self.thinking.as_mut().filter(|b| b.index == index) {
                    block
                        .signature
                        .get_or_insert_with(String::new)
                        .push_str(signature);
                }
            }
            BlockDelta::ToolArguments(arguments) if !arguments.is_empty() => {
                let Some(&(_, tool_index)) = self.tool_indices.iter().find(|(b, _)| *b == index)
                else {
                    return;
                };
                let call = ToolCallDelta {
                    index: tool_index,
                    id: None,
                    kind: None,
                    function: FunctionDelta {
                        name: None,
                        arguments,
                    },
                };
                let delta = Delta {
                    tool_calls: Some([call]),
                    ..Delta::default()
                };
                self.write_delta(delta, None, out);
            }
            _ => {}
        }
    }

    /// A finished thinking block is sent whole as a `thinking_blocks` entry, so the client
    /// can return it (with its signature) on the next turn.
    fn block_stop(&mut self, index: u32, out: &mut Vec<u8>) {
        if let Some(block) = self.thinking.take_if(|b| b.index == index) {
            let part = ContentPart::Thinking {
                text: block.text,
                signature: block.signature,
            };
            self.write_thinking_block(&part, out);
        }
    }

    fn write_thinking_block(&self, part: &ContentPart, out: &mut Vec<u8>) {
        if let Some(block) = thinking_block(part) {
            let delta = Delta {
                thinking_blocks: Some([block]),
                ..Delta::default()
            };
            self.write_delta(delta, None, out);
        }
    }

    fn write_delta(&self, delta: Delta, finish_reason: Option<&'static str>, out: &mut Vec<u8>) {
        let choice = ChunkChoice {
            index: 0,
            delta,
            finish_reason,
        };
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices: std::slice::from_ref(&choice),
            usage: None,
        };
        write_json(out, &chunk);
    }
}

fn write_json(out: &mut Vec<u8>, value: &impl Serialize) {
    // Serialising these borrowed structs cannot fail: every key is a string.
    if let Ok(json) = serde_json::to_string(value) {
        write_event(out, None, &json);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StopReason;

    fn sse(data: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: Some(data.to_owned()),
            raw: Vec::new(),
        }
    }

    fn decode_all(lines: &[&str]) -> Vec<StreamEvent> {
        let mut decoder = ChunkDecoder::new();
        let mut out = Vec::new();
        for line in lines {
            decoder.on_event(&sse(line), &mut out);
        }
        decoder.on_end(&mut out);
        out
    }

    #[test]
    fn empty_first_content_opens_no_block() {
        let events = decode_all(&[
            r#"{"id":"c","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            "[DONE]",
        ]);
        assert!(!events
            .iter()
            .any(|e| matches!(e, StreamEvent::BlockStart { .. })));
        assert!(matches!(events.last(), Some(StreamEvent::End)));
    }

    #[test]
    fn azure_prompt_filter_chunk_does_not_start_the_answer() {
        let events = decode_all(&[
            r#"{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}"#,
            r#"{"id":"chatcmpl-1","model":"gpt-4o","created":5,"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"content_filter_results":{}}]}"#,
            r#"{"id":"","choices":[{"index":0,"finish_reason":null,"content_filter_results":{},"content_filter_offsets":{"check_offset":0}}]}"#,
            r#"{"id":"chatcmpl-1","choices":[{"index":0,"delta":{},"finish_reason":"content_filter"}]}"#,
            "[DONE]",
        ]);
        assert_eq!(
            events[0],
            StreamEvent::Start {
                id: "chatcmpl-1".into(),
                model: "gpt-4o".into(),
                created: Some(5),
                usage: Usage::default(),
            }
        );
        assert!(events.contains(&StreamEvent::Finish {
            reason: StopReason::ContentFilter,
            stop_sequence: None
        }));
        assert_eq!(events.last(), Some(&StreamEvent::End));
    }

    #[test]
    fn parallel_calls_become_sequential_blocks() {
        let events = decode_all(&[
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"{\"x\""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"arguments":":1}"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3}}"#,
            "[DONE]",
        ]);
        let starts: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::BlockStart {
                    index,
                    block: BlockStart::ToolCall { id, .. },
                } => Some((*index, id.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(starts, vec![(0, "a"), (1, "b")]);
        let stop_before_second = events
            .iter()
            .position(|e| *e == StreamEvent::BlockStop { index: 0 })
            .unwrap();
        let second = events
            .iter()
            .position(|e| matches!(e, StreamEvent::BlockStart { index: 1, .. }))
            .unwrap();
        assert!(stop_before_second < second);
        assert!(events.contains(&StreamEvent::Finish {
            reason: StopReason::ToolUse,
            stop_sequence: None
        }));
        assert!(events
            .iter()
            .any(|e| matches!(e, StreamEvent::Usage(u) if u.input_tokens == Some(5))));
    }

    #[test]
    fn same_index_with_new_id_is_a_new_call() {
        let events = decode_all(&[
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":"{}"}}]}}]}"#,
        ]);
        let starts = events
            .iter()
            .filter(|e| matches!(e, StreamEvent::BlockStart { .. }))
            .count();
        assert_eq!(starts, 2);
    }

    #[test]
    fn unfinished_stream_has_no_end() {
        let events = decode_all(&[r#"{"choices":[{"delta":{"content":"par"}}]}"#]);
        assert!(!events.contains(&StreamEvent::End));
        assert!(!events.contains(&StreamEvent::BlockStop { index: 0 }));
    }

    #[test]
    fn finish_without_done_still_ends() {
        let events =
            decode_all(&[r#"{"choices":[{"delta":{"content":"x"},"finish_reason":"stop"}]}"#]);
        assert_eq!(events.last(), Some(&StreamEvent::End));
    }

    #[test]
    fn error_chunk_and_error_event() {
        let events = decode_all(&[
            r#"{"choices":[{"delta":{"content":"x"}}]}"#,
            r#"{"error":{"code":400,"message":"Token limit reached"},"usage":{"prompt_tokens":1}}"#,
            "[DONE]",
        ]);
        assert!(
            matches!(events.last(), Some(StreamEvent::Error(e)) if e.message == "Token limit reached")
        );
        let mut decoder = ChunkDecoder::new();
        let mut out = Vec::new();
        let event = SseEvent {
            event: Some("error".into()),
            data: Some(r#"{"error":{"message":"boom","type":"invalid_request_error"}}"#.into()),
            raw: Vec::new(),
        };
        decoder.on_event(&event, &mut out);
        assert!(matches!(&out[0], StreamEvent::Error(e) if e.message == "boom"));
    }

    #[test]
    fn malformed_chunk_is_reported() {
        let events = decode_all(&["{not json"]);
        assert!(
            matches!(&events[0], StreamEvent::Error(e) if e.code.as_deref() == Some("bad_upstream_response"))
        );
    }

    fn encode_all(include_usage: bool, events: &[StreamEvent]) -> String {
        let mut encoder = ChunkEncoder::new(include_usage, 0);
        let mut out = Vec::new();
        for e in events {
            encoder.encode(e, &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    fn start() -> StreamEvent {
        StreamEvent::Start {
            id: "msg_1".into(),
            model: "m".into(),
            created: None,
            usage: Usage::default(),
        }
    }

    #[test]
    fn usage_chunk_only_when_asked() {
        let events = [
            start(),
            StreamEvent::Usage(Usage {
                input_tokens: Some(3),
                output_tokens: Some(2),
                ..Usage::default()
            }),
            StreamEvent::End,
        ];
        let with = encode_all(true, &events);
        assert!(with.contains(
            r#""choices":[],"usage":{"completion_tokens":2,"prompt_tokens":3,"total_tokens":5}"#
        ));
        assert!(with.ends_with("data: [DONE]\n\n"));
        let without = encode_all(false, &events);
        assert!(!without.contains("usage"));
    }

    #[test]
    fn error_has_no_done() {
        let out = encode_all(
            false,
            &[start(), StreamEvent::Error(ApiError::bad_upstream("x"))],
        );
        assert!(out.contains(r#"data: {"error":"#));
        assert!(!out.contains("[DONE]"));
    }

    #[test]
    fn thinking_block_is_sent_whole_at_stop() {
        let out = encode_all(
            false,
            &[
                start(),
                StreamEvent::BlockStart {
                    index: 0,
                    block: BlockStart::Thinking,
                },
                StreamEvent::BlockDelta {
                    index: 0,
                    delta: BlockDelta::Thinking("a".into()),
                },
                StreamEvent::BlockDelta {
                    index: 0,
                    delta: BlockDelta::Thinking("b".into()),
                },
                StreamEvent::BlockDelta {
                    index: 0,
                    delta: BlockDelta::Signature("sig".into()),
                },
                StreamEvent::BlockStop { index: 0 },
            ],
        );
        assert!(out.contains(r#""reasoning_content":"a""#));
        assert!(out.contains(
            r#""thinking_blocks":[{"signature":"sig","thinking":"ab","type":"thinking"}]"#
        ));
    }
}
