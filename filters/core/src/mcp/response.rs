//! A server's answer, rewritten message by message before it reaches the agent: lists
//! filtered to what the key may use (and to pinned tools), tool results guarded, and the
//! legacy transport's `endpoint` event pointed back at the gateway.
//!
//! Messages are recognised by shape, not by the request that asked for them: on a GET
//! stream and on the legacy transport, answers arrive apart from their requests. A
//! `result` with a `tools` array is a tool list, one with `content` a call result.

use serde_json::Value;

use crate::guardrails::{Report, Selection};
use crate::sse::{Parsed, SseEvent, SseParser, DEFAULT_MAX_EVENT_BYTES};

use super::config::{McpAccess, ToolChangePolicy};
use super::jsonrpc::{self, Message};
use super::legacy::{gateway_endpoint, session_of, Diversions};
use super::pending::PendingCalls;
use super::pins::{tool_hash, PinBook, PinChange};
use super::step::CallEnd;
use super::tool_guard::guard_result;

/// What a server's answer is checked against.
pub struct ResponseContext<'a> {
    pub access: &'a McpAccess,
    pub pins: &'a PinBook<'a>,
    pub on_tool_change: ToolChangePolicy,
    pub guardrails: Option<&'a Selection>,
    /// For a legacy HTTP+SSE server: its gateway path (for the `endpoint` event) and the
    /// refusals waiting for their ping's answer.
    pub legacy: Option<(&'a str, &'a Diversions<'a>)>,
}

/// What rewriting an answer did, for the request log.
#[derive(Debug, Default, PartialEq)]
pub struct MessageOutcome {
    /// Tools whose definition differs from their pin.
    pub pin_changes: Vec<PinChange>,
    /// List entries left out (not allowed for the key, or held by pinning).
    pub filtered: usize,
    /// Call results withheld by a guardrail.
    pub withheld: usize,
    /// Responses (results or errors) seen: a call is over once its response passed, even
    /// when the client leaves before the server closes the stream.
    pub responses: usize,
    /// Answers that were JSON-RPC errors (the call's step records the failure).
    pub errors: usize,
    /// Call results with `isError: true`: the tool ran and reported a failure.
    pub tool_errors: usize,
    /// Each response with an id, in order: a legacy stream's filter ends the waiting
    /// calls they answer (`mcp::pending`).
    pub answers: Vec<Answered>,
}

/// One response that passed: the request it answers, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    pub id: Value,
    pub jsonrpc_error: bool,
    /// A result with `isError: true`.
    pub is_error: bool,
    /// A result a guardrail withheld (the client got an error instead).
    pub withheld: bool,
}

impl Answered {
    /// How the call ended, answered on a stream of HTTP status `status`.
    pub fn end(&self, status: u16) -> CallEnd {
        CallEnd {
            status,
            refused: self.withheld.then_some(RESULT_WITHHELD),
            jsonrpc_error: self.jsonrpc_error,
            is_error: self.is_error,
            cut_off: false,
        }
    }
}

/// What rewriting one message did.
#[derive(Default)]
struct Rewritten {
    changed: bool,
    /// Set for a response (its id filled in by the caller).
    answer: Option<Answered>,
}

impl Rewritten {
    /// Notes what a call result said and whether it was withheld.
    fn with_result(mut self, is_error: bool, withheld: bool) -> Rewritten {
        if let Some(answer) = &mut self.answer {
            answer.is_error = is_error;
            answer.withheld = withheld;
        }
        self
    }
}

/// The step's `error_class` of a call whose result a guardrail withheld.
pub const RESULT_WITHHELD: &str = "result_withheld";

impl ResponseContext<'_> {
    /// Rewrites one server message in place; returns whether it changed.
    pub fn rewrite(
        &self,
        message: &mut Message,
        report: &mut Report,
        outcome: &mut MessageOutcome,
    ) -> bool {
        let rewritten = self.rewrite_message(message, report, outcome);
        if let Some((answer, id)) = rewritten.answer.zip(message.id()) {
            outcome.answers.push(Answered {
                id: id.clone(),
                ..answer
            });
        }
        rewritten.changed
    }

    /// [`ResponseContext::rewrite`], saying how a response answered.
    fn rewrite_message(
        &self,
        message: &mut Message,
        report: &mut Report,
        outcome: &mut MessageOutcome,
    ) -> Rewritten {
        let jsonrpc_error = message.0.contains_key("error");
        let mut rewritten = Rewritten::default();
        if jsonrpc_error || message.0.contains_key("result") {
            outcome.responses += 1;
            rewritten.answer = Some(Answered {
                id: Value::Null,
                jsonrpc_error,
                is_error: false,
                withheld: false,
            });
        }
        outcome.errors += usize::from(jsonrpc_error);
        let Some(result) = message.result_mut() else {
            return rewritten;
        };
        if let Some(Value::Array(tools)) = result.get_mut("tools") {
            rewritten.changed |= self.filter_tools(tools, outcome);
        }
        for (list, field) in [
            ("prompts", "name"),
            ("resources", "uri"),
            ("resourceTemplates", "uriTemplate"),
        ] {
            if let Some(Value::Array(items)) = result.get_mut(list) {
                rewritten.changed |= self.filter_named(items, field, outcome);
            }
        }
        if !result.contains_key("content") {
            return rewritten;
        }
        let is_error = result.get("isError") == Some(&Value::Bool(true));
        outcome.tool_errors += usize::from(is_error);
        let Some(selection) = self.guardrails else {
            return rewritten.with_result(is_error, false);
        };
        match guard_result(selection, result, report) {
            Ok(redacted) => {
                rewritten.changed |= redacted;
                rewritten.with_result(is_error, false)
            }
            Err(msg) => {
                outcome.withheld += 1;
                let error = jsonrpc::error(message.id(), jsonrpc::GUARDRAIL_DENIED, &msg);
                if let Some(error) = Message::from_value(error) {
                    *message = error;
                }
                rewritten.changed = true;
                rewritten.with_result(is_error, true)
            }
        }
    }

    fn filter_tools(&self, tools: &mut Vec<Value>, outcome: &mut MessageOutcome) -> bool {
        let before = tools.len();
        tools.retain(|tool| {
            let Some(tool) = tool.as_object() else {
                return false;
            };
            let name = tool.get("name").and_then(Value::as_str).unwrap_or("");
            if !self.access.allows(name) {
                return false;
            }
            let Some(change) = self.pins.observe(name, &tool_hash(tool)) else {
                return true;
            };
            outcome.pin_changes.push(change);
            self.on_tool_change == ToolChangePolicy::Flag
        });
        outcome.filtered += before - tools.len();
        before != tools.len()
    }

    fn filter_named(
        &self,
        items: &mut Vec<Value>,
        field: &str,
        outcome: &mut MessageOutcome,
    ) -> bool {
        let before = items.len();
        items.retain(|item| {
            item.get(field)
                .and_then(Value::as_str)
                .is_some_and(|name| self.access.allows(name))
        });
        outcome.filtered += before - items.len();
        before != items.len()
    }

    /// Rewrites a whole JSON answer; `None` when it stays as the server sent it.
    pub fn rewrite_json(
        &self,
        body: &[u8],
        report: &mut Report,
        outcome: &mut MessageOutcome,
    ) -> Option<Vec<u8>> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let mut message = Message::from_value(value)?;
        self.rewrite(&mut message, report, outcome)
            .then(|| message.to_bytes())
    }
}

/// An SSE answer rewritten event by event as it streams: each complete event goes out as
/// soon as it is read, unchanged events byte for byte; only an unfinished event is held.
///
/// An event over [`DEFAULT_MAX_EVENT_BYTES`] cannot be checked, so it fails closed: none of
/// its bytes goes out, a JSON-RPC error event (id `null`: the id was never read) takes its
/// place, and the rest of the stream is read and checked from the next event on.
pub struct SseRewriter {
    parser: SseParser,
    /// A legacy stream's session, from its `endpoint` event.
    session: Option<String>,
    /// The last event ended in CR and was sent with an LF added: the parser reads the LF
    /// that may follow as the next block's first byte, which is then dropped.
    lf_sent: bool,
}

impl Default for SseRewriter {
    fn default() -> Self {
        SseRewriter {
            parser: SseParser::new(DEFAULT_MAX_EVENT_BYTES)
                .keeping_raw()
                .dropping_oversized(),
            session: None,
            lf_sent: false,
        }
    }
}

impl SseRewriter {
    /// A legacy stream's session, once its `endpoint` event passed.
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// The bytes to send on for `chunk`.
    pub fn push(
        &mut self,
        chunk: &[u8],
        end_of_stream: bool,
        ctx: &ResponseContext,
        report: &mut Report,
        outcome: &mut MessageOutcome,
    ) -> Vec<u8> {
        let mut events = Vec::new();
        self.parser.push_dropping(chunk, &mut events);
        if end_of_stream {
            self.parser.finish_dropping(&mut events);
        }
        let mut out = Vec::with_capacity(chunk.len());
        for parsed in &events {
            let event = match parsed {
                Parsed::Event(event) => event,
                Parsed::Dropped => {
                    out.extend_from_slice(&oversized_answer(outcome));
                    continue;
                }
            };
            let mut bytes = self.rewrite_event(event, ctx, report, outcome);
            if std::mem::take(&mut self.lf_sent) && bytes.first() == Some(&b'\n') {
                bytes.remove(0);
            }
            // A CRLF stream's event is complete at its last CR, but clients that wait for
            // the LF would otherwise get it only with the next event (a keep-alive, seconds
            // later).
            if event.raw.last() == Some(&b'\r') {
                if bytes.last() == Some(&b'\r') {
                    bytes.push(b'\n');
                }
                self.lf_sent = true;
            }
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// One event's bytes to send: unchanged (its raw bytes), or with its data replaced.
    fn rewrite_event(
        &mut self,
        event: &SseEvent,
        ctx: &ResponseContext,
        report: &mut Report,
        outcome: &mut MessageOutcome,
    ) -> Vec<u8> {
        let Some(data) = &event.data else {
            return event.raw.clone();
        };
        if let (Some((prefix, diversions)), Some("endpoint")) = (ctx.legacy, event.event.as_deref())
        {
            self.session = session_of(data).map(str::to_owned);
            if let Some(session) = &self.session {
                PendingCalls::from(diversions).open(session);
            }
            return with_data(&event.raw, &gateway_endpoint(prefix, data));
        }
        let parsed = serde_json::from_str::<Value>(data).ok();
        let Some(mut message) = parsed.and_then(Message::from_value) else {
            return event.raw.clone();
        };
        let diverted = match (ctx.legacy, &self.session) {
            (Some((_, diversions)), Some(session)) => diversions.take(session, &message),
            _ => None,
        };
        let changed = match diverted {
            Some(refusal) => {
                message = refusal;
                true
            }
            None => ctx.rewrite(&mut message, report, outcome),
        };
        if !changed {
            return event.raw.clone();
        }
        let json = Value::Object(std::mem::take(&mut message.0)).to_string();
        with_data(&event.raw, &json)
    }
}

/// The event sent in place of one too large to check, counted as a withheld answer.
fn oversized_answer(outcome: &mut MessageOutcome) -> Vec<u8> {
    outcome.responses += 1;
    outcome.errors += 1;
    outcome.withheld += 1;
    let message = format!(
        "The MCP server's answer exceeded the gateway's {} MiB event limit and was withheld \
         unchecked.",
        DEFAULT_MAX_EVENT_BYTES >> 20
    );
    let error = jsonrpc::error(None, jsonrpc::ANSWER_TOO_LARGE, &message);
    // `message` is the event type MCP clients read (the SSE default, named for strict ones).
    format!("event: message\ndata: {error}\n\n").into_bytes()
}

/// The event's other fields (`event:`, `id:`, `retry:`, comments) as received, then `data`
/// on one line (JSON text has no line breaks), then the blank line that ends it.
fn with_data(raw: &[u8], data: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let mut out = Vec::with_capacity(raw.len());
    // A CR-terminated line's LF may belong to the next block's bytes (the parser splits
    // there), so a lone CR is a line end too.
    let lines = text.split(['\r', '\n']).filter(|l| !l.is_empty());
    for line in lines {
        if line == "data" || line.starts_with("data:") {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b"\n\n");
    out
}

/// Whether the answer's content type is an event stream.
pub fn is_event_stream(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|t| t.trim_start().starts_with("text/event-stream"))
}

/// Whether the answer's content type is JSON.
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|t| t.trim_start().starts_with("application/json"))
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
