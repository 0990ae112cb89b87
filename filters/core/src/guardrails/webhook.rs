//! Guardrails answered by an external HTTP call ([`Callout`]): the webhook guardrail's wire
//! contract, and what the filter makes of any callout's answer.

use serde::Deserialize;
use serde_json::json;

use super::moderation::ModerationCheck;
use super::policy::{RequestScope, Stage, WebhookCheck, WebhookFailure};
use super::report::stage_name;

/// A guardrail the filter asks an external endpoint about, through one Envoy callout.
#[derive(Debug, Clone, PartialEq)]
pub enum Callout {
    Webhook(WebhookCheck),
    Moderation(ModerationCheck),
}

/// What a callout decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalloutVerdict {
    Allow,
    Deny {
        category: String,
    },
    /// Let through, with these categories recorded.
    Flag {
        categories: Vec<String>,
    },
    /// No usable answer (timeout, error status, unreadable body); the check's `failure`
    /// setting decides.
    Failed,
}

/// Category reported when a fail-closed callout could not be reached.
pub const UNAVAILABLE: &str = "unavailable";

impl Callout {
    /// Where and how the call goes (cluster, path, timeout, failure mode, name).
    pub fn endpoint(&self) -> &WebhookCheck {
        match self {
            Callout::Webhook(check) => check,
            Callout::Moderation(check) => &check.endpoint,
        }
    }

    pub fn name(&self) -> &str {
        &self.endpoint().name
    }

    /// Body of the call about `texts` (already redacted by the rule guardrails).
    pub fn body(&self, stage: Stage, who: RequestScope, texts: &[&str]) -> Vec<u8> {
        match self {
            Callout::Webhook(check) => webhook_body(check, stage, who, texts),
            Callout::Moderation(check) => check.body(texts),
        }
    }

    pub fn verdict(&self, status: Option<u16>, body: &[u8]) -> CalloutVerdict {
        match self {
            Callout::Webhook(_) => webhook_verdict(status, body),
            Callout::Moderation(check) => check.verdict(status, body),
        }
    }
}

/// Body of a webhook call: the guardrail's name, the stage, who is asking, and the texts.
fn webhook_body(check: &WebhookCheck, stage: Stage, who: RequestScope, texts: &[&str]) -> Vec<u8> {
    json!({
        "guardrail": check.name,
        "stage": stage_name(stage),
        "alias": who.alias,
        "keyId": who.key_id,
        "team": who.team,
        "texts": texts,
    })
    .to_string()
    .into_bytes()
}

#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
enum Answer {
    Allow,
    Deny {
        #[serde(default)]
        category: Option<String>,
    },
    Flag {
        #[serde(default)]
        category: Option<String>,
    },
}

/// Reads the webhook's answer: `200` with `{"action": "allow"}`,
/// `{"action": "deny", "category": "..."}` or `{"action": "flag", "category": "..."}`. The
/// category is the webhook's own word; only a short identifier is kept, so a webhook cannot
/// put arbitrary text into client errors.
pub fn webhook_verdict(status: Option<u16>, body: &[u8]) -> CalloutVerdict {
    if status != Some(200) {
        return CalloutVerdict::Failed;
    }
    let identifier = |category: Option<String>| {
        category
            .filter(|c| {
                (1..=64).contains(&c.len())
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
            })
            .unwrap_or_else(|| "policy".to_owned())
    };
    match serde_json::from_slice::<Answer>(body) {
        Ok(Answer::Allow) => CalloutVerdict::Allow,
        Ok(Answer::Deny { category }) => CalloutVerdict::Deny {
            category: identifier(category),
        },
        Ok(Answer::Flag { category }) => CalloutVerdict::Flag {
            categories: vec![identifier(category)],
        },
        Err(_) => CalloutVerdict::Failed,
    }
}

impl WebhookCheck {
    /// Whether a failed call lets the request through.
    pub fn fails_open(&self) -> bool {
        self.failure == WebhookFailure::Open
    }
}

#[cfg(test)]
#[path = "callout_tests.rs"]
mod tests;
