//! The usage record written for every upstream attempt that got a response.
//!
//! It names who spent what: the key (by id, never the key), team, alias, provider and
//! upstream model, with the normalised token counts. Records are one JSON object per line
//! so any log shipper can pick them up.

use serde_json::json;

use crate::attribution::Attribution;
use crate::cost::Price;
use crate::model::Usage;

/// Everything known about one attempt's consumption.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageRecord {
    /// Unique per upstream attempt and fixed when the record is made, so a redelivered
    /// record keeps it: the control plane counts each id once (see [`record_id`]).
    pub id: String,
    /// When the attempt finished, in milliseconds since the Unix epoch; reports select
    /// time ranges on it.
    pub time_unix_ms: u64,
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
    /// The provider never reported (final) usage, so `usage` is partly or wholly estimated
    /// (see `usage_estimate`).
    pub estimated: bool,
    /// What the usage cost in nano-dollars (10⁻⁹ USD); `None` when the model's price is
    /// unknown.
    pub cost_nano_usd: Option<u64>,
    /// Whether the upstream model had a price (false: the cost is unknown, not zero).
    pub price_known: bool,
    /// Request start to response end of this attempt, in milliseconds.
    pub duration_ms: Option<u64>,
    /// Request start to the first generated text of a stream, in milliseconds.
    pub time_to_first_token_ms: Option<u64>,
    /// The Envoy process that served it (see `budget::poll`); absent when budgets are off.
    pub envoy_instance: Option<String>,
}

impl UsageRecord {
    pub fn new(provider: &str) -> Self {
        UsageRecord {
            provider: provider.to_string(),
            ..UsageRecord::default()
        }
    }

    /// Prices the usage (none counts as zero tokens) at `price`, the upstream model's.
    pub fn price(&mut self, price: Option<&Price>) {
        let usage = self.usage.unwrap_or_default();
        self.cost_nano_usd = price.map(|p| p.cost_nano_usd(&usage));
        self.price_known = price.is_some();
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        let mut record = json!({
            "id": self.id,
            "time_unix_ms": self.time_unix_ms,
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
            "estimated": self.estimated,
            "cost_nano_usd": self.cost_nano_usd,
            "price_known": self.price_known,
            "duration_ms": self.duration_ms,
            "time_to_first_token_ms": self.time_to_first_token_ms,
        });
        if let Some(instance) = &self.envoy_instance {
            record["envoy_instance"] = json!(instance);
        }
        record.to_string()
    }
}

/// The id of an attempt's record: Envoy's request id and the attempt number. Envoy makes
/// the request id a random UUID unless the client sent one (kept so the client's logs line
/// up with ours), and every retry or fallback attempt has its own number.
pub fn record_id(request_id: &str, attempt: u64) -> String {
    format!("{request_id}.{attempt}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_tell_attempts_of_one_request_apart() {
        assert_eq!(record_id("8d3f", 1), "8d3f.1");
        assert_ne!(record_id("8d3f", 1), record_id("8d3f", 2));
    }

    #[test]
    fn serialises_known_and_unknown_counts() {
        let mut record = UsageRecord::new("openai");
        record.id = record_id("r1", 2);
        record.time_unix_ms = 1_700_000_000_123;
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
        assert_eq!(v["id"], "r1.2");
        assert_eq!(v["time_unix_ms"], 1_700_000_000_123u64);
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
        assert!(v.get("envoy_instance").is_none());
    }

    #[test]
    fn names_the_envoy_instance_when_known() {
        let mut record = UsageRecord::new("p");
        record.envoy_instance = Some("00ab".into());
        let v: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(v["envoy_instance"], "00ab");
    }

    #[test]
    fn unknown_price_is_a_null_cost_not_zero() {
        let mut record = UsageRecord::new("p");
        record.usage = Some(Usage {
            input_tokens: Some(1000),
            ..Usage::default()
        });
        record.price(None);
        let v: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert!(v["cost_nano_usd"].is_null());
        assert_eq!(v["price_known"], false);

        let price = Price {
            input: 2_000_000,
            cached_input: None,
            cache_write: None,
            output: 0,
            reasoning: None,
        };
        record.price(Some(&price));
        let v: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(v["cost_nano_usd"], 2_000_000); // $2/M × 1000 tokens = $0.002
        assert_eq!(v["price_known"], true);
        assert_eq!(v["estimated"], false);
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
