//! The user's configuration file: its strict YAML shape ([`raw`]), the validated model
//! ([`Config`]), and [`load`], which turns one into the other with located diagnostics.

mod budgets;
mod conditions;
mod control_plane;
mod diagnostics;
mod exports;
mod features;
mod guardrails;
mod kind;
mod mcp;
mod model;
mod parse;
mod prices;
mod ratelimits;
mod raw;
mod raw_budgets;
mod raw_conditions;
mod raw_control_plane;
mod raw_guardrails;
mod raw_mcp;
mod routing;
mod spans;
#[cfg(test)]
mod test_support;
mod validate;

use std::path::{Path, PathBuf};

pub use budgets::{BudgetLimit, Budgets};
pub use control_plane::{millis, AdminKey, ControlPlane, UsageShipping};

pub use diagnostics::{Diagnostic, Location, Problem, Severity};
pub use exports::{Delivery, Export, ExportTarget};
pub use guardrails::{webhook_cluster, CalloutEndpoint, Guardrails};
pub use mcp::{mcp_cluster, mcp_path, McpServer, McpTransport};
pub use model::{
    AccessLog, Arm, BaseUrl, Config, Credential, CredentialHeader, Host, Model, Provider,
    ProviderKind, Retry, Rule, SecretSource, Step, Target, Timeouts, Trigger,
};
pub use parse::{parse_duration, DurationError, UrlError};
pub use prices::PRICE_TABLE;
pub use validate::{is_identifier, is_label, is_token, load, Loaded};

/// Version of the configuration file format this build reads.
pub const FILE_VERSION: u32 = 1;

/// The configuration used when none is given: demo providers backed by the project's
/// mock provider, plus real providers that switch on when their API key is set.
pub const DEFAULT_CONFIG: &str = include_str!("../../../envoy/tollgate.default.yaml");

/// Plaintext of the default config's only key. Public on purpose: it lets the demo work
/// out of the box, and `run` shows it in its example request.
pub const DEMO_KEY: &str = "tg-demo-key-change-me";

/// Where a configuration comes from.
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    BuiltIn,
}

impl Source {
    /// The file if one was given, else the built-in default.
    pub fn from_arg(path: Option<PathBuf>) -> Source {
        path.map_or(Source::BuiltIn, Source::File)
    }

    /// Name used in diagnostics.
    pub fn name(&self) -> String {
        match self {
            Source::File(path) => path.display().to_string(),
            Source::BuiltIn => "<built-in default config>".to_string(),
        }
    }

    pub fn read(&self) -> std::io::Result<String> {
        match self {
            Source::File(path) => std::fs::read_to_string(path),
            Source::BuiltIn => Ok(DEFAULT_CONFIG.to_string()),
        }
    }

    /// Absolute directory that relative paths in the file are resolved against.
    pub fn base_dir(&self) -> Option<PathBuf> {
        match self {
            Source::File(path) => std::path::absolute(path)
                .ok()?
                .parent()
                .map(Path::to_path_buf),
            Source::BuiltIn => None,
        }
    }
}
