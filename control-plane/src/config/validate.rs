//! Raw document → [`Config`]: applies defaults, parses structured strings, resolves
//! references and collects every problem (not just the first) with its location.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tollgate_core::config::VirtualKeyConfig;
use tollgate_core::keys::parse_hex_digest;
use tollgate_core::ratelimit::KeyRateLimits;

use super::diagnostics::{Diagnostic, Location, Problem, Severity};
use super::kind::{
    bedrock_runtime_url, is_api_version, is_vertex_publisher_path, ProviderKind, AZURE_API_PATH,
    AZURE_V1_PATH,
};
use super::model::{
    AccessLog, Config, Credential, Model, Provider, Retry, SecretSource, Timeouts, Trigger,
};
use super::parse::{parse_duration, BaseUrl};
use super::raw;
use super::routing::Checker;
use super::spans::{field, item, Spans};
use super::FILE_VERSION;

// The one place defaults live.
const DEFAULT_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const DEFAULT_LISTEN_PORT: u16 = 8080;
const DEFAULT_ADMIN_PORT: u16 = 9901;
const DEFAULT_MAX_REQUEST_BYTES: u32 = 16 * 1024 * 1024;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
const MAX_ATTEMPTS: u32 = 5;
/// Default failure set: rate limits, server errors, timeouts, lost connections.
const DEFAULT_TRIGGERS: [Trigger; 8] = [
    Trigger::Status(429),
    Trigger::Status(500),
    Trigger::Status(502),
    Trigger::Status(503),
    Trigger::Status(504),
    Trigger::Timeout,
    Trigger::ConnectFailure,
    Trigger::Reset,
];
const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(250);
const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(5);
const DEFAULT_RETRY_AFTER_MAX: Duration = Duration::from_secs(10);

/// A configuration that passed validation, with the warnings it raised.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Parses and validates configuration text. Relative file paths in it are resolved
/// against `base_dir` (the config file's directory), so the rendered Envoy config does
/// not depend on the directory Envoy is started from.
///
/// On failure returns every diagnostic found, errors and warnings, in document order.
pub fn load(text: &str, base_dir: Option<&Path>) -> Result<Loaded, Vec<Diagnostic>> {
    let spans = Spans::index(text);
    let document = deserialize(text, &spans).map_err(|d| vec![d])?;
    let mut validator = Validator {
        spans: &spans,
        base_dir,
        found: Vec::new(),
    };
    let config = validator.document(document);
    let mut found = validator.found;
    found.sort_by_key(|d| d.location.map(|l| (l.line, l.column)));
    if found.iter().any(|d| d.severity() == Severity::Error) {
        Err(found)
    } else {
        Ok(Loaded {
            config,
            warnings: found,
        })
    }
}

/// Syntax and type errors stop at the first one: serde cannot continue past it.
fn deserialize(text: &str, spans: &Spans) -> Result<raw::Document, Diagnostic> {
    let deserializer = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let location = match inner.location() {
            Some(at) => Some(Location {
                line: at.line(),
                column: at.column(),
            }),
            None => spans.locate(&path),
        };
        Diagnostic {
            problem: Problem::Syntax(bare_message(&inner, &path)),
            path,
            location,
        }
    })
}

/// serde_yaml_ng's message without the position and the path prefix it adds (its path
/// names the enclosing value, a prefix of ours), since the diagnostic prints both.
fn bare_message(err: &serde_yaml_ng::Error, path: &str) -> String {
    let mut bare = err.to_string();
    if let Some(at) = err.location() {
        let position = format!(" at line {} column {}", at.line(), at.column());
        bare = bare.replacen(&position, "", 1);
    }
    match bare.split_once(": ") {
        Some((prefix, rest)) if path.starts_with(prefix) => rest.to_string(),
        _ => bare,
    }
}

pub(super) struct Validator<'a> {
    spans: &'a Spans,
    base_dir: Option<&'a Path>,
    found: Vec<Diagnostic>,
}

/// First path each value was seen at, for duplicate detection.
pub(super) type Seen = HashMap<String, String>;

// === impl Validator ===

impl Validator<'_> {
    pub(super) fn report(&mut self, path: &str, problem: Problem) {
        self.found.push(Diagnostic {
            path: path.to_string(),
            location: self.spans.locate(path),
            problem,
        });
    }

    /// Records `value` at `path`; reports it if it was seen before. Returns whether new.
    pub(super) fn unique(
        &mut self,
        seen: &mut Seen,
        what: &'static str,
        value: &str,
        path: &str,
    ) -> bool {
        match seen.get(value) {
            Some(first) => {
                let first = match self.spans.locate(first) {
                    Some(at) => format!("first at line {}", at.line),
                    None => format!("first at {first}"),
                };
                self.report(
                    path,
                    Problem::Duplicate {
                        what,
                        value: value.to_string(),
                        first,
                    },
                );
                false
            }
            None => {
                seen.insert(value.to_string(), path.to_string());
                true
            }
        }
    }

    fn document(&mut self, doc: raw::Document) -> Config {
        if doc.version != FILE_VERSION {
            self.report("version", Problem::Version { found: doc.version });
        }
        let listen = self.endpoint("listen", doc.listen, DEFAULT_LISTEN_PORT);
        let admin = self.endpoint("admin", doc.admin, DEFAULT_ADMIN_PORT);
        let overlap = |a: IpAddr, b: IpAddr| a == b || a.is_unspecified() || b.is_unspecified();
        if admin.port() == listen.port() && overlap(admin.ip(), listen.ip()) {
            self.report("admin", Problem::AdminClashesWithListener(admin));
        }
        let access_log = match doc.access_log.as_deref() {
            None | Some("stdout") => AccessLog::Stdout,
            Some("") => {
                self.report("access_log", Problem::Empty);
                AccessLog::Stdout
            }
            Some(path) => AccessLog::File(self.resolve(path)),
        };
        let max_request_bytes = match doc.limits.max_request_bytes {
            Some(0) => {
                self.report("limits.max_request_bytes", Problem::Zero);
                DEFAULT_MAX_REQUEST_BYTES
            }
            bytes => bytes.unwrap_or(DEFAULT_MAX_REQUEST_BYTES),
        };
        // Models may name a provider that has other errors; that is not "unknown".
        let declared: Vec<String> = doc.providers.iter().map(|p| p.name.clone()).collect();
        let providers = self.providers(doc.providers);
        let models = self.models(doc.models, &declared, &providers);
        for (i, provider) in providers.iter().enumerate() {
            if !models
                .iter()
                .any(|m| m.targets().any(|t| t.provider == provider.name))
            {
                let path = field(&item("providers", i), "name");
                self.report(&path, Problem::ProviderWithoutModels(provider.name.clone()));
            }
        }
        let rate_limit_defaults = self.rate_limits("rate_limits", doc.rate_limits.as_ref(), None);
        let mut mcp_servers = self.mcp_servers(doc.mcp_servers.unwrap_or_default());
        let keys = self.keys(doc.keys, &models, rate_limit_defaults, &mut mcp_servers);
        let key_ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
        let guardrails = doc
            .guardrails
            .map(|g| self.guardrails(g, &models, &key_ids));
        let prices = self.prices(doc.prices);
        let control_plane = doc.control_plane.map(|c| self.control_plane(c));
        if let Some(service) = &control_plane {
            if [listen, admin]
                .iter()
                .any(|a| a.port() == service.listen.port())
            {
                self.report("control_plane.listen", Problem::PortTaken(service.listen));
            }
        }
        let budgets = doc
            .budgets
            .map(|b| self.budgets(b, &key_ids, control_plane.is_some()));
        Config {
            listen,
            admin,
            access_log,
            max_request_bytes,
            providers,
            models,
            keys,
            rate_limit_defaults,
            guardrails,
            prices,
            control_plane,
            budgets,
            metrics: doc.metrics.and_then(|m| m.enabled).unwrap_or(true),
            mcp_servers,
        }
    }

    pub(super) fn endpoint(
        &mut self,
        path: &str,
        raw: raw::Endpoint,
        default_port: u16,
    ) -> SocketAddr {
        let ip = match raw.address {
            None => DEFAULT_ADDRESS,
            Some(text) => text.parse().unwrap_or_else(|_| {
                self.report(&field(path, "address"), Problem::NotAnIp(text));
                DEFAULT_ADDRESS
            }),
        };
        let port = match raw.port {
            Some(0) => {
                self.report(&field(path, "port"), Problem::PortZero);
                default_port
            }
            port => port.unwrap_or(default_port),
        };
        SocketAddr::new(ip, port)
    }

    pub(super) fn resolve(&self, path: &str) -> PathBuf {
        match self.base_dir {
            Some(dir) if Path::new(path).is_relative() => dir.join(path),
            _ => PathBuf::from(path),
        }
    }

    fn providers(&mut self, raws: Vec<raw::Provider>) -> Vec<Provider> {
        let mut names = Seen::new();
        let mut providers = Vec::with_capacity(raws.len());
        for (i, raw) in raws.into_iter().enumerate() {
            let path = item("providers", i);
            let name_path = field(&path, "name");
            self.identifier(&name_path, "provider name", &raw.name);
            let first = self.unique(&mut names, "provider", &raw.name, &name_path);
            let region = self.region(&path, raw.kind, raw.region);
            let regional_url = region.as_deref().map(bedrock_runtime_url);
            let base_url = match raw.base_url.as_deref().or(regional_url.as_deref()) {
                // Bedrock's address follows from its region, whose absence is reported.
                None if raw.kind.takes_region() => None,
                text => self.base_url(&path, raw.kind, text),
            };
            let api_version = self.api_version(&path, raw.kind, raw.api_version);
            if raw.credential.is_none() && raw.kind.needs_credential() {
                self.report(&field(&path, "kind"), Problem::NoCredential(raw.kind));
            }
            let credential = raw
                .credential
                .and_then(|c| self.credential(&field(&path, "credential"), c));
            let timeout = match raw.timeout {
                None => DEFAULT_TIMEOUT,
                Some(value) => parse_duration(&value).unwrap_or_else(|reason| {
                    self.report(
                        &field(&path, "timeout"),
                        Problem::Duration { value, reason },
                    );
                    DEFAULT_TIMEOUT
                }),
            };
            // Invalid entries are dropped here; the errors already make the load fail.
            if let (true, Some(base_url)) = (first, base_url) {
                providers.push(Provider {
                    name: raw.name,
                    kind: raw.kind,
                    base_url,
                    api_version,
                    credential,
                    region,
                    timeout,
                });
            }
        }
        providers
    }

    /// Bedrock needs a region (its host and its signing scope); no other kind has one.
    fn region(&mut self, path: &str, kind: ProviderKind, raw: Option<String>) -> Option<String> {
        let region_path = field(path, "region");
        match (kind.takes_region(), raw) {
            (true, None) => {
                self.report(path, Problem::RegionRequired);
                None
            }
            (true, Some(region)) if !is_region(&region) => {
                self.report(&region_path, Problem::BadRegion(region));
                None
            }
            (true, region) => region,
            (false, Some(_)) => {
                let field = "region";
                self.report(&region_path, Problem::NotForKind { field, kind });
                None
            }
            (false, None) => None,
        }
    }

    /// The provider's `base_url`, or its kind's default; `None` after reporting why not.
    fn base_url(&mut self, path: &str, kind: ProviderKind, text: Option<&str>) -> Option<BaseUrl> {
        let Some(text) = text.or(kind.default_base_url()) else {
            self.report(&field(path, "kind"), Problem::BaseUrlRequired(kind));
            return None;
        };
        let url_path = field(path, "base_url");
        let url = match BaseUrl::parse(text) {
            Ok(url) => url,
            Err(reason) => {
                let value = text.to_string();
                self.report(&url_path, Problem::BaseUrl { value, reason });
                return None;
            }
        };
        match kind {
            ProviderKind::Azure => {
                let v1 = [AZURE_API_PATH, AZURE_V1_PATH].concat();
                let extra = [v1.as_str(), AZURE_API_PATH]
                    .into_iter()
                    .find(|suffix| url.path.ends_with(suffix))
                    .map(str::to_string);
                if let Some(extra) = extra {
                    self.report(&url_path, Problem::AzureApiPath(extra));
                    return None;
                }
            }
            // The Gemini endpoints sit below a publisher path (Vertex AI) or an API version
            // (AI Studio).
            ProviderKind::Vertex if !is_vertex_publisher_path(&url.path) => {
                self.report(&url_path, Problem::VertexPath(url.path.clone()));
            }
            ProviderKind::Gemini if url.path.is_empty() => {
                self.report(&url_path, Problem::GeminiWithoutVersion);
            }
            _ => {}
        }
        Some(url)
    }

    fn api_version(
        &mut self,
        path: &str,
        kind: ProviderKind,
        version: Option<String>,
    ) -> Option<String> {
        let version = version?;
        let path = field(path, "api_version");
        if !kind.takes_api_version() {
            let field = "api_version";
            self.report(&path, Problem::NotForKind { field, kind });
            return None;
        }
        if !is_api_version(&version) {
            self.report(&path, Problem::ApiVersion(version));
            return None;
        }
        Some(version)
    }

    pub(super) fn credential(&mut self, path: &str, raw: raw::Credential) -> Option<Credential> {
        let source = match (raw.env, raw.file) {
            (Some(var), None) => {
                if !is_env_name(&var) {
                    self.report(&field(path, "env"), Problem::EnvName(var.clone()));
                }
                SecretSource::Env(var)
            }
            (None, Some(file)) => {
                if file.is_empty() {
                    self.report(&field(path, "file"), Problem::Empty);
                }
                SecretSource::File(self.resolve(&file))
            }
            _ => {
                self.report(path, Problem::CredentialSource);
                return None;
            }
        };
        Some(Credential {
            source,
            optional: raw.optional,
        })
    }

    fn models(
        &mut self,
        raws: Vec<raw::Model>,
        declared: &[String],
        providers: &[Provider],
    ) -> Vec<Model> {
        let mut aliases = Seen::new();
        // The short form (`provider` + `model`) is a one-target tree.
        let mut short = Vec::with_capacity(raws.len());
        for (i, raw) in raws.iter().enumerate() {
            let path = item("models", i);
            let alias_path = field(&path, "alias");
            if raw.alias == "*" || !is_token(&raw.alias) {
                let rule = "use printable characters without spaces, and not \"*\"";
                self.bad_name(&alias_path, "model alias", &raw.alias, rule);
            }
            self.unique(&mut aliases, "model alias", &raw.alias, &alias_path);
            short.push(match (&raw.provider, &raw.model, &raw.route) {
                (Some(provider), Some(model), None) => Some(raw::Node {
                    provider: Some(provider.clone()),
                    model: Some(model.clone()),
                    ..raw::Node::default()
                }),
                (None, None, Some(_)) => None,
                _ => {
                    self.report(&path, Problem::ModelShape);
                    None
                }
            });
        }
        let written: Vec<(&str, String, &raw::Node)> = raws
            .iter()
            .zip(&short)
            .enumerate()
            .filter_map(|(i, (raw, short))| {
                let path = item("models", i);
                let alias = raw.alias.as_str();
                match (short, &raw.route) {
                    (Some(node), _) => Some((alias, path, node)),
                    (None, Some(node)) => Some((alias, field(&path, "route"), node)),
                    (None, None) => None,
                }
            })
            .collect();
        let mut trees = HashMap::new();
        for (alias, path, node) in &written {
            trees
                .entry(alias.to_string())
                .or_insert((path.clone(), *node));
        }
        let mut checker = Checker {
            providers: declared,
            trees: &trees,
            found: Vec::new(),
        };
        for (_, path, node) in &written {
            checker.route(path, node);
        }
        let mut models = Vec::with_capacity(raws.len());
        for (i, raw) in raws.iter().enumerate() {
            let path = item("models", i);
            let lowered = checker.lower(&raw.alias);
            let retry = self.retry(&field(&path, "retry"), raw.retry.as_ref());
            let (attempt, idle, total) = self.timeouts(&path, raw.timeout.as_ref());
            let Some(lowered) = lowered else { continue };
            let mut model = Model {
                alias: raw.alias.clone(),
                rules: lowered.rules,
                arms: lowered.arms,
                retry,
                payload_capture: raw.payload_capture,
                timeouts: Timeouts {
                    attempt,
                    idle: idle.or(attempt),
                    total: total.unwrap_or_default(),
                },
            };
            if total.is_none() {
                // Without a total of its own an alias waits as long as its slowest provider.
                model.timeouts.total = model
                    .targets()
                    .filter_map(|t| providers.iter().find(|p| p.name == t.provider))
                    .map(|p| p.timeout)
                    .max()
                    .unwrap_or(DEFAULT_TIMEOUT);
            }
            self.features(&path, &model, raw.serves.as_deref(), providers);
            models.push(model);
        }
        for (path, problem) in checker.found {
            self.report(&path, problem);
        }
        models
    }

    fn retry(&mut self, path: &str, raw: Option<&raw::Retry>) -> Retry {
        let default = Retry {
            attempts: 1,
            on: DEFAULT_TRIGGERS.to_vec(),
            backoff_base: DEFAULT_BACKOFF_BASE,
            backoff_max: DEFAULT_BACKOFF_MAX,
            retry_after_max: Some(DEFAULT_RETRY_AFTER_MAX),
        };
        let Some(raw) = raw else { return default };
        let attempts = match raw.attempts {
            Some(n @ 1..=MAX_ATTEMPTS) => n,
            Some(n) => {
                self.report(&field(path, "attempts"), Problem::Attempts(n));
                1
            }
            None => 1,
        };
        let on = match &raw.on {
            None => default.on,
            Some(triggers) => {
                let on_path = field(path, "on");
                let mut on = Vec::with_capacity(triggers.len());
                for (i, trigger) in triggers.iter().enumerate() {
                    match parse_trigger(trigger) {
                        Some(t) => on.push(t),
                        None => {
                            let text = match trigger {
                                raw::Trigger::Status(code) => code.to_string(),
                                raw::Trigger::Named(name) => name.clone(),
                            };
                            self.report(&item(&on_path, i), Problem::UnknownTrigger(text));
                        }
                    }
                }
                on.sort_unstable();
                on.dedup();
                if let Some(problem) = envoy_trigger_problem(&on) {
                    self.report(&on_path, problem);
                }
                on
            }
        };
        let (backoff_base, backoff_max) = self.backoff(
            &field(path, "backoff"),
            raw.backoff.as_ref(),
            (DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_MAX),
        );
        let retry_after_max = self.duration(
            &field(path, "retry_after_max"),
            raw.retry_after_max.as_deref(),
            DEFAULT_RETRY_AFTER_MAX,
        );
        Retry {
            attempts,
            on,
            backoff_base,
            backoff_max,
            retry_after_max: Some(retry_after_max).filter(|d| !d.is_zero()),
        }
    }

    /// `(attempt, idle, total)`, each `None` when not written.
    fn timeouts(
        &mut self,
        path: &str,
        raw: Option<&raw::Timeouts>,
    ) -> (Option<Duration>, Option<Duration>, Option<Duration>) {
        let path = field(path, "timeout");
        let mut parse = |name: &str, text: Option<&String>| {
            text.map(|t| self.duration(&field(&path, name), Some(t), DEFAULT_TIMEOUT))
        };
        let attempt = parse("attempt", raw.and_then(|t| t.attempt.as_ref()));
        let idle = parse("idle", raw.and_then(|t| t.idle.as_ref()));
        let total = parse("total", raw.and_then(|t| t.total.as_ref()));
        (attempt, idle, total)
    }

    /// A duration field, or `default` when absent or (after reporting) invalid.
    /// A `backoff: {base, max}` pair; an absent max is at least the base.
    pub(super) fn backoff(
        &mut self,
        path: &str,
        raw: Option<&raw::Backoff>,
        (default_base, default_max): (Duration, Duration),
    ) -> (Duration, Duration) {
        let base = self.duration(
            &field(path, "base"),
            raw.and_then(|b| b.base.as_deref()),
            default_base,
        );
        let max = self.duration(
            &field(path, "max"),
            raw.and_then(|b| b.max.as_deref()),
            default_max.max(base),
        );
        if base > max || base.is_zero() {
            self.report(path, Problem::BackoffOrder);
        }
        (base, max)
    }

    pub(super) fn duration(
        &mut self,
        path: &str,
        text: Option<&str>,
        default: Duration,
    ) -> Duration {
        match text {
            None => default,
            Some(value) => parse_duration(value).unwrap_or_else(|reason| {
                let value = value.to_string();
                self.report(path, Problem::Duration { value, reason });
                default
            }),
        }
    }

    fn keys(
        &mut self,
        raws: Vec<raw::Key>,
        models: &[Model],
        rate_limit_defaults: Option<KeyRateLimits>,
        mcp_servers: &mut [super::mcp::McpServer],
    ) -> Vec<VirtualKeyConfig> {
        if raws.is_empty() {
            self.report("keys", Problem::NoKeys);
        }
        let mut ids = Seen::new();
        let mut hashes = Seen::new();
        let mut keys = Vec::with_capacity(raws.len());
        for (i, raw) in raws.into_iter().enumerate() {
            let path = item("keys", i);
            let id_path = field(&path, "id");
            self.identifier(&id_path, "key id", &raw.id);
            self.unique(&mut ids, "key id", &raw.id, &id_path);
            let hash_path = field(&path, "sha256");
            match parse_hex_digest(&raw.sha256) {
                Ok(_) => {
                    self.unique(&mut hashes, "key hash", &raw.sha256, &hash_path);
                }
                Err(_) => self.report(
                    &hash_path,
                    Problem::KeyHash {
                        hint: hash_hint(&raw.sha256),
                    },
                ),
            }
            self.key_models(&field(&path, "models"), &raw, models);
            if let Some(scope) = raw.mcp {
                self.key_mcp_scope(&field(&path, "mcp"), &raw.id, scope, mcp_servers);
            }
            for (name, value) in [("team", &raw.team), ("owner", &raw.owner)] {
                if let Some(value) = value.as_deref().filter(|v| !is_label(v)) {
                    let rule = "use printable characters";
                    self.bad_name(&field(&path, name), name, value, rule);
                }
            }
            let rate_limits = self.rate_limits(
                &field(&path, "rate_limits"),
                raw.rate_limits.as_ref(),
                rate_limit_defaults.as_ref(),
            );
            keys.push(VirtualKeyConfig {
                id: raw.id,
                sha256: raw.sha256,
                models: raw.models,
                team: raw.team,
                owner: raw.owner,
                metadata: raw.metadata,
                rate_limits,
                expires_unix_ms: None,
                previous_secrets: vec![],
                payload_capture: raw.payload_capture,
            });
        }
        keys
    }

    fn key_models(&mut self, path: &str, key: &raw::Key, models: &[Model]) {
        if key.models.is_empty() && key.mcp.is_none() {
            self.report(path, Problem::KeyWithoutModels(key.id.clone()));
        }
        let mut listed = HashSet::new();
        for (i, alias) in key.models.iter().enumerate() {
            let path = item(path, i);
            if !listed.insert(alias) {
                self.report(&path, Problem::Repeated(alias.clone()));
            } else if alias != "*" && !models.iter().any(|m| &m.alias == alias) {
                let known = list(models.iter().map(|m| m.alias.as_str()));
                let name = alias.clone();
                self.report(&path, Problem::UnknownAlias { name, known });
            }
        }
    }

    pub(super) fn identifier(&mut self, path: &str, what: &'static str, value: &str) {
        if !is_identifier(value) {
            let rule = "use letters, digits, '-' and '_', starting with a letter or digit";
            self.bad_name(path, what, value, rule);
        }
    }

    pub(super) fn bad_name(
        &mut self,
        path: &str,
        what: &'static str,
        value: &str,
        rule: &'static str,
    ) {
        let value = value.to_string();
        self.report(path, Problem::BadName { what, value, rule });
    }
}

/// Names that end up in Envoy resource and stat names (`provider.<name>`) and headers.
pub fn is_identifier(s: &str) -> bool {
    s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Aliases and model names: matched exactly in headers, so visible ASCII only.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic())
}

/// Free text that is copied into request headers (team, owner).
pub fn is_label(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_control)
}

fn parse_trigger(trigger: &raw::Trigger) -> Option<Trigger> {
    match trigger {
        raw::Trigger::Status(code @ 400..=599) => Some(Trigger::Status(*code)),
        raw::Trigger::Status(_) => None,
        raw::Trigger::Named(name) => match name.as_str() {
            "timeout" => Some(Trigger::Timeout),
            "connect-failure" => Some(Trigger::ConnectFailure),
            "reset" => Some(Trigger::Reset),
            _ => None,
        },
    }
}

/// Trigger sets Envoy's router cannot tell apart. It retries a per-attempt timeout (a
/// local reset) only under its `reset` condition (or `5xx`/`gateway-error`, which also
/// take resets), and `reset` retries every reset, connection failures included.
fn envoy_trigger_problem(on: &[Trigger]) -> Option<Problem> {
    let has = |t: Trigger| on.contains(&t);
    match (has(Trigger::Timeout), has(Trigger::Reset)) {
        (true, false) | (false, true) => Some(Problem::TriggersTogether(
            "Envoy retries an attempt timeout and a reset under one condition (`reset`): list both timeout and reset, or neither",
        )),
        (true, true) if !has(Trigger::ConnectFailure) => Some(Problem::TriggersTogether(
            "Envoy's `reset` condition (for timeout and reset) also retries connection failures: add connect-failure",
        )),
        _ => None,
    }
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`: lower-case letters, digits and dashes.
fn is_region(s: &str) -> bool {
    s.len() <= 32
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.contains('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub(super) fn is_env_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A hint for the common ways of getting `sha256` wrong. Never echoes the value: it may
/// be a plaintext key pasted by mistake.
fn hash_hint(value: &str) -> &'static str {
    if value.starts_with("tg-") {
        "; this looks like a plaintext key: store only its hash (`tollgate keys hash`) and rotate the key"
    } else if parse_hex_digest(&value.to_ascii_lowercase()).is_ok() {
        "; write it in lower case"
    } else {
        " (`tollgate keys hash` prints it)"
    }
}

/// The distinct names, in order, for "one of: …" hints.
pub(super) fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut distinct: Vec<&str> = Vec::new();
    for name in names {
        if !distinct.contains(&name) {
            distinct.push(name);
        }
    }
    let names = distinct;
    if names.is_empty() {
        "(none)".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
pub(super) mod tests;
