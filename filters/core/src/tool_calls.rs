//! The tool calls an answer asks for and the tool results a request carries, read from the
//! canonical model so every provider format (whole answers and streams) is covered by one
//! piece of code. Step records carry both, and the control plane links a call to the
//! later step that brings its result: LLM → tool → LLM.
//!
//! Arguments are never kept, only their SHA-256 (hashed as the fragments stream by, so a
//! long argument string is never held whole).

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
    /// Lower-case hex SHA-256 of the arguments' JSON text as the model produced it.
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

/// Collects the tool calls of one answer, from whole content or from stream events.
#[derive(Debug, Clone, Default)]
pub struct ToolCallLog {
    /// Calls by their stream block index (whole answers number them in order).
    calls: Vec<(u32, String, String, Sha256)>,
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
                let hasher = Sha256::new_with_prefix(arguments.as_bytes());
                self.calls.push((index, id.clone(), name.clone(), hasher));
            }
        }
    }

    /// Stream events: a tool-call block opens a call, its argument deltas are hashed.
    pub fn observe_event(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::BlockStart {
                index,
                block: BlockStart::ToolCall { id, name },
            } => self
                .calls
                .push((*index, id.clone(), name.clone(), Sha256::new())),
            StreamEvent::BlockDelta {
                index,
                delta: BlockDelta::ToolArguments(fragment),
            } => {
                // The latest call with this index: decoders may reuse indices across turns.
                if let Some((_, _, _, hasher)) =
                    self.calls.iter_mut().rev().find(|(i, ..)| i == index)
                {
                    hasher.update(fragment.as_bytes());
                }
            }
            _ => {}
        }
    }

    /// The calls seen so far, in order.
    pub fn calls(&self) -> Vec<ToolCall> {
        self.calls
            .iter()
            .map(|(_, id, name, hasher)| ToolCall {
                id: id.clone(),
                name: name.clone(),
                arguments_sha256: hex(&hasher.clone().finalize()),
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

/// Lower-case hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
#[path = "tool_calls_tests.rs"]
mod tests;
