//! The moderation guardrail: texts sent to a provider moderation endpoint in OpenAI's
//! `/v1/moderations` shape, and which of its categories count.
//!
//! Request: `{"model": "...", "input": ["text", ...]}`. Answer: `{"id", "model",
//! "results": [{"flagged", "categories": {name: bool}, "category_scores": {name: score},
//! ...}]}`, one result per input. The call goes through the same callout as a webhook
//! (cluster, timeout, fail-open/closed); the credential is put on by Envoy in that
//! cluster, so it never enters the filter.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::policy::WebhookCheck;
use super::webhook::CalloutVerdict;

/// A moderation guardrail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModerationCheck {
    /// Where and how the endpoint is called; its `name` is the guardrail's.
    pub endpoint: WebhookCheck,
    /// The moderation model, e.g. `omni-moderation-latest`.
    pub model: String,
    pub action: ModerationAction,
    /// The categories that count: with a threshold, when the category's score reaches it;
    /// without, when the endpoint flags the category. Empty: every category the endpoint
    /// flags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub categories: BTreeMap<String, Option<f64>>,
}

/// What a moderation hit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ModerationAction {
    Deny,
    Flag,
}

#[derive(Deserialize)]
struct Answer {
    results: Vec<ModerationResult>,
}

#[derive(Deserialize)]
struct ModerationResult {
    #[serde(default)]
    categories: BTreeMap<String, Option<bool>>,
    #[serde(default)]
    category_scores: BTreeMap<String, Option<f64>>,
}

impl ModerationCheck {
    /// Body of the call: every text as one input.
    pub fn body(&self, texts: &[&str]) -> Vec<u8> {
        json!({"model": self.model, "input": texts})
            .to_string()
            .into_bytes()
    }

    /// Reads the endpoint's answer: the counted categories that fired over every result
    /// decide; none is an allow.
    pub fn verdict(&self, status: Option<u16>, body: &[u8]) -> CalloutVerdict {
        if status != Some(200) {
            return CalloutVerdict::Failed;
        }
        let Ok(answer) = serde_json::from_slice::<Answer>(body) else {
            return CalloutVerdict::Failed;
        };
        let fired: BTreeSet<String> = answer
            .results
            .iter()
            .flat_map(|result| self.fired(result))
            .collect();
        let Some(first) = fired.first().cloned() else {
            return CalloutVerdict::Allow;
        };
        match self.action {
            ModerationAction::Deny => CalloutVerdict::Deny { category: first },
            ModerationAction::Flag => CalloutVerdict::Flag {
                categories: fired.into_iter().collect(),
            },
        }
    }

    fn fired<'a>(&'a self, result: &'a ModerationResult) -> impl Iterator<Item = String> + 'a {
        let flagged = |name: &str| result.categories.get(name).copied().flatten() == Some(true);
        let counted = move |name: &String| match self.categories.get(name) {
            Some(Some(threshold)) => result
                .category_scores
                .get(name)
                .copied()
                .flatten()
                .is_some_and(|score| score >= *threshold),
            Some(None) => flagged(name),
            None => self.categories.is_empty() && flagged(name),
        };
        let names: BTreeSet<&String> = result
            .categories
            .keys()
            .chain(result.category_scores.keys())
            .collect();
        // Category names come from the endpoint: only identifiers reach logs and clients.
        names
            .into_iter()
            .filter(move |name| counted(name))
            .filter(|name| is_category_name(name))
            .cloned()
    }
}

/// OpenAI's category names: `hate`, `self-harm/intent`, `violence/graphic`.
fn is_category_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./".contains(&b))
}
