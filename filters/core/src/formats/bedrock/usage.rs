//! Converse `usage` objects (also the `usage` of a stream's `metadata` event).
//!
//! `inputTokens` excludes cache reads and writes, which come as `cacheReadInputTokens` and
//! `cacheWriteInputTokens` (some responses also repeat them as `…InputTokenCount`, read as a
//! fallback). Reasoning is inside `outputTokens` and not reported separately.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::formats::fields::lenient_count;
use crate::model::{PromptConvention, Usage};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireUsage {
    #[serde(default, deserialize_with = "lenient_count")]
    input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    output_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    cache_read_input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    cache_write_input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    cache_read_input_token_count: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    cache_write_input_token_count: Option<u64>,
}

impl WireUsage {
    pub fn to_usage(&self) -> Usage {
        Usage {
            output_tokens: self.output_tokens,
            ..Usage::from_prompt(
                PromptConvention::ExcludesCache,
                self.input_tokens,
                self.cache_read_input_tokens
                    .or(self.cache_read_input_token_count),
                self.cache_write_input_tokens
                    .or(self.cache_write_input_token_count),
            )
        }
    }
}

/// Canonical usage → Converse usage. Unknown input and output counts are sent as 0 (the
/// fields are required); cache counts only when known.
pub fn encode(usage: &Usage) -> Value {
    let mut out = Map::new();
    out.insert("inputTokens".into(), json!(usage.input_tokens.unwrap_or(0)));
    out.insert("outputTokens".into(), json!(usage.completion_tokens()));
    out.insert("totalTokens".into(), json!(usage.total_tokens()));
    if let Some(read) = usage.cache_read_tokens {
        out.insert("cacheReadInputTokens".into(), json!(read));
    }
    if let Some(write) = usage.cache_write_tokens {
        out.insert("cacheWriteInputTokens".into(), json!(write));
    }
    Value::Object(out)
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
            json!({"cacheReadInputTokenCount": 1322, "cacheReadInputTokens": 1322,
            "cacheWriteInputTokenCount": 0, "cacheWriteInputTokens": 0, "inputTokens": 2,
            "outputTokens": 5, "serverToolUsage": {}, "totalTokens": 1329}),
        );
        assert_eq!(
            u,
            Usage {
                input_tokens: Some(2),
                cache_read_tokens: Some(1322),
                cache_write_tokens: Some(0),
                output_tokens: Some(5),
                reasoning_tokens: None,
            }
        );
        assert_eq!(u.prompt_tokens(), 1324);
    }

    #[test]
    fn count_spelling_is_a_fallback_and_absent_cache_is_unknown() {
        let u =
            decode(json!({"inputTokens": 7, "outputTokens": 30, "cacheReadInputTokenCount": 4}));
        assert_eq!(u.cache_read_tokens, Some(4));
        assert_eq!(u.cache_write_tokens, None);
    }

    #[test]
    fn encode_round_trips() {
        let u = Usage {
            input_tokens: Some(3),
            cache_read_tokens: Some(1),
            cache_write_tokens: Some(2),
            output_tokens: Some(4),
            reasoning_tokens: None,
        };
        let v = encode(&u);
        assert_eq!(v["totalTokens"], 10);
        assert_eq!(decode(v), u);
    }
}
