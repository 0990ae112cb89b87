//! Tollgate's proxy-wasm shell.
//!
//! One module, three roles chosen by the plugin configuration (see
//! `tollgate_core::config::FilterConfig`):
//! - `gateway`, in the listener's filter chain: authenticates the virtual key, answers
//!   `GET /v1/models`, checks the request envelope and tells Envoy which model alias to
//!   route on;
//! - `mcp`, in each MCP server cluster's upstream filter chain: checks every JSON-RPC
//!   message against the key's scope, pins and guardrails, and rewrites the answers;
//! - `provider`, in each provider cluster's upstream filter chain: translates the request
//!   into the provider's wire format and the response back, once per upstream attempt,
//!   and records token usage, which the gateway's root contexts ship to the control plane
//!   (`shipping`).
//!
//! Every decision is made by `tollgate-core`; this crate only moves bytes and headers.

mod budget_poll;
mod budgeting;
mod gateway;
mod guarding;
mod host;
mod mcp;
mod mcp_handoff;
mod metrics;
mod provider;
mod ratelimiting;
mod shipping;

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};
use tollgate_core::budget::BudgetsConfig;
use tollgate_core::config::{CompiledGateway, FilterConfig, ProviderConfig, UsageShipping};
use tollgate_core::guardrails::CompiledPolicy;
use tollgate_core::mcp::CompiledMcp;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

/// The compiled configuration of this plugin instance, shared with its HTTP contexts.
enum Role {
    Gateway(Rc<CompiledGateway>),
    Provider(Rc<ProviderConfig>, Option<Rc<CompiledPolicy>>),
    Mcp(Rc<CompiledMcp>),
}

#[derive(Default)]
struct Root {
    role: Option<Role>,
    /// Gateway roots ship usage records when the configuration names a control plane.
    shipper: Option<shipping::Shipper>,
    /// Gateway roots poll budget state when budgets are configured (with a control plane).
    poller: Option<budget_poll::Poller>,
}

impl Context for Root {
    fn on_http_call_response(&mut self, token: u32, _headers: usize, body_size: usize, _: usize) {
        let status = self
            .get_http_call_response_header(":status")
            .and_then(|s| s.parse().ok());
        if let Some(mut poller) = self.poller.take_if(|p| p.owns(token)) {
            let body = self
                .get_http_call_response_body(0, body_size)
                .unwrap_or_default();
            poller.answered(self, status, &body);
            self.poller = Some(poller);
        } else if let Some(mut shipper) = self.shipper.take() {
            shipper.answered(self, status);
            self.shipper = Some(shipper);
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let raw = self.get_plugin_configuration().unwrap_or_default();
        let role = FilterConfig::from_json(&raw).and_then(|config| match config {
            FilterConfig::Gateway(mut g) => {
                if let Some(shipping) = g.usage_shipping.take() {
                    self.start_polling(g.budgets.as_ref(), &shipping);
                    self.start_shipping(shipping);
                }
                Ok(Role::Gateway(Rc::new(CompiledGateway::try_from(g)?)))
            }
            FilterConfig::Provider(mut p) => {
                // Compiled once here; requests only select from it.
                let policy = match p.guardrails.take() {
                    Some(policy) => Some(Rc::new(CompiledPolicy::new(policy)?)),
                    None => None,
                };
                Ok(Role::Provider(Rc::new(p), policy))
            }
            FilterConfig::Mcp(m) => Ok(Role::Mcp(Rc::new(CompiledMcp::try_from(m)?))),
        });
        match role {
            Ok(role) => {
                self.role = Some(role);
                true
            }
            Err(e) => {
                // Refusing the configuration makes Envoy reject the plugin instead of
                // serving traffic with a half-understood config.
                log::error!("tollgate: {e}");
                false
            }
        }
    }

    fn on_tick(&mut self) {
        if let Some(mut shipper) = self.shipper.take() {
            shipper.drain();
            shipper.flush(self);
            self.shipper = Some(shipper);
        }
        if let Some(mut poller) = self.poller.take() {
            poller.tick(self);
            self.poller = Some(poller);
        }
    }

    fn on_queue_ready(&mut self, _queue_id: u32) {
        // Only one root hears of new records; the others find them on their tick.
        if let Some(shipper) = self.shipper.as_mut() {
            shipper.drain();
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        match self.role.as_ref()? {
            Role::Gateway(g) => Some(Box::new(gateway::GatewayFilter::new(Rc::clone(g)))),
            Role::Provider(p, policy) => Some(Box::new(provider::ProviderFilter::new(
                Rc::clone(p),
                policy.clone(),
            ))),
            Role::Mcp(m) => Some(Box::new(mcp::McpFilter::new(Rc::clone(m)))),
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

impl Root {
    /// Envoy gives every configuration a fresh root context (envoy-spike.md, Q4), so this
    /// runs once per root.
    fn start_shipping(&mut self, config: UsageShipping) {
        if self.shipper.is_none() {
            self.shipper = shipping::Shipper::start(config);
        }
        // One tick serves both, at the shorter interval: the poller acts only when its
        // shared lease is due; the shipper sends whatever batch is due on every tick.
        let periods = [
            self.shipper.as_ref().map(shipping::Shipper::tick_period),
            self.poller.as_ref().map(budget_poll::Poller::tick_period),
        ];
        if let Some(period) = periods.into_iter().flatten().min() {
            self.set_tick_period(period);
        }
    }

    /// Budget state comes from the control plane that usage goes to (its cluster, authority
    /// and ingest key).
    fn start_polling(&mut self, budgets: Option<&BudgetsConfig>, shipping: &UsageShipping) {
        if let (None, Some(budgets)) = (&self.poller, budgets) {
            let ingest_key = shipping::ingest_key(&shipping.ingest_key_env);
            self.poller = budget_poll::Poller::start(budgets, shipping.clone(), ingest_key);
        }
    }
}
