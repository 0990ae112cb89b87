//! The guardrail policy of a provider filter: every guardrail with the stages it guards and
//! the requests it applies to, compiled once per configuration.
//!
//! A request's engine set depends on its key, team and alias, so the union is compiled the
//! first time a combination is seen and cached for the life of the configuration: never per
//! request, and configuration errors surface in [`CompiledPolicy::new`] (each guardrail is
//! compiled alone there; a union of valid guardrails with distinct names always compiles).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::guard::injection::InjectionRules;
use crate::guard::schema::RequestSchemas;
use crate::guard::{
    Action, CompiledGuardrails, GuardConfigError, GuardrailConfig, GuardrailsConfig, HoldBack,
};
use crate::model::Request;

use super::injection::{InjectionCheck, InjectionGuard};
use super::schema::{SchemaCache, SchemaCheck};

use super::moderation::ModerationCheck;
use super::webhook::Callout;

/// Every guardrail a provider filter may run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GuardrailPolicy {
    pub guardrails: Vec<StagedGuardrail>,
    /// Characters a guarded stream holds back at least; never less than the rules' own
    /// bound ([`HoldBack`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_back_chars: Option<u32>,
}

/// One guardrail, where it applies and what it checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StagedGuardrail {
    /// `input`: the request's messages; `output`: the answer. At least one.
    pub stages: Vec<Stage>,
    /// Which requests; empty: every request.
    #[serde(default, skip_serializing_if = "Scope::is_global")]
    pub scope: Scope,
    pub check: Check,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    Input,
    Output,
}

/// A guardrail applies to a request when its scope is empty or the request's key, team or
/// model alias is listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
}

/// What a guardrail checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Check {
    /// Engine rules, evaluated in the filter.
    Rules(GuardrailConfig),
    /// An external HTTP check.
    Webhook(WebhookCheck),
    /// A provider moderation endpoint, called like a webhook.
    Moderation(ModerationCheck),
    /// Prompt-injection heuristics (input only).
    Injection(InjectionCheck),
    /// Tool arguments and structured answers against the request's schemas.
    Schema(SchemaCheck),
}

/// An external check called from the filter through an Envoy cluster; also the endpoint
/// of a moderation guardrail.
///
/// The filter POSTs `{"guardrail", "stage", "alias", "keyId", "team", "texts": [...]}` (the
/// request's or the whole answer's texts after the rule guardrails redacted them) and
/// expects `200` with `{"action": "allow"}` or `{"action": "deny", "category": "..."}`.
/// Anything else, or no answer within the timeout, is a failure, handled as `failure`
/// says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookCheck {
    pub name: String,
    /// Envoy cluster the control plane rendered for the webhook's address.
    pub cluster: String,
    /// `:authority` and `:path` of the call.
    pub authority: String,
    pub path: String,
    pub timeout_ms: u32,
    pub failure: WebhookFailure,
}

/// What a failed webhook call means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WebhookFailure {
    /// Let the request through (the failure is logged).
    Open,
    /// Refuse the request.
    Closed,
}

/// Why a policy was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(transparent)]
    Rules(#[from] GuardConfigError),
    #[error("guardrail `{0}` is defined twice")]
    Duplicate(String),
    #[error("guardrail `{0}` names no stage")]
    NoStage(String),
    #[error("guardrail `{0}` can only guard the input")]
    InputOnly(String),
    #[error("guardrail `{0}` judges whole texts: its action is deny or flag, not redact")]
    CannotRedact(String),
    #[error("guardrail `{0}` checks nothing: list at least one source or target")]
    ChecksNothing(String),
    #[error("the injection rule set does not compile: {0}")]
    InjectionRules(#[from] regex::Error),
}

/// Who is asking: what scopes are matched against.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestScope<'a> {
    pub key_id: Option<&'a str>,
    pub team: Option<&'a str>,
    pub alias: Option<&'a str>,
}

/// The guardrails that apply to one request.
#[derive(Clone, Default)]
pub struct Selection {
    pub input: Option<Arc<CompiledGuardrails>>,
    pub output: Option<Arc<CompiledGuardrails>>,
    /// Callouts on the request, after the input rules, in configuration order.
    pub input_callouts: Vec<Callout>,
    /// Callouts on the whole answer, after the output rules.
    pub output_callouts: Vec<Callout>,
    pub injection: Option<InjectionGuard>,
    /// Schema checks of the history's tool calls, and of the answer.
    pub input_schemas: Vec<SchemaCheck>,
    pub output_schemas: Vec<SchemaCheck>,
    pub hold_back: HoldBack,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.input.is_none()
            && self.output.is_none()
            && self.input_callouts.is_empty()
            && self.output_callouts.is_empty()
            && self.injection.is_none()
            && self.input_schemas.is_empty()
            && self.output_schemas.is_empty()
    }
}

/// A validated policy with its cache of compiled engine sets.
pub struct CompiledPolicy {
    policy: GuardrailPolicy,
    compiled: Mutex<Compiled>,
    /// The injection heuristics, when some guardrail uses them; compiled once.
    injection: Option<Arc<InjectionRules>>,
    /// Recently compiled request schemas, for schema checks.
    schemas: SchemaCache,
}

/// Indices of the rule guardrails of one stage → their compiled union.
type Compiled = BTreeMap<(Stage, Vec<usize>), Arc<CompiledGuardrails>>;

impl CompiledPolicy {
    pub fn new(policy: GuardrailPolicy) -> Result<Self, PolicyError> {
        let mut names = HashSet::new();
        for staged in &policy.guardrails {
            let name = staged.check.name();
            if !names.insert(name) {
                return Err(PolicyError::Duplicate(name.to_owned()));
            }
            if staged.stages.is_empty() {
                return Err(PolicyError::NoStage(name.to_owned()));
            }
            match &staged.check {
                Check::Rules(rules) => {
                    CompiledGuardrails::try_from(&GuardrailsConfig {
                        guardrails: vec![rules.clone()],
                    })?;
                }
                Check::Webhook(_) | Check::Moderation(_) => {}
                Check::Injection(check) => {
                    if staged.stages.contains(&Stage::Output) {
                        return Err(PolicyError::InputOnly(name.to_owned()));
                    }
                    whole_text_check(name, check.action, check.sources.is_empty())?;
                }
                Check::Schema(check) => {
                    whole_text_check(name, check.action, check.targets.is_empty())?;
                }
            }
        }
        let injection = policy
            .guardrails
            .iter()
            .any(|g| matches!(g.check, Check::Injection(_)))
            .then(InjectionRules::new)
            .transpose()?
            .map(Arc::new);
        Ok(CompiledPolicy {
            policy,
            compiled: Mutex::new(BTreeMap::new()),
            injection,
            schemas: SchemaCache::default(),
        })
    }

    /// The request's tool and response schemas, compiled (or recently compiled).
    pub fn request_schemas(&self, request: &Request) -> Arc<RequestSchemas> {
        self.schemas.get(request)
    }

    /// Whether some guardrail is a schema check (for any request).
    pub fn has_schema_checks(&self) -> bool {
        self.policy
            .guardrails
            .iter()
            .any(|g| matches!(g.check, Check::Schema(_)))
    }

    /// The guardrails for one request; compiled sets are shared between requests.
    pub fn select(&self, who: RequestScope) -> Selection {
        let applies = |staged: &&StagedGuardrail| staged.scope.matches(who);
        let rules_for = |stage: Stage| -> Vec<usize> {
            self.policy
                .guardrails
                .iter()
                .enumerate()
                .filter(|(_, g)| applies(g) && g.stages.contains(&stage))
                .filter(|(_, g)| matches!(g.check, Check::Rules(_)))
                .map(|(i, _)| i)
                .collect()
        };
        let callouts_for = |stage: Stage| -> Vec<Callout> {
            self.policy
                .guardrails
                .iter()
                .filter(|g| applies(g) && g.stages.contains(&stage))
                .filter_map(|g| g.check.callout())
                .collect()
        };
        let injection_checks: Vec<InjectionCheck> = self
            .policy
            .guardrails
            .iter()
            .filter(applies)
            .filter_map(|g| match &g.check {
                Check::Injection(c) => Some(c.clone()),
                _ => None,
            })
            .collect();
        let injection = match (&self.injection, injection_checks.is_empty()) {
            (Some(rules), false) => Some(InjectionGuard {
                rules: Arc::clone(rules),
                checks: injection_checks,
            }),
            _ => None,
        };
        let schemas_for = |stage: Stage| -> Vec<SchemaCheck> {
            self.policy
                .guardrails
                .iter()
                .filter(|g| applies(g) && g.stages.contains(&stage))
                .filter_map(|g| match &g.check {
                    Check::Schema(c) => Some(c.clone()),
                    _ => None,
                })
                .collect()
        };
        Selection {
            input: self.compiled(Stage::Input, rules_for(Stage::Input)),
            output: self.compiled(Stage::Output, rules_for(Stage::Output)),
            input_callouts: callouts_for(Stage::Input),
            output_callouts: callouts_for(Stage::Output),
            injection,
            input_schemas: schemas_for(Stage::Input),
            output_schemas: schemas_for(Stage::Output),
            hold_back: self
                .policy
                .hold_back_chars
                .map_or(HoldBack::Auto, |c| HoldBack::Chars(c as usize)),
        }
    }

    fn compiled(&self, stage: Stage, indices: Vec<usize>) -> Option<Arc<CompiledGuardrails>> {
        if indices.is_empty() {
            return None;
        }
        // A poisoned lock only means another request panicked mid-insert; the map is intact.
        let mut cache = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        let key = (stage, indices);
        if let Some(found) = cache.get(&key) {
            return Some(Arc::clone(found));
        }
        let config = GuardrailsConfig {
            guardrails: key
                .1
                .iter()
                .filter_map(|&i| match &self.policy.guardrails[i].check {
                    Check::Rules(rules) => Some(rules.clone()),
                    _ => None,
                })
                .collect(),
        };
        // Each guardrail compiled alone in `new` and names are distinct, so the union does.
        let compiled = Arc::new(CompiledGuardrails::try_from(&config).ok()?);
        cache.insert(key, Arc::clone(&compiled));
        Some(compiled)
    }
}

impl Check {
    pub fn name(&self) -> &str {
        match self {
            Check::Rules(rules) => &rules.name,
            Check::Webhook(webhook) => &webhook.name,
            Check::Moderation(moderation) => &moderation.endpoint.name,
            Check::Injection(check) => &check.name,
            Check::Schema(check) => &check.name,
        }
    }

    /// The check as a callout, when an external endpoint answers it.
    fn callout(&self) -> Option<Callout> {
        match self {
            Check::Rules(_) | Check::Injection(_) | Check::Schema(_) => None,
            Check::Webhook(webhook) => Some(Callout::Webhook(webhook.clone())),
            Check::Moderation(moderation) => Some(Callout::Moderation(moderation.clone())),
        }
    }
}

/// Injection and schema checks judge a whole text: no redaction, and something to check.
fn whole_text_check(name: &str, action: Action, checks_nothing: bool) -> Result<(), PolicyError> {
    if action == Action::Redact {
        return Err(PolicyError::CannotRedact(name.to_owned()));
    }
    if checks_nothing {
        return Err(PolicyError::ChecksNothing(name.to_owned()));
    }
    Ok(())
}

impl Scope {
    pub fn is_global(&self) -> bool {
        self.keys.is_empty() && self.teams.is_empty() && self.models.is_empty()
    }

    pub(crate) fn matches(&self, who: RequestScope) -> bool {
        let listed = |list: &[String], value: Option<&str>| {
            value.is_some_and(|v| list.iter().any(|l| l == v))
        };
        self.is_global()
            || listed(&self.keys, who.key_id)
            || listed(&self.teams, who.team)
            || listed(&self.models, who.alias)
    }
}
