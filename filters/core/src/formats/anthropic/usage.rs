//! Anthropic usage objects.
//!
//! `input_tokens` excludes cache reads and writes. In streams, `message_start` carries the
//! input side and `message_delta` the cumulative output (and, lately, repeats of the input
//! side). When context compaction runs, the top-level figures describe only the final
//! sampling iteration and `iterations` lists every one; the billed total is their sum.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::formats::fields::lenient_count;
use crate::model::{PromptConvention, Usage};

#[derive(Debug, Default, Deserialize)]
pub struct WireUsage {
    #[serde(default, deserialize_with = "lenient_count")]
    input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    output_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    iterations: Option<Vec<WireUsage>>,
}

impl WireUsage {
    pub fn to_usage(&self) -> Usage {
        if let Some(iterations) = self.iterations.as_ref().filter(|i| !i.is_empty()) {
            return iterations
                .iter()
                .map(WireUsage::own_usage)
                .fold(Usage::default(), |total, u| total.sum(&u));
        }
        self.own_usage()
    }

    fn own_usage(&self) -> Usage {
        Usage {
            output_tokens: self.output_tokens,
            ..Usage::from_prompt(
                PromptConvention::ExcludesCache,
                self.input_tokens,
                self.cache_read_input_tokens,
                self.cache_creation_input_tokens,
            )
        }
    }
}

/// Canonical usage → Anthropic usage object. Anthropic clients expect every field; unknown
/// counters are sent as 0. Reasoning has no separate field (it is inside `output_tokens`).
pub fn encode(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens.unwrap_or(0),
        "cache_creation_input_tokens": usage.cache_write_tokens.unwrap_or(0),
        "cache_read_input_tokens": usage.cache_read_tokens.unwrap_or(0),
        "output_tokens": usage.output_tokens.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(v: Value) -> Usage {
        serde_json::from_value::<WireUsage>(v).unwrap().to_usage()
    }

    #[test]
    fn input_excludes_cache() {
        let u = decode(
            json!({"input_tokens": 3, "cache_creation_input_tokens": 418,
            "cache_read_input_tokens": 1111, "output_tokens": 33,
            "cache_creation": {"ephemeral_5m_input_tokens": 418}, "service_tier": "standard"}),
        );
        assert_eq!(u.input_tokens, Some(3));
        assert_eq!(u.cache_write_tokens, Some(418));
        assert_eq!(u.cache_read_tokens, Some(1111));
        assert_eq!(u.output_tokens, Some(33));
        assert_eq!(u.reasoning_tokens, None);
    }

    #[test]
    fn output_only_delta_leaves_input_unknown() {
        let u = decode(json!({"output_tokens": 65}));
        assert_eq!(u.input_tokens, None);
        assert_eq!(u.output_tokens, Some(65));
    }

    #[test]
    fn compaction_iterations_are_summed() {
        let u = decode(
            json!({"input_tokens": 181, "cache_read_input_tokens": 0, "output_tokens": 8,
            "iterations": [
                {"input_tokens": 100, "output_tokens": 83, "cache_read_input_tokens": 55096, "cache_creation_input_tokens": 0, "type": "compaction"},
                {"input_tokens": 181, "output_tokens": 8, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0, "type": "message"}
            ]}),
        );
        assert_eq!(u.input_tokens, Some(281));
        assert_eq!(u.cache_read_tokens, Some(55096));
        assert_eq!(u.output_tokens, Some(91));
    }

    #[test]
    fn encode_round_trips_known_counters() {
        let u = Usage {
            input_tokens: Some(3),
            cache_read_tokens: Some(1),
            cache_write_tokens: Some(2),
            output_tokens: Some(4),
            reasoning_tokens: None,
        };
        assert_eq!(decode(encode(&u)), u);
    }
}
