//! Guardrails the gateway filter settles before a request is routed: which models it may
//! use and which metadata it must carry. They need nothing of the body but the model, so
//! a refusal costs no translation, no callout and no provider call.
//!
//! An alias may be served by several upstream models (weighted targets, fallback steps)
//! and which one answers is only known per attempt, so an upstream pattern must hold for
//! *every* model the alias may reach: one denied target, or one outside the allow-list,
//! refuses the alias.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, GatewayError};

use super::policy::{RequestScope, Scope};
use super::report::GUARDRAIL_DENIED;

/// One admission guardrail and the requests it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdmissionCheck {
    /// Named in the client's error.
    pub name: String,
    #[serde(default, skip_serializing_if = "Scope::is_global")]
    pub scope: Scope,
    pub rule: AdmissionRule,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum AdmissionRule {
    Models(ModelsRule),
    Metadata(MetadataRule),
}

/// Allowed and denied models: patterns on the alias the client asked for and on the
/// upstream models that alias may be served by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelsRule {
    #[serde(default, skip_serializing_if = "ModelPatterns::is_empty")]
    pub aliases: ModelPatterns,
    #[serde(default, skip_serializing_if = "ModelPatterns::is_empty")]
    pub upstream: ModelPatterns,
}

/// Glob patterns (`*` matches any run of characters, everything else itself). A name
/// passes when no `deny` pattern matches it and, if `allow` is given, one of those does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelPatterns {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

/// Keys the request's metadata (`x-tollgate-metadata`) must carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetadataRule {
    pub required: Vec<String>,
}

/// The request's metadata, as far as this rule needs it: which keys it has.
pub trait MetadataKeys {
    fn has_key(&self, key: &str) -> bool;
}

impl MetadataKeys for BTreeMap<String, String> {
    fn has_key(&self, key: &str) -> bool {
        self.contains_key(key)
    }
}

/// What admission guardrails look at.
pub struct Candidate<'a> {
    pub who: RequestScope<'a>,
    /// The alias the client asked for.
    pub alias: &'a str,
    /// Every upstream model the alias may be served by.
    pub upstream_models: &'a [String],
    pub metadata: &'a dyn MetadataKeys,
}

/// Why an admission guardrail refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub guardrail: String,
    pub category: &'static str,
    /// What the client is told.
    pub error: GatewayError,
}

/// The first admission guardrail that refuses the request.
pub fn check_admission(checks: &[AdmissionCheck], candidate: &Candidate) -> Result<(), Refusal> {
    for check in checks.iter().filter(|c| c.scope.matches(candidate.who)) {
        let refused = match &check.rule {
            AdmissionRule::Models(rule) => rule.check(candidate),
            AdmissionRule::Metadata(rule) => rule.check(candidate.metadata),
        };
        if let Err((category, kind, detail)) = refused {
            let message = format!(
                "The request was refused by guardrail `{}` (category: {category}): {detail}.",
                check.name
            );
            return Err(Refusal {
                guardrail: check.name.clone(),
                category,
                error: GatewayError::new(kind, GUARDRAIL_DENIED, message),
            });
        }
    }
    Ok(())
}

/// A rule's refusal: its category, the error's kind and what is missing or not allowed.
type RuleResult = Result<(), (&'static str, ErrorKind, String)>;

impl ModelsRule {
    fn check(&self, candidate: &Candidate) -> RuleResult {
        let alias = candidate.alias;
        if !self.aliases.pass(alias) {
            let detail = format!("model `{alias}` is not allowed");
            return Err(("model", ErrorKind::PermissionDenied, detail));
        }
        if !candidate
            .upstream_models
            .iter()
            .all(|m| self.upstream.pass(m))
        {
            // Upstream names are the operator's business; the alias is the client's.
            let detail = format!("model `{alias}` is served by a model that is not allowed");
            return Err(("upstream_model", ErrorKind::PermissionDenied, detail));
        }
        Ok(())
    }
}

impl ModelPatterns {
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    fn pass(&self, name: &str) -> bool {
        let any = |patterns: &[String]| patterns.iter().any(|p| glob_matches(p, name));
        !any(&self.deny) && (self.allow.is_empty() || any(&self.allow))
    }
}

impl MetadataRule {
    fn check(&self, metadata: &dyn MetadataKeys) -> RuleResult {
        let missing: Vec<String> = self
            .required
            .iter()
            .filter(|key| !metadata.has_key(key))
            .map(|key| format!("`{key}`"))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let detail = format!(
            "the `x-tollgate-metadata` header lacks {}",
            missing.join(", ")
        );
        Err(("metadata", ErrorKind::InvalidRequest, detail))
    }
}

/// Whether `name` matches `pattern`, where `*` stands for any run of characters.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    // `split` always yields a first part: the literal prefix.
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let mut middle: Vec<&str> = parts.collect();
    let Some(last) = middle.pop() else {
        // No `*`: the whole name must be the prefix.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
#[path = "admission_tests.rs"]
mod tests;
