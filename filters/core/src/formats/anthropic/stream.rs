//! Anthropic Messages streams.
//!
//! [`EventDecoder`] maps provider events one to one onto canonical events (`ping` and
//! unknown events are dropped; blocks other formats cannot carry are skipped with their
//! deltas). [`EventEncoder`] writes the Anthropic event sequence for a client: text blocks
//! open only with their first non-empty text (Anthropic never sends empty text blocks),
//! block indices are renumbered contiguously, and `message_delta` carries the stop reason
//! with the final usage once the provider has reported everything.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ids::response_tool_id;
use super::usage::WireUsage;
use super::{decode_stop_reason, encode_stop_reason, error};
use crate::formats::fields::lenient_count;
use crate::formats::json_events::{json_data, JsonEventDecoder};
use crate::model::{ApiError, BlockDelta, BlockStart, StopReason, StreamEvent, Usage};
use crate::sse::{write_event, SseEvent};

// === decode ===

#[derive(Debug, Deserialize)]
struct WireEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<WireStartMessage>,
    #[serde(default, deserialize_with = "lenient_count")]
    index: Option<u64>,
    content_block: Option<Value>,
    delta: Option<WireDelta>,
    usage: Option<WireUsage>,
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct WireStartMessage {
    id: Option<String>,
    model: Option<String>,
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct WireDelta {
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<String>,
    partial_json: Option<String>,
    thinking: Option<String>,
    signature: Option<String>,
    stop_reason: Option<String>,
    stop_sequence: Option<String>,
}

/// Provider events → canonical events.
#[derive(Debug, Default)]
pub struct EventDecoder {
    /// Indices of blocks that are not translated (server tools, compaction, …).
    skipped: Vec<u32>,
    finished: bool,
    /// `message_stop` or an error was seen; nothing after it counts.
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
            out.push(StreamEvent::Error(ApiError::bad_upstream(
                "the provider sent a stream event that is not valid JSON",
            )));
            return;
        };
        let kind = wire
            .kind
            .as_deref()
            .or(event.event.as_deref())
            .unwrap_or("");
        let index = wire.index.and_then(|i| u32::try_from(i).ok());
        match kind {
            "message_start" => {
                let message = wire.message;
                let (id, model, usage) = match message {
                    Some(m) => (m.id, m.model, m.usage),
                    None => (None, None, None),
                };
                out.push(StreamEvent::Start {
                    id: id.unwrap_or_default(),
                    model: model.unwrap_or_default(),
                    created: None,
                    usage: usage.map(|u| u.to_usage()).unwrap_or_default(),
                });
            }
            "content_block_start" => match (index, wire.content_block) {
                (Some(index), Some(block)) => self.block_start(index, &block, out),
                _ => out.push(malformed()),
            },
            "content_block_delta" => match (index, wire.delta) {
                (Some(index), Some(delta)) => {
                    if !self.skipped.contains(&index) {
                        block_delta(index, delta, out);
                    }
                }
                _ => out.push(malformed()),
            },
            "content_block_stop" => match index {
                Some(index) if !self.skipped.contains(&index) => {
                    out.push(StreamEvent::BlockStop { index });
                }
                Some(_) => {}
                None => out.push(malformed()),
            },
            "message_delta" => {
                if let Some(usage) = wire.usage {
                    out.push(StreamEvent::Usage(usage.to_usage()));
                }
                if let Some(reason) = wire.delta.as_ref().and_then(|d| d.stop_reason.as_deref()) {
                    self.finished = true;
                    out.push(StreamEvent::Finish {
                        reason: decode_stop_reason(reason),
                        stop_sequence: wire.delta.as_ref().and_then(|d| d.stop_sequence.clone()),
                    });
                }
            }
            "message_stop" => {
                self.closed = true;
                out.push(StreamEvent::End);
            }
            "error" => {
                self.closed = true;
                let err = match &wire.error {
                    Some(err) => error::decode_value(err, None),
                    None => ApiError::bad_upstream("the provider reported an unreadable error"),
                };
                out.push(StreamEvent::Error(err));
            }
            _ => {} // ping, and events added after this was written
        }
    }

    /// The provider body ended. A stream that stopped without `message_stop` but after its
    /// stop reason still ends cleanly; otherwise nothing is emitted and the caller reports
    /// the truncation.
    pub fn on_end(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.closed {
            self.closed = true;
            if self.finished {
                out.push(StreamEvent::End);
            }
        }
    }

    fn block_start(&mut self, index: u32, block: &Value, out: &mut Vec<StreamEvent>) {
        let text = |key: &str| block.get(key).and_then(Value::as_str).unwrap_or_default();
        let (start, initial) = match block.get("type").and_then(Value::as_str) {
            Some("text") => (
                BlockStart::Text,
                Some(BlockDelta::Text(text("text").into())),
            ),
            Some("thinking") => (
                BlockStart::Thinking,
                Some(BlockDelta::Thinking(text("thinking").into())),
            ),
            Some("redacted_thinking") => (
                BlockStart::RedactedThinking {
                    data: text("data").into(),
                },
                None,
            ),
            Some("tool_use") => {
                // Streams start tool_use with `input: {}` and send the JSON as deltas.
                let input = block
                    .get("input")
                    .filter(|i| i.as_object().is_some_and(|o| !o.is_empty()))
                    .map(|i| BlockDelta::ToolArguments(i.to_string()));
                let start = BlockStart::ToolCall {
                    id: text("id").into(),
                    name: text("name").into(),
                };
                (start, input)
            }
            _ => {
                self.skipped.push(index);
                return;
            }
        };
        out.push(StreamEvent::BlockStart {
            index,
            block: start,
        });
        if let Some(delta) = initial.filter(|d| !d.is_empty()) {
            out.push(StreamEvent::BlockDelta { index, delta });
        }
        if let Some(signature) = block
            .get("signature")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            out.push(StreamEvent::BlockDelta {
                index,
                delta: BlockDelta::Signature(signature.to_owned()),
            });
        }
    }
}

/// Anthropic streams end with `message_stop`, and open no block that `[DONE]` would have to
/// stop.
impl JsonEventDecoder for EventDecoder {
    fn closed(&mut self) -> &mut bool {
        &mut self.closed
    }
}

fn block_delta(index: u32, delta: WireDelta, out: &mut Vec<StreamEvent>) {
    let delta = match delta.kind.as_deref() {
        Some("text_delta") => BlockDelta::Text(delta.text.unwrap_or_default()),
        Some("input_json_delta") => {
            BlockDelta::ToolArguments(delta.partial_json.unwrap_or_default())
        }
        Some("thinking_delta") => BlockDelta::Thinking(delta.thinking.unwrap_or_default()),
        Some("signature_delta") => BlockDelta::Signature(delta.signature.unwrap_or_default()),
        _ => return, // citations and future delta kinds carry nothing other formats take
    };
    if !delta.is_empty() {
        out.push(StreamEvent::BlockDelta { index, delta });
    }
}

fn malformed() -> StreamEvent {
    StreamEvent::Error(ApiError::bad_upstream(
        "the provider sent a stream event without its index or content",
    ))
}

// === encode ===

/// An event as sent to the client; the serde tag is also the SSE event name.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientEvent<'a> {
    MessageStart {
        message: StartMessage<'a>,
    },
    ContentBlockStart {
        index: u32,
        content_block: ClientBlock<'a>,
    },
    ContentBlockDelta {
        index: u32,
        delta: ClientDelta<'a>,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: StopDelta<'a>,
        usage: Value,
    },
    MessageStop,
}

impl ClientEvent<'_> {
    fn name(&self) -> &'static str {
        match self {
            ClientEvent::MessageStart { .. } => "message_start",
            ClientEvent::ContentBlockStart { .. } => "content_block_start",
            ClientEvent::ContentBlockDelta { .. } => "content_block_delta",
            ClientEvent::ContentBlockStop { .. } => "content_block_stop",
            ClientEvent::MessageDelta { .. } => "message_delta",
            ClientEvent::MessageStop => "message_stop",
        }
    }
}

#[derive(Serialize)]
struct StartMessage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: [(); 0],
    stop_reason: Option<&'static str>,
    stop_sequence: Option<&'static str>,
    usage: Value,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientBlock<'a> {
    Text {
        text: &'static str,
    },
    Thinking {
        thinking: &'static str,
        signature: &'static str,
    },
    RedactedThinking {
        data: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: EmptyObject,
    },
}

#[derive(Serialize)]
struct EmptyObject {}

#[derive(Serialize)]
#[serde(tag = "type")]
enum ClientDelta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

#[derive(Serialize)]
struct StopDelta<'a> {
    stop_reason: &'static str,
    stop_sequence: Option<&'a str>,
}

#[derive(Debug, Clone, Copy)]
struct EncodedBlock {
    /// The decoder's index.
    canonical: u32,
    /// The index sent to the client; `None` for a text block still waiting for its first text.
    wire: Option<u32>,
    open: bool,
}

/// Canonical events → Anthropic events for a client.
#[derive(Debug, Default)]
pub struct EventEncoder {
    started: bool,
    usage: Usage,
    stop: Option<(StopReason, Option<String>)>,
    blocks: Vec<EncodedBlock>,
    next_wire_index: u32,
    tool_ordinal: usize,
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
            StreamEvent::Start {
                id, model, usage, ..
            } => {
                self.usage.update(usage);
                self.start(id, model, out);
            }
            StreamEvent::Usage(usage) => self.usage.update(usage),
            StreamEvent::BlockStart { index, block } => {
                self.start("", "", out);
                self.block_start(*index, block, out);
            }
            StreamEvent::BlockDelta { index, delta } => self.block_delta(*index, delta, out),
            StreamEvent::BlockStop { index } => self.block_stop(*index, out),
            StreamEvent::Finish {
                reason,
                stop_sequence,
            } => self.stop = Some((reason.clone(), stop_sequence.clone())),
            StreamEvent::End => self.end(out),
            StreamEvent::Error(err) => {
                write_event(out, Some("error"), &error::encode(err).to_string());
                self.done = true;
            }
        }
    }

    fn start(&mut self, id: &str, model: &str, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let message = StartMessage {
            id,
            kind: "message",
            role: "assistant",
            model,
            content: [],
            stop_reason: None,
            stop_sequence: None,
            usage: super::usage::encode(&self.usage),
        };
        emit(out, &ClientEvent::MessageStart { message });
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        self.start("", "", out);
        let open: Vec<u32> = self
            .blocks
            .iter()
            .filter(|b| b.open)
            .map(|b| b.canonical)
            .collect();
        for index in open {
            self.block_stop(index, out);
        }
        let (stop_reason, stop_sequence) = match &self.stop {
            Some((reason, sequence)) => (encode_stop_reason(reason), sequence.as_deref()),
            None => ("end_turn", None),
        };
        let delta = StopDelta {
            stop_reason,
            stop_sequence,
        };
        let usage = super::usage::encode(&self.usage);
        emit(out, &ClientEvent::MessageDelta { delta, usage });
        emit(out, &ClientEvent::MessageStop);
        self.done = true;
    }

    fn block_start(&mut self, index: u32, block: &BlockStart, out: &mut Vec<u8>) {
        let tool_id;
        let content_block = match block {
            BlockStart::Text => {
                // Sent with the first non-empty text, if any comes.
                self.blocks.push(EncodedBlock {
                    canonical: index,
                    wire: None,
                    open: true,
                });
                return;
            }
            BlockStart::Thinking => ClientBlock::Thinking {
                thinking: "",
                signature: "",
            },
            BlockStart::RedactedThinking { data } => ClientBlock::RedactedThinking { data },
            BlockStart::ToolCall { id, name } => {
                tool_id = response_tool_id(id, self.tool_ordinal);
                self.tool_ordinal = self.tool_ordinal.saturating_add(1);
                ClientBlock::ToolUse {
                    id: &tool_id,
                    name,
                    input: EmptyObject {},
                }
            }
        };
        let wire = self.open_wire_block(index);
        emit(
            out,
            &ClientEvent::ContentBlockStart {
                index: wire,
                content_block,
            },
        );
    }

    fn open_wire_block(&mut self, canonical: u32) -> u32 {
        let wire = self.next_wire_index;
        self.next_wire_index = self.next_wire_index.saturating_add(1);
        match self
            .blocks
            .iter_mut()
            .find(|b| b.canonical == canonical && b.open)
        {
            Some(block) => block.wire = Some(wire),
            None => self.blocks.push(EncodedBlock {
                canonical,
                wire: Some(wire),
                open: true,
            }),
        }
        wire
    }

    fn block_delta(&mut self, index: u32, delta: &BlockDelta, out: &mut Vec<u8>) {
        if delta.is_empty() {
            return;
        }
        let Some(block) = self
            .blocks
            .iter()
            .rev()
            .find(|b| b.canonical == index)
            .copied()
        else {
            return;
        };
        let wire = match block.wire {
            Some(wire) => wire,
            None => {
                let wire = self.open_wire_block(index);
                let content_block = ClientBlock::Text { text: "" };
                emit(
                    out,
                    &ClientEvent::ContentBlockStart {
                        index: wire,
                        content_block,
                    },
                );
                wire
            }
        };
        let delta = match delta {
            BlockDelta::Text(text) => ClientDelta::Text { text },
            BlockDelta::Thinking(thinking) => ClientDelta::Thinking { thinking },
            BlockDelta::Signature(signature) => ClientDelta::Signature { signature },
            BlockDelta::ToolArguments(partial_json) => ClientDelta::InputJson { partial_json },
        };
        emit(out, &ClientEvent::ContentBlockDelta { index: wire, delta });
    }

    fn block_stop(&mut self, index: u32, out: &mut Vec<u8>) {
        let Some(block) = self
            .blocks
            .iter_mut()
            .find(|b| b.canonical == index && b.open)
        else {
            return;
        };
        block.open = false;
        if let Some(wire) = block.wire {
            emit(out, &ClientEvent::ContentBlockStop { index: wire });
        }
    }
}

fn emit(out: &mut Vec<u8>, event: &ClientEvent) {
    // Serialising these borrowed structs cannot fail: every key is a string.
    if let Ok(data) = serde_json::to_string(event) {
        write_event(out, Some(event.name()), &data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sse(name: &str, data: &str) -> SseEvent {
        SseEvent {
            event: Some(name.to_owned()),
            data: Some(data.to_owned()),
            raw: Vec::new(),
        }
    }

    #[test]
    fn server_tool_blocks_are_skipped_with_their_deltas() {
        let mut decoder = EventDecoder::new();
        let mut out = Vec::new();
        for (name, data) in [
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"server_tool_use","id":"s","name":"x","input":{}}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#,
            ),
            (
                "content_block_stop",
                r#"{"type":"content_block_stop","index":1}"#,
            ),
            ("ping", r#"{"type": "ping"}"#),
        ] {
            decoder.on_event(&sse(name, data), &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn empty_partial_json_and_thinking_are_dropped() {
        let mut decoder = EventDecoder::new();
        let mut out = Vec::new();
        decoder.on_event(
            &sse("content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}"#),
            &mut out,
        );
        decoder.on_event(
            &sse("content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":""}}"#),
            &mut out,
        );
        assert!(out.is_empty());
    }

    #[test]
    fn error_event_ends_the_stream() {
        let mut decoder = EventDecoder::new();
        let mut out = Vec::new();
        decoder.on_event(
            &sse("error", r#"{"type":"error","error":{"details":null,"type":"overloaded_error","message":"Overloaded"} }"#),
            &mut out,
        );
        decoder.on_event(&sse("message_stop", r#"{"type":"message_stop"}"#), &mut out);
        decoder.on_end(&mut out);
        assert_eq!(out.len(), 1);
        assert!(matches!(&out[0], StreamEvent::Error(e) if e.message == "Overloaded"));
    }

    #[test]
    fn missing_message_stop_after_stop_reason_still_ends() {
        let mut decoder = EventDecoder::new();
        let mut out = Vec::new();
        decoder.on_event(
            &sse("message_delta", r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}"#),
            &mut out,
        );
        decoder.on_end(&mut out);
        assert_eq!(out.last(), Some(&StreamEvent::End));
    }

    fn encode_all(events: &[StreamEvent]) -> String {
        let mut encoder = EventEncoder::new();
        let mut out = Vec::new();
        for e in events {
            encoder.encode(e, &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn empty_text_blocks_are_never_sent_and_indices_are_contiguous() {
        let out = encode_all(&[
            StreamEvent::Start {
                id: "c".into(),
                model: "m".into(),
                created: None,
                usage: Usage::default(),
            },
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Text,
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: BlockDelta::Text(String::new()),
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart {
                index: 1,
                block: BlockStart::ToolCall {
                    id: "call.1".into(),
                    name: "f".into(),
                },
            },
            StreamEvent::BlockDelta {
                index: 1,
                delta: BlockDelta::ToolArguments("{}".into()),
            },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::Finish {
                reason: StopReason::ToolUse,
                stop_sequence: None,
            },
            StreamEvent::Usage(Usage {
                input_tokens: Some(9),
                output_tokens: Some(4),
                ..Usage::default()
            }),
            StreamEvent::End,
        ]);
        assert!(!out.contains(r#""type":"text""#), "{out}");
        assert!(out.contains(r#""index":0"#));
        assert!(!out.contains(r#""index":1"#));
        assert!(!out.contains("call.1"), "tool ids are sanitised: {out}");
        assert!(out.contains(r#""stop_reason":"tool_use""#));
        assert!(out.contains(r#""input_tokens":9"#));
        assert!(out.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
    }

    #[test]
    fn error_is_an_error_event() {
        let out = encode_all(&[StreamEvent::Error(ApiError::bad_upstream("x"))]);
        assert!(out.starts_with("event: error\ndata: {\"error\":{\"message\":\"x\",\"type\":\"api_error\"},\"type\":\"error\"}\n\n"));
        assert!(!out.contains("message_stop"));
    }
}
