//! The tool calls an answer asks for and the tool results a request carries, read from the
//! canonical model so every provider format (whole answers and streams) is covered by one
//! piece of code. Step records carry both, and the control plane links a call to the
//! later step that brings its result: LLM → tool → LLM.
//!
//! Arguments are never recorded, only their SHA-256 of their canonical JSON (keys sorted,
//! no spaces: [`arguments_sha256`]), so an MCP call the agent makes with the same arguments
//! hashes alike however either side spaced or ordered them. The text is held per call only
//! up to [`CANONICAL_LIMIT`]; longer arguments hash as streamed.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::formats::WireFormat;
use crate::keys::to_hex as hex;
use crate::model::{BlockDelta, BlockStart, ContentPart, Request, Role, StreamEvent};

/// One tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// Lower-case hex SHA-256 of the arguments' canonical JSON ([`arguments_sha256`]).
    pub arguments_sha256: String,
}

impl ToolCall {
    /// `{id, name, arguments_sha256}`; the hash is null when it may not be kept.
    pub fn to_json(&self, keep_hash: bool) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "arguments_sha256": keep_hash.then_some(&self.arguments_sha256),
        })
    }
}

/// Argument text kept per call for the canonical hash; beyond it the streamed hash stands.
pub const CANONICAL_LIMIT: usize = 64 * 1024;

/// One call being read: its block index (whole answers number them in order), id, name,
/// the hash of its text as streamed, and the text while it is within [`CANONICAL_LIMIT`].
#[derive(Debug, Clone)]
struct PendingCall {
    index: u32,
    id: String,
    name: String,
    streamed: Sha256,
    text: Option<String>,
}

impl PendingCall {
    fn new(index: u32, id: &str, name: &str) -> Self {
        PendingCall {
            index,
            id: id.to_owned(),
            name: name.to_owned(),
            streamed: Sha256::new(),
            text: Some(String::new()),
        }
    }

    fn append(&mut self, fragment: &str) {
        self.streamed.update(fragment.as_bytes());
        if let Some(text) = &mut self.text {
            if text.len() + fragment.len() <= CANONICAL_LIMIT {
                text.push_str(fragment);
            } else {
                self.text = None;
            }
        }
    }

    fn hash(&self) -> String {
        self.text
            .as_deref()
            .and_then(canonical_sha256)
            .unwrap_or_else(|| hex(&self.streamed.clone().finalize()))
    }
}

/// Collects the tool calls of one answer, from whole content or from stream events.
#[derive(Debug, Clone, Default)]
pub struct ToolCallLog {
    calls: Vec<PendingCall>,
}

impl ToolCallLog {
    /// The calls in a whole answer's content.
    pub fn observe_content(&mut self, content: &[ContentPart]) {
        for part in content {
            if let ContentPart::ToolCall {
                id,
                name,
                arguments,
            } = part
            {
                let index = u32::try_from(self.calls.len()).unwrap_or(u32::MAX);
                let mut call = PendingCall::new(index, id, name);
                call.append(arguments);
                self.calls.push(call);
            }
        }
    }

    /// Stream events: a tool-call block opens a call, its argument deltas are hashed.
    pub fn observe_event(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::BlockStart {
                index,
                block: BlockStart::ToolCall { id, name },
            } => self.calls.push(PendingCall::new(*index, id, name)),
            StreamEvent::BlockDelta {
                index,
                delta: BlockDelta::ToolArguments(fragment),
            } => {
                // The latest call with this index: decoders may reuse indices across turns.
                if let Some(call) = self.calls.iter_mut().rev().find(|c| c.index == *index) {
                    call.append(fragment);
                }
            }
            _ => {}
        }
    }

    /// The calls seen so far, in order.
    pub fn calls(&self) -> Vec<ToolCall> {
        self.calls
            .iter()
            .map(|call| ToolCall {
                id: call.id.clone(),
                name: call.name.clone(),
                arguments_sha256: call.hash(),
            })
            .collect()
    }
}

/// The tool-call ids whose results a request brings back: the results after the last
/// assistant turn. Earlier results are history the client resends with every request;
/// they were recorded by the step that first carried them.
pub fn new_tool_results(request: &Request) -> Vec<String> {
    request
        .messages
        .iter()
        .rev()
        .take_while(|m| m.role != Role::Assistant)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .flat_map(|m| &m.content)
        .filter_map(|part| match part {
            ContentPart::ToolResult { call_id, .. } => Some(call_id.clone()),
            _ => None,
        })
        .collect()
}

/// The ids [`new_tool_results`] finds, read straight from a client body in `format`: the
/// passthrough path skips the canonical decode, which would double its cost. `None` when
/// the body has no `messages` list, or for Gemini, whose ids the decoder must pair with
/// their calls (and which is never a client format): decode then.
pub fn new_tool_results_raw(format: WireFormat, body: &Value) -> Option<Vec<String>> {
    let messages = body.get("messages")?.as_array()?;
    let after_assistant = messages
        .iter()
        .rposition(|m| m["role"] == "assistant")
        .map_or(0, |i| i + 1);
    let tail = &messages[after_assistant..];
    let blocks = || {
        tail.iter()
            .filter_map(|m| m["content"].as_array())
            .flatten()
    };
    let ids: Vec<&Value> = match format {
        WireFormat::OpenAi | WireFormat::Cohere => tail
            .iter()
            .filter(|m| m["role"] == "tool")
            .map(|m| &m["tool_call_id"])
            .collect(),
        WireFormat::Anthropic => blocks()
            .filter(|b| b["type"] == "tool_result")
            .map(|b| &b["tool_use_id"])
            .collect(),
        WireFormat::Bedrock => blocks().map(|b| &b["toolResult"]["toolUseId"]).collect(),
        WireFormat::Gemini => return None,
    };
    Some(
        ids.into_iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
    )
}

/// The hash recorded for a tool call's arguments `text`: SHA-256 of its canonical JSON
/// (serde_json's compact form, object keys sorted), or of the text itself when it is not
/// JSON.
pub fn arguments_sha256(text: &str) -> String {
    canonical_sha256(text).unwrap_or_else(|| sha256_hex(text))
}

fn canonical_sha256(text: &str) -> Option<String> {
    // serde_json's maps are sorted (no `preserve_order`), so `to_string` is canonical.
    let value: Value = serde_json::from_str(text).ok()?;
    Some(sha256_hex(&value.to_string()))
}

/// Lower-case hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
#[path = "tool_calls_tests.rs"]
mod tests;
