//! The guardrail configuration as the control plane writes it.
//!
//! Strict like the rest of the config contract: an unknown field means the two sides were
//! built from different versions, so it is refused rather than half-understood. Everything
//! here is checked again when compiling ([`super::CompiledGuardrails`]), which is where
//! errors name the guardrail and rule at fault.

use serde::{Deserialize, Serialize};

/// A set of guardrails evaluated together on one text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GuardrailsConfig {
    /// Evaluated together; their order breaks ties between overlapping findings.
    pub guardrails: Vec<GuardrailConfig>,
}

/// A named group of rules sharing one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GuardrailConfig {
    /// Unique within the set; reported in findings and denials.
    pub name: String,
    /// What a match of any rule of this guardrail does.
    pub action: Action,
    /// Only with `redact`: keep placeholder → original so that a later text (the model's
    /// answer) can be unmasked. Off by default, so redacted values are not kept at all.
    #[serde(default)]
    pub reversible: bool,
    pub rules: Vec<RuleConfig>,
}

/// What a finding does to the text it was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Refuse the whole text (or stop the stream).
    Deny,
    /// Replace the match with a typed placeholder such as `[EMAIL_1]`.
    Redact,
    /// Let the text through unchanged and report the finding.
    Flag,
}

/// One rule of a guardrail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum RuleConfig {
    /// Built-in detectors of personal data and credentials.
    Pii { entities: Vec<PiiEntity> },
    /// A custom entity type: matches of `pattern` are reported (and redacted) as `name`.
    /// The pattern uses the `regex` crate syntax, runs on the normalised text and must have
    /// a bounded match length (`{1,64}` rather than `+`), which bounds the stream hold-back.
    Regex { name: String, pattern: String },
    /// A list of words or phrases, matched case-insensitively.
    Keywords {
        name: String,
        words: Vec<String>,
        /// Only match where no letter or digit touches the phrase on either side. Turn it off
        /// for languages written without spaces.
        #[serde(default = "whole_word_by_default")]
        whole_word: bool,
    },
    /// Size limits; at least one must be set. Tokens are estimated as characters / 4,
    /// rounded up, so `maxTokens: n` trips on character 4n + 1.
    Length {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_chars: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_words: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_tokens: Option<u32>,
    },
}

fn whole_word_by_default() -> bool {
    true
}

/// Built-in detectors. Each one's heuristics are documented in `detectors/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PiiEntity {
    Email,
    Phone,
    CreditCard,
    UsSsn,
    Iban,
    Ipv4,
    Ipv6,
    /// API keys and tokens of common providers, JWTs and PEM private keys.
    Secret,
}
