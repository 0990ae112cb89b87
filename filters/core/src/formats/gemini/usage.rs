//! Gemini `usageMetadata`.
//!
//! - `promptTokenCount` includes `cachedContentTokenCount` (implicit or explicit cache
//!   reads). Gemini reports no cache writes: explicit caches are created by a separate call.
//! - `thoughtsTokenCount` is *not* part of `candidatesTokenCount` (but is part of
//!   `totalTokenCount`), so output = candidates + thoughts and reasoning = thoughts.
//! - `toolUsePromptTokenCount` (server-side tool results, e.g. search) is billed as input
//!   and is not in `promptTokenCount`, so it is added to the input.
//! - The counts are proto3 integers, whose JSON form omits zeros: inside a `usageMetadata`
//!   that reports a prompt count, a missing count is a reported 0, not an unknown. Without
//!   a prompt count (Vertex streams open with `{"trafficType": …}` alone) nothing is
//!   reported.
//! - In streams every chunk carries the cumulative figures; the last one wins.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::formats::fields::lenient_count;
use crate::model::{PromptConvention, Usage};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireUsage {
    #[serde(default, deserialize_with = "lenient_count")]
    prompt_token_count: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    cached_content_token_count: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    candidates_token_count: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    thoughts_token_count: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    tool_use_prompt_token_count: Option<u64>,
}

impl WireUsage {
    /// The usage reported, if any (see the module docs).
    pub fn to_usage(&self) -> Option<Usage> {
        let count = |n: Option<u64>| n.unwrap_or(0);
        let thoughts = count(self.thoughts_token_count);
        let prompt = self
            .prompt_token_count?
            .saturating_add(count(self.tool_use_prompt_token_count));
        Some(Usage {
            output_tokens: Some(count(self.candidates_token_count).saturating_add(thoughts)),
            reasoning_tokens: Some(thoughts),
            ..Usage::from_prompt(
                PromptConvention::IncludesCache,
                Some(prompt),
                Some(count(self.cached_content_token_count)),
                None,
            )
        })
    }
}

/// Canonical usage → `usageMetadata`. Unknown counters are left out, as Gemini leaves out
/// zeros; cache writes have no Gemini field and count as prompt tokens.
pub fn encode(usage: &Usage) -> Value {
    let reasoning = usage.reasoning_tokens.unwrap_or(0);
    let candidates = usage.completion_tokens().saturating_sub(reasoning);
    let mut out = Map::new();
    let mut put = |key: &str, n: u64| {
        if n > 0 {
            out.insert(key.into(), json!(n));
        }
    };
    put("promptTokenCount", usage.prompt_tokens());
    put(
        "cachedContentTokenCount",
        usage.cache_read_tokens.unwrap_or(0),
    );
    put("candidatesTokenCount", candidates);
    put("thoughtsTokenCount", reasoning);
    put("totalTokenCount", usage.total_tokens());
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(v: Value) -> Usage {
        serde_json::from_value::<WireUsage>(v)
            .unwrap()
            .to_usage()
            .expect("usage reported")
    }

    #[test]
    fn prompt_includes_cache_and_output_adds_thoughts() {
        let u = decode(
            json!({"promptTokenCount": 1000, "cachedContentTokenCount": 800,
            "candidatesTokenCount": 31, "thoughtsTokenCount": 35, "totalTokenCount": 1066,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1000}],
            "serviceTier": "standard"}),
        );
        assert_eq!(u.input_tokens, Some(200));
        assert_eq!(u.cache_read_tokens, Some(800));
        assert_eq!(u.cache_write_tokens, None);
        assert_eq!(u.output_tokens, Some(66));
        assert_eq!(u.reasoning_tokens, Some(35));
        assert_eq!(u.total_tokens(), 1066, "matches Gemini's own total");
    }

    #[test]
    fn omitted_counts_are_zeros() {
        let u = decode(json!({"promptTokenCount": 15, "totalTokenCount": 15}));
        assert_eq!(u.input_tokens, Some(15));
        assert_eq!(u.cache_read_tokens, Some(0));
        assert_eq!(u.output_tokens, Some(0));
        assert_eq!(u.reasoning_tokens, Some(0));
    }

    #[test]
    fn no_prompt_count_reports_nothing() {
        let wire: WireUsage = serde_json::from_value(json!({"trafficType": "ON_DEMAND"})).unwrap();
        assert_eq!(wire.to_usage(), None);
    }

    #[test]
    fn tool_use_prompt_counts_as_input() {
        let u = decode(json!({"promptTokenCount": 10, "toolUsePromptTokenCount": 5,
            "candidatesTokenCount": 2, "totalTokenCount": 17}));
        assert_eq!(u.input_tokens, Some(15));
        assert_eq!(u.total_tokens(), 17);
    }

    #[test]
    fn encode_round_trips() {
        let u = Usage {
            input_tokens: Some(200),
            cache_read_tokens: Some(800),
            cache_write_tokens: None,
            output_tokens: Some(66),
            reasoning_tokens: Some(35),
        };
        let wire = encode(&u);
        assert_eq!(wire["candidatesTokenCount"], 31);
        assert_eq!(wire["totalTokenCount"], 1066);
        assert_eq!(decode(wire), u);
    }
}
