//! The step record of one MCP `tools/call`: the agent's run gets the call as a step of
//! kind `tool`, beside its LLM steps, through the same usage outbox. The arguments are
//! hashed like the tool calls an LLM answer asks for, so the control plane can link the
//! call to the LLM step that asked for it; their text is kept only under `full` capture.
//!
//! Every forwarded call ships exactly one step. Until its answer passed, the call is a
//! [`StepDraft`]: kept in filter state, so the gateway filter (whose `on_log` Envoy always
//! runs, unlike the upstream MCP filter's when the client or the server breaks the stream)
//! ships it as cut off (`mcp::unfinished`); or, for a legacy server, in the shared store
//! until the result comes down the session's event stream (`mcp::pending`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::attribution::Attribution;
use crate::capture::{Captured, PayloadCapture, MAX_CAPTURE_BYTES};
use crate::ratelimit::SharedStore;
use crate::tool_calls::arguments_sha256;
use crate::trace_context::TraceContext;
use crate::usage_record::run_of;

use super::pricing::Charge;

/// The `kind` of MCP tool-call records (LLM records have none, or `llm`).
pub const KIND: &str = "tool";

/// What a `tools/call` request names: the tool and its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

    /// The invocation with only as much argument text as `capture` records (one byte over
    /// the bound, so the capture still says it was cut): a draft waiting in the shared store
    /// stays small.
    pub fn kept_for(mut self, capture: PayloadCapture) -> ToolInvocation {
        if capture != PayloadCapture::Full {
            self.arguments.clear();
        } else if self.arguments.len() > MAX_CAPTURE_BYTES {
            let mut end = MAX_CAPTURE_BYTES + 1;
            while !self.arguments.is_char_boundary(end) {
                end += 1;
            }
            self.arguments.truncate(end);
        }
        self
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
    /// The exchange ended before the call's answer passed: the client left, the server's
    /// connection broke, or a legacy session's stream closed first.
    pub cut_off: bool,
}

impl CallEnd {
    /// The server turned the call down (an HTTP error or a JSON-RPC error): the tool did
    /// not run, so a priced call costs nothing.
    pub fn turned_down(&self) -> bool {
        self.jsonrpc_error || self.status >= 400
    }

    /// The record's `error_class`: the refusal, else a JSON-RPC or HTTP failure.
    pub fn error_class(&self) -> Option<&'static str> {
        if let Some(reason) = self.refused {
            return Some(reason);
        }
        if self.jsonrpc_error {
            return Some("jsonrpc_error");
        }
        if self.cut_off {
            return Some(CUT_OFF);
        }
        match self.status {
            0 => Some("no_response"),
            400.. => Some("server"),
            _ => None,
        }
    }
}

/// The `error_class` of a call whose answer never passed (see [`CallEnd::cut_off`]).
pub const CUT_OFF: &str = "cut_off";

/// A forwarded call's step before its answer: everything but how and when it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDraft {
    /// The record id (see `usage_record::record_id`).
    pub id: String,
    pub started_unix_ms: u64,
    pub server: String,
    pub key_id: Option<String>,
    pub team: Option<String>,
    pub invocation: ToolInvocation,
    pub attribution: Attribution,
    pub trace: Option<TraceContext>,
    /// Envoy's `x-request-id` for the call.
    pub step_id: String,
    pub capture: PayloadCapture,
    /// A priced call's price (see `pricing`), the step's cost unless the server turned the
    /// call down; budgets' spending counts it like an LLM step's cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_nano_usd: Option<u64>,
    /// This Envoy process (see `budget::poll`), for a priced call: the control plane's count
    /// of the other processes' spending leaves this one's out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envoy_instance: Option<String>,
}

impl StepDraft {
    /// The step, ended by `end` at `now_unix_ms`.
    pub fn finish(self, end: CallEnd, now_unix_ms: u64) -> ToolStep {
        ToolStep {
            duration_ms: now_unix_ms.saturating_sub(self.started_unix_ms),
            time_unix_ms: now_unix_ms,
            end,
            draft: self,
        }
    }
}

/// A forwarded call until its answer passes: its step's draft and, for a priced call, the
/// holds of its price (`pricing`), settled by whichever filter ends the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenCall {
    pub draft: StepDraft,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge: Option<Charge>,
}

impl OpenCall {
    /// Ends the call by `end`: its step joins `finished`, its holds settle to its cost.
    pub fn finish(
        self,
        end: CallEnd,
        store: &dyn SharedStore,
        now_unix_ms: u64,
        finished: &mut Finished,
    ) {
        if let Some(charge) = self.charge {
            let cost = charge.cost(&end);
            if charge.settle(store, now_unix_ms, cost).is_err() {
                finished.unsettled_nano_usd += cost;
            }
        }
        finished.steps.push(self.draft.finish(end, now_unix_ms));
    }
}

/// Calls ended together: the steps to ship, and what settling their prices lost.
#[derive(Debug, Default)]
pub struct Finished {
    pub steps: Vec<ToolStep>,
    /// Nano-USD whose settlement lost every race for the ledgers: those holds stay reserved.
    pub unsettled_nano_usd: u64,
}

/// One MCP tool call as a step of its run.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolStep {
    pub draft: StepDraft,
    /// When the call ended.
    pub time_unix_ms: u64,
    pub duration_ms: u64,
    pub end: CallEnd,
}

impl ToolStep {
    /// The price spent on the call: `None` for a free call or one the server turned down.
    pub fn cost_nano_usd(&self) -> Option<u64> {
        self.draft
            .price_nano_usd
            .filter(|_| !self.end.turned_down())
    }

    /// One line of JSON, in the LLM step record's field names where they mean the same.
    pub fn to_json(&self) -> String {
        let draft = &self.draft;
        let run_id = run_of(&draft.attribution, draft.trace.as_ref());
        let mut record = json!({
            "kind": KIND,
            "id": draft.id,
            "time_unix_ms": self.time_unix_ms,
            "key_id": draft.key_id,
            "team": draft.team,
            "agent_id": draft.attribution.agent_id,
            "run_id": run_id,
            "parent_step_id": draft.attribution.parent_step_id,
            "metadata": draft.attribution.metadata,
            "trace_id": draft.trace.as_ref().map(|t| &t.trace_id),
            "parent_span_id": draft.trace.as_ref().and_then(|t| t.parent_span_id.as_ref()),
            "step_id": draft.step_id,
            "status": self.end.status,
            "duration_ms": self.duration_ms,
            "total_ms": self.duration_ms,
            "error_class": self.end.error_class(),
            "cost_nano_usd": self.cost_nano_usd(),
            "mcp": {
                "server": draft.server,
                "tool": draft.invocation.tool,
                "arguments_sha256": draft.capture.keeps_hashes()
                    .then_some(&draft.invocation.arguments_sha256),
                "is_error": self.end.is_error,
            },
            "payload_capture": draft.capture.as_str(),
        });
        if let (Some(_), Some(instance)) = (self.cost_nano_usd(), &draft.envoy_instance) {
            record["envoy_instance"] = json!(instance);
        }
        if draft.capture == PayloadCapture::Full {
            let mut arguments = Captured::default();
            arguments.push(draft.invocation.arguments.as_bytes());
            record["payload"] = json!({"request": arguments.to_json()});
        }
        record.to_string()
    }
}

#[cfg(test)]
#[path = "step_tests.rs"]
pub(super) mod tests;
