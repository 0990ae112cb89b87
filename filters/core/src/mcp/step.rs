//! The step record of one MCP `tools/call`: the agent's run gets the call as a step of
//! kind `tool`, beside its LLM steps, through the same usage outbox. The arguments are
//! hashed like the tool calls an LLM answer asks for, so the control plane can link the
//! call to the LLM step that asked for it; their text is kept only under `full` capture.

use serde_json::{json, Value};

use crate::attribution::Attribution;
use crate::capture::{Captured, PayloadCapture};
use crate::tool_calls::arguments_sha256;
use crate::trace_context::TraceContext;
use crate::usage_record::run_of;

/// The `kind` of MCP tool-call records (LLM records have none, or `llm`).
pub const KIND: &str = "tool";

/// What a `tools/call` request names: the tool and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolInvocation {
    pub tool: String,
    /// Hash of the arguments' compact JSON (see [`arguments_sha256`]).
    pub arguments_sha256: String,
    /// The arguments' compact JSON, kept for `full` capture.
    pub arguments: String,
}

impl ToolInvocation {
    /// `None` unless `body` is one JSON-RPC `tools/call` request with a tool name.
    pub fn from_body(body: &[u8]) -> Option<ToolInvocation> {
        let message: Value = serde_json::from_slice(body).ok()?;
        if message["method"] != "tools/call" {
            return None;
        }
        let params = &message["params"];
        let tool = params["name"].as_str()?.to_owned();
        let arguments = match &params["arguments"] {
            Value::Null => "{}".to_owned(),
            arguments => arguments.to_string(),
        };
        Some(ToolInvocation {
            tool,
            arguments_sha256: arguments_sha256(&arguments),
            arguments,
        })
    }
}

/// How the call ended, as far as the gateway saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallEnd {
    /// The HTTP status the client got (0: no answer).
    pub status: u16,
    /// Why the gateway answered itself (`access_denied`, …); `None` when forwarded.
    pub refused: Option<&'static str>,
    /// The server answered with a JSON-RPC error.
    pub jsonrpc_error: bool,
    /// The result said `isError: true` (the tool ran and failed).
    pub is_error: bool,
}

impl CallEnd {
    /// The record's `error_class`: the refusal, else a JSON-RPC or HTTP failure.
    pub fn error_class(&self) -> Option<&'static str> {
        if let Some(reason) = self.refused {
            return Some(reason);
        }
        if self.jsonrpc_error {
            return Some("jsonrpc_error");
        }
        match self.status {
            0 => Some("no_response"),
            400.. => Some("server"),
            _ => None,
        }
    }
}

/// One MCP tool call as a step of its run.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolStep {
    /// The record id (see `usage_record::record_id`).
    pub id: String,
    pub time_unix_ms: u64,
    pub server: String,
    pub key_id: Option<String>,
    pub team: Option<String>,
    pub invocation: ToolInvocation,
    pub attribution: Attribution,
    pub trace: Option<TraceContext>,
    /// Envoy's `x-request-id` for the call.
    pub step_id: String,
    pub duration_ms: u64,
    pub end: CallEnd,
    pub capture: PayloadCapture,
    /// The call's price when it was spent (see `pricing`); `None` for a free call or one
    /// that did not run. Budgets' spending counts it like an LLM step's cost.
    pub cost_nano_usd: Option<u64>,
    /// This Envoy process (see `budget::poll`), so the control plane's count of the other
    /// processes' spending leaves this one's out.
    pub envoy_instance: Option<String>,
}

impl ToolStep {
    /// One line of JSON, in the LLM step record's field names where they mean the same.
    pub fn to_json(&self) -> String {
        let run_id = run_of(&self.attribution, self.trace.as_ref());
        let mut record = json!({
            "kind": KIND,
            "id": self.id,
            "time_unix_ms": self.time_unix_ms,
            "key_id": self.key_id,
            "team": self.team,
            "agent_id": self.attribution.agent_id,
            "run_id": run_id,
            "parent_step_id": self.attribution.parent_step_id,
            "metadata": self.attribution.metadata,
            "trace_id": self.trace.as_ref().map(|t| &t.trace_id),
            "parent_span_id": self.trace.as_ref().and_then(|t| t.parent_span_id.as_ref()),
            "step_id": self.step_id,
            "status": self.end.status,
            "duration_ms": self.duration_ms,
            "total_ms": self.duration_ms,
            "error_class": self.end.error_class(),
            "cost_nano_usd": self.cost_nano_usd,
            "mcp": {
                "server": self.server,
                "tool": self.invocation.tool,
                "arguments_sha256": self.capture.keeps_hashes()
                    .then_some(&self.invocation.arguments_sha256),
                "is_error": self.end.is_error,
            },
            "payload_capture": self.capture.as_str(),
        });
        if let Some(instance) = &self.envoy_instance {
            record["envoy_instance"] = json!(instance);
        }
        if self.capture == PayloadCapture::Full {
            let mut arguments = Captured::default();
            arguments.push(self.invocation.arguments.as_bytes());
            record["payload"] = json!({"request": arguments.to_json()});
        }
        record.to_string()
    }
}

#[cfg(test)]
#[path = "step_tests.rs"]
mod tests;
