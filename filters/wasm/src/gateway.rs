//! The gateway role: once per client request, in the listener's filter chain.

use std::collections::BTreeMap;
use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use tollgate_core::attribution::{Attribution, AttributionError};
use tollgate_core::capture::PayloadCapture;
use tollgate_core::config::CompiledGateway;
use tollgate_core::error::GatewayError;
use tollgate_core::formats::WireFormat;
use tollgate_core::gateway::{admit, authenticate, list_models, Admission, Endpoint};
use tollgate_core::guard::Action as GuardAction;
use tollgate_core::guardrails::{check_admission, Candidate, Report, RequestScope, Stage};
use tollgate_core::keys::VirtualKey;
use tollgate_core::mcp::jsonrpc;
use tollgate_core::ratelimit;
use tollgate_core::route_context::RouteContext;
use tollgate_core::step_context::StepContext;
use tollgate_core::trace_context::{self, TraceContext};
use tollgate_core::{attempts, headers, log_fields, route_rules};

use crate::budgeting::{self, Budgeting};
use crate::host::{
    log_field, random_bytes, reply_error, reply_error_with, reply_json, reply_json_with,
    request_body, unix_millis,
};
use crate::mcp_handoff;
use crate::ratelimiting::RateLimiting;

pub struct GatewayFilter {
    config: Rc<CompiledGateway>,
    /// The authenticated key's id, kept for the body phase.
    key_id: Option<String>,
    /// The request's `x-tollgate-metadata`, for `metadata` guardrails and conditional
    /// routes.
    metadata: BTreeMap<String, String>,
    endpoint: Option<Endpoint>,
    /// For a conditional alias, the rule that chose the route, for the response.
    rule: Option<String>,
    /// Set when Envoy answered by itself (a timeout, no provider reachable): its plain
    /// text body is replaced by this error in the client's format.
    envoy_reply: Option<GatewayError>,
    /// The token-limited scopes of an admitted request, until its answer's tokens are
    /// debited.
    rate_limiting: Option<RateLimiting>,
    /// The agent id sent (`x-tollgate-agent-id`), for agent budgets.
    agent: Option<String>,
    /// The budget reservations of an admitted request, until its cost is settled.
    budgeting: Option<Budgeting>,
    /// The request's trace and Envoy's request id (the step id), for the response headers.
    trace: Option<TraceContext>,
    request_id: String,
}

/// The request headers the gateway reads, from one host call.
#[derive(Default)]
struct ClientHeaders {
    method: String,
    path: String,
    authorization: Option<String>,
    x_api_key: Option<String>,
    /// Headers to remove before the request goes on (see `is_client_credential_or_internal`).
    to_strip: Vec<String>,
    /// The attribution headers sent, by (lower-case) name.
    attribution: Vec<(String, String)>,
    traceparent: Option<String>,
    tracestate: Option<String>,
    request_id: String,
}

impl ClientHeaders {
    fn attribution(&self) -> Result<Attribution, AttributionError> {
        Attribution::from_headers(|name| {
            self.attribution
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        })
    }

    fn read(ctx: &dyn HttpContext) -> ClientHeaders {
        let mut out = ClientHeaders::default();
        for (name, value) in ctx.get_http_request_headers() {
            if headers::is_client_credential_or_internal(&name) {
                out.to_strip.push(name.clone());
            }
            match name.as_str() {
                ":method" => out.method = value,
                ":path" => out.path = value,
                "authorization" => out.authorization = Some(value),
                "x-api-key" => out.x_api_key = Some(value),
                trace_context::TRACEPARENT => out.traceparent = Some(value),
                trace_context::TRACESTATE => out.tracestate = Some(value),
                "x-request-id" => out.request_id = value,
                _ if headers::ATTRIBUTION.contains(&name.as_str()) => {
                    out.attribution.push((name, value));
                }
                _ => {}
            }
        }
        out
    }
}

impl GatewayFilter {
    pub fn new(config: Rc<CompiledGateway>) -> Self {
        GatewayFilter {
            config,
            key_id: None,
            metadata: BTreeMap::new(),
            endpoint: None,
            rule: None,
            envoy_reply: None,
            rate_limiting: None,
            agent: None,
            budgeting: None,
            trace: None,
            request_id: String::new(),
        }
    }
}

impl GatewayFilter {
    /// Allowed models and required metadata, before anything is spent; a refusal is
    /// logged like any guardrail verdict.
    fn admission_guardrails(&self, key: &VirtualKey, alias: &str) -> Result<(), GatewayError> {
        if self.config.guardrails.is_empty() {
            return Ok(());
        }
        let upstream_models = self
            .config
            .model(alias)
            .map_or(&[][..], |route| route.upstream_models.as_slice());
        let candidate = Candidate {
            who: RequestScope {
                key_id: Some(&key.config.id),
                team: key.config.team.as_deref(),
                alias: Some(alias),
            },
            alias,
            upstream_models,
            metadata: &self.metadata,
        };
        check_admission(&self.config.guardrails, &candidate).map_err(|refusal| {
            let mut report = Report::default();
            let (guardrail, category) = (&refusal.guardrail, refusal.category);
            report.verdict(Stage::Input, guardrail, category, GuardAction::Deny);
            log_field(self, log_fields::GUARDRAILS, &report.to_json());
            refusal.error
        })
    }
}

impl Context for GatewayFilter {}

impl HttpContext for GatewayFilter {
    fn on_http_request_headers(&mut self, _: usize, end_of_stream: bool) -> Action {
        let client = ClientHeaders::read(self);
        log_field(self, log_fields::CLIENT_PATH, &client.path);
        let endpoint = match Endpoint::classify(&client.method, &client.path) {
            Ok(e) => e,
            Err(e) => {
                reply_error(self, &e, WireFormat::OpenAi);
                return Action::Pause;
            }
        };
        self.endpoint = Some(endpoint);

        let presented = authenticate(
            &self.config,
            client.authorization.as_deref(),
            client.x_api_key.as_deref(),
            unix_millis(self.get_current_time()),
        );
        let key = match presented {
            Ok(key) => key,
            Err(e) => {
                self.reply(&e, endpoint, &[]);
                return Action::Pause;
            }
        };
        log_field(self, log_fields::KEY_ID, &key.config.id);
        if let Some(team) = &key.config.team {
            log_field(self, log_fields::TEAM, team);
        }
        if endpoint == Endpoint::Models {
            let body = list_models(&self.config, key);
            reply_json(self, 200, &body);
            return Action::Pause;
        }
        let attribution = match client.attribution() {
            Ok(attribution) => attribution,
            Err(e) => {
                self.reply(&e.into(), endpoint, &[]);
                return Action::Pause;
            }
        };
        if !attribution.is_empty() {
            log_field(self, log_fields::ATTRIBUTION, &attribution.encode());
        }
        self.metadata = attribution.metadata.clone();
        self.agent = attribution.agent_id.clone();
        self.key_id = Some(key.config.id.clone());
        let seed = format!("{}/trace", client.request_id);
        self.trace = Some(TraceContext::from_headers(
            client.traceparent.as_deref(),
            client.tracestate.as_deref(),
            random_bytes(&seed),
        ));
        self.request_id = client.request_id;
        // The virtual key and spoofed internal headers never go further.
        for name in &client.to_strip {
            self.set_http_request_header(name, None);
        }

        let agent = attribution.agent_id.as_deref();
        if endpoint == Endpoint::Mcp {
            // Each JSON-RPC message (a POST) is a request of the key and agent; a GET stream
            // or a DELETE carries no work, and refusing a DELETE would leave its session open.
            // No tokens to debit afterwards: an MCP answer bills none.
            if client.method == "POST" && self.admit_rate_limits(key, agent, endpoint).is_err() {
                return Action::Pause;
            }
            // The MCP filter in the server's cluster reads the messages; it learns the key
            // from the route context.
            let context = RouteContext {
                client_format: endpoint.client_format(),
                operation: endpoint.operation(),
                key_id: key.config.id.clone(),
                team: key.config.team.clone(),
            };
            self.set_http_request_header(headers::CONTEXT, Some(&context.encode()));
            // A tool call is a step of the run too (`mcp::step`).
            self.hand_over_step(key, None);
            return Action::Continue;
        }
        if end_of_stream && endpoint.needs_body() {
            let e = GatewayError::invalid_request("The request has no body");
            reply_error(self, &e, endpoint.client_format());
            return Action::Pause;
        }
        match self.admit_rate_limits(key, agent, endpoint) {
            Ok(limiting) => self.rate_limiting = limiting,
            Err(Refused) => return Action::Pause,
        }
        // Hold the headers until the body has told us the model: the route depends on it.
        // Needs `allow_on_headers_stop_iteration: true` (see envoy/README).
        Action::Pause
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        let Some(endpoint) = self.endpoint.filter(|e| *e != Endpoint::Mcp) else {
            return Action::Continue;
        };
        let format = endpoint.client_format();
        let Some(key) = self
            .key_id
            .as_deref()
            .and_then(|id| self.config.keys.by_id(id))
        else {
            return Action::Continue;
        };
        let body = request_body(self, body_size);
        let admitted = admit(endpoint, &self.config, key, &body).map(|admission| {
            let rules = self.config.rules(&admission.alias);
            let header = |name: &str| self.get_http_request_header(name);
            let branch = route_rules::select_for(
                rules,
                &key.config,
                &admission.alias,
                &header,
                &self.metadata,
            );
            (admission, branch, !rules.is_empty())
        });
        match admitted {
            Ok((admission, branch, conditional)) => {
                log_field(self, log_fields::ALIAS, &admission.alias);
                if let Err(e) = self.admission_guardrails(key, &admission.alias) {
                    reply_error(self, &e, format);
                    return Action::Pause;
                }
                match self.reserve_budgets(key, &admission, body.len(), format) {
                    Ok(budgeting) => self.budgeting = budgeting,
                    Err(Refused) => return Action::Pause,
                }
                if let Some(branch) = branch {
                    self.set_http_request_header(headers::BRANCH, Some(&branch.to_string()));
                }
                if conditional {
                    self.rule = Some(route_rules::rule_label(branch));
                }
                let context = RouteContext {
                    client_format: format,
                    operation: endpoint.operation(),
                    key_id: key.config.id.clone(),
                    team: key.config.team.clone(),
                };
                self.hand_over_step(key, Some(&admission.alias));
                self.set_http_request_header(headers::ALIAS, Some(&admission.alias));
                self.set_http_request_header(headers::CONTEXT, Some(&context.encode()));
                Action::Continue
            }
            Err(e) => {
                reply_error(self, &e, format);
                Action::Pause
            }
        }
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        let status = self
            .get_http_response_header(":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0u16);
        let content_type = self.get_http_response_header("content-type");
        let has_provider = self.get_http_response_header(headers::PROVIDER).is_some();
        if let Some(rule) = &self.rule {
            self.set_http_response_header(headers::RULE, Some(rule));
        }
        if let Some(trace) = &self.trace {
            self.set_http_response_header(headers::TRACE_ID, Some(&trace.trace_id));
            self.set_http_response_header(headers::STEP_ID, Some(&self.request_id));
        }
        if self.endpoint.is_some()
            && attempts::is_envoy_reply(status, content_type.as_deref(), has_provider)
        {
            let error = attempts::envoy_reply_error(status);
            self.set_http_response_header(":status", Some(&error.status().to_string()));
            self.set_http_response_header("content-type", Some("application/json"));
            self.set_http_response_header("content-length", None);
            self.envoy_reply = Some(error);
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if end_of_stream {
            // Before the answer's end reaches the client, so its next request sees the debit
            // and the settled cost.
            self.settle_limits();
        }
        let (Some(error), Some(endpoint)) = (&self.envoy_reply, self.endpoint) else {
            return Action::Continue;
        };
        if !end_of_stream {
            return Action::Pause;
        }
        let body = match endpoint {
            // An MCP client reads JSON-RPC errors only.
            Endpoint::Mcp => mcp_handoff::envoy_reply_body(self, error),
            _ => error.to_body(endpoint.client_format()),
        };
        self.set_http_response_body(0, body_size, &body);
        Action::Continue
    }

    /// Answers without a body, and answers cut short, end here.
    fn on_log(&mut self) {
        self.settle_limits();
        if self.endpoint == Some(Endpoint::Mcp) {
            let envoy_reply = self.envoy_reply.as_ref().map(|e| e.code);
            mcp_handoff::finish_left(self, envoy_reply);
        }
    }
}

impl GatewayFilter {
    /// The step's trace and capture mode, for every attempt's provider filter.
    fn hand_over_step(&self, key: &VirtualKey, alias: Option<&str>) {
        let Some(trace) = self.trace.clone() else {
            return;
        };
        let route = alias
            .and_then(|a| self.config.model(a))
            .and_then(|m| m.payload_capture);
        let step = StepContext {
            trace,
            capture: PayloadCapture::effective(key.config.payload_capture, route),
        };
        log_field(self, log_fields::STEP_CONTEXT, &step.encode());
    }

    /// Debits the answer's tokens from the rate limits and settles its cost in the budgets,
    /// once.
    fn settle_limits(&mut self) {
        if let Some(limiting) = self.rate_limiting.take() {
            limiting.settle(self);
        }
        if let Some(budgeting) = self.budgeting.take() {
            budgeting.settle(self);
        }
    }

    /// Reserves the request's estimated cost in its budgets (`Ok(None)`: none applies), or
    /// answers the client with the refusal.
    fn reserve_budgets(
        &self,
        key: &VirtualKey,
        admission: &Admission,
        body_bytes: usize,
        format: WireFormat,
    ) -> Result<Option<Budgeting>, Refused> {
        let Some(config) = &self.config.budgets else {
            return Ok(None);
        };
        let request = budgeting::Request {
            key_id: &key.config.id,
            team: key.config.team.as_deref(),
            agent: self.agent.as_deref(),
            alias: &admission.alias,
            body_bytes: u64::try_from(body_bytes).unwrap_or(u64::MAX),
            max_output_tokens: admission.max_output_tokens,
        };
        let now = unix_millis(self.get_current_time());
        Budgeting::admit(config, &request, now).map_err(|denied| {
            let (error, retry_after) = denied.reply(now);
            let retry_after = retry_after.map(|s| s.to_string());
            let headers: Vec<_> = retry_after
                .iter()
                .map(|s| ("retry-after", s.as_str()))
                .collect();
            reply_error_with(self, &error, format, &headers);
            Refused
        })
    }
}

impl GatewayFilter {
    /// Counts the request against the key's and agent's rate limits (`Ok(Some)`: tokens to
    /// debit once answered), or answers the client with the 429 and its `retry-after`.
    fn admit_rate_limits(
        &self,
        key: &VirtualKey,
        agent: Option<&str>,
        endpoint: Endpoint,
    ) -> Result<Option<RateLimiting>, Refused> {
        RateLimiting::admit(&key.config, agent, self.get_current_time()).map_err(|denial| {
            let error = ratelimit::rate_limited(&denial);
            let retry_after = denial.retry_after_secs.to_string();
            self.reply(&error, endpoint, &[("retry-after", retry_after.as_str())]);
            Refused
        })
    }

    /// Answers the client with `error` (see [`error_body`]).
    fn reply(&self, error: &GatewayError, endpoint: Endpoint, headers: &[(&str, &str)]) {
        reply_json_with(self, error.status(), &error_body(error, endpoint), headers);
    }
}

/// The body of a gateway error: in the client's own format, or a JSON-RPC error response
/// for an MCP client (`id` null: the gateway answers before reading the message).
fn error_body(error: &GatewayError, endpoint: Endpoint) -> Vec<u8> {
    match endpoint {
        Endpoint::Mcp => jsonrpc::gateway_error(None, error).to_string().into_bytes(),
        _ => error.to_body(endpoint.client_format()),
    }
}

/// A request refused by a rate limit or a budget; the client has its error.
struct Refused;
