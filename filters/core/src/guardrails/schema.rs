//! The schema guardrail: tool-call arguments and structured answers checked against the
//! request's own schemas ([`RequestSchemas`], compiled once per request).
//!
//! On the output stage a whole answer is checked at once; a streamed tool call's arguments
//! (and, with a response schema, the answer text) are held until their block ends, since a
//! prefix of a JSON document cannot be judged (see [`super::OutputGuard`]). On the input
//! stage the tool calls in the history are checked.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::guard::schema::{RequestSchemas, SchemaTarget, SchemaViolation};
use crate::guard::{Action, Category, Finding};
use crate::model::{ContentPart, Request, Response};

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
