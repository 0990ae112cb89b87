//! The usage record written for every upstream attempt that got a response.
//!
//! It names who spent what: the key (by id, never the key), team, alias, provider and
//! upstream model, with the normalised token counts. Records are one JSON object per line
//! so any log shipper can pick them up.

use serde_json::json;

use crate::attribution::Attribution;
use crate::model::Usage;

/// Everything known about one attempt's consumption.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageRecord {
    pub provider: String,
    pub key_id: Option<String>,
    pub team: Option<String>,
    pub alias: Option<String>,
    pub upstream_model: Option<String>,
    pub stream: bool,
    /// The provider's HTTP status.
    pub status: u16,
    /// `None` when the provider reported no usage (an error, or a cut stream).
    pub usage: Option<Usage>,
    /// Which attempt this was (1 = the first), retries and fallbacks counted.
    pub attempt: Option<u64>,
    /// The fallback step of the target that served (0 = the primary).
    pub fallback_step: Option<String>,
    /// Agent, run, parent step and metadata from the client's attribution headers.
    pub attribution: Attribution,
}

impl UsageRecord {
    pub fn new(provider: &str) -> Self {
        UsageRecord {
            provider: provider.to_string(),
            ..UsageRecord::default()
        }
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        json!({
            "provider": self.provider,
            "key_id": self.key_id,
            "team": self.team,
            "alias": self.alias,
            "upstream_model": self.upstream_model,
            "stream": self.stream,
            "status": self.status,
            "usage": self.usage.as_ref().map(Usage::to_json),
            "attempt": self.attempt,
            "fallback_step": self.fallback_step,
            "agent_id": self.attribution.agent_id,
            "run_id": self.attribution.run_id,
            "parent_step_id": self.attribution.parent_step_id,
            "metadata": self.attribution.metadata,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_known_and_unknown_counts() {
        let mut record = UsageRecord::new("openai");
        record.key_id = Some("k1".into());
        record.stream = true;
        record.status = 200;
        record.usage = Some(Usage {
            input_tokens: Some(10),
            cache_read_tokens: Some(5),
            output_tokens: Some(7),
            ..Usage::default()
        });
        let v: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(v["provider"], "openai");
        assert_eq!(v["key_id"], "k1");
        assert_eq!(v["team"], serde_json::Value::Null);
        assert_eq!(v["stream"], true);
        assert_eq!(v["usage"]["input_tokens"], 10);
        assert_eq!(v["usage"]["cache_read_tokens"], 5);
        assert_eq!(v["usage"]["output_tokens"], 7);
    }

    #[test]
    fn no_usage_is_null() {
        let v: serde_json::Value = serde_json::from_str(&UsageRecord::new("p").to_json()).unwrap();
        assert!(v["usage"].is_null());
        assert!(v["agent_id"].is_null());
        assert_eq!(v["metadata"], serde_json::json!({}));
    }

    #[test]
    fn carries_attribution() {
        let mut record = UsageRecord::new("p");
        record.attribution = Attribution {
            agent_id: Some("planner".into()),
            run_id: Some("r1".into()),
            parent_step_id: Some("s0".into()),
            metadata: [("env".to_owned(), "prod".to_owned())].into(),
        };
        let v: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(v["agent_id"], "planner");
        assert_eq!(v["run_id"], "r1");
        assert_eq!(v["parent_step_id"], "s0");
        assert_eq!(v["metadata"]["env"], "prod");
    }
}
