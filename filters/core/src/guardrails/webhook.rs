//! The webhook guardrail's wire contract: what the filter sends, and how it reads the answer.

use serde::Deserialize;
use serde_json::json;

use super::policy::{RequestScope, WebhookCheck, WebhookFailure};

/// What a webhook call decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookVerdict {
    Allow,
    Deny {
        category: String,
    },
    /// No usable answer (timeout, error status, unreadable body); the check's `failure`
    /// setting decides.
    Failed,
}

/// Category reported when a fail-closed webhook could not be reached.
pub const UNAVAILABLE: &str = "unavailable";

/// Body of the call: the guardrail's name, who is asking, and the texts (already redacted
/// by the rule guardrails).
pub fn webhook_body(check: &WebhookCheck, who: RequestScope, texts: &[&str]) -> Vec<u8> {
    json!({
        "guardrail": check.name,
        "stage": "input",
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
}

/// Reads the webhook's answer: `200` with `{"action": "allow"}` or
/// `{"action": "deny", "category": "..."}`. The category is the webhook's own word; only a
/// short identifier is kept, so a webhook cannot put arbitrary text into client errors.
pub fn webhook_verdict(status: Option<u16>, body: &[u8]) -> WebhookVerdict {
    if status != Some(200) {
        return WebhookVerdict::Failed;
    }
    match serde_json::from_slice::<Answer>(body) {
        Ok(Answer::Allow) => WebhookVerdict::Allow,
        Ok(Answer::Deny { category }) => {
            let category = category
                .filter(|c| {
                    (1..=64).contains(&c.len())
                        && c.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
                })
                .unwrap_or_else(|| "policy".to_owned());
            WebhookVerdict::Deny { category }
        }
        Err(_) => WebhookVerdict::Failed,
    }
}

impl WebhookCheck {
    /// Whether a failed call lets the request through.
    pub fn fails_open(&self) -> bool {
        self.failure == WebhookFailure::Open
    }
}
