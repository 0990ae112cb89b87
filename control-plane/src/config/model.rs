//! The validated configuration: every default applied, every reference resolved, every
//! string parsed. Rendering works only from these types.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tollgate_core::capture::PayloadCapture;
use tollgate_core::config::VirtualKeyConfig;
use tollgate_core::cost::Price;
use tollgate_core::formats::WireFormat;
use tollgate_core::ratelimit::KeyRateLimits;
use tollgate_core::route_rules::Condition;

pub use super::kind::{CredentialHeader, ProviderKind};
pub use super::parse::{BaseUrl, Host};

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where clients reach the gateway.
    pub listen: SocketAddr,
    /// Envoy's admin endpoint (stats, config dump, `/ready`).
    pub admin: SocketAddr,
    pub access_log: AccessLog,
    /// Largest request body the gateway buffers; applied to the listener and every
    /// provider cluster, since translation needs the whole body.
    pub max_request_bytes: u32,
    pub providers: Vec<Provider>,
    pub models: Vec<Model>,
    /// Virtual keys, already in the filter's contract shape.
    pub keys: Vec<VirtualKeyConfig>,
    /// The top-level `rate_limits:` defaults. Already applied to `keys`; kept for the keys
    /// managed at runtime.
    pub rate_limit_defaults: Option<KeyRateLimits>,
    /// The `guardrails:` section, when there is one.
    pub guardrails: Option<super::guardrails::Guardrails>,
    /// Upstream model → price: the shipped table with the config's overrides.
    pub prices: BTreeMap<String, Price>,
    /// The `control_plane:` section: when present, Envoy ships usage records to it.
    pub control_plane: Option<super::control_plane::ControlPlane>,
    /// The `budgets:` section, when there is one.
    pub budgets: Option<super::budgets::Budgets>,
    /// Whether the provider filters keep Prometheus metrics (`metrics.enabled`, default on).
    pub metrics: bool,
    /// The `mcp_servers:` section, with each server's key scopes.
    pub mcp_servers: Vec<super::mcp::McpServer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLog {
    Stdout,
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    /// As written, or the kind's default.
    pub base_url: BaseUrl,
    /// Azure OpenAI's `api-version` (classic deployment API); `None` everywhere else.
    pub api_version: Option<String>,
    /// The provider's secret, injected as a header. `None` means no credential, except for
    /// Bedrock, which then signs requests with SigV4 from Envoy's AWS credential chain.
    pub credential: Option<Credential>,
    /// AWS region, for Bedrock only: the default host and the SigV4 scope.
    pub region: Option<String>,
    /// Route timeout for requests to this provider; zero disables it.
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub source: SecretSource,
    /// When the secret is absent at render time, skip the provider instead of failing.
    pub optional: bool,
}

/// Where Envoy reads a provider's secret from. Envoy reads it itself, so the secret never
/// passes through Tollgate or any rendered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    /// Absolute, or relative to the config file's directory at load time.
    File(PathBuf),
}

/// A model alias and how its requests are routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// Name clients use in `model`.
    pub alias: String,
    /// A conditional route's rules, in order: the first that matches serves the request.
    /// Empty for every other route.
    pub rules: Vec<Rule>,
    /// The default branch (the whole route when there are no rules). Traffic split
    /// between arms by weight; each arm is a fallback chain. Almost always one arm;
    /// several only for a weighted pool or canary whose members are chains.
    pub arms: Vec<Arm>,
    pub retry: Retry,
    pub timeouts: Timeouts,
    /// How much content its step records keep; `None`: the key's setting or the default.
    pub payload_capture: Option<PayloadCapture>,
}

/// A branch of a conditional route: the requests `when` matches, and the arms serving them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub when: Condition,
    pub arms: Vec<Arm>,
}

/// A share of an alias's traffic and the chain that serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arm {
    /// Relative to the other arms of the alias.
    pub weight: u32,
    /// Tried in order: the next step when an attempt fails with a retry trigger.
    pub steps: Vec<Step>,
}

/// One fallback step: a pool of targets, one picked by weight per attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub targets: Vec<Target>,
}

/// A provider and the name it knows the model by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub provider: String,
    pub model: String,
    /// Relative to the other targets of its step.
    pub weight: u32,
}

/// When and how often an alias's attempts are retried or failed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// Attempts per fallback step, the first included (1-5).
    pub attempts: u32,
    pub on: Vec<Trigger>,
    /// Exponential back-off with full jitter between attempts.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Longest provider `retry-after` waited for; `None` ignores the header.
    pub retry_after_max: Option<Duration>,
}

/// What makes an attempt count as failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    Status(u16),
    /// The attempt's own timeout expired. Envoy retries it under `reset` only, so
    /// validation requires `Reset` (and `ConnectFailure`) with it.
    Timeout,
    /// The connection to the provider could not be made.
    ConnectFailure,
    /// The provider reset or closed the connection before answering (Envoy's `reset`).
    Reset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Per upstream attempt, until its answer starts: the provider filter holds a stream's
    /// headers until its first content, and Envoy ignores this timeout once the response
    /// has started. `None` leaves only the total.
    pub attempt: Option<Duration>,
    /// Longest pause between the pieces of an attempt's answer, streams included.
    pub idle: Option<Duration>,
    /// For the whole request; zero disables it.
    pub total: Duration,
}

impl Model {
    /// Every target of every arm of every branch, rules first (a provider may appear
    /// more than once).
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.rules
            .iter()
            .flat_map(|rule| &rule.arms)
            .chain(&self.arms)
            .flat_map(|arm| arm.steps.iter())
            .flat_map(|step| step.targets.iter())
    }

    /// The first target of the default branch: the provider `/v1/models` names.
    pub fn primary(&self) -> Option<&Target> {
        self.arms
            .iter()
            .flat_map(|arm| &arm.steps)
            .flat_map(|step| &step.targets)
            .next()
    }

    /// Removes the targets of `provider`, then empty steps, arms and rules (whose requests
    /// then go to the next rule that matches, or the default).
    pub fn drop_provider(&mut self, provider: &str) {
        drop_from(&mut self.arms, provider);
        for rule in &mut self.rules {
            drop_from(&mut rule.arms, provider);
        }
        self.rules.retain(|r| !r.arms.is_empty());
    }
}

fn drop_from(arms: &mut Vec<Arm>, provider: &str) {
    for arm in arms.iter_mut() {
        for step in &mut arm.steps {
            step.targets.retain(|t| t.provider != provider);
        }
        arm.steps.retain(|s| !s.targets.is_empty());
    }
    arms.retain(|a| !a.steps.is_empty());
}

impl Provider {
    pub fn format(&self) -> WireFormat {
        self.kind.format()
    }

    /// The path prefix of the provider's API, which the wire format's endpoints hang off.
    pub fn api_base_path(&self) -> String {
        self.kind
            .api_base_path(&self.base_url.path, self.api_version.as_deref())
    }
}

impl Config {
    /// `(alias, upstream model)` for every alias one provider serves, in configuration
    /// order. Validation allows one model per provider and alias, so aliases are unique.
    pub fn models_of<'a>(
        &'a self,
        provider: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.models.iter().filter_map(move |m| {
            let target = m.targets().find(|t| t.provider == provider)?;
            Some((m.alias.as_str(), target.model.as_str()))
        })
    }
}

impl SecretSource {
    /// Says that this source is absent, e.g. "environment variable X is not set".
    pub fn absence(&self) -> String {
        match self {
            SecretSource::Env(var) => format!("environment variable {var} is not set"),
            SecretSource::File(path) => format!(
                "file {} is missing, empty or writable by others",
                path.display()
            ),
        }
    }
}
