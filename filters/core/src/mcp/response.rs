//! A server's answer, rewritten message by message before it reaches the agent: lists
//! filtered to what the key may use (and to pinned tools), tool results guarded, and the
//! legacy transport's `endpoint` event pointed back at the gateway.
//!
//! Messages are recognised by shape, not by the request that asked for them: on a GET
//! stream and on the legacy transport, answers arrive apart from their requests. A
//! `result` with a `tools` array is a tool list, one with `content` a call result.

use std::collections::VecDeque;

use serde_json::Value;

use crate::guardrails::{Report, Selection};
use crate::sse::{Parsed, SseEvent, SseParser, DEFAULT_MAX_EVENT_BYTES};

use super::config::{McpAccess, ToolChangePolicy};
use super::definition::ToolDefinition;
use super::jsonrpc::{self, Message};
use super::legacy::{gateway_endpoint, session_of, Diversions};
use super::pending::PendingCalls;
use super::pins::{PinBook, PinChange};
use super::schemas::ToolSchemas;
use super::step::CallEnd;
use super::tool_guard::{guard_result, result_callout_texts};

/// What a server's answer is checked against.
pub struct ResponseContext<'a> {
    pub access: &'a McpAccess,
    pub pins: &'a PinBook<'a>,
    pub on_tool_change: ToolChangePolicy,
    pub guardrails: Option<&'a Selection>,
    /// For a legacy HTTP+SSE server: its gateway path (for the `endpoint` event) and the
    /// refusals waiting for their ping's answer.
    pub legacy: Option<(&'a str, &'a Diversions<'a>)>,
    /// Present when the server's guardrails include schema checks: listed tools' schemas
    /// are remembered, and results checked against their tool's output schema.
    pub schemas: Option<&'a ToolSchemas<'a>>,
    /// The tool called by the request this answer belongs to (unknown on a GET stream).
    pub call_tool: Option<&'a str>,
}

/// What rewriting an answer did, for the request log.
#[derive(Debug, Default, PartialEq)]
pub struct MessageOutcome {
    /// Tool lists seen (each may have pinned tools first seen).
    pub tool_lists: usize,
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
        self.rewrite_answer(message, self.call_tool, report, outcome)
    }

    /// [`Self::rewrite`] for an answer to a call of `call_tool`, when known; each response
    /// with an id is noted in `outcome.answers`.
    fn rewrite_answer(
        &self,
        message: &mut Message,
        call_tool: Option<&str>,
        report: &mut Report,
        outcome: &mut MessageOutcome,
    ) -> bool {
        let rewritten = self.rewrite_message(message, call_tool, report, outcome);
        if let Some((answer, id)) = rewritten.answer.zip(message.id()) {
            outcome.answers.push(Answered {
                id: id.clone(),
                ..answer
            });
        }
        rewritten.changed
    }

    /// [`Self::rewrite_answer`], saying how a response answered.
    fn rewrite_message(
        &self,
        message: &mut Message,
        call_tool: Option<&str>,
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
            outcome.tool_lists += 1;
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
        let schema_checked = match (self.schemas, call_tool) {
            (Some(schemas), Some(tool)) => schemas.check_result(selection, tool, result, report),
            _ => Ok(()),
        };
        match schema_checked.and_then(|()| guard_result(selection, result, report)) {
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
            let kept = match self.pins.observe(name, &ToolDefinition::of(tool)) {
                None => true,
                Some(change) => {
                    outcome.pin_changes.push(change);
                    self.on_tool_change == ToolChangePolicy::Flag
                }
            };
            if let (true, Some(schemas)) = (kept, self.schemas) {
                schemas.remember(tool);
            }
            kept
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
        let (message, changed) = self.rewrite_json_message(body, report, outcome)?;
        changed.then(|| message.to_bytes())
    }

    /// Rewrites a whole JSON answer, holding it when it is a call result with something
    /// for the output callouts to read.
    pub fn hold_json(
        &self,
        body: &[u8],
        report: &mut Report,
        outcome: &mut MessageOutcome,
    ) -> JsonAnswer {
        let Some((message, changed)) = self.rewrite_json_message(body, report, outcome) else {
            return JsonAnswer::Pass(None);
        };
        let bytes = changed.then(|| message.to_bytes());
        let allowed = bytes.clone().unwrap_or_else(|| body.to_vec());
        match HeldResult::of(&message, allowed, None) {
            Some(held) => JsonAnswer::Held(held),
            None => JsonAnswer::Pass(bytes),
        }
    }

    fn rewrite_json_message(
        &self,
        body: &[u8],
        report: &mut Report,
        outcome: &mut MessageOutcome,
    ) -> Option<(Message, bool)> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let mut message = Message::from_value(value)?;
        let changed = self.rewrite(&mut message, report, outcome);
        Some((message, changed))
    }
}

/// A whole JSON answer after rewriting.
#[derive(Debug)]
pub enum JsonAnswer {
    /// Goes on: rewritten, or as the server sent it (`None`).
    Pass(Option<Vec<u8>>),
    /// A call result waiting for the output callouts.
    Held(HeldResult),
}

/// A call result that passed the rule guardrails, held until the output callouts
/// (webhooks, moderation) have read it: then released, or replaced by a refusal.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldResult {
    /// What the callouts are shown (the result's texts as the rules left them).
    pub texts: Vec<String>,
    /// The message's bytes to send when the callouts allow it.
    allowed: Vec<u8>,
    id: Option<Value>,
    /// For an SSE event: its bytes as received (its other fields are kept on a refusal).
    event: Option<Vec<u8>>,
}

impl HeldResult {
    /// `None` unless `message` is a call result with some text.
    fn of(message: &Message, allowed: Vec<u8>, event: Option<Vec<u8>>) -> Option<HeldResult> {
        let result = message.0.get("result")?.as_object()?;
        let texts = result_callout_texts(result)?;
        if texts.iter().all(String::is_empty) {
            return None;
        }
        Some(HeldResult {
            texts,
            allowed,
            id: message.id().cloned(),
            event,
        })
    }

    /// The bytes to send: the result as held, or (`refusal`: the client's message) the
    /// JSON-RPC error that withholds it.
    pub fn release(self, refusal: Option<&str>, outcome: &mut MessageOutcome) -> Vec<u8> {
        let Some(message) = refusal else {
            return self.allowed;
        };
        outcome.withheld += 1;
        let error = jsonrpc::error(self.id.as_ref(), jsonrpc::GUARDRAIL_DENIED, message);
        match &self.event {
            Some(raw) => with_data(raw, &error.to_string()),
            None => error.to_string().into_bytes(),
        }
    }
}

/// What a chunk of a stream gave.
#[derive(Debug, Default)]
pub struct Pushed {
    /// The bytes to send on now.
    pub out: Vec<u8>,
    /// A call result waiting for the output callouts; events after it wait in the
    /// rewriter until [`SseRewriter::resume`].
    pub held: Option<HeldResult>,
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
    /// Events read but not yet rewritten: those after a held call result.
    pending: VecDeque<Parsed>,
    /// Call results are held for the output callouts.
    hold: bool,
}

impl Default for SseRewriter {
    fn default() -> Self {
        SseRewriter {
            parser: SseParser::new(DEFAULT_MAX_EVENT_BYTES)
                .keeping_raw()
                .dropping_oversized(),
            session: None,
            lf_sent: false,
            pending: VecDeque::new(),
            hold: false,
        }
    }
}

impl SseRewriter {
    /// A rewriter that holds call results for the output callouts: `push` stops at the
    /// first one, and the events after it wait here until [`Self::resume`].
    pub fn holding_results() -> Self {
        SseRewriter {
            hold: true,
            ..SseRewriter::default()
        }
    }

    /// A legacy stream's session, once its `endpoint` event passed.
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// What to send on for `chunk` (everything rewritten, unless a result is held).
    pub fn push(
        &mut self,
        chunk: &[u8],
        end_of_stream: bool,
        ctx: &ResponseContext,
        report: &mut Report,
        outcome: &mut MessageOutcome,
    ) -> Pushed {
        self.read(chunk, end_of_stream);
        self.drain(ctx, report, outcome)
    }

    /// Goes on with the events that waited behind a held result (which may hold another).
    pub fn resume(
        &mut self,
        ctx: &ResponseContext,
        report: &mut Report,
        outcome: &mut MessageOutcome,
    ) -> Pushed {
        self.drain(ctx, report, outcome)
    }

    /// The bytes of a held result once the callouts are through (see [`HeldResult::release`]).
    pub fn release(
        &mut self,
        held: HeldResult,
        refusal: Option<&str>,
        outcome: &mut MessageOutcome,
    ) -> Vec<u8> {
        let ends_in_cr = held.event.as_ref().and_then(|raw| raw.last()) == Some(&b'\r');
        let bytes = held.release(refusal, outcome);
        self.finished(bytes, ends_in_cr)
    }

    /// Parses `chunk` into the pending events.
    fn read(&mut self, chunk: &[u8], end_of_stream: bool) {
        let mut events = Vec::new();
        self.parser.push_dropping(chunk, &mut events);
        if end_of_stream {
            self.parser.finish_dropping(&mut events);
        }
        self.pending.extend(events);
    }

    /// Rewrites the pending events; when holding, stops at a call result to hold.
    fn drain(
        &mut self,
        ctx: &ResponseContext,
        report: &mut Report,
        outcome: &mut MessageOutcome,
    ) -> Pushed {
        let mut pushed = Pushed::default();
        while let Some(parsed) = self.pending.pop_front() {
            let event = match parsed {
                Parsed::Event(event) => event,
                Parsed::Dropped => {
                    pushed.out.extend_from_slice(&oversized_answer(outcome));
                    continue;
                }
            };
            let (bytes, message) = self.rewrite_event(&event, ctx, report, outcome);
            let ends_in_cr = event.raw.last() == Some(&b'\r');
            let held = message
                .filter(|_| self.hold)
                .and_then(|m| HeldResult::of(&m, bytes.clone(), Some(event.raw.clone())));
            if held.is_some() {
                pushed.held = held;
                return pushed;
            }
            let bytes = self.finished(bytes, ends_in_cr);
            pushed.out.extend_from_slice(&bytes);
        }
        pushed
    }

    /// An event's bytes as they leave: a CR-terminated event gets its LF now.
    fn finished(&mut self, mut bytes: Vec<u8>, ends_in_cr: bool) -> Vec<u8> {
        if std::mem::take(&mut self.lf_sent) && bytes.first() == Some(&b'\n') {
            bytes.remove(0);
        }
        // A CRLF stream's event is complete at its last CR, but clients that wait for
        // the LF would otherwise get it only with the next event (a keep-alive, seconds
        // later).
        if ends_in_cr {
            if bytes.last() == Some(&b'\r') {
                bytes.push(b'\n');
            }
            self.lf_sent = true;
        }
        bytes
    }

    /// One event's bytes to send (unchanged: its raw bytes; or with its data replaced),
    /// and its message as rewritten, when it carries one.
    fn rewrite_event(
        &mut self,
        event: &SseEvent,
        ctx: &ResponseContext,
        report: &mut Report,
        outcome: &mut MessageOutcome,
    ) -> (Vec<u8>, Option<Message>) {
        let Some(data) = &event.data else {
            return (event.raw.clone(), None);
        };
        if let (Some((prefix, diversions)), Some("endpoint")) = (ctx.legacy, event.event.as_deref())
        {
            self.session = session_of(data).map(str::to_owned);
            if let Some(session) = &self.session {
                PendingCalls::from(diversions).open(session);
            }
            return (with_data(&event.raw, &gateway_endpoint(prefix, data)), None);
        }
        let parsed = serde_json::from_str::<Value>(data).ok();
        let Some(mut message) = parsed.and_then(Message::from_value) else {
            return (event.raw.clone(), None);
        };
        let legacy = match (ctx.legacy, &self.session) {
            (Some((_, diversions)), Some(session)) => Some((diversions, session.as_str())),
            _ => None,
        };
        let diverted = legacy.and_then(|(diversions, session)| diversions.take(session, &message));
        let changed = match diverted {
            Some(refusal) => {
                message = refusal;
                true
            }
            None => {
                // A legacy stream's answers do not say which call they answer: the call
                // waits for its result in the shared store (see `pending`), naming its tool.
                let called = legacy
                    .filter(|_| ctx.schemas.is_some())
                    .zip(message.id())
                    .and_then(|((diversions, session), id)| {
                        PendingCalls::from(diversions).tool_of(session, id)
                    });
                let call_tool = called.as_deref().or(ctx.call_tool);
                ctx.rewrite_answer(&mut message, call_tool, report, outcome)
            }
        };
        if !changed {
            return (event.raw.clone(), Some(message));
        }
        let json = Value::Object(message.0.clone()).to_string();
        (with_data(&event.raw, &json), Some(message))
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
