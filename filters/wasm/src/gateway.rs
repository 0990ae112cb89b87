//! The gateway role: once per client request, in the listener's filter chain.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use tollgate_core::config::CompiledGateway;
use tollgate_core::formats::WireFormat;
use tollgate_core::gateway::{admit, authenticate, list_models, Endpoint};
use tollgate_core::{headers, log_fields};

use crate::host::{log_field, reply_error, reply_json, request_body};

pub struct GatewayFilter {
    config: Rc<CompiledGateway>,
    /// Index of the authenticated key in the config, kept for the body phase.
    key_id: Option<String>,
    endpoint: Option<Endpoint>,
}

impl GatewayFilter {
    pub fn new(config: Rc<CompiledGateway>) -> Self {
        GatewayFilter {
            config,
            key_id: None,
            endpoint: None,
        }
    }

    /// Removes everything a client could use to impersonate the gateway or leak its key
    /// upstream: the virtual key itself and Tollgate's internal headers.
    fn strip_client_credentials(&self) {
        self.set_http_request_header("authorization", None);
        self.set_http_request_header("x-api-key", None);
        for name in headers::INTERNAL_REQUEST {
            self.set_http_request_header(name, None);
        }
    }
}

impl Context for GatewayFilter {}

impl HttpContext for GatewayFilter {
    fn on_http_request_headers(&mut self, _: usize, end_of_stream: bool) -> Action {
        let method = self.get_http_request_header(":method").unwrap_or_default();
        let path = self.get_http_request_header(":path").unwrap_or_default();
        log_field(self, log_fields::CLIENT_PATH, &path);
        let endpoint = match Endpoint::classify(&method, &path) {
            Ok(e) => e,
            Err(e) => {
                reply_error(self, &e, WireFormat::OpenAi);
                return Action::Pause;
            }
        };
        self.endpoint = Some(endpoint);

        let authorization = self.get_http_request_header("authorization");
        let x_api_key = self.get_http_request_header("x-api-key");
        let key = match authenticate(&self.config, authorization.as_deref(), x_api_key.as_deref()) {
            Ok(key) => key,
            Err(e) => {
                reply_error(self, &e, endpoint.client_format());
                return Action::Pause;
            }
        };
        let key_id = key.config.id.clone();
        let team = key.config.team.clone();
        log_field(self, log_fields::KEY_ID, &key_id);
        if let Some(team) = &team {
            log_field(self, log_fields::TEAM, team);
        }

        if endpoint == Endpoint::Models {
            let body = list_models(&self.config, key);
            reply_json(self, 200, &body);
            return Action::Pause;
        }

        self.strip_client_credentials();
        self.set_http_request_header(headers::KEY_ID, Some(&key_id));
        if let Some(team) = team {
            self.set_http_request_header(headers::TEAM, Some(&team));
        }
        self.key_id = Some(key_id);

        if end_of_stream && endpoint.needs_body() {
            let e = tollgate_core::error::GatewayError::invalid_request("The request has no body");
            reply_error(self, &e, endpoint.client_format());
            return Action::Pause;
        }
        // Hold the headers until the body has told us the model: the route depends on it.
        // Needs `allow_on_headers_stop_iteration: true` (see envoy/README).
        Action::Pause
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        let Some(endpoint) = self.endpoint else {
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
        match admit(endpoint, &self.config, key, &body) {
            Ok(admission) => {
                log_field(self, log_fields::ALIAS, &admission.alias);
                self.set_http_request_header(headers::ALIAS, Some(&admission.alias));
                self.set_http_request_header(headers::CLIENT_FORMAT, Some(format.as_str()));
                self.set_http_request_header(
                    headers::OPERATION,
                    Some(endpoint.operation().as_str()),
                );
                Action::Continue
            }
            Err(e) => {
                reply_error(self, &e, format);
                Action::Pause
            }
        }
    }
}
