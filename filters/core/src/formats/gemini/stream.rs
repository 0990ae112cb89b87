//! Gemini `streamGenerateContent?alt=sse` streams.
//!
//! Each event is `data: <GenerateContentResponse>` (CRLF-separated on the wire); there are no
//! event names and no end marker: the stream ends when the connection closes, after a chunk
//! with a `finishReason`. Every chunk repeats the cumulative `usageMetadata`.
//!
//! [`ChunkDecoder`] turns chunks into canonical events:
//! - Text and `thought` text become text and thinking blocks, a new block whenever the kind
//!   changes. A `thoughtSignature` on a non-call part signs the thinking block just before
//!   it (or an empty one of its own), so that it goes back on the same part (see
//!   [`super::request`]).
//! - A `functionCall` arrives whole and becomes one tool-call block with the whole arguments;
//!   its id is Gemini's or a synthesised one, with the signature packed in ([`super::ids`]).
//!   Vertex can also stream arguments (`partialArgs` with JSON paths and `willContinue`,
//!   when a client opts in): those are assembled and the call is emitted when it is complete.
//! - `STOP` after function calls is `ToolUse`; `promptFeedback.blockReason` (prompt refused,
//!   no candidates) is `ContentFilter`. Only the first candidate is translated.
//! - `{"error": {…}}` is a provider error after HTTP 200.
//!
//! [`ChunkEncoder`] writes a Gemini stream for a Gemini client: one chunk per text or
//! thinking delta, each function call whole when its block ends, and a final chunk with the
//! finish reason and the usage.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::usage::WireUsage;
use super::{encode_finish_reason, error, ids, stop_reason};
use crate::formats::fields::lenient_count;
use crate::model::{ApiError, BlockDelta, BlockStart, StopReason, StreamEvent, Usage};
use crate::sse::{write_event, SseEvent};

// === wire shapes (shared with non-streaming responses) ===

/// A `GenerateContentResponse`: a whole response, or one stream chunk.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireResponse {
    pub candidates: Option<Vec<WireCandidate>>,
    pub prompt_feedback: Option<WirePromptFeedback>,
    pub usage_metadata: Option<WireUsage>,
    pub model_version: Option<String>,
    pub response_id: Option<String>,
    pub error: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireCandidate {
    content: Option<WireContent>,
    finish_reason: Option<String>,
    #[serde(default, deserialize_with = "lenient_count")]
    index: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(super) struct WireContent {
    parts: Option<Vec<WirePart>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WirePromptFeedback {
    block_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePart {
    text: Option<String>,
    thought: Option<bool>,
    thought_signature: Option<String>,
    function_call: Option<WireFunctionCall>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireFunctionCall {
    id: Option<String>,
    name: Option<String>,
    args: Option<Value>,
    partial_args: Option<Vec<WirePartialArg>>,
    will_continue: Option<bool>,
}

/// One streamed argument value (Vertex): where it goes and what it is.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePartialArg {
    json_path: Option<String>,
    string_value: Option<String>,
    number_value: Option<serde_json::Number>,
    bool_value: Option<bool>,
    null_value: Option<Value>,
}

// === decode ===

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Text,
    Thinking,
}

/// A function call whose arguments are still streaming (Vertex `partialArgs`).
#[derive(Debug)]
struct PendingCall {
    id: Option<String>,
    name: String,
    signature: Option<String>,
    args: Value,
}

/// Provider chunks → canonical events.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    started: bool,
    response_id: String,
    open: Option<(u32, BlockKind)>,
    next_index: u32,
    /// Function calls emitted so far (ordinal for synthesised ids, and `STOP` → tool use).
    calls: usize,
    pending: Option<PendingCall>,
    finished: bool,
    /// An error was seen; nothing after it counts.
    closed: bool,
}

impl ChunkDecoder {
    pub fn new() -> ChunkDecoder {
        ChunkDecoder::default()
    }

    pub fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        let Some(data) = event.data.as_deref() else {
            return;
        };
        if self.closed {
            return;
        }
        match serde_json::from_str::<WireResponse>(data) {
            Ok(chunk) => self.on_chunk(chunk, out),
            Err(_) => self.fail(
                ApiError::bad_upstream("the provider sent a stream chunk that is not valid JSON"),
                out,
            ),
        }
    }

    /// The provider body ended: a stream that reported its finish reason ends cleanly;
    /// otherwise nothing is emitted and the caller reports the truncation.
    pub fn on_end(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.closed && self.finished {
            self.closed = true;
            out.push(StreamEvent::End);
        }
    }

    /// Decodes one `GenerateContentResponse` (a chunk, or a whole non-streaming answer).
    pub(super) fn on_chunk(&mut self, chunk: WireResponse, out: &mut Vec<StreamEvent>) {
        if self.closed {
            return;
        }
        if let Some(err) = &chunk.error {
            let err = error::decode_value(err, None);
            return self.fail(err, out);
        }
        let usage = chunk.usage_metadata.as_ref().and_then(WireUsage::to_usage);
        if !self.started {
            self.started = true;
            self.response_id = chunk.response_id.clone().unwrap_or_default();
            out.push(StreamEvent::Start {
                id: self.response_id.clone(),
                model: chunk.model_version.clone().unwrap_or_default(),
                created: None,
                usage: usage.unwrap_or_default(),
            });
        } else if let Some(usage) = usage {
            out.push(StreamEvent::Usage(usage));
        }
        if self.finished {
            // Content after the finish reason would break the event order; only usage counts.
            return;
        }
        let candidate = chunk
            .candidates
            .into_iter()
            .flatten()
            .find(|c| c.index.unwrap_or(0) == 0);
        let Some(candidate) = candidate else {
            // The prompt itself was refused: no candidate at all.
            if chunk
                .prompt_feedback
                .is_some_and(|f| f.block_reason.is_some())
            {
                self.finish(StopReason::ContentFilter, out);
            }
            return;
        };
        let parts = candidate.content.and_then(|c| c.parts).unwrap_or_default();
        for part in parts {
            if let Err(err) = self.on_part(part, out) {
                return self.fail(err, out);
            }
        }
        if let Some(reason) = candidate.finish_reason {
            let reason = stop_reason(&reason, self.calls > 0 || self.pending.is_some());
            self.finish(reason, out);
        }
    }

    fn on_part(&mut self, part: WirePart, out: &mut Vec<StreamEvent>) -> Result<(), ApiError> {
        let signature = part.thought_signature.filter(|s| !s.is_empty());
        if let Some(call) = part.function_call {
            self.close_block(out);
            return self.on_function_call(call, signature, out);
        }
        let text = part.text.unwrap_or_default();
        if part.thought == Some(true) {
            let index = self.ensure_block(BlockKind::Thinking, out);
            if !text.is_empty() {
                out.push(StreamEvent::BlockDelta {
                    index,
                    delta: BlockDelta::Thinking(text),
                });
            }
            if let Some(signature) = signature {
                self.sign(index, signature, out);
            }
            return Ok(());
        }
        if let Some(signature) = signature {
            let index = self.ensure_block(BlockKind::Thinking, out);
            self.sign(index, signature, out);
        }
        if !text.is_empty() {
            let index = self.ensure_block(BlockKind::Text, out);
            out.push(StreamEvent::BlockDelta {
                index,
                delta: BlockDelta::Text(text),
            });
        }
        // Images and code-execution parts have no canonical form and are skipped.
        Ok(())
    }

    /// Ends the thinking block `index` with `signature`.
    fn sign(&mut self, index: u32, signature: String, out: &mut Vec<StreamEvent>) {
        out.push(StreamEvent::BlockDelta {
            index,
            delta: BlockDelta::Signature(signature),
        });
        self.close_block(out);
    }

    fn on_function_call(
        &mut self,
        call: WireFunctionCall,
        signature: Option<String>,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), ApiError> {
        let continues = call.will_continue == Some(true);
        let mut pending = match call.name.filter(|n| !n.is_empty()) {
            Some(name) => {
                // A new call: one still pending ended without its closing part.
                self.emit_pending(out);
                PendingCall {
                    id: call.id,
                    name,
                    signature,
                    args: json!({}),
                }
            }
            None => match self.pending.take() {
                Some(pending) => pending,
                // Arguments of no known call carry nothing a client could use.
                None => return Ok(()),
            },
        };
        if let Some(Value::Object(args)) = call.args {
            if let Some(target) = pending.args.as_object_mut() {
                target.extend(args);
            }
        }
        for arg in call.partial_args.into_iter().flatten() {
            apply_partial_arg(&mut pending.args, arg)?;
        }
        self.pending = Some(pending);
        if !continues {
            self.emit_pending(out);
        }
        Ok(())
    }

    fn emit_pending(&mut self, out: &mut Vec<StreamEvent>) {
        let Some(call) = self.pending.take() else {
            return;
        };
        let base = match call.id.filter(|id| !id.is_empty()) {
            Some(id) => id,
            None => ids::synthesize(&self.response_id, self.calls),
        };
        self.calls += 1;
        let index = self.next_block();
        out.push(StreamEvent::BlockStart {
            index,
            block: BlockStart::ToolCall {
                id: ids::pack(&base, call.signature.as_deref()),
                name: call.name,
            },
        });
        out.push(StreamEvent::BlockDelta {
            index,
            delta: BlockDelta::ToolArguments(call.args.to_string()),
        });
        out.push(StreamEvent::BlockStop { index });
    }

    fn finish(&mut self, reason: StopReason, out: &mut Vec<StreamEvent>) {
        self.emit_pending(out);
        self.close_block(out);
        self.finished = true;
        out.push(StreamEvent::Finish {
            reason,
            stop_sequence: None,
        });
    }

    /// The open block of `kind`, opening one (and closing another kind) as needed.
    fn ensure_block(&mut self, kind: BlockKind, out: &mut Vec<StreamEvent>) -> u32 {
        if let Some((index, open)) = self.open {
            if open == kind {
                return index;
            }
        }
        self.close_block(out);
        let index = self.next_block();
        let block = match kind {
            BlockKind::Text => BlockStart::Text,
            BlockKind::Thinking => BlockStart::Thinking,
        };
        out.push(StreamEvent::BlockStart { index, block });
        self.open = Some((index, kind));
        index
    }

    fn close_block(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, _)) = self.open.take() {
            out.push(StreamEvent::BlockStop { index });
        }
    }

    fn next_block(&mut self) -> u32 {
        let index = self.next_index;
        self.next_index = self.next_index.saturating_add(1);
        index
    }

    fn fail(&mut self, err: ApiError, out: &mut Vec<StreamEvent>) {
        self.closed = true;
        out.push(StreamEvent::Error(err));
    }
}

/// Puts one streamed argument value where its JSON path (`$.a.b[0]`) says. Strings that
/// continue over several pieces are concatenated.
fn apply_partial_arg(args: &mut Value, arg: WirePartialArg) -> Result<(), ApiError> {
    let unreadable =
        || ApiError::bad_upstream("the provider streamed unreadable function arguments");
    let path = arg
        .json_path
        .as_deref()
        .and_then(|p| p.strip_prefix('$'))
        .ok_or_else(unreadable)?;
    let mut slot = args;
    for segment in path_segments(path).ok_or_else(unreadable)? {
        slot = match segment {
            Segment::Key(key) => {
                if !slot.is_object() {
                    *slot = json!({});
                }
                slot.as_object_mut()
                    .ok_or_else(unreadable)?
                    .entry(key)
                    .or_insert(Value::Null)
            }
            Segment::Index(at) => {
                if !slot.is_array() {
                    *slot = json!([]);
                }
                let items = slot.as_array_mut().ok_or_else(unreadable)?;
                if items.len() <= at {
                    items.resize(at + 1, Value::Null);
                }
                items.get_mut(at).ok_or_else(unreadable)?
            }
        };
    }
    if let Some(piece) = arg.string_value {
        match slot {
            Value::String(existing) => existing.push_str(&piece),
            _ => *slot = Value::String(piece),
        }
    } else if let Some(number) = arg.number_value {
        *slot = Value::Number(number);
    } else if let Some(flag) = arg.bool_value {
        *slot = Value::Bool(flag);
    } else if arg.null_value.is_some() {
        *slot = Value::Null;
    }
    Ok(())
}

enum Segment {
    Key(String),
    Index(usize),
}

/// `.a.b[0]` → `[Key(a), Key(b), Index(0)]`; `None` when it is not that shape.
fn path_segments(mut path: &str) -> Option<Vec<Segment>> {
    let mut segments = Vec::new();
    while !path.is_empty() {
        if let Some(rest) = path.strip_prefix('.') {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let (key, tail) = rest.split_at(end);
            if key.is_empty() {
                return None;
            }
            segments.push(Segment::Key(key.to_owned()));
            path = tail;
        } else if let Some(rest) = path.strip_prefix('[') {
            let (inside, tail) = rest.split_once(']')?;
            let segment = match inside.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
                Some(key) => Segment::Key(key.to_owned()),
                None => Segment::Index(inside.parse().ok()?),
            };
            segments.push(segment);
            path = tail;
        } else {
            return None;
        }
    }
    Some(segments)
}

// === encode ===

/// A tool call whose arguments are being collected until its block ends.
#[derive(Debug)]
struct EncodedCall {
    index: u32,
    id: String,
    name: String,
    arguments: String,
}

/// Canonical events → a Gemini stream for a client.
#[derive(Debug, Default)]
pub struct ChunkEncoder {
    id: String,
    model: String,
    usage: Usage,
    calls: Vec<EncodedCall>,
    stop: Option<StopReason>,
    done: bool,
}

impl ChunkEncoder {
    pub fn new() -> ChunkEncoder {
        ChunkEncoder::default()
    }

    pub fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::Start {
                id, model, usage, ..
            } => {
                self.id.clone_from(id);
                self.model.clone_from(model);
                self.usage.update(usage);
            }
            StreamEvent::Usage(usage) => self.usage.update(usage),
            StreamEvent::BlockStart {
                index,
                block: BlockStart::ToolCall { id, name },
            } => self.calls.push(EncodedCall {
                index: *index,
                id: id.clone(),
                name: name.clone(),
                arguments: String::new(),
            }),
            StreamEvent::BlockStart { .. } => {}
            StreamEvent::BlockDelta { index, delta } => self.delta(*index, delta, out),
            StreamEvent::BlockStop { index } => {
                if let Some(at) = self.calls.iter().position(|c| c.index == *index) {
                    let call = self.calls.remove(at);
                    let part = super::response::call_part(&call.id, &call.name, &call.arguments);
                    self.write(part, None, out);
                }
            }
            StreamEvent::Finish { reason, .. } => self.stop = Some(reason.clone()),
            StreamEvent::End => {
                let reason = self.stop.as_ref().map_or("STOP", encode_finish_reason);
                self.write(json!({"text": ""}), Some(reason), out);
                self.done = true;
            }
            StreamEvent::Error(err) => {
                write_event(out, None, &error::encode(err).to_string());
                self.done = true;
            }
        }
    }

    fn delta(&mut self, index: u32, delta: &BlockDelta, out: &mut Vec<u8>) {
        let part = match delta {
            BlockDelta::Text(text) if !text.is_empty() => json!({"text": text}),
            BlockDelta::Thinking(text) if !text.is_empty() => {
                json!({"text": text, "thought": true})
            }
            BlockDelta::Signature(signature) if !signature.is_empty() => {
                json!({"text": "", "thought": true, "thoughtSignature": signature})
            }
            BlockDelta::ToolArguments(fragment) => {
                if let Some(call) = self.calls.iter_mut().find(|c| c.index == index) {
                    call.arguments.push_str(fragment);
                }
                return;
            }
            _ => return,
        };
        self.write(part, None, out);
    }

    fn write(&self, part: Value, finish_reason: Option<&str>, out: &mut Vec<u8>) {
        let mut candidate = Map::new();
        candidate.insert("content".into(), json!({"parts": [part], "role": "model"}));
        if let Some(reason) = finish_reason {
            candidate.insert("finishReason".into(), json!(reason));
        }
        candidate.insert("index".into(), json!(0));
        let mut chunk = Map::new();
        chunk.insert("candidates".into(), json!([candidate]));
        if finish_reason.is_some() {
            chunk.insert("usageMetadata".into(), super::usage::encode(&self.usage));
        }
        chunk.insert("modelVersion".into(), json!(self.model));
        chunk.insert("responseId".into(), json!(self.id));
        write_event(out, None, &Value::Object(chunk).to_string());
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
