//! The usage record written for every upstream attempt that got a response.
//!
//! It names who spent what: the key (by id, never the key), team, alias, provider and
//! upstream model, with the normalised token counts. Records are one JSON object per line
//! so any log shipper can pick them up.

use serde_json::json;

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
        })
        .to_string()
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
    }
}
