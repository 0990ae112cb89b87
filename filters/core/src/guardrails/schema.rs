//! The schema guardrail: tool-call arguments and structured answers checked against the
//! request's own schemas ([`RequestSchemas`], compiled once per request).
//!
//! On the output stage a whole answer is checked at once; a streamed tool call's arguments
//! (and, with a response schema, the answer text) are held until their block ends, since a
//! prefix of a JSON document cannot be judged (see [`super::OutputGuard`]). On the input
//! stage the tool calls in the history are checked.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::guard::schema::{RequestSchemas, SchemaTarget, SchemaViolation};
use crate::guard::{Action, Category, Finding};
use crate::model::{ContentPart, Request, Response, ResponseFormat};

use super::inspect::Inspection;

/// A schema check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchemaCheck {
    pub name: String,
    /// `deny` or `flag`.
    pub action: Action,
    /// What is checked; at least one.
    pub targets: Vec<SchemaTarget>,
}

/// The schema checks of one stage of one request, with the request's compiled schemas.
#[derive(Debug, Clone)]
pub struct SchemaGuard {
    schemas: Arc<RequestSchemas>,
    checks: Vec<SchemaCheck>,
}

impl SchemaGuard {
    pub fn new(schemas: Arc<RequestSchemas>, checks: Vec<SchemaCheck>) -> SchemaGuard {
        SchemaGuard { schemas, checks }
    }

    /// Whether streamed tool-call arguments must be held until the call is complete.
    pub fn holds_tool_calls(&self) -> bool {
        self.targets(SchemaTarget::ToolArguments)
    }

    /// Whether streamed answer text must be held until its block is complete.
    pub fn holds_text(&self) -> bool {
        self.targets(SchemaTarget::StructuredOutput) && self.schemas.has_response_schema()
    }

    /// Checks one call's arguments; returns whether `inspection` is now denied.
    pub fn tool_call(&self, tool: &str, arguments: &str, inspection: &mut Inspection) -> bool {
        if !self.holds_tool_calls() {
            return false;
        }
        let result = self.schemas.check_tool_call(tool, arguments);
        self.judge(
            SchemaTarget::ToolArguments,
            result,
            arguments.len(),
            inspection,
        )
    }

    /// Checks one answer text; returns whether `inspection` is now denied.
    pub fn structured(&self, text: &str, inspection: &mut Inspection) -> bool {
        if !self.holds_text() {
            return false;
        }
        let result = self.schemas.check_structured(text);
        self.judge(
            SchemaTarget::StructuredOutput,
            result,
            text.len(),
            inspection,
        )
    }

    /// The input stage: the tool calls in the history to tools the request declares (a
    /// client may stop sending a tool it no longer offers; the answer may not call it).
    pub fn inspect_request(&self, request: &Request) -> Inspection {
        let mut inspection = Inspection::default();
        for part in request.messages.iter().flat_map(|m| &m.content) {
            if let ContentPart::ToolCall {
                name, arguments, ..
            } = part
            {
                if !self.schemas.declares(name) {
                    continue;
                }
                if self.tool_call(name, arguments, &mut inspection) {
                    break;
                }
            }
        }
        inspection
    }

    /// A whole answer: its tool calls and, with a response schema, its text.
    pub fn inspect_response(&self, response: &Response) -> Inspection {
        let mut inspection = Inspection::default();
        for part in &response.content {
            let denied = match part {
                ContentPart::ToolCall {
                    name, arguments, ..
                } => self.tool_call(name, arguments, &mut inspection),
                ContentPart::Text { text, .. } => self.structured(text, &mut inspection),
                _ => false,
            };
            if denied {
                break;
            }
        }
        inspection
    }

    fn targets(&self, target: SchemaTarget) -> bool {
        self.checks.iter().any(|c| c.targets.contains(&target))
    }

    /// Records a violation for every check covering `target`.
    fn judge(
        &self,
        target: SchemaTarget,
        result: Result<(), SchemaViolation>,
        len: usize,
        inspection: &mut Inspection,
    ) -> bool {
        let Err(violation) = result else {
            return false;
        };
        let mut denied = false;
        for check in self.checks.iter().filter(|c| c.targets.contains(&target)) {
            let finding = Finding {
                guardrail: check.name.as_str().into(),
                category: Category::Rule(target.name().into()),
                action: check.action,
                span: 0..len,
            };
            denied |= inspection.record(finding, Some(violation.to_string()));
        }
        denied
    }
}

/// Compiled request schemas, by a digest of what they were compiled from. Agents send the
/// same tool definitions with every request of a conversation, and compiling costs about a
/// hundred times validating one call, so recent compilations are kept (a bounded FIFO).
#[derive(Default)]
pub struct SchemaCache {
    entries: Mutex<VecDeque<([u8; 32], Arc<RequestSchemas>)>>,
}

/// Compilations kept per configuration.
const CACHED_SCHEMA_SETS: usize = 32;

impl SchemaCache {
    /// The request's compiled schemas, compiled now unless the same declarations were
    /// compiled recently.
    pub fn get(&self, request: &Request) -> Arc<RequestSchemas> {
        let key = digest(request);
        // A poisoned lock only means another request panicked mid-insert; the queue is intact.
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, found)) = entries.iter().find(|(k, _)| *k == key) {
            return Arc::clone(found);
        }
        let compiled = Arc::new(RequestSchemas::from_request(request));
        if entries.len() >= CACHED_SCHEMA_SETS {
            entries.pop_front();
        }
        entries.push_back((key, Arc::clone(&compiled)));
        compiled
    }
}

/// SHA-256 of the tool names and parameter schemas and the response format, each part
/// length-prefixed so that no two declarations hash alike by concatenation.
fn digest(request: &Request) -> [u8; 32] {
    let mut hash = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    for tool in &request.tools {
        part(tool.name.as_bytes());
        part(tool.parameters.to_string().as_bytes());
    }
    match &request.response_format {
        Some(ResponseFormat::JsonSchema { schema, .. }) => part(schema.to_string().as_bytes()),
        Some(ResponseFormat::JsonObject) => part(b"json_object"),
        Some(ResponseFormat::Text) | None => part(b""),
    }
    hash.finalize().into()
}
