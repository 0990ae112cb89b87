//! Cohere v2 chat streams: SSE events named by their `type`, then a bare `data: [DONE]`.
//!
//! ```text
//! message-start
//! (content-start, content-delta*, content-end)*          text or thinking blocks
//! tool-plan-delta*, (tool-call-start, tool-call-delta*, tool-call-end)*
//! citation-start / citation-end, debug                    anywhere; not translated
//! message-end {delta: {finish_reason, usage}}
//! data: [DONE]
//! ```
//!
//! Content blocks and tool calls are numbered separately by Cohere; [`EventDecoder`] gives
//! every block (the tool plan included, as a text block) its own canonical index. Tool-call
//! deltas carry `tool_calls` as one object, not an array. `finish_reason` `ERROR` or
//! `TIMEOUT` on `message-end` is an error after HTTP 200.
//!
//! [`EventEncoder`] writes that sequence for a Cohere client; an error becomes a
//! `message-end` with `finish_reason: ERROR` and its message, without `[DONE]`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::response::WireToolCall;
use super::usage::WireUsage;
use super::{decode_finish_reason, encode_finish_reason, response_tool_id, Finish};
use crate::formats::fields::lenient_count;
use crate::formats::json_events::{json_data, JsonEventDecoder};
use crate::model::{ApiError, BlockDelta, BlockStart, StopReason, StreamEvent, Usage};
use crate::sse::{write_event, SseEvent};

// === decode ===

#[derive(Debug, Deserialize)]
struct WireEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient_count")]
    index: Option<u64>,
    delta: Option<WireDelta>,
    /// The error text of an error body sent inside the stream.
    message: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct WireDelta {
    message: Option<WireDeltaMessage>,
    finish_reason: Option<String>,
    usage: Option<WireUsage>,
    /// Error text that may come with `finish_reason: ERROR`.
    error: Option<String>,
}

/// `content` and `tool_calls` are objects in the delta events but (empty) arrays in
/// `message-start`, so they are read per event kind.
#[derive(Debug, Deserialize)]
struct WireDeltaMessage {
    content: Option<Value>,
    tool_plan: Option<String>,
    tool_calls: Option<Value>,
}

impl WireDeltaMessage {
    fn content(&self) -> Option<WireContent> {
        self.content.as_ref().and_then(object_of)
    }

    /// One object in tool-call events (not an array, unlike in responses).
    fn tool_call(&self) -> Option<WireToolCall> {
        self.tool_calls.as_ref().and_then(object_of)
    }
}

fn object_of<T: serde::de::DeserializeOwned>(value: &Value) -> Option<T> {
    value
        .is_object()
        .then(|| T::deserialize(value).ok())
        .flatten()
}

#[derive(Debug, Deserialize)]
struct WireContent {
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<String>,
    thinking: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// A `content-*` block, by Cohere's content index.
    Content(u64),
    /// A `tool-call-*` block, by Cohere's tool-call index.
    ToolCall(u64),
    /// The tool plan, which has no index.
    Plan,
}

#[derive(Debug, Clone, Copy)]
struct OpenBlock {
    slot: Slot,
    index: u32,
}

/// Provider events → canonical events.
#[derive(Debug, Default)]
pub struct EventDecoder {
    open: Vec<OpenBlock>,
    next_block: u32,
    finished: bool,
    /// `[DONE]` or an error was seen; nothing after it counts.
    closed: bool,
}

impl EventDecoder {
    pub fn new() -> EventDecoder {
        EventDecoder::default()
    }

    pub fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        let Some(data) = json_data(self, event, out) else {
            return;
        };
        let Ok(wire) = serde_json::from_str::<WireEvent>(data) else {
            return self.fail(
                ApiError::bad_upstream("the provider sent a stream event that is not valid JSON"),
                out,
            );
        };
        let kind = wire
            .kind
            .as_deref()
            .or(event.event.as_deref())
            .unwrap_or("");
        let index = wire.index;
        let message = wire.delta.as_ref().and_then(|d| d.message.as_ref());
        match kind {
            "message-start" => out.push(StreamEvent::Start {
                id: wire.id.clone().unwrap_or_default(),
                model: String::new(),
                created: None,
                usage: Usage::default(),
            }),
            "content-start" => {
                let content = message.and_then(WireDeltaMessage::content);
                let (block, initial) = match &content {
                    Some(c) if c.kind.as_deref() == Some("thinking") => (
                        BlockStart::Thinking,
                        BlockDelta::Thinking(c.thinking.clone().unwrap_or_default()),
                    ),
                    c => (
                        BlockStart::Text,
                        BlockDelta::Text(
                            c.as_ref().and_then(|c| c.text.clone()).unwrap_or_default(),
                        ),
                    ),
                };
                let Some(wire_index) = index else {
                    return self.fail(malformed(), out);
                };
                let block = self.open(Slot::Content(wire_index), block, out);
                push_delta(block, initial, out);
            }
            "content-delta" => {
                let content = message.and_then(WireDeltaMessage::content);
                let delta = match content {
                    Some(WireContent {
                        thinking: Some(t), ..
                    }) => BlockDelta::Thinking(t.clone()),
                    c => BlockDelta::Text(c.and_then(|c| c.text.clone()).unwrap_or_default()),
                };
                match index.and_then(|i| self.block(Slot::Content(i))) {
                    Some(block) => push_delta(block, delta, out),
                    None => self.fail(malformed(), out),
                }
            }
            "tool-plan-delta" => {
                let plan = message
                    .and_then(|m| m.tool_plan.clone())
                    .unwrap_or_default();
                if plan.is_empty() {
                    return;
                }
                let block = match self.block(Slot::Plan) {
                    Some(block) => block,
                    None => self.open(Slot::Plan, BlockStart::Text, out),
                };
                push_delta(block, BlockDelta::Text(plan), out);
            }
            "tool-call-start" => {
                let call = message.and_then(WireDeltaMessage::tool_call);
                let (Some(wire_index), Some(call)) = (index, call) else {
                    return self.fail(malformed(), out);
                };
                // The plan is over once the calls begin.
                self.close(Slot::Plan, out);
                let function = call.function.as_ref();
                let start = BlockStart::ToolCall {
                    id: call.id.clone().unwrap_or_default(),
                    name: function.and_then(|f| f.name.clone()).unwrap_or_default(),
                };
                let block = self.open(Slot::ToolCall(wire_index), start, out);
                let arguments = function.map(|f| f.arguments_text()).unwrap_or_default();
                push_delta(block, BlockDelta::ToolArguments(arguments), out);
            }
            "tool-call-delta" => {
                let arguments = message
                    .and_then(WireDeltaMessage::tool_call)
                    .and_then(|c| c.function)
                    .map(|f| f.arguments_text())
                    .unwrap_or_default();
                match index.and_then(|i| self.block(Slot::ToolCall(i))) {
                    Some(block) => push_delta(block, BlockDelta::ToolArguments(arguments), out),
                    None => self.fail(malformed(), out),
                }
            }
            "content-end" | "tool-call-end" => {
                let slot = match (kind, index) {
                    ("content-end", Some(i)) => Slot::Content(i),
                    (_, Some(i)) => Slot::ToolCall(i),
                    (_, None) => return self.fail(malformed(), out),
                };
                self.close(slot, out);
            }
            "message-end" => self.message_end(wire.delta, out),
            _ => {
                // An error body inside the stream; citations, debug and events added after
                // this was written carry nothing other formats take.
                if let Some(Value::String(text)) = &wire.message {
                    self.fail(ApiError::new(crate::model::ErrorClass::Server, text), out);
                }
            }
        }
    }

    /// The provider body ended. A stream that stopped after `message-end` but without
    /// `[DONE]` still ends cleanly; otherwise nothing is emitted and the caller reports the
    /// truncation.
    pub fn on_end(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.closed {
            self.closed = true;
            if self.finished {
                out.push(StreamEvent::End);
            }
        }
    }

    fn message_end(&mut self, delta: Option<WireDelta>, out: &mut Vec<StreamEvent>) {
        self.close_all(out);
        let Some(delta) = delta else {
            self.finished = true;
            return;
        };
        if let Some(usage) = &delta.usage {
            out.push(StreamEvent::Usage(usage.to_usage()));
        }
        let reason = delta.finish_reason.as_deref().unwrap_or("COMPLETE");
        match decode_finish_reason(reason, delta.error.as_deref()) {
            Finish::Stopped(reason) => {
                self.finished = true;
                out.push(StreamEvent::Finish {
                    reason,
                    stop_sequence: None,
                });
            }
            Finish::Failed(err) => self.fail(err, out),
        }
    }

    fn block(&self, slot: Slot) -> Option<u32> {
        self.open.iter().find(|b| b.slot == slot).map(|b| b.index)
    }

    fn open(&mut self, slot: Slot, block: BlockStart, out: &mut Vec<StreamEvent>) -> u32 {
        let index = self.next_block;
        self.next_block = self.next_block.saturating_add(1);
        self.open.push(OpenBlock { slot, index });
        out.push(StreamEvent::BlockStart { index, block });
        index
    }

    fn close(&mut self, slot: Slot, out: &mut Vec<StreamEvent>) {
        if let Some(at) = self.open.iter().position(|b| b.slot == slot) {
            let block = self.open.remove(at);
            out.push(StreamEvent::BlockStop { index: block.index });
        }
    }

    fn close_all(&mut self, out: &mut Vec<StreamEvent>) {
        for block in self.open.drain(..) {
            out.push(StreamEvent::BlockStop { index: block.index });
        }
    }

    fn fail(&mut self, err: ApiError, out: &mut Vec<StreamEvent>) {
        self.closed = true;
        out.push(StreamEvent::Error(err));
    }
}

impl JsonEventDecoder for EventDecoder {
    fn closed(&mut self) -> &mut bool {
        &mut self.closed
    }

    fn close_blocks(&mut self, out: &mut Vec<StreamEvent>) {
        self.close_all(out);
    }
}

fn push_delta(index: u32, delta: BlockDelta, out: &mut Vec<StreamEvent>) {
    let empty = match &delta {
        BlockDelta::Text(s)
        | BlockDelta::Thinking(s)
        | BlockDelta::Signature(s)
        | BlockDelta::ToolArguments(s) => s.is_empty(),
    };
    if !empty {
        out.push(StreamEvent::BlockDelta { index, delta });
    }
}

fn malformed() -> ApiError {
    ApiError::bad_upstream("the provider sent a stream event without its index or content")
}

// === encode ===

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EncodedKind {
    Content,
    ToolCall,
}

/// Canonical events → Cohere events for a client.
#[derive(Debug, Default)]
pub struct EventEncoder {
    started: bool,
    usage: Usage,
    stop: Option<StopReason>,
    /// Canonical block index → (kind, Cohere index).
    blocks: Vec<(u32, EncodedKind, u64)>,
    next_content: u64,
    next_tool_call: u64,
    done: bool,
}

impl EventEncoder {
    pub fn new() -> EventEncoder {
        EventEncoder::default()
    }

    pub fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::Start { id, usage, .. } => {
                self.usage.update(usage);
                self.start(id, out);
            }
            StreamEvent::Usage(usage) => self.usage.update(usage),
            StreamEvent::BlockStart { index, block } => {
                self.start("", out);
                self.block_start(*index, block, out);
            }
            StreamEvent::BlockDelta { index, delta } => self.block_delta(*index, delta, out),
            StreamEvent::BlockStop { index } => self.block_stop(*index, out),
            StreamEvent::Finish { reason, .. } => self.stop = Some(reason.clone()),
            StreamEvent::End => {
                self.start("", out);
                let reason = self.stop.as_ref().map_or("COMPLETE", encode_finish_reason);
                let delta = json!({
                    "finish_reason": reason,
                    "usage": super::usage::encode(&self.usage),
                });
                emit(
                    out,
                    "message-end",
                    json!({"type": "message-end", "delta": delta}),
                );
                write_event(out, None, "[DONE]");
                self.done = true;
            }
            StreamEvent::Error(err) => {
                let delta = json!({"finish_reason": "ERROR", "error": err.message});
                emit(
                    out,
                    "message-end",
                    json!({"type": "message-end", "delta": delta}),
                );
                self.done = true;
            }
        }
    }

    fn start(&mut self, id: &str, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let message = json!({"role": "assistant", "content": [], "tool_plan": "",
            "tool_calls": [], "citations": []});
        emit(
            out,
            "message-start",
            json!({"id": id, "type": "message-start", "delta": {"message": message}}),
        );
    }

    fn block_start(&mut self, index: u32, block: &BlockStart, out: &mut Vec<u8>) {
        match block {
            BlockStart::Text | BlockStart::Thinking => {
                let wire = self.next_content;
                self.next_content += 1;
                self.blocks.push((index, EncodedKind::Content, wire));
                let content = match block {
                    BlockStart::Thinking => json!({"type": "thinking", "thinking": ""}),
                    _ => json!({"type": "text", "text": ""}),
                };
                let data = json!({"type": "content-start", "index": wire,
                    "delta": {"message": {"content": content}}});
                emit(out, "content-start", data);
            }
            BlockStart::ToolCall { id, name } => {
                let wire = self.next_tool_call;
                self.next_tool_call += 1;
                self.blocks.push((index, EncodedKind::ToolCall, wire));
                let id = response_tool_id(id, usize::try_from(wire).unwrap_or(usize::MAX));
                let call = json!({"id": id, "type": "function",
                    "function": {"name": name, "arguments": ""}});
                let data = json!({"type": "tool-call-start", "index": wire,
                    "delta": {"message": {"tool_calls": call}}});
                emit(out, "tool-call-start", data);
            }
            // Cohere has no encrypted reasoning.
            BlockStart::RedactedThinking { .. } => {}
        }
    }

    fn block_delta(&mut self, index: u32, delta: &BlockDelta, out: &mut Vec<u8>) {
        let Some(&(_, kind, wire)) = self.blocks.iter().find(|(i, _, _)| *i == index) else {
            return;
        };
        let (name, message) = match (kind, delta) {
            (EncodedKind::Content, BlockDelta::Text(text)) => {
                ("content-delta", json!({"content": {"text": text}}))
            }
            (EncodedKind::Content, BlockDelta::Thinking(text)) => {
                ("content-delta", json!({"content": {"thinking": text}}))
            }
            (EncodedKind::ToolCall, BlockDelta::ToolArguments(arguments)) => (
                "tool-call-delta",
                json!({"tool_calls": {"function": {"arguments": arguments}}}),
            ),
            _ => return,
        };
        let data = json!({"type": name, "index": wire, "delta": {"message": message}});
        emit(out, name, data);
    }

    fn block_stop(&mut self, index: u32, out: &mut Vec<u8>) {
        let Some(at) = self.blocks.iter().position(|(i, _, _)| *i == index) else {
            return;
        };
        let (_, kind, wire) = self.blocks.remove(at);
        let name = match kind {
            EncodedKind::Content => "content-end",
            EncodedKind::ToolCall => "tool-call-end",
        };
        emit(out, name, json!({"type": name, "index": wire}));
    }
}

fn emit(out: &mut Vec<u8>, name: &str, data: Value) {
    write_event(out, Some(name), &data.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErrorClass;

    fn named(data: &str) -> SseEvent {
        let name = serde_json::from_str::<Value>(data)
            .ok()
            .and_then(|v| v["type"].as_str().map(str::to_owned));
        SseEvent {
            event: name,
            data: Some(data.to_owned()),
            raw: Vec::new(),
        }
    }

    fn decode_all(lines: &[&str]) -> Vec<StreamEvent> {
        let mut decoder = EventDecoder::new();
        let mut out = Vec::new();
        for line in lines {
            decoder.on_event(&named(line), &mut out);
        }
        decoder.on_end(&mut out);
        out
    }

    const START: &str = r#"{"id":"m1","type":"message-start","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}"#;

    #[test]
    fn plan_and_calls_get_their_own_blocks() {
        let events = decode_all(&[
            START,
            r#"{"type":"tool-plan-delta","delta":{"message":{"tool_plan":"I will"}}}"#,
            r#"{"type":"tool-plan-delta","delta":{"message":{"tool_plan":" call."}}}"#,
            r#"{"type":"tool-call-start","index":0,"delta":{"message":{"tool_calls":{"id":"a_1","type":"function","function":{"name":"a","arguments":""}}}}}"#,
            r#"{"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":"{}"}}}}}"#,
            r#"{"type":"tool-call-end","index":0}"#,
            r#"{"type":"tool-call-start","index":1,"delta":{"message":{"tool_calls":{"id":"b_1","type":"function","function":{"name":"b","arguments":""}}}}}"#,
            r#"{"type":"tool-call-end","index":1}"#,
            r#"{"type":"message-end","delta":{"finish_reason":"TOOL_CALL","usage":{"tokens":{"input_tokens":9,"output_tokens":3}}}}"#,
            "[DONE]",
        ]);
        let starts: Vec<(u32, BlockStart)> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::BlockStart { index, block } => Some((*index, block.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            starts,
            vec![
                (0, BlockStart::Text),
                (
                    1,
                    BlockStart::ToolCall {
                        id: "a_1".into(),
                        name: "a".into()
                    }
                ),
                (
                    2,
                    BlockStart::ToolCall {
                        id: "b_1".into(),
                        name: "b".into()
                    }
                ),
            ]
        );
        let plan_stop = events
            .iter()
            .position(|e| *e == StreamEvent::BlockStop { index: 0 });
        let first_call = events
            .iter()
            .position(|e| matches!(e, StreamEvent::BlockStart { index: 1, .. }));
        assert!(plan_stop < first_call);
        assert!(events.contains(&StreamEvent::Finish {
            reason: StopReason::ToolUse,
            stop_sequence: None
        }));
        assert_eq!(events.last(), Some(&StreamEvent::End));
    }

    #[test]
    fn thinking_then_text_content() {
        let events = decode_all(&[
            START,
            r#"{"type":"content-start","index":0,"delta":{"message":{"content":{"type":"thinking","thinking":""}}}}"#,
            r#"{"type":"content-delta","index":0,"delta":{"message":{"content":{"thinking":"hm"}}}}"#,
            r#"{"type":"content-end","index":0}"#,
            r#"{"type":"content-start","index":1,"delta":{"message":{"content":{"type":"text","text":""}}}}"#,
            r#"{"type":"content-delta","index":1,"delta":{"message":{"content":{"text":"4"}}}}"#,
            r#"{"type":"content-end","index":1}"#,
            r#"{"type":"message-end","delta":{"finish_reason":"COMPLETE"}}"#,
        ]);
        assert!(events.contains(&StreamEvent::BlockDelta {
            index: 0,
            delta: BlockDelta::Thinking("hm".into())
        }));
        assert!(events.contains(&StreamEvent::BlockDelta {
            index: 1,
            delta: BlockDelta::Text("4".into())
        }));
        // No [DONE] (payload-only recordings), but finished: a clean end.
        assert_eq!(events.last(), Some(&StreamEvent::End));
    }

    // Field guide §4.7, pitfall 12: an error after HTTP 200.
    #[test]
    fn error_finish_ends_the_stream_with_an_error() {
        let events = decode_all(&[
            START,
            r#"{"type":"message-end","delta":{"finish_reason":"ERROR","error":"boom","usage":{"tokens":{"input_tokens":1}}}}"#,
            "[DONE]",
        ]);
        assert!(matches!(&events[1], StreamEvent::Usage(u) if u.input_tokens == Some(1)));
        assert!(
            matches!(&events[2], StreamEvent::Error(e) if e.message == "boom" && e.class == ErrorClass::Server)
        );
        assert_eq!(events.len(), 3, "nothing after the error: {events:?}");
    }

    #[test]
    fn unfinished_stream_has_no_end() {
        let events = decode_all(&[
            START,
            r#"{"type":"content-start","index":0,"delta":{"message":{"content":{"type":"text","text":""}}}}"#,
            r#"{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"par"}}}}"#,
        ]);
        assert!(!events.contains(&StreamEvent::End));
    }

    #[test]
    fn malformed_events_are_reported() {
        let events = decode_all(&[START, "{not json"]);
        assert!(
            matches!(&events[1], StreamEvent::Error(e) if e.code.as_deref() == Some("bad_upstream_response"))
        );
        let events = decode_all(&[START, r#"{"type":"content-delta","index":3}"#]);
        assert!(matches!(&events[1], StreamEvent::Error(_)));
    }

    fn encode_all(events: &[StreamEvent]) -> Vec<u8> {
        let mut encoder = EventEncoder::new();
        let mut out = Vec::new();
        for e in events {
            encoder.encode(e, &mut out);
        }
        out
    }

    #[test]
    fn encoded_stream_decodes_back() {
        let events = vec![
            StreamEvent::Start {
                id: "m1".into(),
                model: String::new(),
                created: None,
                usage: Usage::default(),
            },
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Text,
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: BlockDelta::Text("Hi".into()),
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart {
                index: 1,
                block: BlockStart::ToolCall {
                    id: "c".into(),
                    name: "f".into(),
                },
            },
            StreamEvent::BlockDelta {
                index: 1,
                delta: BlockDelta::ToolArguments("{}".into()),
            },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::Usage(Usage {
                input_tokens: Some(3),
                output_tokens: Some(2),
                ..Usage::default()
            }),
            StreamEvent::Finish {
                reason: StopReason::ToolUse,
                stop_sequence: None,
            },
            StreamEvent::End,
        ];
        let bytes = encode_all(&events);
        let mut parser = crate::sse::SseParser::new(usize::MAX);
        let mut parsed = Vec::new();
        parser.push(&bytes, &mut parsed).unwrap();
        let mut decoder = EventDecoder::new();
        let mut back = Vec::new();
        for event in &parsed {
            decoder.on_event(event, &mut back);
        }
        assert_eq!(back, events);
        assert!(String::from_utf8_lossy(&bytes).ends_with("data: [DONE]\n\n"));
    }

    #[test]
    fn encoded_error_has_no_done() {
        let out = encode_all(&[StreamEvent::Error(ApiError::new(ErrorClass::Server, "x"))]);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(r#""finish_reason":"ERROR""#));
        assert!(!text.contains("[DONE]"));
    }
}
