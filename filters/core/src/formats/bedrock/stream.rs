//! ConverseStream: event-stream messages (see [`crate::eventstream`]) whose headers say what
//! they are (`:message-type` `event` or `exception`, `:event-type`) and whose payload is JSON,
//! padded with a `p` field of random length that carries nothing.
//!
//! Event order: `messageStart`, per content block an optional `contentBlockStart` (tool use
//! only: text and reasoning blocks open with their first delta), `contentBlockDelta`…,
//! `contentBlockStop`, then `messageStop` (stop reason) and `metadata` (usage, metrics). An
//! exception frame can come at any point after HTTP 200.
//!
//! [`MessageDecoder`] allocates its own canonical block indices, so a provider index reused
//! for a different kind of content opens a new canonical block. [`FrameEncoder`] writes the
//! same sequence for a Bedrock client.

use serde::Deserialize;
use serde_json::{json, Value};

use super::response::stop_sequence;
use super::usage::WireUsage;
use super::{decode_stop_reason, encode_stop_reason, error, tool_use_id};
use crate::eventstream::{encode_message, string_header, Message};
use crate::formats::fields::lenient_count;
use crate::model::{ApiError, BlockDelta, BlockStart, StopReason, StreamEvent, Usage};

// === decode ===

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent {
    #[serde(default, deserialize_with = "lenient_count")]
    content_block_index: Option<u64>,
    start: Option<WireStart>,
    delta: Option<WireDelta>,
    stop_reason: Option<String>,
    additional_model_response_fields: Option<Value>,
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireStart {
    tool_use: Option<WireToolStart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireToolStart {
    tool_use_id: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDelta {
    text: Option<String>,
    tool_use: Option<WireToolDelta>,
    reasoning_content: Option<WireReasoningDelta>,
}

#[derive(Debug, Deserialize)]
struct WireToolDelta {
    input: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireReasoningDelta {
    text: Option<String>,
    signature: Option<String>,
    redacted_content: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    Redacted,
    Tool,
}

#[derive(Debug, Clone, Copy)]
struct OpenBlock {
    wire: u64,
    canonical: u32,
    kind: Kind,
}

/// Provider messages → canonical events.
#[derive(Debug, Default)]
pub struct MessageDecoder {
    open: Vec<OpenBlock>,
    next_index: u32,
    /// `messageStop` was seen.
    stopped: bool,
    /// `metadata` (the last event) was seen.
    reported: bool,
    /// `End` or an error was emitted; nothing after it counts.
    closed: bool,
}

impl MessageDecoder {
    pub fn new() -> MessageDecoder {
        MessageDecoder::default()
    }

    pub fn on_message(&mut self, message: &Message, out: &mut Vec<StreamEvent>) {
        if self.closed {
            return;
        }
        match message.header_str(":message-type").unwrap_or("event") {
            "exception" => {
                let kind = message.header_str(":exception-type").unwrap_or("exception");
                self.fail(error::decode_exception(kind, &message.payload), out);
            }
            // Protocol-level errors carry their text in headers.
            "error" => {
                let code = message.header_str(":error-code").unwrap_or("error");
                let text = message.header_str(":error-message").unwrap_or_default();
                let payload = json!({"message": text}).to_string();
                self.fail(error::decode_exception(code, payload.as_bytes()), out);
            }
            _ => self.on_event(message, out),
        }
    }

    fn fail(&mut self, err: ApiError, out: &mut Vec<StreamEvent>) {
        self.closed = true;
        out.push(StreamEvent::Error(err));
    }

    fn on_event(&mut self, message: &Message, out: &mut Vec<StreamEvent>) {
        let Ok(wire) = serde_json::from_slice::<WireEvent>(&message.payload) else {
            let err =
                ApiError::bad_upstream("the provider sent a stream event that is not valid JSON");
            return self.fail(err, out);
        };
        match message.header_str(":event-type").unwrap_or_default() {
            "messageStart" => out.push(StreamEvent::Start {
                id: String::new(),
                model: String::new(),
                created: None,
                usage: Usage::default(),
            }),
            "contentBlockStart" => match (wire.content_block_index, wire.start) {
                (
                    Some(wire_index),
                    Some(WireStart {
                        tool_use: Some(tool),
                    }),
                ) => {
                    let block = BlockStart::ToolCall {
                        id: tool.tool_use_id.unwrap_or_default(),
                        name: tool.name.unwrap_or_default(),
                    };
                    self.open_block(wire_index, Kind::Tool, block, out);
                }
                (Some(_), Some(_)) => {} // a start kind added after this was written
                _ => self.fail(malformed(), out),
            },
            "contentBlockDelta" => match (wire.content_block_index, wire.delta) {
                (Some(wire_index), Some(delta)) => self.block_delta(wire_index, delta, out),
                _ => self.fail(malformed(), out),
            },
            "contentBlockStop" => match wire.content_block_index {
                Some(wire_index) => self.close_block(wire_index, out),
                None => self.fail(malformed(), out),
            },
            "messageStop" => {
                for block in std::mem::take(&mut self.open) {
                    out.push(StreamEvent::BlockStop {
                        index: block.canonical,
                    });
                }
                self.stopped = true;
                out.push(StreamEvent::Finish {
                    reason: wire
                        .stop_reason
                        .as_deref()
                        .map_or(StopReason::EndTurn, decode_stop_reason),
                    stop_sequence: stop_sequence(wire.additional_model_response_fields.as_ref()),
                });
                self.end_when_complete(out);
            }
            "metadata" => {
                if let Some(usage) = wire.usage {
                    out.push(StreamEvent::Usage(usage.to_usage()));
                }
                self.reported = true;
                self.end_when_complete(out);
            }
            _ => {} // events added after this was written
        }
    }

    /// The stream is complete once it has both its stop reason and its usage report.
    fn end_when_complete(&mut self, out: &mut Vec<StreamEvent>) {
        if self.stopped && self.reported {
            self.closed = true;
            out.push(StreamEvent::End);
        }
    }

    fn block_delta(&mut self, wire_index: u64, delta: WireDelta, out: &mut Vec<StreamEvent>) {
        let (kind, start, delta) = if let Some(text) = delta.text {
            (Kind::Text, BlockStart::Text, BlockDelta::Text(text))
        } else if let Some(tool) = delta.tool_use {
            let start = BlockStart::ToolCall {
                id: String::new(),
                name: String::new(),
            };
            let arguments = tool.input.unwrap_or_default();
            (Kind::Tool, start, BlockDelta::ToolArguments(arguments))
        } else if let Some(reasoning) = delta.reasoning_content {
            if let Some(data) = reasoning.redacted_content {
                // Redacted reasoning arrives whole; each piece is its own block.
                self.close_block(wire_index, out);
                let start = BlockStart::RedactedThinking { data };
                self.open_block(wire_index, Kind::Redacted, start, out);
                return;
            }
            let delta = match (reasoning.text, reasoning.signature) {
                (Some(text), _) => BlockDelta::Thinking(text),
                (None, Some(signature)) => BlockDelta::Signature(signature),
                (None, None) => return,
            };
            (Kind::Thinking, BlockStart::Thinking, delta)
        } else {
            return; // citations and delta kinds other formats cannot carry
        };
        let canonical = match self.open.iter().find(|b| b.wire == wire_index) {
            Some(block) if block.kind == kind => block.canonical,
            _ => {
                self.close_block(wire_index, out);
                self.open_block(wire_index, kind, start, out)
            }
        };
        let empty = match &delta {
            BlockDelta::Text(s)
            | BlockDelta::Thinking(s)
            | BlockDelta::Signature(s)
            | BlockDelta::ToolArguments(s) => s.is_empty(),
        };
        if !empty {
            out.push(StreamEvent::BlockDelta {
                index: canonical,
                delta,
            });
        }
    }

    fn open_block(
        &mut self,
        wire: u64,
        kind: Kind,
        block: BlockStart,
        out: &mut Vec<StreamEvent>,
    ) -> u32 {
        self.close_block(wire, out);
        let canonical = self.next_index;
        self.next_index = self.next_index.saturating_add(1);
        self.open.push(OpenBlock {
            wire,
            canonical,
            kind,
        });
        out.push(StreamEvent::BlockStart {
            index: canonical,
            block,
        });
        canonical
    }

    fn close_block(&mut self, wire: u64, out: &mut Vec<StreamEvent>) {
        if let Some(at) = self.open.iter().position(|b| b.wire == wire) {
            let block = self.open.remove(at);
            out.push(StreamEvent::BlockStop {
                index: block.canonical,
            });
        }
    }

    /// The provider body ended. A stream that has its stop reason ends cleanly even without
    /// the usage report; otherwise nothing is emitted and the caller reports the truncation.
    pub fn on_end(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.closed {
            self.closed = true;
            if self.stopped {
                out.push(StreamEvent::End);
            }
        }
    }
}

fn malformed() -> ApiError {
    ApiError::bad_upstream("the provider sent a stream event without its index or content")
}

// === encode ===

/// Canonical events → event-stream messages for a Bedrock client.
#[derive(Debug, Default)]
pub struct FrameEncoder {
    /// Canonical index → wire index, for open blocks.
    open: Vec<(u32, u64)>,
    next_wire: u64,
    usage: Usage,
    started: bool,
    stopped: bool,
    done: bool,
}

impl FrameEncoder {
    pub fn new() -> FrameEncoder {
        FrameEncoder::default()
    }

    pub fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if !self.started && !matches!(event, StreamEvent::Error(_)) {
            self.started = true;
            write_event(out, "messageStart", json!({"role": "assistant"}));
        }
        match event {
            StreamEvent::Start { usage, .. } | StreamEvent::Usage(usage) => {
                self.usage.update(usage);
            }
            StreamEvent::BlockStart { index, block } => self.block_start(*index, block, out),
            StreamEvent::BlockDelta { index, delta } => {
                let Some(wire) = self.wire_index(*index) else {
                    return;
                };
                let delta = match delta {
                    BlockDelta::Text(text) if !text.is_empty() => json!({"text": text}),
                    BlockDelta::Thinking(text) if !text.is_empty() => {
                        json!({"reasoningContent": {"text": text}})
                    }
                    BlockDelta::Signature(signature) if !signature.is_empty() => {
                        json!({"reasoningContent": {"signature": signature}})
                    }
                    BlockDelta::ToolArguments(input) if !input.is_empty() => {
                        json!({"toolUse": {"input": input}})
                    }
                    _ => return,
                };
                let payload = json!({"contentBlockIndex": wire, "delta": delta});
                write_event(out, "contentBlockDelta", payload);
            }
            StreamEvent::BlockStop { index } => self.block_stop(*index, out),
            StreamEvent::Finish {
                reason,
                stop_sequence,
            } => self.stop(reason, stop_sequence.as_deref(), out),
            StreamEvent::End => {
                self.stop(&StopReason::EndTurn, None, out);
                let usage = super::usage::encode(&self.usage);
                let payload = json!({"usage": usage, "metrics": {"latencyMs": 0}});
                write_event(out, "metadata", payload);
                self.done = true;
            }
            StreamEvent::Error(err) => {
                write_exception(out, err);
                self.done = true;
            }
        }
    }

    fn wire_index(&self, canonical: u32) -> Option<u64> {
        self.open
            .iter()
            .find(|(c, _)| *c == canonical)
            .map(|(_, wire)| *wire)
    }

    fn block_start(&mut self, index: u32, block: &BlockStart, out: &mut Vec<u8>) {
        let wire = self.next_wire;
        self.next_wire += 1;
        self.open.push((index, wire));
        match block {
            // Text and reasoning blocks open with their first delta.
            BlockStart::Text | BlockStart::Thinking => {}
            BlockStart::RedactedThinking { data } => {
                let delta = json!({"reasoningContent": {"redactedContent": data}});
                let payload = json!({"contentBlockIndex": wire, "delta": delta});
                write_event(out, "contentBlockDelta", payload);
            }
            BlockStart::ToolCall { id, name } => {
                let start = json!({"toolUse": {"toolUseId": tool_use_id(id), "name": name}});
                let payload = json!({"contentBlockIndex": wire, "start": start});
                write_event(out, "contentBlockStart", payload);
            }
        }
    }

    fn block_stop(&mut self, index: u32, out: &mut Vec<u8>) {
        if let Some(at) = self.open.iter().position(|(c, _)| *c == index) {
            let (_, wire) = self.open.remove(at);
            write_event(out, "contentBlockStop", json!({"contentBlockIndex": wire}));
        }
    }

    fn stop(&mut self, reason: &StopReason, sequence: Option<&str>, out: &mut Vec<u8>) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let open: Vec<u32> = self.open.iter().map(|(c, _)| *c).collect();
        for index in open {
            self.block_stop(index, out);
        }
        let mut payload = json!({"stopReason": encode_stop_reason(reason)});
        if let Some(sequence) = sequence {
            payload["additionalModelResponseFields"] = json!({"stop_sequence": sequence});
        }
        write_event(out, "messageStop", payload);
    }
}

fn write_frame(out: &mut Vec<u8>, headers: &[crate::eventstream::Header], payload: &Value) {
    // Only oversized header values fail, and these headers are short constants.
    if let Ok(frame) = encode_message(headers, payload.to_string().as_bytes()) {
        out.extend(frame);
    }
}

fn write_event(out: &mut Vec<u8>, event_type: &str, payload: Value) {
    let headers = [
        string_header(":event-type", event_type),
        string_header(":content-type", "application/json"),
        string_header(":message-type", "event"),
    ];
    write_frame(out, &headers, &payload);
}

/// An error as the exception frame that ends a Bedrock stream.
pub fn write_exception(out: &mut Vec<u8>, err: &ApiError) {
    let headers = [
        string_header(":exception-type", error::exception_type(err.class)),
        string_header(":content-type", "application/json"),
        string_header(":message-type", "exception"),
    ];
    write_frame(out, &headers, &error::encode(err));
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
