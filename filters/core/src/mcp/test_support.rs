//! Shared fixtures of the MCP unit tests.

use std::collections::BTreeMap;

use serde_json::json;

use crate::guardrails::{CompiledPolicy, RequestScope, Selection};

use super::patterns::{NameRules, Pattern};

pub fn access(allow: &[&str], deny: &[&str]) -> NameRules {
    let pats = |v: &[&str]| v.iter().map(|s| Pattern(s.to_string())).collect();
    NameRules {
        allow: pats(allow),
        deny: pats(deny),
    }
}

/// Redacts e-mails in arguments and results, denies a keyword in arguments, and scores
/// tool results for prompt injection.
pub fn guardrails() -> Selection {
    let policy = json!({ "guardrails": [
        { "stages": ["input", "output"], "check": { "rules": {
            "name": "pii", "action": "redact",
            "rules": [{ "type": "pii", "entities": ["email"] }] } } },
        { "stages": ["input"], "check": { "rules": {
            "name": "secrets", "action": "deny",
            "rules": [{ "type": "keywords", "name": "codename", "words": ["project nightingale"] }] } } },
        { "stages": ["input"], "check": { "injection": {
            "name": "injection", "action": "deny", "sources": ["toolResults"] } } }
    ]});
    let policy = CompiledPolicy::new(serde_json::from_value(policy).unwrap()).unwrap();
    policy.select(RequestScope::default())
}

pub fn no_pins() -> BTreeMap<String, String> {
    BTreeMap::new()
}
