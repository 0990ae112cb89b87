//! Validating the `guardrails:` section into the provider filters' [`GuardrailPolicy`],
//! the gateway filter's admission checks (models, metadata), and the callout endpoints
//! (webhooks, moderation) the renderer needs clusters for. Every rule is compiled here with
//! the filter's own engine, so a configuration the filter would refuse never renders.

use std::collections::BTreeMap;

use tollgate_core::guard::schema::SchemaTarget;
use tollgate_core::guard::{
    Action, CompiledGuardrails, GuardrailConfig, GuardrailsConfig, PiiEntity, RuleConfig,
};
use tollgate_core::guardrails::admission::{MetadataRule, ModelPatterns, ModelsRule};
use tollgate_core::guardrails::{
    AdmissionCheck, AdmissionRule, Check, GuardrailPolicy, InjectionCheck, InjectionSource,
    ModerationAction, ModerationCheck, SchemaCheck, Scope, Stage, StagedGuardrail, WebhookCheck,
    WebhookFailure,
};

use super::diagnostics::Problem;
use super::model::{BaseUrl, Model, SecretSource};
use super::parse::parse_duration;
use super::raw_guardrails as raw;
use super::spans::{field, item};
use super::validate::{is_identifier, Validator};

const DEFAULT_WEBHOOK_TIMEOUT_MS: u32 = 1000;

/// The validated section.
#[derive(Debug, Clone, PartialEq)]
pub struct Guardrails {
    pub policy: GuardrailPolicy,
    /// Checks the gateway filter settles before routing.
    pub admission: Vec<AdmissionCheck>,
    /// Endpoints of the webhook and moderation guardrails, for their clusters.
    pub callouts: Vec<CalloutEndpoint>,
}

/// Where a callout guardrail is reached, and the secret Envoy puts on its calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalloutEndpoint {
    pub guardrail: String,
    pub url: BaseUrl,
    /// Sent as `authorization: Bearer …` by Envoy; never seen by the filter.
    pub credential: Option<SecretSource>,
}

/// Envoy cluster of a webhook guardrail.
pub fn webhook_cluster(name: &str) -> String {
    format!("guardrail.{name}")
}

impl Validator<'_> {
    pub(super) fn guardrails(
        &mut self,
        raw: raw::Guardrails,
        models: &[Model],
        key_ids: &[&str],
    ) -> Guardrails {
        let mut seen = super::validate::Seen::new();
        let mut out = Guardrails {
            policy: GuardrailPolicy {
                guardrails: Vec::new(),
                hold_back_chars: raw.hold_back_chars,
            },
            admission: Vec::new(),
            callouts: Vec::new(),
        };
        for (i, check) in raw.checks.into_iter().enumerate() {
            let path = item("guardrails.checks", i);
            let name_path = field(&path, "name");
            if !is_identifier(&check.name) {
                let rule = "use letters, digits, `-` and `_`, starting with a letter";
                self.bad_name(&name_path, "guardrail name", &check.name, rule);
                continue;
            }
            if !self.unique(&mut seen, "guardrail", &check.name, &name_path) {
                continue;
            }
            self.scope_refs(&path, &check.scope, models, key_ids);
            // An injection check reads what re-enters the conversation: the input.
            let default_stages = if check.injection.is_some() {
                &[Stage::Input][..]
            } else {
                &[Stage::Input, Stage::Output]
            };
            let stages = self.stages(&path, check.stages.as_deref(), default_stages);
            let scope = Scope {
                keys: check.scope.keys,
                teams: check.scope.teams,
                models: check.scope.models,
            };
            let kinds = [
                !check.rules.is_empty(),
                check.webhook.is_some(),
                check.moderation.is_some(),
                check.models.is_some(),
                check.metadata.is_some(),
                check.injection.is_some(),
                check.schema.is_some(),
            ];
            if kinds.iter().filter(|&&k| k).count() != 1 {
                let what = "needs exactly one of `rules`, `webhook`, `moderation`, `models`, \
                            `metadata`, `injection`, `schema`";
                self.report(&path, Problem::Guardrail(what.into()));
                continue;
            }
            let admission = match (check.models, check.metadata) {
                (Some(models), _) => Some(self.models_rule(&path, models)),
                (_, Some(metadata)) => Some(self.metadata_rule(&path, metadata)),
                (None, None) => None,
            };
            if let Some(rule) = admission {
                self.admission_only(&path, check.stages.is_some(), check.action.as_deref());
                if let Some(rule) = rule {
                    out.admission.push(AdmissionCheck {
                        name: check.name,
                        scope,
                        rule,
                    });
                }
                continue;
            }
            let checked = if let Some(webhook) = check.webhook {
                if check.action.is_some() {
                    let what = "a webhook decides itself: it takes no `action`";
                    self.report(&field(&path, "action"), Problem::Guardrail(what.into()));
                }
                self.webhook(&path, &check.name, webhook, &mut out)
            } else if let Some(moderation) = check.moderation {
                self.moderation(&path, &check.name, check.action, moderation, &mut out)
            } else if let Some(injection) = check.injection {
                self.injection(&path, check.name, check.action, injection)
            } else if let Some(schema) = check.schema {
                self.schema(&path, check.name, check.action, schema)
            } else {
                self.rules(
                    &path,
                    check.name,
                    check.action,
                    check.reversible,
                    check.rules,
                )
            };
            if let Some(check) = checked {
                if matches!(check, Check::Injection(_)) && stages.contains(&Stage::Output) {
                    let message = "an injection guardrail guards the input only";
                    self.report(&field(&path, "stages"), Problem::Guardrail(message.into()));
                }
                out.policy.guardrails.push(StagedGuardrail {
                    stages,
                    scope,
                    check,
                });
            }
        }
        out
    }

    fn stages(&mut self, path: &str, raw: Option<&[String]>, default: &[Stage]) -> Vec<Stage> {
        let Some(raw) = raw else {
            return default.to_vec();
        };
        if raw.is_empty() {
            self.report(&field(path, "stages"), Problem::Empty);
        }
        let mut stages = Vec::new();
        for (i, stage) in raw.iter().enumerate() {
            match stage.as_str() {
                "input" => stages.push(Stage::Input),
                "output" => stages.push(Stage::Output),
                other => self.unknown(
                    &item(&field(path, "stages"), i),
                    "stage",
                    other,
                    "input, output",
                ),
            }
        }
        stages
    }

    fn scope_refs(&mut self, path: &str, scope: &raw::Scope, models: &[Model], key_ids: &[&str]) {
        let scope_path = field(path, "scope");
        for (i, alias) in scope.models.iter().enumerate() {
            if !models.iter().any(|m| &m.alias == alias) {
                let known: Vec<&str> = models.iter().map(|m| m.alias.as_str()).collect();
                self.unknown(
                    &item(&field(&scope_path, "models"), i),
                    "model alias",
                    alias,
                    &known.join(", "),
                );
            }
        }
        for (i, key) in scope.keys.iter().enumerate() {
            if !key_ids.contains(&key.as_str()) {
                self.unknown(
                    &item(&field(&scope_path, "keys"), i),
                    "key id",
                    key,
                    &key_ids.join(", "),
                );
            }
        }
    }

    /// The check's action, among `allowed` (`deny`, `redact`, `flag`).
    fn action(&mut self, path: &str, action: Option<String>, allowed: &[Action]) -> Option<Action> {
        let names = |actions: &[Action]| -> Vec<&'static str> {
            actions.iter().map(|a| action_name(*a)).collect()
        };
        let parsed = match action.as_deref() {
            Some("deny") => Action::Deny,
            Some("redact") => Action::Redact,
            Some("flag") => Action::Flag,
            Some(other) => {
                let expected = names(allowed).join(", ");
                self.unknown(&field(path, "action"), "action", other, &expected);
                return None;
            }
            None => {
                let message = format!("needs an `action`: {}", names(allowed).join(" or "));
                self.report(&field(path, "action"), Problem::Guardrail(message));
                return None;
            }
        };
        if !allowed.contains(&parsed) {
            let expected = names(allowed).join(", ");
            let value = action_name(parsed);
            self.unknown(&field(path, "action"), "action", value, &expected);
            return None;
        }
        Some(parsed)
    }

    fn injection(
        &mut self,
        path: &str,
        name: String,
        action: Option<String>,
        raw: raw::Injection,
    ) -> Option<Check> {
        let action = self.action(path, action, &[Action::Deny, Action::Flag])?;
        let path = field(path, "injection");
        if raw.threshold == Some(0) {
            self.report(&field(&path, "threshold"), Problem::Zero);
            return None;
        }
        let raw_sources = raw.sources.unwrap_or_else(|| vec!["tool_results".into()]);
        if raw_sources.is_empty() {
            self.report(&field(&path, "sources"), Problem::Empty);
            return None;
        }
        let mut sources = Vec::new();
        for (i, source) in raw_sources.iter().enumerate() {
            match source.as_str() {
                "tool_results" => sources.push(InjectionSource::ToolResults),
                "user" => sources.push(InjectionSource::User),
                other => {
                    let at = item(&field(&path, "sources"), i);
                    self.unknown(&at, "injection source", other, "tool_results, user");
                    return None;
                }
            }
        }
        Some(Check::Injection(InjectionCheck {
            name,
            action,
            threshold: raw
                .threshold
                .unwrap_or(tollgate_core::guard::injection::DEFAULT_THRESHOLD),
            sources,
            allowed_hosts: raw.allowed_hosts,
        }))
    }

    fn schema(
        &mut self,
        path: &str,
        name: String,
        action: Option<String>,
        raw: raw::Schema,
    ) -> Option<Check> {
        let action = self.action(path, action, &[Action::Deny, Action::Flag])?;
        let path = field(path, "schema");
        let Some(raw_targets) = raw.targets else {
            let targets = vec![SchemaTarget::ToolArguments, SchemaTarget::StructuredOutput];
            return Some(Check::Schema(SchemaCheck {
                name,
                action,
                targets,
            }));
        };
        if raw_targets.is_empty() {
            self.report(&field(&path, "targets"), Problem::Empty);
            return None;
        }
        let mut targets = Vec::new();
        for (i, target) in raw_targets.iter().enumerate() {
            match target.as_str() {
                "tool_arguments" => targets.push(SchemaTarget::ToolArguments),
                "structured_output" => targets.push(SchemaTarget::StructuredOutput),
                other => {
                    let at = item(&field(&path, "targets"), i);
                    self.unknown(
                        &at,
                        "schema target",
                        other,
                        "tool_arguments, structured_output",
                    );
                    return None;
                }
            }
        }
        Some(Check::Schema(SchemaCheck {
            name,
            action,
            targets,
        }))
    }

    fn rules(
        &mut self,
        path: &str,
        name: String,
        action: Option<String>,
        reversible: bool,
        raws: Vec<raw::Rule>,
    ) -> Option<Check> {
        let action = self.action(path, action, &[Action::Deny, Action::Redact, Action::Flag])?;
        let mut rules = Vec::with_capacity(raws.len());
        let mut unknown_entities = false;
        for (i, raw) in raws.into_iter().enumerate() {
            let rule_path = item(&field(path, "rules"), i);
            rules.push(match raw {
                raw::Rule::Pii { entities } => RuleConfig::Pii {
                    entities: entities
                        .iter()
                        .enumerate()
                        .filter_map(|(j, e)| {
                            let entity = pii_entity(e);
                            if entity.is_none() {
                                unknown_entities = true;
                                let path = item(&field(&rule_path, "entities"), j);
                                self.unknown(&path, "PII entity", e, PII_ENTITIES);
                            }
                            entity
                        })
                        .collect(),
                },
                raw::Rule::Regex { name, pattern } => RuleConfig::Regex { name, pattern },
                raw::Rule::Keywords {
                    name,
                    words,
                    whole_word,
                } => RuleConfig::Keywords {
                    name,
                    words,
                    whole_word: whole_word.unwrap_or(true),
                },
                raw::Rule::Length {
                    max_chars,
                    max_words,
                    max_tokens,
                } => RuleConfig::Length {
                    max_chars,
                    max_words,
                    max_tokens,
                },
            });
        }
        if unknown_entities {
            return None;
        }
        let config = GuardrailConfig {
            name,
            action,
            reversible,
            rules,
        };
        // The filter's own compiler: its message names the rule at fault.
        let single = GuardrailsConfig {
            guardrails: vec![config],
        };
        if let Err(e) = CompiledGuardrails::try_from(&single) {
            self.report(path, Problem::Guardrail(e.to_string()));
            return None;
        }
        single.guardrails.into_iter().next().map(Check::Rules)
    }

    fn webhook(
        &mut self,
        path: &str,
        name: &str,
        raw: raw::Webhook,
        out: &mut Guardrails,
    ) -> Option<Check> {
        let path = field(path, "webhook");
        let (check, url) = self.callout_endpoint(&path, name, raw.url, raw.timeout, raw.failure)?;
        out.callouts.push(CalloutEndpoint {
            guardrail: name.to_owned(),
            url,
            credential: None,
        });
        Some(Check::Webhook(check))
    }

    fn moderation(
        &mut self,
        path: &str,
        name: &str,
        action: Option<String>,
        raw: raw::Moderation,
        out: &mut Guardrails,
    ) -> Option<Check> {
        let action = match action.as_deref() {
            None | Some("deny") => ModerationAction::Deny,
            Some("flag") => ModerationAction::Flag,
            Some(other) => {
                self.unknown(&field(path, "action"), "action", other, "deny, flag");
                return None;
            }
        };
        let path = field(path, "moderation");
        if raw.model.is_empty() {
            self.report(&field(&path, "model"), Problem::Empty);
        }
        let mut categories: BTreeMap<String, Option<f64>> =
            raw.categories.into_iter().map(|c| (c, None)).collect();
        for (category, threshold) in raw.thresholds {
            if !(0.0..=1.0).contains(&threshold) {
                let what = format!("threshold of `{category}` must be between 0 and 1");
                self.report(&field(&path, "thresholds"), Problem::Guardrail(what));
            }
            categories.insert(category, Some(threshold));
        }
        let credential = match raw.credential {
            Some(raw) => {
                let credential_path = field(&path, "credential");
                if raw.optional {
                    let what = "a moderation credential cannot be optional";
                    self.report(&credential_path, Problem::Guardrail(what.into()));
                }
                Some(self.credential(&credential_path, raw)?.source)
            }
            None => None,
        };
        let (endpoint, url) =
            self.callout_endpoint(&path, name, raw.url, raw.timeout, raw.failure)?;
        out.callouts.push(CalloutEndpoint {
            guardrail: name.to_owned(),
            url,
            credential,
        });
        Some(Check::Moderation(ModerationCheck {
            endpoint,
            model: raw.model,
            action,
            categories,
        }))
    }

    /// The address, timeout and failure mode of a callout guardrail.
    fn callout_endpoint(
        &mut self,
        path: &str,
        name: &str,
        url: String,
        timeout: Option<String>,
        failure: Option<String>,
    ) -> Option<(WebhookCheck, BaseUrl)> {
        let url = match BaseUrl::parse(&url) {
            Ok(parsed) => parsed,
            Err(reason) => {
                self.report(&field(path, "url"), Problem::BaseUrl { value: url, reason });
                return None;
            }
        };
        let timeout_ms = match timeout {
            None => DEFAULT_WEBHOOK_TIMEOUT_MS,
            Some(value) => match parse_duration(&value) {
                Ok(d) if !d.is_zero() => u32::try_from(d.as_millis()).unwrap_or(u32::MAX),
                Ok(_) => {
                    self.report(&field(path, "timeout"), Problem::Zero);
                    return None;
                }
                Err(reason) => {
                    self.report(&field(path, "timeout"), Problem::Duration { value, reason });
                    return None;
                }
            },
        };
        let failure = match failure.as_deref() {
            None | Some("closed") => WebhookFailure::Closed,
            Some("open") => WebhookFailure::Open,
            Some(other) => {
                self.unknown(
                    &field(path, "failure"),
                    "failure mode",
                    other,
                    "open, closed",
                );
                return None;
            }
        };
        let check = WebhookCheck {
            name: name.to_owned(),
            cluster: webhook_cluster(name),
            authority: url.authority(),
            path: if url.path.is_empty() {
                "/".to_owned()
            } else {
                url.path.clone()
            },
            timeout_ms,
            failure,
        };
        Some((check, url))
    }

    fn models_rule(&mut self, path: &str, raw: raw::Models) -> Option<AdmissionRule> {
        let rule = ModelsRule {
            aliases: ModelPatterns {
                allow: raw.allow,
                deny: raw.deny,
            },
            upstream: ModelPatterns {
                allow: raw.upstream_allow,
                deny: raw.upstream_deny,
            },
        };
        if rule.aliases.is_empty() && rule.upstream.is_empty() {
            let what = "`models` needs `allow`, `deny`, `upstream_allow` or `upstream_deny`";
            self.report(&field(path, "models"), Problem::Guardrail(what.into()));
            return None;
        }
        Some(AdmissionRule::Models(rule))
    }

    fn metadata_rule(&mut self, path: &str, raw: raw::Metadata) -> Option<AdmissionRule> {
        if raw.required.is_empty() {
            self.report(&field(&field(path, "metadata"), "required"), Problem::Empty);
            return None;
        }
        Some(AdmissionRule::Metadata(MetadataRule {
            required: raw.required,
        }))
    }

    /// Models and metadata are settled by the gateway before routing: they deny, and have
    /// no stage.
    fn admission_only(&mut self, path: &str, has_stages: bool, action: Option<&str>) {
        if has_stages {
            let what = "`models` and `metadata` are checked before routing: they take no `stages`";
            self.report(&field(path, "stages"), Problem::Guardrail(what.into()));
        }
        if action.is_some_and(|a| a != "deny") {
            let what = "`models` and `metadata` refuse the request: `action` can only be `deny`";
            self.report(&field(path, "action"), Problem::Guardrail(what.into()));
        }
    }

    pub(super) fn unknown(&mut self, path: &str, what: &'static str, value: &str, expected: &str) {
        self.report(
            path,
            Problem::Unknown {
                what,
                value: value.to_owned(),
                expected: expected.to_owned(),
            },
        );
    }
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Deny => "deny",
        Action::Redact => "redact",
        Action::Flag => "flag",
    }
}

const PII_ENTITIES: &str = "email, phone, credit_card, us_ssn, iban, ipv4, ipv6, secret";

fn pii_entity(name: &str) -> Option<PiiEntity> {
    Some(match name {
        "email" => PiiEntity::Email,
        "phone" => PiiEntity::Phone,
        "credit_card" => PiiEntity::CreditCard,
        "us_ssn" => PiiEntity::UsSsn,
        "iban" => PiiEntity::Iban,
        "ipv4" => PiiEntity::Ipv4,
        "ipv6" => PiiEntity::Ipv6,
        "secret" => PiiEntity::Secret,
        _ => return None,
    })
}

#[cfg(test)]
#[path = "guardrails_tests.rs"]
mod tests;
