//! The provider role: once per upstream attempt, in a provider cluster's upstream filter
//! chain. Envoy rebuilds this chain for every retry and fallback attempt and replays the
//! client's original body into it, so each attempt translates afresh for its provider.

use std::rc::Rc;
use std::time::{Duration, SystemTime};

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, Status};
use tollgate_core::attribution::Attribution;
use tollgate_core::budget;
use tollgate_core::capture::PayloadCapture;
use tollgate_core::config::ProviderConfig;
use tollgate_core::error::{ErrorKind, GatewayError};
use tollgate_core::formats::codec;
use tollgate_core::formats::tool_names::ToolNameMap;
use tollgate_core::formats::WireFormat;
use tollgate_core::gateway::Operation;
use tollgate_core::guardrails::{Callout, CompiledPolicy, OutputGuard, Stage};
use tollgate_core::metrics as tollgate_metrics;
use tollgate_core::model::{ApiError, ErrorClass, VectorEncoding};
use tollgate_core::route_context::RouteContext;
use tollgate_core::step_context::StepContext;
use tollgate_core::stream_start::{self, StreamStart};
use tollgate_core::trace_context::{self, TRACEPARENT, TRACESTATE};
use tollgate_core::translate::{
    is_stream_response, translate_request_inspected, ProviderTarget, ResponseTranslator,
};
use tollgate_core::usage_outbox;
use tollgate_core::usage_record::{record_id, Payload, UsageRecord};
use tollgate_core::{attempts, embeddings, headers, log_fields};

use crate::guarding::{callout_answer, dispatch_callout, Guarding};
use crate::host::{log_field, random_bytes, reply_error, request_body, unix_millis};
use crate::metrics;
use crate::ratelimiting::SharedData;

/// How the provider's answer is turned into the client's.
enum Answer {
    /// Chat, streamed or whole: a push translator (boxed: it is far larger than the other
    /// variant, and there is one per request).
    Chat(Box<ResponseTranslator>),
    /// Embeddings: always translated whole, vectors in the client's encoding.
    Embeddings(VectorEncoding),
}

impl Answer {
    fn buffers_whole_body(&self) -> bool {
        match self {
            Answer::Chat(translator) => translator.buffers_whole_body(),
            Answer::Embeddings(_) => true,
        }
    }
}

/// Where the callouts of a stage stand.
enum Callouts {
    /// A call is out; the stage resumes in `on_http_call_response`.
    Waiting,
    /// Every callout answered: go on, or refuse.
    Finished(Result<(), GatewayError>),
}

/// Namespace of the route metadata the control plane renders (`steps`).
const ROUTE_METADATA: &str = "tollgate";

pub struct ProviderFilter {
    config: Rc<ProviderConfig>,
    client_format: WireFormat,
    operation: Operation,
    record: UsageRecord,
    client_wants_stream_usage: bool,
    /// Tool names the provider saw in place of the client's.
    tool_names: ToolNameMap,
    embeddings_encoding: VectorEncoding,
    answer: Option<Answer>,
    policy: Option<Rc<CompiledPolicy>>,
    /// This request's guardrails, when any apply.
    guarding: Option<Guarding>,
    /// The callout being made (webhook, moderation) and when it started.
    callout: Option<(Callout, SystemTime)>,
    /// Envoy's request id, read with the request headers: after a callout has resumed the
    /// request, the response callbacks can no longer read them (Envoy answers BadArgument).
    request_id: String,
    /// The stream's response headers are held until its start shows content or an error
    /// (see `tollgate_core::stream_start`).
    holding_start: bool,
    /// The start was an error, already answered: the rest of the stream is dropped.
    failed_start: bool,
    /// Characters of text in the client's request, for a usage estimate.
    input_chars: u64,
    /// When this attempt's request reached the filter, and when its stream's first
    /// generated text came back.
    started: Option<SystemTime>,
    first_token: Option<SystemTime>,
    /// When the request left for the provider (translated, input guardrails passed).
    sent: Option<SystemTime>,
    /// Output characters at which a stream's provisional record is next rewritten (0: at
    /// its first body chunk).
    provisional_at: u64,
    /// The final usage record went to the access log.
    usage_logged: bool,
}

/// How much generated text (in characters, about 256 tokens) a stream may add before its
/// provisional record is rewritten. Envoy gives an upstream filter no callback once the
/// client has hung up, so a stream cut that way is recorded as of its last rewrite.
const PROVISIONAL_EVERY_CHARS: u64 = 1024;

impl ProviderFilter {
    pub fn new(config: Rc<ProviderConfig>, policy: Option<Rc<CompiledPolicy>>) -> Self {
        let record = UsageRecord::new(&config.name);
        ProviderFilter {
            config,
            client_format: WireFormat::OpenAi,
            operation: Operation::Chat,
            record,
            client_wants_stream_usage: false,
            tool_names: ToolNameMap::default(),
            embeddings_encoding: VectorEncoding::Float,
            answer: None,
            policy,
            guarding: None,
            callout: None,
            request_id: String::new(),
            holding_start: false,
            failed_start: false,
            input_chars: 0,
            started: None,
            first_token: None,
            sent: None,
            provisional_at: 0,
            usage_logged: false,
        }
    }

    fn filter_state(&self, field: log_fields::LogField) -> Option<String> {
        crate::host::read_field(self, field)
    }

    fn micros_since(&self, started: SystemTime) -> u64 {
        micros_since(self, started)
    }

    /// Flags reached so far, for the client (see [`headers::GUARDRAIL_FLAGS`]).
    fn set_flag_header(&self) {
        let flags = self.guarding.as_ref().and_then(|g| g.report.flag_header());
        if let Some(flags) = flags {
            self.set_http_response_header(headers::GUARDRAIL_FLAGS, Some(&flags));
        }
    }

    /// Hands the guardrail verdicts to the access log and the metrics (before a local
    /// reply, too).
    fn log_guardrails(&self) {
        if let Some(guarding) = &self.guarding {
            log_field(self, log_fields::GUARDRAILS, &guarding.report.to_json());
            if !self.config.disable_metrics {
                let samples =
                    tollgate_metrics::guardrail_samples(&self.config.name, &guarding.report);
                metrics::record(samples);
            }
        }
    }

    /// Makes the next callout of the current stage.
    fn call_next_callout(&mut self) -> Callouts {
        let Some((callout, body)) = self.guarding.as_mut().and_then(Guarding::next_callout) else {
            return Callouts::Finished(Ok(()));
        };
        let started = self.get_current_time();
        if dispatch_callout(self, &callout, &body).is_err() {
            // Not even dispatched (unknown cluster): a failed call, decided at once.
            self.callout = Some((callout, started));
            return self.callout_done(None, &[]);
        }
        self.callout = Some((callout, started));
        Callouts::Waiting
    }

    /// A callout answered (or failed): refuse, or make the next one.
    fn callout_done(&mut self, status: Option<u16>, body: &[u8]) -> Callouts {
        let Some((callout, started)) = self.callout.take() else {
            return Callouts::Finished(Ok(()));
        };
        let micros = self.micros_since(started);
        let Some(guarding) = self.guarding.as_mut() else {
            return Callouts::Finished(Ok(()));
        };
        guarding.report.latency(guarding.callout_stage(), micros);
        match guarding.callout_answered(&callout, status, body) {
            Ok(()) => self.call_next_callout(),
            Err(e) => Callouts::Finished(Err(e)),
        }
    }

    /// The input callouts are through: refuse the request, or let it go.
    fn input_checked(&mut self, outcome: Result<(), GatewayError>) -> Action {
        match outcome {
            Ok(()) => {
                self.sent = Some(self.get_current_time());
                Action::Continue
            }
            Err(e) => {
                self.log_guardrails();
                self.fail(&e)
            }
        }
    }

    /// The whole answer is guarded: a refusal replaces it (its headers are still held)
    /// with the error in the client's format; then flags and the log.
    fn answer_checked(&mut self, outcome: Result<(), GatewayError>) {
        if let Err(e) = outcome {
            self.set_http_response_header(":status", Some(&e.status().to_string()));
            self.set_http_response_header("content-type", Some("application/json"));
            let body = e.to_body(self.client_format);
            self.capture_response(&body, true);
            // From 0 over any length: Envoy replaces the whole buffered body.
            self.set_http_response_body(0, usize::MAX, &body);
        }
        self.set_flag_header();
        self.log_usage();
        self.log_guardrails();
    }

    /// Whether the answer is held whole: the translator needs it, or output callouts do.
    fn holds_whole_answer(&self, answer: &Answer) -> bool {
        answer.buffers_whole_body()
            || self
                .guarding
                .as_ref()
                .is_some_and(Guarding::holds_whole_answer)
    }

    fn take_internal_header(&self, name: &str) -> Option<String> {
        let value = self.get_http_request_header(name);
        self.set_http_request_header(name, None);
        value
    }

    fn fail(&self, error: &GatewayError) -> Action {
        reply_error(self, error, self.client_format);
        Action::Pause
    }

    /// Translates a whole buffered body and replaces status, content type and body.
    fn finish_whole_body(&mut self, answer: &mut Answer, body: &[u8], body_size: usize) {
        let (status, content_type, out) = match answer {
            Answer::Chat(translator) => {
                let out = translator.feed(body, true);
                (translator.client_status(), translator.content_type(), out)
            }
            Answer::Embeddings(encoding) => {
                let format = self.config.format;
                let header =
                    |name: Option<&str>| name.and_then(|n| self.get_http_response_header(n));
                let error_type = header(codec::error_type_header(format));
                let input_tokens = header(codec::embeddings_tokens_header(format));
                let target = ProviderTarget {
                    format,
                    base_path: &self.config.base_path,
                    upstream_model: self.record.upstream_model.as_deref().unwrap_or_default(),
                    api_version: self.config.api_version.as_deref(),
                };
                let answer = embeddings::ProviderAnswer {
                    status: self.record.status,
                    body,
                    error_type: error_type.as_deref(),
                    input_tokens: input_tokens.as_deref(),
                };
                let translated = embeddings::translate_response(&target, *encoding, &answer);
                self.record.usage = translated.usage;
                (translated.status, "application/json", translated.body)
            }
        };
        self.set_http_response_header(":status", Some(&status.to_string()));
        self.set_http_response_header("content-type", Some(content_type));
        self.capture_response(&out, true);
        if out != body {
            self.set_http_response_body(0, body_size, &out);
        }
    }

    /// Keeps the answer's text as the client receives it, under `full` capture: a chunk
    /// of a stream, or a whole body replacing anything kept before.
    fn capture_response(&mut self, bytes: &[u8], whole: bool) {
        if let Some(payload) = self.record.payload.as_mut() {
            match whole {
                true => payload.response.replace(bytes),
                false => payload.response.push(bytes),
            }
        }
    }

    /// Joins the step's trace: a fresh span for this attempt, sent upstream as the child of
    /// the client's span (or as the root of the trace the gateway started).
    fn join_trace(&mut self) {
        self.record.step_id.clone_from(&self.request_id);
        let Some(step) = self
            .filter_state(log_fields::STEP_CONTEXT)
            .and_then(|s| StepContext::decode(&s))
        else {
            return;
        };
        let seed = format!("{}/span/{:?}", self.request_id, self.started);
        let span = trace_context::span_id(random_bytes(&seed));
        self.set_http_request_header(TRACEPARENT, Some(&step.trace.traceparent(&span)));
        // Envoy shares one header map across attempts, and the client's state goes with
        // a valid parent only.
        self.set_http_request_header(TRACESTATE, step.trace.tracestate.as_deref());
        self.record.capture = step.capture;
        if step.capture == PayloadCapture::Full {
            self.record.payload = Some(Payload::default());
        }
        self.record.trace = Some(step.trace);
        self.record.span_id = Some(span);
    }

    /// The step fields only known once the answer is over: the tool calls it asked for,
    /// why it failed, guardrail verdicts and the latency split.
    fn settle_step(&mut self, now: SystemTime) {
        if let Some(Answer::Chat(translator)) = &self.answer {
            self.record.tool_calls = translator.tool_calls();
            self.record.error_class = translator.error().map(|e| e.class.as_str());
        }
        if self.record.error_class.is_none() && self.record.status >= 400 {
            self.record.error_class = Some(ErrorClass::from_status(self.record.status).as_str());
        }
        self.record.guardrails = self
            .guarding
            .as_ref()
            .and_then(|g| serde_json::from_str(&g.report.to_json()).ok());
        let millis = |from: SystemTime| {
            u64::try_from(now.duration_since(from).unwrap_or_default().as_millis()).ok()
        };
        self.record.upstream_ms = self.sent.and_then(millis);
        // Envoy's `request.time`: when the client request's first byte arrived.
        let arrived = self
            .get_property(vec!["request", "time"])
            .as_deref()
            .and_then(attempts::le_integer)
            .map(|nanos| SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos));
        self.record.total_ms = arrived.and_then(millis);
    }
}

impl ProviderFilter {
    /// Names the attempt and fallback step in the response and the usage record, and gives
    /// Envoy's rate-limited back-off a `retry-after` in seconds when the provider sent
    /// only milliseconds.
    fn report_attempt(&mut self, status: u16) {
        let attempt = self
            .get_property(vec!["upstream", "request_attempt_count"])
            .as_deref()
            .and_then(attempts::le_integer);
        if let Some(attempt) = attempt {
            self.set_http_response_header(headers::ATTEMPT, Some(&attempt.to_string()));
            let steps = self.get_property(vec![
                "xds",
                "route_metadata",
                "filter_metadata",
                ROUTE_METADATA,
                "steps",
            ]);
            let step = steps
                .and_then(|s| String::from_utf8(s).ok())
                .and_then(|s| attempts::fallback_step(&s, attempt).map(str::to_owned));
            if let Some(step) = &step {
                self.set_http_response_header(headers::FALLBACK_STEP, Some(step));
            }
            self.record.attempt = Some(attempt);
            self.record.fallback_step = step;
        }
        if status >= 400 && self.get_http_response_header("retry-after").is_none() {
            let seconds = attempts::RETRY_AFTER_MS_HEADERS
                .iter()
                .find_map(|name| self.get_http_response_header(name))
                .and_then(|ms| attempts::retry_after_from_millis(&ms));
            if let Some(seconds) = seconds {
                self.set_http_response_header("retry-after", Some(&seconds.to_string()));
            }
        }
    }
}

impl ProviderFilter {
    /// Turns a stream that failed before its first content into an error answer whose
    /// status Envoy's router judges like any other: retried or failed over when it is a
    /// trigger, else sent to the client in its format.
    fn fail_start(&mut self, error: &ApiError, body_size: usize, end_of_stream: bool) {
        self.holding_start = false;
        self.failed_start = true;
        let status = stream_start::retry_status(error);
        self.record.status = status;
        self.set_http_response_header(":status", Some(&status.to_string()));
        self.set_http_response_header("content-type", Some("application/json"));
        let body = codec::encode_error(self.client_format, error).to_string();
        self.capture_response(body.as_bytes(), true);
        self.set_http_response_body(0, body_size, body.as_bytes());
        if end_of_stream {
            self.log_usage();
        }
    }

    /// Completes the usage record and hands it to the access log, once.
    fn log_usage(&mut self) {
        if !std::mem::replace(&mut self.usage_logged, true) {
            self.write_record(Delivery::Ship);
        }
    }

    /// Settles the usage as of now (estimated unless the provider's final report is in),
    /// prices it, times it and writes the record to filter state, replacing any earlier one.
    /// Only the final record is shipped: the service keeps the first record of an id.
    fn write_record(&mut self, delivery: Delivery) {
        // A stream that failed before its content was answered as an error: nothing spent.
        if let (false, Some(Answer::Chat(translator))) = (self.failed_start, &self.answer) {
            if let Some(settled) = translator.settled_usage(self.input_chars) {
                self.record.usage = Some(settled.usage);
                self.record.estimated = settled.estimated;
            }
        }
        let now = self.get_current_time();
        self.settle_step(now);
        let millis = |from: SystemTime, to: SystemTime| {
            u64::try_from(to.duration_since(from).unwrap_or_default().as_millis())
                .unwrap_or(u64::MAX)
        };
        if let Some(started) = self.started {
            self.record.duration_ms = Some(millis(started, now));
            self.record.time_to_first_token_ms = self
                .first_token
                .filter(|_| self.record.stream)
                .map(|first| millis(started, first));
        }
        let price = self
            .record
            .upstream_model
            .as_ref()
            .and_then(|model| self.config.prices.get(model));
        self.record.price(price);
        self.record.id = record_id(&self.request_id, self.record.attempt.unwrap_or(0));
        self.record.time_unix_ms = unix_millis(self.get_current_time());
        let json = self.record.to_json();
        log_field(self, log_fields::USAGE, &json);
        if delivery == Delivery::Ship {
            if !self.config.disable_metrics {
                metrics::record(tollgate_metrics::attempt_samples(&self.record));
            }
            if self.config.ship_usage {
                enqueue_usage(&json);
            }
        }
    }
}

impl Context for ProviderFilter {
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, body_size: usize, _: usize) {
        let (status, body) = callout_answer(self, body_size);
        let stage = self.guarding.as_ref().map(Guarding::callout_stage);
        let Callouts::Finished(outcome) = self.callout_done(status, &body) else {
            return;
        };
        if stage == Some(Stage::Output) {
            self.answer_checked(outcome);
            self.resume_http_response();
        } else if let Action::Continue = self.input_checked(outcome) {
            self.resume_http_request();
        }
    }
}

impl HttpContext for ProviderFilter {
    fn on_http_request_headers(&mut self, _: usize, end_of_stream: bool) -> Action {
        self.started = Some(self.get_current_time());
        self.request_id = self
            .get_http_request_header("x-request-id")
            .unwrap_or_default();
        // The gateway filter set these after authenticating; they must not leave Envoy.
        // Envoy shares one header map across attempts, so the first attempt keeps them in
        // filter state (the alias is there already, for the access log) for later ones.
        let alias = self
            .take_internal_header(headers::ALIAS)
            .or_else(|| self.filter_state(log_fields::ALIAS));
        let context = match self.take_internal_header(headers::CONTEXT) {
            Some(context) => {
                log_field(self, log_fields::ROUTE_CONTEXT, &context);
                Some(context)
            }
            None => self.filter_state(log_fields::ROUTE_CONTEXT),
        };
        // Envoy's own headers (`x-envoy-attempt-count`, …) and the branch header stay inside.
        for (name, _) in self.get_http_request_headers() {
            if headers::is_attempt_credential(&name) || headers::is_internal_upstream(&name) {
                self.set_http_request_header(&name, None);
            }
        }
        // Budgets tell this process's records from other Envoys' by it (`budget::poll`).
        self.record.envoy_instance = budget::poll::read_instance(&SharedData);
        if let Some(context) = context.as_deref().and_then(RouteContext::decode) {
            self.client_format = context.client_format;
            self.operation = context.operation;
            self.record.key_id = Some(context.key_id);
            self.record.team = context.team;
        }
        // Validated by the gateway filter, which also removed the headers.
        if let Some(attribution) = self
            .filter_state(log_fields::ATTRIBUTION)
            .and_then(|a| Attribution::decode(&a))
        {
            self.record.attribution = attribution;
        }
        self.join_trace();

        let Some(upstream_model) = alias.as_deref().and_then(|a| self.config.models.get(a)) else {
            // Only reachable when Envoy's routes and this filter's config disagree.
            let e = GatewayError::new(
                ErrorKind::Internal,
                "route_mismatch",
                "The gateway routed this request to a provider that does not serve its model.",
            );
            return self.fail(&e);
        };
        self.guarding = self.policy.as_ref().and_then(|policy| {
            Guarding::select(
                policy,
                self.record.key_id.clone(),
                self.record.team.clone(),
                alias.clone(),
            )
        });
        self.record.alias = alias.clone();
        self.record.upstream_model = Some(upstream_model.clone());
        self.set_http_request_header(":authority", Some(&self.config.host));
        // Responses are parsed for translation and usage, so they must not be compressed.
        self.set_http_request_header("accept-encoding", None);
        if self.client_format != self.config.format {
            // Version headers of the client's API mean nothing to another provider.
            for name in ["anthropic-version", "anthropic-beta"] {
                self.set_http_request_header(name, None);
            }
        }
        if end_of_stream {
            let e = GatewayError::invalid_request("The request has no body");
            return self.fail(&e);
        }
        Action::Pause
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        let body = request_body(self, body_size);
        let Some(upstream_model) = self.record.upstream_model.clone() else {
            return Action::Continue;
        };
        let target = ProviderTarget {
            format: self.config.format,
            base_path: &self.config.base_path,
            upstream_model: &upstream_model,
            api_version: self.config.api_version.as_deref(),
        };
        let started = self.get_current_time();
        let mut guarding = self.guarding.take();
        // An MCP request carries no alias, so it was refused above as a route mismatch.
        let translated = match self.operation {
            Operation::Chat | Operation::Mcp => {
                let input = guarding.as_mut().filter(|g| g.guards_input());
                let guarded = input.is_some();
                let translated = match input {
                    Some(g) => translate_request_inspected(
                        self.client_format,
                        &target,
                        &body,
                        Some(&mut |request| g.inspect(request)),
                    ),
                    None => translate_request_inspected(self.client_format, &target, &body, None),
                };
                if let (true, Some(g)) = (guarded, guarding.as_mut()) {
                    g.report.latency(Stage::Input, self.micros_since(started));
                }
                translated
            }
            Operation::Embeddings => embeddings::translate_request(&target, &body).map(|up| {
                self.embeddings_encoding = up.encoding;
                up.request
            }),
        };
        self.guarding = guarding;
        let upstream = match translated {
            Ok(u) => u,
            Err(e) => {
                self.log_guardrails();
                return self.fail(&e);
            }
        };
        self.set_http_request_header(":path", Some(&upstream.path));
        for (name, value) in &upstream.headers {
            self.set_http_request_header(name, Some(value));
        }
        self.set_http_request_header("content-length", Some(&upstream.body.len().to_string()));
        self.set_http_request_body(0, body_size, &upstream.body);
        self.record.stream = upstream.stream;
        self.client_wants_stream_usage = upstream.client_wants_stream_usage;
        self.tool_names = upstream.tool_names;
        self.input_chars = upstream.input_chars;
        self.record.tool_results = upstream.tool_results;
        if let Some(payload) = self.record.payload.as_mut() {
            payload.request.push(&body);
        }
        match self.call_next_callout() {
            // Resumed (or refused) when the callouts have answered.
            Callouts::Waiting => Action::Pause,
            Callouts::Finished(outcome) => self.input_checked(outcome),
        }
    }

    fn on_http_response_headers(&mut self, _: usize, end_of_stream: bool) -> Action {
        let status = self
            .get_http_response_header(":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0u16);
        self.record.status = status;
        let answer = match self.operation {
            Operation::Embeddings => Answer::Embeddings(self.embeddings_encoding),
            Operation::Chat | Operation::Mcp => {
                // A provider that answers a stream request with something other than its
                // stream framing (JSON: an error, typically) is translated as a whole body.
                let is_stream = self
                    .get_http_response_header("content-type")
                    .is_some_and(|t| is_stream_response(self.config.format, &t));
                // Bedrock names its error types in a header, and its answers carry no id.
                let error_type = codec::error_type_header(self.config.format)
                    .and_then(|name| self.get_http_response_header(name));
                let translator = ResponseTranslator::new(
                    self.client_format,
                    self.config.format,
                    self.record.stream && is_stream,
                    self.client_wants_stream_usage,
                    status,
                )
                .with_created(now_unix_secs(self))
                .with_model(self.record.upstream_model.as_deref().unwrap_or_default())
                .with_tool_names(std::mem::take(&mut self.tool_names))
                .with_error_type(error_type)
                .with_fallback_id(&self.request_id);
                let translator = match self.guarding.as_ref().and_then(Guarding::output_guard) {
                    Some(guard) => translator.with_guard(guard),
                    None => translator,
                };
                Answer::Chat(Box::new(translator))
            }
        };
        self.set_http_response_header(headers::PROVIDER, Some(&self.config.name));
        if let (Some(trace), Some(span)) = (&self.record.trace, &self.record.span_id) {
            self.set_http_response_header(TRACEPARENT, Some(&trace.traceparent(span)));
        }
        self.report_attempt(status);
        self.set_flag_header();
        if let Some(model) = &self.record.upstream_model {
            self.set_http_response_header(headers::UPSTREAM_MODEL, Some(model));
        }
        // The body may change size; Envoy re-frames it.
        self.set_http_response_header("content-length", None);
        let buffers = self.holds_whole_answer(&answer);
        if let (false, Answer::Chat(translator)) = (buffers, &answer) {
            // The client's stream framing, which differs from the provider's for Bedrock.
            self.set_http_response_header("content-type", Some(translator.content_type()));
        }
        let held_stream = buffers && !answer.buffers_whole_body();
        self.answer = Some(answer);
        if buffers && !end_of_stream {
            // Status and content type depend on the whole body: hold the headers. A stream
            // held whole for output callouts may still fail before its first content, which
            // is checked as for any stream (and stays retryable).
            self.holding_start = held_stream;
            return Action::Pause;
        }
        if !buffers && !end_of_stream {
            // A stream may still fail before its first content; until that is known the
            // status can change, so the headers wait.
            self.holding_start = true;
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if self.failed_start {
            self.set_http_response_body(0, body_size, &[]);
            if end_of_stream {
                self.log_usage();
            }
            return Action::Continue;
        }
        if self.holding_start {
            let held = self
                .get_http_response_body(0, body_size)
                .unwrap_or_default();
            match stream_start::inspect(self.config.format, &held, end_of_stream) {
                StreamStart::Undecided => return Action::Pause,
                StreamStart::Error(error) => {
                    self.fail_start(&error, body_size, end_of_stream);
                    return Action::Continue;
                }
                StreamStart::Content => self.holding_start = false,
            }
        }
        let buffers = match &self.answer {
            Some(answer) => self.holds_whole_answer(answer),
            None => return Action::Continue,
        };
        if buffers && !end_of_stream {
            return Action::Pause;
        }
        // Taken out for the call so the host API (on `self`) stays usable; put back below.
        let Some(mut answer) = self.answer.take() else {
            return Action::Continue;
        };
        let started = self.get_current_time();
        let chunk = self
            .get_http_response_body(0, body_size)
            .unwrap_or_default();
        let mut provisional = false;
        if buffers {
            self.finish_whole_body(&mut answer, &chunk, body_size);
        } else if let Answer::Chat(translator) = &mut answer {
            let out = translator.feed(&chunk, end_of_stream);
            if out != chunk {
                self.set_http_response_body(0, body_size, &out);
            }
            self.capture_response(&out, false);
            if self.first_token.is_none() && translator.output_chars() > 0 {
                self.first_token = Some(started);
            }
            if translator.output_chars() >= self.provisional_at {
                provisional = true;
                self.provisional_at = translator.output_chars() + PROVISIONAL_EVERY_CHARS;
            }
        }
        let micros = self.micros_since(started);
        if let (Some(guarding), Answer::Chat(translator)) = (self.guarding.as_mut(), &answer) {
            if let Some(guard) = translator.guard() {
                guarding.report.latency(Stage::Output, micros);
                if end_of_stream {
                    guarding.report.findings(Stage::Output, guard.findings());
                }
            }
        }
        if !end_of_stream {
            self.answer = Some(answer);
            if provisional {
                self.write_record(Delivery::LogOnly);
            }
            return Action::Continue;
        }
        let texts = match &mut answer {
            Answer::Chat(translator) if translator.client_status() == 200 => translator
                .guard_mut()
                .filter(|guard| guard.denied().is_none())
                .map(OutputGuard::take_texts),
            _ => None,
        };
        self.answer = Some(answer);
        if let Some(guarding) = self.guarding.as_mut() {
            guarding.queue_output(texts.unwrap_or_default());
        }
        match self.call_next_callout() {
            Callouts::Waiting => Action::Pause,
            // A whole answer's headers are still held: output flags can join them.
            Callouts::Finished(outcome) if buffers => {
                self.answer_checked(outcome);
                Action::Continue
            }
            // A stream already on its way has no output callouts: they hold it whole.
            Callouts::Finished(_) => {
                self.log_usage();
                self.log_guardrails();
                Action::Continue
            }
        }
    }
}

/// Whether a record written now also goes to the usage service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// The attempt's final record.
    Ship,
    /// A provisional record of a stream still running, for the access log only.
    LogOnly,
}

fn micros_since(ctx: &dyn HttpContext, started: SystemTime) -> u64 {
    let elapsed = ctx
        .get_current_time()
        .duration_since(started)
        .unwrap_or_default();
    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
}

fn now_unix_secs(ctx: &dyn HttpContext) -> u64 {
    unix_millis(ctx.get_current_time()) / 1000
}

/// Puts a record on the queue the gateway's root contexts drain. Without the queue (the
/// gateway filter not configured yet) the access log still has the record.
pub(crate) fn enqueue_usage(json: &str) {
    let queue = hostcalls::resolve_shared_queue(usage_outbox::VM_ID, usage_outbox::QUEUE);
    let sent = match queue {
        Ok(Some(queue)) => hostcalls::enqueue_shared_queue(queue, Some(json.as_bytes())),
        Ok(None) => Err(Status::NotFound),
        Err(status) => Err(status),
    };
    if let Err(status) = sent {
        log::warn!("tollgate: usage record not queued for shipping: {status:?}");
    }
}
