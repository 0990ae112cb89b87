//! The validated configuration: every default applied, every reference resolved, every
//! string parsed. Rendering works only from these types.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tollgate_core::config::VirtualKeyConfig;
use tollgate_core::formats::WireFormat;

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
    /// The `guardrails:` section, when there is one.
    pub guardrails: Option<super::guardrails::Guardrails>,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// Name clients use in `model`.
    pub alias: String,
    pub provider: String,
    /// Name the provider knows the model by.
    pub model: String,
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
    /// The aliases served by one provider, in configuration order.
    pub fn models_of<'a>(&'a self, provider: &'a str) -> impl Iterator<Item = &'a Model> + 'a {
        self.models.iter().filter(move |m| m.provider == provider)
    }
}

impl SecretSource {
    /// Says that this source is absent, e.g. "environment variable X is not set".
    pub fn absence(&self) -> String {
        match self {
            SecretSource::Env(var) => format!("environment variable {var} is not set"),
            SecretSource::File(path) => format!("file {} does not exist", path.display()),
        }
    }
}
