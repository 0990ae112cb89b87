//! Located findings about a configuration file: what is wrong, where, and how bad.

use std::fmt;

use super::kind::ProviderKind;
use super::parse::{DurationError, UrlError};
use super::FILE_VERSION;

/// Whether a finding stops the configuration from being used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// 1-based line and column in the configuration text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

/// Everything validation can find. Each variant's message is written for the person
/// editing the file and never repeats a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// YAML syntax or a value of the wrong type/shape, as reported by the deserializer.
    #[error("{0}")]
    Syntax(String),
    #[error("unsupported config version {found}; this tollgate reads version {FILE_VERSION}")]
    Version { found: u32 },
    #[error("expected an IP address such as 127.0.0.1 or ::1, found {0:?}")]
    NotAnIp(String),
    #[error("port must be between 1 and 65535")]
    PortZero,
    #[error("the admin endpoint {0} overlaps the gateway listener")]
    AdminClashesWithListener(std::net::SocketAddr),
    #[error("must be at least 1")]
    Zero,
    #[error("must be at most {0}")]
    AtMost(u64),
    #[error("must not be empty")]
    Empty,
    #[error("{value:?} is not a valid {what}: {rule}")]
    BadName {
        what: &'static str,
        value: String,
        rule: &'static str,
    },
    #[error("{what} {value:?} is already defined ({first})")]
    Duplicate {
        what: &'static str,
        value: String,
        /// Where the first definition is, e.g. `line 4`.
        first: String,
    },
    #[error("invalid base_url {value:?}: {reason}")]
    BaseUrl { value: String, reason: UrlError },
    #[error("kind {0} has no default address: set base_url")]
    BaseUrlRequired(ProviderKind),
    #[error(
        "base_url is the Azure resource endpoint (https://NAME.openai.azure.com); \
         leave out {0:?}: Tollgate adds /openai/… itself"
    )]
    AzureApiPath(String),
    #[error("a vertex base_url ends in /v1/projects/PROJECT/locations/REGION/publishers/google, \
             e.g. https://us-central1-aiplatform.googleapis.com/v1/projects/my-project/locations/us-central1/publishers/google \
             (its path here is {0:?})")]
    VertexPath(String),
    #[error("a gemini base_url names the API version, e.g. https://generativelanguage.googleapis.com/v1beta; \
             without it requests go to /models/… and fail")]
    GeminiWithoutVersion,
    #[error("{0:?} is not an Azure api-version (YYYY-MM-DD or YYYY-MM-DD-preview)")]
    ApiVersion(String),
    #[error("`{field}` does not apply to kind {kind}")]
    NotForKind {
        field: &'static str,
        kind: ProviderKind,
    },
    #[error(
        "a provider of kind {0} needs a credential; without one its API refuses every request"
    )]
    NoCredential(ProviderKind),
    #[error("a credential needs exactly one of `env: VAR` or `file: /path/to/key`")]
    CredentialSource,
    #[error("region is required for kind bedrock (e.g. us-east-1)")]
    RegionRequired,
    #[error("{0:?} is not an AWS region name such as us-east-1")]
    BadRegion(String),
    #[error("{0:?} is not an environment variable name (letters, digits and _, not starting with a digit)")]
    EnvName(String),
    #[error("invalid duration {value:?}: {reason}")]
    Duration {
        value: String,
        reason: DurationError,
    },
    #[error("unknown provider {name:?}; defined providers: {known}")]
    UnknownProvider { name: String, known: String },
    #[error("unknown model alias {name:?}; use \"*\" or one of: {known}")]
    UnknownAlias { name: String, known: String },
    #[error("sha256 must be the 64 lower-case hex digits of the key's SHA-256{hint}")]
    KeyHash { hint: &'static str },
    #[error("{0:?} is listed more than once")]
    Repeated(String),
    #[error("provider {0:?} has no models, so no request can reach it")]
    ProviderWithoutModels(String),
    #[error("key {0:?} has an empty model list, so it can use no model")]
    KeyWithoutModels(String),
    #[error("no keys are configured, so every request will be rejected with 401")]
    NoKeys,
    #[error("unknown {what} {value:?}; expected one of: {expected}")]
    Unknown {
        what: &'static str,
        value: String,
        expected: String,
    },
    /// A guardrail the filter's engine refuses, in its words (naming the rule).
    #[error("{0}")]
    Guardrail(String),
    #[error("{0}")]
    Database(crate::storage::DatabaseError),
    #[error("the database URL holds a password; leave it out and set PGPASSWORD instead, so the file holds no secret")]
    DatabasePassword,
    /// A problem in an MCP server or a key's MCP scope, in words.
    #[error("{0}")]
    Mcp(String),
    #[error("a model needs either `provider` and `model`, or `route`")]
    ModelShape,
    #[error("a route node needs exactly one of: `provider` with `model`, `alias`, `fallback`, `weighted`, `canary`, `conditional`")]
    RouteNodeShape,
    #[error("`weight` only applies to a member of a `weighted` pool")]
    WeightOutsidePool,
    #[error("the weights of this pool sum to zero, so no request could be routed")]
    ZeroWeights,
    #[error("canary percent must be above 0 and below 100, found {0}")]
    CanaryPercent(String),
    #[error("unknown model alias {name:?} in a route; defined aliases: {known}")]
    UnknownRouteAlias { name: String, known: String },
    #[error("alias references form a cycle: {0}")]
    Cycle(String),
    #[error("Envoy cannot route this: {0}")]
    NotExpressible(&'static str),
    #[error("provider {provider:?} serves two models ({first}, {second}) in one alias; declare a second provider entry for the second model")]
    ProviderTwice {
        provider: String,
        first: String,
        second: String,
    },
    #[error("attempts must be between 1 and 5, found {0}")]
    Attempts(u32),
    #[error("{0:?} is not a retry trigger: use a status code 400-599, timeout, connect-failure or reset")]
    UnknownTrigger(String),
    #[error("the back-off base must not exceed its max")]
    BackoffOrder,
    #[error("a price is USD per million tokens: at least 0, at most 1000000, with at most 6 decimals; found {0}")]
    Price(String),
    #[error("port {} is already the listener's or the admin endpoint's", .0.port())]
    PortTaken(std::net::SocketAddr),
    #[error("a batch may not be larger than the buffer (records and bytes)")]
    BatchExceedsBuffer,
    #[error(
        "batches may be at most {} bytes (what the service accepts)",
        tollgate_core::usage_outbox::MAX_BATCH_BYTES
    )]
    BatchTooLarge,
    #[error("{0}")]
    TriggersTogether(&'static str),
    #[error("provider {provider:?} (kind {kind}) cannot accept {lacking}, which this alias serves; remove it from the route or from `serves`")]
    FeaturesNotServed {
        provider: String,
        kind: ProviderKind,
        lacking: String,
    },
    /// `target` names the provider and its kind: `"b" (kind anthropic)`.
    #[error("provider {target} cannot accept {lacking}, which the primary {primary:?} accepts: such requests get a 400 when they reach it; declare what the alias serves (`serves: [tools, images, json-schema]`) to have the route checked")]
    FeaturesOfPrimary {
        target: String,
        lacking: String,
        /// Boxed: keeps `Problem` (and every `Result<_, Diagnostic>`) small.
        primary: Box<str>,
    },
    #[error("a test needs exactly one of: equals, in, matches (or a plain value for equals)")]
    TestShape,
    #[error("{0}")]
    Rule(tollgate_core::route_rules::RuleError),
    #[error("a conditional route needs a `default` route for the requests no rule matches")]
    NoDefault,
    #[error("alias {0:?} has a conditional route, which only the top of another route can name (`route: {{alias: {0}}}`)")]
    ConditionalReference(String),
    #[error("name exactly one export target: jsonl, webhook or otlp")]
    ExportTarget,
    #[error("invalid export URL {value:?}: {reason}")]
    ExportUrl { value: String, reason: UrlError },
    #[error("exports speak plain HTTP only (no TLS client here): export to a local collector or relay over http://")]
    ExportTls,
    #[error("a conditional route must be the whole route of an alias, since the gateway picks its branch before Envoy routes; nest fallbacks, pools and canaries inside its branches instead")]
    ConditionalNotAtTop,
    #[error("a budget applies to exactly one of: key, team, agent")]
    BudgetScope,
    #[error("limit_usd must be more than 0 and at most 1000000000; found {0}")]
    LimitUsd(String),
    #[error("a threshold is a percentage of the limit, 1 to 100; found {0}")]
    Percent(u64),
    #[error("key {0:?} is not among this file's keys (fine for a key issued through the key API)")]
    BudgetKeyNotInFile(String),
    #[error("budgets need a `control_plane:` section: the service counts what every Envoy spends and sends alerts")]
    BudgetsWithoutControlPlane,
    #[error(
        "the alert webhook must be plain http:// (the service has no TLS client); found {0:?}"
    )]
    AlertWebhookTls(String),
}

impl Problem {
    pub fn severity(&self) -> Severity {
        match self {
            Problem::ProviderWithoutModels(_)
            | Problem::NoCredential(_)
            | Problem::KeyWithoutModels(_)
            | Problem::NoKeys
            | Problem::GeminiWithoutVersion
            | Problem::Repeated(_)
            | Problem::DatabasePassword
            | Problem::BudgetKeyNotInFile(_)
            | Problem::FeaturesOfPrimary { .. } => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// One finding, located by its path in the document (`models[2].provider`) and, when the
/// text could be indexed, by line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: String,
    pub location: Option<Location>,
    pub problem: Problem,
}

impl Diagnostic {
    pub fn severity(&self) -> Severity {
        self.problem.severity()
    }

    /// `origin:line:column: severity: path: message`, the shape editors and terminals
    /// turn into links.
    pub fn display<'a>(&'a self, origin: &'a str) -> impl fmt::Display + 'a {
        DisplayIn {
            diagnostic: self,
            origin,
        }
    }
}

struct DisplayIn<'a> {
    diagnostic: &'a Diagnostic,
    origin: &'a str,
}

impl fmt::Display for DisplayIn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.diagnostic;
        write!(f, "{}", self.origin)?;
        if let Some(at) = d.location {
            write!(f, ":{}:{}", at.line, at.column)?;
        }
        let severity = match d.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {severity}: ")?;
        if d.path != "." {
            write!(f, "{}: ", d.path)?;
        }
        write!(f, "{}", d.problem)
    }
}
