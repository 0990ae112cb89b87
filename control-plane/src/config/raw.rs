//! The configuration file exactly as written: strict serde types, no interpretation.
//!
//! Every struct denies unknown fields, so a typo is an error rather than a silently
//! ignored setting. Fields with defaults are `Option`s here; the defaults themselves live
//! in one place, [`super::validate`], which turns these types into [`super::Config`].

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use tollgate_core::capture::PayloadCapture;

use super::kind::ProviderKind;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub version: u32,
    #[serde(default)]
    pub listen: Endpoint,
    #[serde(default)]
    pub admin: Endpoint,
    pub access_log: Option<String>,
    #[serde(default)]
    pub limits: Limits,
    pub providers: Vec<Provider>,
    pub models: Vec<Model>,
    #[serde(default)]
    pub keys: Vec<Key>,
    pub guardrails: Option<super::raw_guardrails::Guardrails>,
    /// Upstream model → prices, over the shipped price table.
    pub prices: Option<BTreeMap<String, Price>>,
    /// Defaults for every key's `rate_limits`, field by field.
    pub rate_limits: Option<RateLimits>,
    pub control_plane: Option<super::raw_control_plane::ControlPlane>,
    pub budgets: Option<super::raw_budgets::Budgets>,
    pub metrics: Option<Metrics>,
    /// MCP servers served at `/mcp/{name}`.
    pub mcp_servers: Option<Vec<super::raw_mcp::McpServer>>,
}

/// The provider filters' Prometheus metrics.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    pub enabled: Option<bool>,
}

/// A model's prices in USD per million tokens, as written (in the config's `prices:` and
/// in the shipped table alike).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub cached_input: Option<f64>,
    pub cache_write: Option<f64>,
    pub output: f64,
    pub reasoning: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub address: Option<String>,
    pub port: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_request_bytes: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub name: String,
    /// Which API: its wire format, credential header and default address.
    pub kind: ProviderKind,
    /// Defaults per kind; required where the kind has no default (Azure, Vertex;
    /// Bedrock's follows from `region`).
    pub base_url: Option<String>,
    /// Azure OpenAI's `api-version`; without it Azure's v1 API is used.
    pub api_version: Option<String>,
    /// AWS region of a `bedrock` provider.
    pub region: Option<String>,
    pub credential: Option<Credential>,
    pub timeout: Option<String>,
}

/// Where a provider's secret comes from. Never the secret itself: see the
/// hand-written [`Deserialize`] below.
#[derive(Debug, Default)]
pub struct Credential {
    pub env: Option<String>,
    pub file: Option<String>,
    pub optional: bool,
}

/// A model alias: either one target (`provider` + `model`) or a `route`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub alias: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub route: Option<Node>,
    /// Request features every target must accept (`tools`, `embeddings`, …).
    pub serves: Option<Vec<String>>,
    pub retry: Option<Retry>,
    pub timeout: Option<Timeouts>,
    pub payload_capture: Option<PayloadCapture>,
}

/// One node of a routing tree: exactly one of a target (`provider` + `model`), a
/// reference to another `alias`, a `fallback` chain, a `weighted` pool, a `canary` or (at
/// the top of a route) a `conditional`.
/// `weight` applies when the node is a member of a `weighted` pool.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub alias: Option<String>,
    pub fallback: Option<Vec<Node>>,
    pub weighted: Option<Vec<Node>>,
    pub canary: Option<Box<Canary>>,
    pub conditional: Option<Box<super::raw_conditions::Conditional>>,
    pub weight: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    /// Share of requests sent to `candidate`, in percent (0 < percent < 100).
    pub percent: f64,
    pub stable: Node,
    pub candidate: Node,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts per target, the first included.
    pub attempts: Option<u32>,
    /// What makes an attempt fail over: status codes and named conditions.
    pub on: Option<Vec<Trigger>>,
    pub backoff: Option<Backoff>,
    /// Longest `retry-after` honoured; `0s` ignores the header.
    pub retry_after_max: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Trigger {
    Status(u16),
    Named(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    pub base: Option<String>,
    pub max: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Per upstream attempt, until its answer (a stream's first content) arrives.
    pub attempt: Option<String>,
    /// Longest pause within an attempt's answer once it streams; default: `attempt`.
    pub idle: Option<String>,
    /// For the whole client request, every attempt and back-off included.
    pub total: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    pub id: String,
    pub sha256: String,
    /// May be empty for a key that only uses MCP servers.
    #[serde(default)]
    pub models: Vec<String>,
    pub team: Option<String>,
    pub owner: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub rate_limits: Option<RateLimits>,
    pub payload_capture: Option<PayloadCapture>,
    /// MCP server name → what the key may use there.
    pub mcp: Option<BTreeMap<String, super::raw_mcp::McpScope>>,
}

/// Requests and tokens per minute of a key, and of each of its agents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
    pub per_agent: Option<AgentRateLimits>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentRateLimits {
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
}

/// The message for a secret written into the file. Raised while deserializing, so the
/// value is skipped unread and never reaches any later stage (or an error message).
pub const INLINE_SECRET: &str = "credentials are never written into the config file: \
     remove it and use `credential: {env: VAR}` or `credential: {file: /path/to/key}`";

const CREDENTIAL_FIELDS: &[&str] = &["env", "file", "optional"];
/// Field names people use for an inline secret; they get [`INLINE_SECRET`] instead of
/// the generic unknown-field error.
const INLINE_FIELDS: &[&str] = &["value", "key", "api_key", "secret", "token"];

// === impl Credential ===

// Hand-written instead of derived so an inline secret gets a dedicated message instead of
// "unknown field `value`, expected one of …", while keeping `deny_unknown_fields`
// semantics for everything else.
impl<'de> Deserialize<'de> for Credential {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CredentialVisitor;

        impl<'de> Visitor<'de> for CredentialVisitor {
            type Value = Credential;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping with `env: VAR` or `file: /path/to/key`")
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<Credential, E> {
                Err(E::custom(INLINE_SECRET))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Credential, A::Error> {
                let mut credential = Credential::default();
                while let Some(field) = map.next_key::<String>()? {
                    match field.as_str() {
                        "env" => set_once(&mut credential.env, map.next_value()?, "env")?,
                        "file" => set_once(&mut credential.file, map.next_value()?, "file")?,
                        "optional" => credential.optional = map.next_value()?,
                        f if INLINE_FIELDS.contains(&f) => {
                            map.next_value::<IgnoredAny>()?;
                            return Err(de::Error::custom(INLINE_SECRET));
                        }
                        f => return Err(de::Error::unknown_field(f, CREDENTIAL_FIELDS)),
                    }
                }
                Ok(credential)
            }
        }

        deserializer.deserialize_any(CredentialVisitor)
    }
}

fn set_once<E: de::Error>(
    slot: &mut Option<String>,
    value: String,
    field: &'static str,
) -> Result<(), E> {
    match slot.replace(value) {
        Some(_) => Err(E::duplicate_field(field)),
        None => Ok(()),
    }
}
