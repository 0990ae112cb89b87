//! The MCP role: once per MCP HTTP request (POST, GET stream, DELETE), in an MCP server
//! cluster's upstream filter chain, after the gateway filter authenticated the key.
//! Every decision is `tollgate_core::mcp`'s; this shell reads headers and bodies, answers
//! refusals, and streams rewritten answers on.

use std::rc::Rc;
use std::time::SystemTime;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use tollgate_core::attribution::Attribution;
use tollgate_core::budget::poll::read_instance;
use tollgate_core::guardrails::{Report, RequestScope, Selection};
use tollgate_core::mcp::jsonrpc;
use tollgate_core::mcp::legacy::{session_of, Diversions};
use tollgate_core::mcp::pins::take_first_pins;
use tollgate_core::mcp::response::{is_event_stream, is_json, RESULT_WITHHELD};
use tollgate_core::mcp::step::OpenCall;
use tollgate_core::mcp::{CallEnd, StepDraft, ToolInvocation};
use tollgate_core::mcp::{
    Charge, ClientRequest, CompiledMcp, McpRecord, MessageOutcome, PinBook, Pricing, Refusal,
    ResponseContext, SseRewriter, StatelessHeaders, ToolChangeRecord, ToolPinnedRecord,
};
use tollgate_core::route_context::RouteContext;
use tollgate_core::step_context::StepContext;
use tollgate_core::usage_record::record_id;
use tollgate_core::{headers, log_fields};

use crate::guarding::callout_answer;
use crate::host::{log_field, read_field, unix_millis};
use crate::mcp_handoff::{self, Steps};
use crate::provider::enqueue_usage;
use crate::ratelimiting::SharedData;

#[path = "mcp_callouts.rs"]
mod callouts;

/// How the server's answer is read.
enum Answer {
    /// Not JSON-RPC (an empty 202, a DELETE's answer, an error page): sent as is.
    Passthrough,
    /// One JSON message, rewritten whole.
    Json,
    /// An event stream, rewritten event by event.
    Sse(SseRewriter),
}

pub struct McpFilter {
    mcp: Rc<CompiledMcp>,
    key_id: Option<String>,
    /// The guardrails for this key, when any apply.
    selection: Option<Selection>,
    record: McpRecord,
    report: Report,
    answer: Answer,
    /// The request's path as the server sees it (a legacy message URL names its session).
    path: String,
    /// A `tools/call` becomes a step of the agent's run, shipped when the exchange ends.
    call: Option<ToolInvocation>,
    call_end: CallEnd,
    started: Option<SystemTime>,
    team: Option<String>,
    request_id: String,
    /// A forwarded priced call's budget holds, settled when the call ends.
    charge: Option<Charge>,
    /// Webhook and moderation guardrails on a call's arguments and result.
    callouts: Option<callouts::McpCallouts>,
    /// Steps handed to a legacy session's stream or left for the gateway filter.
    steps: Steps,
}

impl McpFilter {
    pub fn new(mcp: Rc<CompiledMcp>) -> Self {
        let record = McpRecord {
            server: mcp.config.name.clone(),
            decision: "forwarded",
            ..McpRecord::default()
        };
        McpFilter {
            mcp,
            key_id: None,
            selection: None,
            record,
            report: Report::default(),
            answer: Answer::Passthrough,
            path: String::new(),
            call: None,
            call_end: CallEnd::default(),
            started: None,
            team: None,
            request_id: String::new(),
            charge: None,
            callouts: None,
            steps: Steps::default(),
        }
    }

    /// Answers the client with a JSON-RPC error and records why.
    fn refuse(&mut self, status: u16, body: &[u8], reason: &'static str) -> Action {
        self.record.decision = reason;
        self.call_end.refused = Some(reason);
        self.call_end.status = status;
        self.log();
        self.ship_step();
        self.send_http_response(
            u32::from(status),
            vec![("content-type", "application/json")],
            Some(body),
        );
        Action::Pause
    }

    /// Answers a refused request: directly, or for a legacy client through its event
    /// stream (the request goes on as a `ping` whose answer the refusal replaces).
    fn refused(&mut self, refusal: &Refusal) -> Action {
        // A call refused before the server saw it costs nothing, whatever status the
        // refusal carries (a price is held before the argument callouts run).
        self.release_charge();
        let mcp = Rc::clone(&self.mcp);
        let diversions = Diversions {
            store: &SharedData,
            server: &mcp.config.name,
        };
        let ping = match (&mcp.config.legacy_sse_prefix, &refusal.id) {
            (Some(_), Some(id)) => diversions.divert(&self.path, id, &refusal.body),
            _ => None,
        };
        let Some(ping) = ping else {
            return self.refuse(refusal.status, &refusal.body, refusal.reason);
        };
        self.record.decision = refusal.reason;
        self.call_end.refused = Some(refusal.reason);
        self.set_http_request_header("content-length", Some(&ping.len().to_string()));
        self.set_http_request_body(0, usize::MAX, &ping);
        self.log();
        Action::Continue
    }

    fn log(&self) {
        log_field(self, log_fields::MCP, &self.record.to_json());
        if !self.report.is_empty() {
            log_field(self, log_fields::GUARDRAILS, &self.report.to_json());
        }
    }

    /// Records what rewriting did; a changed tool definition also goes to Envoy's log,
    /// where an operator watching it sees it at once, and (once per change) to the control
    /// plane's audit log through the usage outbox.
    fn answered(&mut self, outcome: MessageOutcome) {
        let now_ms = unix_millis(self.get_current_time());
        let server = &self.mcp.config.name;
        // Tools pinned when first seen (by a listing) go to the control plane, which keeps
        // their pins.
        let first_pins = match outcome.tool_lists {
            0 => Vec::new(),
            _ => take_first_pins(&SharedData, server),
        };
        for (tool, definition) in first_pins {
            let record = ToolPinnedRecord {
                server,
                tool: &tool,
                definition: &definition,
                time_unix_ms: now_ms,
            };
            enqueue_usage(&record.to_json());
        }
        for change in &outcome.pin_changes {
            if change.first_report {
                let record = ToolChangeRecord {
                    server: &self.mcp.config.name,
                    change,
                    policy: self.mcp.config.on_tool_change,
                    time_unix_ms: now_ms,
                };
                enqueue_usage(&record.to_json());
            }
            log::warn!(
                "tollgate: MCP server `{}`: tool `{}` changed its definition (pinned {}, now {}); {}",
                self.mcp.config.name,
                change.tool,
                change.pinned,
                change.seen,
                match self.mcp.config.on_tool_change {
                    tollgate_core::mcp::ToolChangePolicy::Flag => "flagged",
                    tollgate_core::mcp::ToolChangePolicy::Hide => "hidden until approved",
                }
            );
        }
        self.call_end.jsonrpc_error |= outcome.errors > 0;
        self.call_end.is_error |= outcome.tool_errors > 0;
        if outcome.withheld > 0 {
            self.call_end.refused = Some(RESULT_WITHHELD);
        }
        self.record.answered(outcome);
    }

    /// Runs `f` with what the server's answer is checked against; `None` when the key
    /// may not use the server.
    fn rewriting<T>(
        &mut self,
        f: impl FnOnce(&ResponseContext, &mut Answer, &mut Report) -> T,
    ) -> Option<T> {
        let mcp = Rc::clone(&self.mcp);
        let access = self.key_id.as_deref().and_then(|id| mcp.access(id))?;
        let pins = PinBook {
            store: &SharedData,
            server: &mcp.config.name,
            approved: &mcp.config.pins,
        };
        let diversions = Diversions {
            store: &SharedData,
            server: &mcp.config.name,
        };
        let schemas = mcp.tool_schemas(&SharedData);
        let ctx = ResponseContext {
            access,
            pins: &pins,
            on_tool_change: mcp.config.on_tool_change,
            guardrails: self.selection.as_ref(),
            legacy: mcp
                .config
                .legacy_sse_prefix
                .as_deref()
                .map(|prefix| (prefix, &diversions)),
            schemas: schemas.as_ref(),
            call_tool: self.call.as_ref().map(|call| call.tool.as_str()),
        };
        Some(f(&ctx, &mut self.answer, &mut self.report))
    }

    /// Records what rewriting part of the answer did; the call's step ships once its
    /// response passed.
    fn rewritten(&mut self, outcome: MessageOutcome, end_of_stream: bool) {
        self.with_steps(|steps, f| {
            if let Answer::Sse(rewriter) = &f.answer {
                let (server, status) = (&f.mcp.config.name, f.call_end.status);
                steps.stream_answered(f, server, rewriter.session(), &outcome.answers, status);
            }
        });
        let changed = outcome != MessageOutcome::default();
        let responded = outcome.responses > 0;
        self.answered(outcome);
        if changed || end_of_stream {
            self.log();
        }
        if responded || end_of_stream {
            self.ship_step();
        }
        if end_of_stream {
            self.with_steps(|steps, f| steps.stream_ended(f, &f.mcp.config.name));
        }
    }

    /// Ships the tool call's step record through the usage outbox, like an LLM step's.
    /// Once per call, when its answer is complete (or at the log, for an exchange cut short).
    fn ship_step(&mut self) {
        let draft = self.call.take().map(|invocation| self.draft(invocation));
        self.settle_charge();
        let Some(draft) = draft else {
            return;
        };
        mcp_handoff::take_back(self);
        let now = unix_millis(self.get_current_time());
        mcp_handoff::ship(&draft.finish(self.call_end, now));
    }

    /// The call's step but for its end.
    fn draft(&self, invocation: ToolInvocation) -> StepDraft {
        let step = read_field(self, log_fields::STEP_CONTEXT).and_then(|s| StepContext::decode(&s));
        let attribution = read_field(self, log_fields::ATTRIBUTION)
            .and_then(|a| Attribution::decode(&a))
            .unwrap_or_default();
        let capture = step.as_ref().map(|s| s.capture).unwrap_or_default();
        let price_nano_usd = self.charge.as_ref().map(|charge| charge.price);
        StepDraft {
            id: record_id(&self.request_id, 1),
            started_unix_ms: unix_millis(self.started.unwrap_or_else(|| self.get_current_time())),
            server: self.mcp.config.name.clone(),
            key_id: self.key_id.clone(),
            team: self.team.clone(),
            invocation: invocation.kept_for(capture),
            attribution,
            capture,
            trace: step.map(|s| s.trace),
            step_id: self.request_id.clone(),
            price_nano_usd,
            envoy_instance: price_nano_usd.and_then(|_| read_instance(&SharedData)),
        }
    }

    /// A forwarded call's step waits for its answer (see `mcp_handoff::Steps`).
    fn forward_call(&mut self, id: Option<serde_json::Value>) {
        let Some(invocation) = self.call.clone() else {
            return;
        };
        let call = OpenCall {
            draft: self.draft(invocation),
            charge: self.charge.clone(),
        };
        let left_to_stream = self.with_steps(|steps, f| {
            let legacy = f.mcp.config.legacy_sse_prefix.is_some();
            let session = session_of(&f.path).filter(|_| legacy);
            steps.forward(f, &f.mcp.config.name, session, id, call)
        });
        if left_to_stream {
            // The session's event stream ends it: ships its step, settles its price.
            self.call = None;
            self.charge = None;
        }
    }

    /// Lends the step bookkeeping out beside the filter (its host calls).
    fn with_steps<R>(&mut self, act: impl FnOnce(&mut Steps, &Self) -> R) -> R {
        let mut steps = std::mem::take(&mut self.steps);
        let result = act(&mut steps, self);
        self.steps = steps;
        result
    }

    /// The request (of JSON-RPC `id`) goes on to the server: its id is left for an answer
    /// Envoy may make up in the server's place, and a call's step waits for its answer.
    fn forwarding(&mut self, id: Option<serde_json::Value>) {
        self.log();
        if let Some(id) = &id {
            mcp_handoff::leave_request_id(self, id);
        }
        self.forward_call(id);
    }

    /// Gives a priced call's holds back: the call never reached the server.
    fn release_charge(&mut self) {
        if let Some(charge) = self.charge.take() {
            self.settle(charge, 0);
        }
    }

    /// Spends a priced call's price in its budgets, or releases it when the server turned
    /// the call down; once.
    fn settle_charge(&mut self) {
        if let Some(charge) = self.charge.take() {
            let cost = charge.cost(&self.call_end);
            self.settle(charge, cost);
        }
    }

    fn settle(&self, charge: Charge, cost: u64) {
        let now = unix_millis(self.get_current_time());
        if charge.settle(&SharedData, now, cost).is_err() {
            log::warn!("tollgate: budget settlement of {cost} nano-USD lost to contention");
        }
    }
}

impl Context for McpFilter {
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, body_size: usize, _: usize) {
        let (status, body) = callout_answer(self, body_size);
        self.callout_answered(status, &body);
    }
}

impl HttpContext for McpFilter {
    fn on_http_request_headers(&mut self, _: usize, end_of_stream: bool) -> Action {
        self.started = Some(self.get_current_time());
        self.request_id = self
            .get_http_request_header("x-request-id")
            .unwrap_or_default();
        let method = self.get_http_request_header(":method").unwrap_or_default();
        self.record.http_method = method.clone();
        self.path = self.get_http_request_header(":path").unwrap_or_default();
        let context = self.get_http_request_header(headers::CONTEXT);
        // Tollgate's and Envoy's own headers stay inside.
        for (name, _) in self.get_http_request_headers() {
            if headers::is_internal_upstream(&name) {
                self.set_http_request_header(&name, None);
            }
        }
        // Answers are read for filtering and guardrails, so they must not be compressed.
        self.set_http_request_header("accept-encoding", None);
        let Some(context) = context.as_deref().and_then(RouteContext::decode) else {
            // Only reachable when a request bypassed the gateway filter.
            let body = jsonrpc::error(None, jsonrpc::ACCESS_DENIED, "Unauthenticated request.");
            return self.refuse(401, body.to_string().as_bytes(), "unauthenticated");
        };
        self.record.key_id = Some(context.key_id.clone());
        self.team.clone_from(&context.team);
        let mcp = Rc::clone(&self.mcp);
        if mcp.access(&context.key_id).is_none() {
            let message = format!("This key may not use the MCP server '{}'.", mcp.config.name);
            let body = jsonrpc::error(None, jsonrpc::ACCESS_DENIED, &message);
            return self.refuse(403, body.to_string().as_bytes(), "server_not_allowed");
        }
        self.selection = mcp.guardrails.as_ref().and_then(|policy| {
            let selection = policy.select(RequestScope {
                key_id: Some(&context.key_id),
                team: context.team.as_deref(),
                alias: None,
            });
            (!selection.is_empty()).then_some(selection)
        });
        self.key_id = Some(context.key_id);
        if method == "POST" && !end_of_stream {
            // Held until the body is checked.
            return Action::Pause;
        }
        self.log();
        Action::Continue
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        let mcp = Rc::clone(&self.mcp);
        let Some(access) = self.key_id.as_deref().and_then(|id| mcp.access(id)) else {
            return Action::Continue;
        };
        let body = self.get_http_request_body(0, body_size).unwrap_or_default();
        self.call = ToolInvocation::from_body(&body);
        let method_header = self.get_http_request_header("mcp-method");
        let name_header = self.get_http_request_header("mcp-name");
        let pins = PinBook {
            store: &SharedData,
            server: &mcp.config.name,
            approved: &mcp.config.pins,
        };
        let key_id = self.key_id.clone().unwrap_or_default();
        let schemas = mcp.tool_schemas(&SharedData);
        let request = ClientRequest {
            headers: StatelessHeaders {
                method: method_header.as_deref(),
                name: name_header.as_deref(),
            },
            key_id: &key_id,
            call_limits: mcp.call_limits(&key_id),
            now_ms: unix_millis(self.get_current_time()),
            access,
            pins: &pins,
            on_tool_change: mcp.config.on_tool_change,
            guardrails: self.selection.as_ref(),
            schemas: schemas.as_ref(),
        };
        let attribution = read_field(self, log_fields::ATTRIBUTION)
            .and_then(|a| Attribution::decode(&a))
            .unwrap_or_default();
        let pricing = Pricing {
            prices: &mcp.config.tool_prices,
            budgets: &mcp.config.budgets,
            store: &SharedData,
            team: self.team.as_deref(),
            agent: attribution.agent_id.as_deref(),
        };
        match pricing.check(&request, &body, &mut self.report) {
            Ok((forward, charge)) => {
                self.charge = charge;
                self.record.method = forward.method;
                self.record.target = forward.target;
                if let Some(body) = &forward.body {
                    self.set_http_request_header("content-length", Some(&body.len().to_string()));
                    self.set_http_request_body(0, body_size, body);
                }
                if let Some(texts) = forward.callout_texts {
                    let call = forward.body.unwrap_or(body);
                    if let Some(action) = self.check_arguments(texts, call, forward.id.clone()) {
                        return action;
                    }
                }
                self.forwarding(forward.id);
                Action::Continue
            }
            Err(refusal) => {
                self.record.method = refusal.method.clone();
                self.record.target = refusal.target.clone();
                self.refused(&refusal)
            }
        }
    }

    fn on_http_response_headers(&mut self, _: usize, end_of_stream: bool) -> Action {
        if self.key_id.is_none() {
            return Action::Continue;
        }
        self.call_end.status = self
            .get_http_response_header(":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or_default();
        let status = self.call_end.status;
        self.with_steps(|steps, f| steps.not_accepted(f, &f.mcp.config.name, status));
        let content_type = self.get_http_response_header("content-type");
        self.answer = if is_event_stream(content_type.as_deref()) {
            Answer::Sse(match self.holds_results() {
                true => SseRewriter::holding_results(),
                false => SseRewriter::default(),
            })
        } else if is_json(content_type.as_deref()) {
            Answer::Json
        } else {
            Answer::Passthrough
        };
        if !matches!(self.answer, Answer::Passthrough) {
            // The rewritten answer's length is not known yet.
            self.set_http_response_header("content-length", None);
        }
        if end_of_stream {
            self.ship_step();
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if matches!(self.answer, Answer::Passthrough) {
            if end_of_stream {
                self.ship_step();
            }
            return Action::Continue;
        }
        if self.answer_waits(body_size, end_of_stream) {
            return Action::Pause;
        }
        if matches!(self.answer, Answer::Json) && !end_of_stream {
            // One message: held whole (small), then rewritten.
            return Action::Pause;
        }
        let body = self
            .get_http_response_body(0, body_size)
            .unwrap_or_default();
        if self.holds_results() {
            return self.hold_answer(&body, end_of_stream);
        }
        let mut outcome = MessageOutcome::default();
        let rewritten = self.rewriting(|ctx, answer, report| match answer {
            Answer::Json => ctx.rewrite_json(&body, report, &mut outcome),
            Answer::Sse(rewriter) => {
                let pushed = rewriter.push(&body, end_of_stream, ctx, report, &mut outcome);
                (pushed.out != body).then_some(pushed.out)
            }
            Answer::Passthrough => None,
        });
        match rewritten {
            // A key that may not use the server was refused with the request.
            None => return Action::Continue,
            Some(Some(out)) => self.set_http_response_body(0, body_size, &out),
            Some(None) => {}
        }
        self.rewritten(outcome, end_of_stream);
        Action::Continue
    }

    /// An exchange refused or answered ends here; one cut short may not (Envoy skips an
    /// upstream filter's log then), so the gateway filter finishes what is left.
    fn on_log(&mut self) {
        // A call still here never had its answer pass.
        self.call_end.cut_off = self.call.is_some();
        self.ship_step();
        self.with_steps(|steps, f| steps.stream_ended(f, &f.mcp.config.name));
    }
}
