//! The configuration contract between the control plane and the filters.
//!
//! The control plane renders one [`FilterConfig`] per filter instance as JSON into the
//! Envoy configuration; the filter parses it once per `on_configure`. Both sides use these
//! types, so they cannot drift apart. Config types are strict (`deny_unknown_fields`): a
//! field the filter does not know means the two were built from different versions, and the
//! filter refuses the configuration instead of silently ignoring part of it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::budget::BudgetsConfig;
use crate::capture::PayloadCapture;
use crate::cost::Price;
use crate::formats::WireFormat;
use crate::guardrails::{AdmissionCheck, GuardrailPolicy, PolicyError};
use crate::keys::{KeyError, KeyTable};
use crate::ratelimit::KeyRateLimits;
use crate::route_rules::{CompiledCondition, Condition, RuleError};
use crate::usage_outbox::{Backoff, OutboxLimits};

/// Version of this contract. Bumped on any incompatible change; a filter refuses a config
/// with another version.
pub const CONFIG_VERSION: u32 = 1;

/// One filter instance's configuration. The role decides which half of the gateway the
/// instance plays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "camelCase", deny_unknown_fields)]
pub enum FilterConfig {
    /// Downstream (HCM) position: once per client request.
    Gateway(GatewayConfig),
    /// Upstream position in one provider cluster: once per upstream attempt.
    Provider(ProviderConfig),
    /// Upstream position in one MCP server's cluster: once per MCP HTTP request.
    Mcp(crate::mcp::McpServerConfig),
}

/// Configuration of the gateway filter: authentication, model scoping and route selection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayConfig {
    pub version: u32,
    /// Virtual keys, by SHA-256 hash only.
    pub keys: Vec<VirtualKeyConfig>,
    /// Model aliases clients may ask for.
    pub models: Vec<ModelRoute>,
    /// Where the gateway's root contexts send usage records; absent when no control plane
    /// collects them (they still reach the access log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_shipping: Option<UsageShipping>,
    /// Guardrails settled before routing (allowed models, required metadata).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<AdmissionCheck>,
    /// Spending budgets enforced at admission; absent when none are configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budgets: Option<BudgetsConfig>,
}

/// How usage records travel to the control plane (see [`crate::usage_outbox`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsageShipping {
    /// Envoy cluster of the control plane.
    pub cluster: String,
    /// `:authority` of the ingest requests.
    pub authority: String,
    /// Environment variable holding the ingest key; Envoy exposes it to the VM, so the key
    /// never appears in the rendered configuration.
    pub ingest_key_env: String,
    /// How often the queue is drained and a batch sent.
    pub flush_interval_ms: u64,
    /// How long one send may take before it counts as failed.
    pub timeout_ms: u64,
    pub limits: OutboxLimits,
    pub backoff: Backoff,
}

/// A virtual key as the filter sees it: no plaintext, only its hash and scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualKeyConfig {
    /// Stable, non-secret identifier used in logs and usage records.
    pub id: String,
    /// Lower-case hex SHA-256 of the key's plaintext.
    pub sha256: String,
    /// Aliases this key may use; `"*"` allows every alias.
    pub models: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Requests and tokens per minute for the key and for each of its agents; absent
    /// when unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<KeyRateLimits>,
    /// When the key stops working (Unix milliseconds). The filter checks it on every
    /// request, so an expiry holds even when no newer configuration arrives in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_unix_ms: Option<u64>,
    /// Secrets a rotation replaced, still accepted (as this key) until their grace ends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_secrets: Vec<PreviousSecret>,
    /// How much request and answer content this key's step records keep; absent: the
    /// route's setting, else `metadata` (see [`PayloadCapture::effective`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_capture: Option<PayloadCapture>,
}

/// A rotated-out secret of a key and the end of its grace period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviousSecret {
    /// Lower-case hex SHA-256 of the old plaintext.
    pub sha256: String,
    /// Refused from this time on (Unix milliseconds).
    pub expires_unix_ms: u64,
}

/// A model alias and the provider that serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelRoute {
    pub alias: String,
    pub provider: String,
    /// A conditional route's rules, in order: the first that matches names the branch
    /// (`x-tollgate-branch: <index>`); none matching leaves the default branch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Condition>,
    /// Every upstream model the alias may be served by (weighted targets, fallbacks), for
    /// model guardrails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream_models: Vec<String>,
    /// How much content the alias's step records keep (see [`PayloadCapture::effective`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_capture: Option<PayloadCapture>,
}

/// Configuration of a provider filter: how to speak to one provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderConfig {
    pub version: u32,
    /// Provider name from the user's config; reported in `x-tollgate-provider`.
    pub name: String,
    /// Wire format the provider speaks.
    pub format: WireFormat,
    /// Value for `:authority` on upstream requests.
    pub host: String,
    /// Path prefix of the provider's API, without trailing slash (e.g. `/v1`).
    pub base_path: String,
    /// Alias → upstream model name, for the aliases this provider serves.
    pub models: BTreeMap<String, String>,
    /// API version sent with every request, for providers whose endpoint path carries one
    /// (Azure OpenAI's classic `…/deployments/{model}/chat/completions?api-version=…`).
    /// Absent for every other provider, and for Azure's v1 API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Guardrails this provider's requests and answers go through; absent when none are
    /// configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<GuardrailPolicy>,
    /// Upstream model → its prices, resolved by the control plane from the shipped price
    /// table and the config's overrides. A model missing here has no known price: its
    /// usage records carry no cost (`cost_nano_usd: null`, `price_known: false`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<String, Price>,
    /// Whether usage records also go on the shared queue the gateway ships from.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ship_usage: bool,
    /// The config turned the Prometheus metrics off (`tollgate_core::metrics`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_metrics: bool,
}

/// Why a filter configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("filter configuration is not valid JSON for this filter: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("filter configuration version {found} is not supported (this filter speaks {CONFIG_VERSION})")]
    Version { found: u32 },
    #[error("virtual key {id:?}: {source}")]
    Key { id: String, source: KeyError },
    #[error("model alias {0:?} is listed twice")]
    DuplicateAlias(String),
    #[error("guardrails: {0}")]
    Guardrails(#[from] PolicyError),
    #[error("model alias {alias:?}, rule {index}: {source}")]
    Rule {
        alias: String,
        index: usize,
        source: RuleError,
    },
}

impl FilterConfig {
    /// Parses and checks a configuration as delivered by Envoy.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        let config: FilterConfig = serde_json::from_slice(bytes)?;
        let version = match &config {
            FilterConfig::Gateway(g) => g.version,
            FilterConfig::Provider(p) => p.version,
            FilterConfig::Mcp(m) => m.version,
        };
        if version != CONFIG_VERSION {
            return Err(ConfigError::Version { found: version });
        }
        Ok(config)
    }
}

/// A gateway configuration compiled for request-time lookups.
#[derive(Debug)]
pub struct CompiledGateway {
    pub keys: KeyTable,
    /// Alias → provider name, in configuration order for `/v1/models`.
    models: Vec<ModelRoute>,
    /// Each model's compiled rules, by the model's index.
    rules: Vec<Vec<CompiledCondition>>,
    pub guardrails: Vec<AdmissionCheck>,
    pub budgets: Option<BudgetsConfig>,
}

impl TryFrom<GatewayConfig> for CompiledGateway {
    type Error = ConfigError;

    fn try_from(config: GatewayConfig) -> Result<Self, ConfigError> {
        let mut seen = std::collections::BTreeSet::new();
        for route in &config.models {
            if !seen.insert(route.alias.as_str()) {
                return Err(ConfigError::DuplicateAlias(route.alias.clone()));
            }
        }
        let keys = KeyTable::new(config.keys)?;
        let rules = config
            .models
            .iter()
            .map(|route| {
                let compile = |(index, rule): (usize, &Condition)| {
                    rule.compile().map_err(|source| ConfigError::Rule {
                        alias: route.alias.clone(),
                        index,
                        source,
                    })
                };
                route.rules.iter().enumerate().map(compile).collect()
            })
            .collect::<Result<_, _>>()?;
        Ok(CompiledGateway {
            keys,
            models: config.models,
            rules,
            guardrails: config.guardrails,
            budgets: config.budgets,
        })
    }
}

impl CompiledGateway {
    /// The route for an alias, if the alias exists.
    pub fn model(&self, alias: &str) -> Option<&ModelRoute> {
        self.models.iter().find(|m| m.alias == alias)
    }

    /// Every configured alias, in configuration order.
    pub fn models(&self) -> &[ModelRoute] {
        &self.models
    }

    /// The compiled rules of an alias's conditional route; empty for any other alias.
    pub fn rules(&self, alias: &str) -> &[CompiledCondition] {
        self.models
            .iter()
            .position(|m| m.alias == alias)
            .map_or(&[], |i| &self.rules[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway_json(version: u32) -> String {
        format!(
            r#"{{"role":"gateway","version":{version},"keys":[],"models":[{{"alias":"a","provider":"p"}}]}}"#
        )
    }

    #[test]
    fn parses_gateway_config() {
        let config = FilterConfig::from_json(gateway_json(CONFIG_VERSION).as_bytes()).unwrap();
        let FilterConfig::Gateway(g) = config else {
            panic!("expected gateway role")
        };
        assert_eq!(g.models[0].alias, "a");
    }

    #[test]
    fn refuses_other_versions() {
        let err = FilterConfig::from_json(gateway_json(CONFIG_VERSION + 1).as_bytes()).unwrap_err();
        assert!(matches!(err, ConfigError::Version { .. }), "{err}");
    }

    #[test]
    fn refuses_unknown_fields() {
        let json = r#"{"role":"provider","version":1,"name":"p","format":"openai","host":"h",
            "basePath":"/v1","models":{},"surprise":true}"#;
        assert!(matches!(
            FilterConfig::from_json(json.as_bytes()),
            Err(ConfigError::Parse(_))
        ));
    }

    #[test]
    fn round_trips_provider_config() {
        let config = FilterConfig::Provider(ProviderConfig {
            version: CONFIG_VERSION,
            name: "anthropic".into(),
            format: WireFormat::Anthropic,
            host: "api.anthropic.com".into(),
            base_path: "/v1".into(),
            models: BTreeMap::from([("claude".into(), "claude-sonnet-4-5".into())]),
            api_version: None,
            guardrails: None,
            prices: BTreeMap::from([(
                "claude-sonnet-4-5".into(),
                Price {
                    input: 3_000_000,
                    cached_input: Some(300_000),
                    cache_write: Some(3_750_000),
                    output: 15_000_000,
                    reasoning: None,
                },
            )]),
            ship_usage: false,
            disable_metrics: false,
        });
        let json = serde_json::to_vec(&config).unwrap();
        assert_eq!(FilterConfig::from_json(&json).unwrap(), config);
    }

    #[test]
    fn api_version_is_optional_and_camel_case() {
        let json = r#"{"role":"provider","version":1,"name":"azure","format":"openai",
            "host":"r.openai.azure.com","basePath":"/openai","models":{},"apiVersion":"2024-10-21"}"#;
        let FilterConfig::Provider(p) = FilterConfig::from_json(json.as_bytes()).unwrap() else {
            panic!("expected provider role")
        };
        assert_eq!(p.api_version.as_deref(), Some("2024-10-21"));
        let without = ProviderConfig {
            api_version: None,
            ..p
        };
        let text = serde_json::to_string(&without).unwrap();
        assert!(!text.contains("apiVersion"), "{text}");
    }

    #[test]
    fn rules_compile_with_the_config_and_a_bad_one_is_refused() {
        let json = |pattern: &str| {
            format!(
                r#"{{"role":"gateway","version":1,"keys":[],"models":[{{"alias":"a","provider":"p",
                "rules":[{{"test":{{"subject":"team","operator":{{"matches":"{pattern}"}}}}}}]}}]}}"#
            )
        };
        let compiled = |pattern: &str| {
            let FilterConfig::Gateway(g) =
                FilterConfig::from_json(json(pattern).as_bytes()).unwrap()
            else {
                panic!("expected gateway role")
            };
            CompiledGateway::try_from(g)
        };
        let gateway = compiled("^ml$").unwrap();
        assert_eq!(gateway.rules("a").len(), 1);
        assert!(gateway.rules("other").is_empty());
        let err = compiled("(").unwrap_err();
        assert!(matches!(err, ConfigError::Rule { index: 0, .. }), "{err}");
    }

    #[test]
    fn duplicate_alias_is_refused() {
        let config = GatewayConfig {
            version: CONFIG_VERSION,
            keys: vec![],
            models: vec![
                ModelRoute {
                    alias: "a".into(),
                    provider: "p".into(),
                    rules: vec![],
                    upstream_models: vec![],
                    payload_capture: None,
                },
                ModelRoute {
                    alias: "a".into(),
                    provider: "q".into(),
                    rules: vec![],
                    upstream_models: vec![],
                    payload_capture: None,
                },
            ],
            usage_shipping: None,
            guardrails: vec![],
            budgets: None,
        };
        assert!(matches!(
            CompiledGateway::try_from(config),
            Err(ConfigError::DuplicateAlias(_))
        ));
    }
}
