//! Validated [`Config`] → everything Envoy needs: the bootstrap and the
//! [`FilterConfig`]s of the wasm filters.
//!
//! Pure: no environment, no filesystem (credential presence is settled earlier by
//! [`crate::credentials::apply`]). Golden tests pin the output; the xDS server
//! ([`crate::xds::snapshot`]) serves the same JSON, cut into resources.

mod bootstrap;
mod mcp;
mod routes;

pub use bootstrap::socket_address;

use std::path::Path;

use serde_json::Value;
use tollgate_core::budget::BudgetsConfig;
use tollgate_core::config::{
    GatewayConfig, ModelRoute, ProviderConfig, UsageShipping, CONFIG_VERSION,
};
use tollgate_core::cost::Price;
use tollgate_core::guardrails::AdmissionRule;
use tollgate_core::mcp::McpServerConfig;

use crate::config::{millis, Budgets, Config, ControlPlane, Provider};

/// The rendered configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The Envoy bootstrap, with the filter configs embedded.
    pub bootstrap: Value,
    /// Configuration of the gateway filter in the listener's chain.
    pub gateway: GatewayConfig,
    /// Configuration of each provider cluster's filter, in provider order.
    pub providers: Vec<ProviderConfig>,
    /// Configuration of each MCP server cluster's filter, in server order.
    pub mcp_servers: Vec<McpServerConfig>,
}

impl Rendered {
    /// The bootstrap as Envoy reads it (`-c envoy.json`).
    pub fn bootstrap_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(&self.bootstrap)
            .expect("a serde_json::Value always serializes");
        json.push('\n');
        json
    }
}

/// Renders `config`; `wasm` is the filter module, referenced by path from Envoy's config.
pub fn render(config: &Config, wasm: &Path) -> Rendered {
    let gateway = gateway_config(config);
    let providers: Vec<ProviderConfig> = config
        .providers
        .iter()
        .map(|p| provider_config(config, p))
        .collect();
    let mcp_servers: Vec<McpServerConfig> = config
        .mcp_servers
        .iter()
        .map(|server| mcp::filter_config(config, server))
        .collect();
    let bootstrap = bootstrap::bootstrap(config, &gateway, &providers, &mcp_servers, wasm);
    Rendered {
        bootstrap,
        gateway,
        providers,
        mcp_servers,
    }
}

fn gateway_config(config: &Config) -> GatewayConfig {
    let admission = config
        .guardrails
        .as_ref()
        .map(|g| g.admission.clone())
        .unwrap_or_default();
    // Only a model guardrail on upstream names needs them in the gateway.
    let needs_upstream = admission
        .iter()
        .any(|c| matches!(&c.rule, AdmissionRule::Models(m) if !m.upstream.is_empty()));
    GatewayConfig {
        version: CONFIG_VERSION,
        keys: config.keys.clone(),
        models: config
            .models
            .iter()
            .filter_map(|m| {
                let mut upstream_models: Vec<String> = match needs_upstream {
                    true => m.targets().map(|t| t.model.clone()).collect(),
                    false => Vec::new(),
                };
                upstream_models.sort();
                upstream_models.dedup();
                Some(ModelRoute {
                    alias: m.alias.clone(),
                    provider: m.primary()?.provider.clone(),
                    rules: m.rules.iter().map(|r| r.when.clone()).collect(),
                    upstream_models,
                    payload_capture: m.payload_capture,
                })
            })
            .collect(),
        usage_shipping: config.control_plane.as_ref().map(usage_shipping),
        guardrails: admission,
        budgets: config.budgets.as_ref().map(|b| budgets_config(config, b)),
    }
}

fn budgets_config(config: &Config, budgets: &Budgets) -> BudgetsConfig {
    BudgetsConfig {
        budgets: budgets.enforced(),
        default_max_output_tokens: budgets.default_max_output_tokens,
        poll_interval_ms: millis(budgets.poll_interval),
        prices: config
            .models
            .iter()
            .filter_map(|m| {
                let prices = m.targets().filter_map(|t| config.prices.get(&t.model));
                Some((m.alias.clone(), dearest(prices)?))
            })
            .collect(),
    }
}

/// Each price field's highest value among `prices`: an estimate at these prices is never
/// below the cost at any of them, whichever target serves the request.
fn dearest<'a>(prices: impl Iterator<Item = &'a Price>) -> Option<Price> {
    let higher = |a: Option<u64>, b: Option<u64>| a.max(b);
    prices.copied().reduce(|a, b| Price {
        input: a.input.max(b.input),
        cached_input: higher(a.cached_input, b.cached_input),
        cache_write: higher(a.cache_write, b.cache_write),
        output: a.output.max(b.output),
        reasoning: higher(a.reasoning, b.reasoning),
    })
}

fn usage_shipping(control_plane: &ControlPlane) -> UsageShipping {
    let usage = &control_plane.usage;
    UsageShipping {
        cluster: bootstrap::CONTROL_PLANE_CLUSTER.to_string(),
        authority: bootstrap::CONTROL_PLANE_CLUSTER.to_string(),
        ingest_key_env: control_plane.ingest_key_env.clone(),
        flush_interval_ms: millis(usage.flush_interval),
        timeout_ms: millis(usage.timeout),
        limits: usage.limits,
        backoff: usage.backoff,
    }
}

fn provider_config(config: &Config, provider: &Provider) -> ProviderConfig {
    ProviderConfig {
        version: CONFIG_VERSION,
        name: provider.name.clone(),
        format: provider.format(),
        host: provider.base_url.authority(),
        base_path: provider.api_base_path(),
        models: config
            .models_of(&provider.name)
            .map(|(alias, model)| (alias.to_string(), model.to_string()))
            .collect(),
        api_version: provider.api_version.clone(),
        guardrails: config.guardrails.as_ref().map(|g| g.policy.clone()),
        // Only this provider's models: the filter looks up its own model, nothing else.
        prices: config
            .models_of(&provider.name)
            .filter_map(|(_, model)| Some((model.to_string(), *config.prices.get(model)?)))
            .collect(),
        ship_usage: config.control_plane.is_some(),
        disable_metrics: !config.metrics,
    }
}

#[cfg(test)]
#[path = "golden_tests.rs"]
pub(crate) mod golden_tests;
