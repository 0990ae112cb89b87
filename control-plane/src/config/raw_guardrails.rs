//! The `guardrails:` section exactly as written (see [`super::raw`] for the conventions).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::raw::Credential;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guardrails {
    /// Minimum characters a guarded stream holds back (the rules' own bound applies anyway).
    pub hold_back_chars: Option<u32>,
    pub checks: Vec<Check>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub name: String,
    /// `deny`, `redact` or `flag` for rules; `deny` (default) or `flag` for moderation; a
    /// webhook, models and metadata check denies.
    pub action: Option<String>,
    #[serde(default)]
    pub reversible: bool,
    /// Default: both.
    pub stages: Option<Vec<String>>,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub rules: Vec<Rule>,
    pub webhook: Option<Webhook>,
    pub moderation: Option<Moderation>,
    pub models: Option<Models>,
    pub metadata: Option<Metadata>,
    pub injection: Option<Injection>,
    pub schema: Option<Schema>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub models: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    Pii {
        entities: Vec<String>,
    },
    Regex {
        name: String,
        pattern: String,
    },
    Keywords {
        name: String,
        words: Vec<String>,
        whole_word: Option<bool>,
    },
    Length {
        max_chars: Option<u32>,
        max_words: Option<u32>,
        max_tokens: Option<u32>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url: String,
    pub timeout: Option<String>,
    /// `open` or `closed` (default).
    pub failure: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Moderation {
    pub url: String,
    pub credential: Option<Credential>,
    pub model: String,
    pub timeout: Option<String>,
    /// `open` or `closed` (default).
    pub failure: Option<String>,
    /// Categories that count when the endpoint flags them; none: every flagged category.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Categories that count when their score reaches the threshold.
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
}

/// Allowed and denied models, by alias and by upstream model.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Models {
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub deny: Vec<String>,
    #[serde(default)]
    pub upstream_allow: Vec<String>,
    #[serde(default)]
    pub upstream_deny: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub required: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Injection {
    pub threshold: Option<u32>,
    /// `tool_results` (default) and/or `user`.
    pub sources: Option<Vec<String>>,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// `tool_arguments` and/or `structured_output`; default: both.
    pub targets: Option<Vec<String>>,
}
