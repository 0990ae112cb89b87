//! OpenAI usage objects.
//!
//! `prompt_tokens` includes cached tokens and `completion_tokens` includes reasoning tokens.
//! Compatible servers add their own spellings: DeepSeek `prompt_cache_hit_tokens`,
//! OpenRouter `prompt_tokens_details.cache_write_tokens`.
//!
//! Gemini's OpenAI-compatible endpoint leaves thinking tokens out of `completion_tokens` (and
//! reports no `reasoning_tokens`) but counts them in `total_tokens`; Google bills them as
//! output. So whatever `total_tokens` holds beyond prompt and completion is counted as
//! output, and as reasoning when none was reported.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::formats::fields::lenient_count;
use crate::model::{PromptConvention, Usage};

/// A usage object as received.
#[derive(Debug, Default, Deserialize)]
pub struct WireUsage {
    #[serde(default, deserialize_with = "lenient_count")]
    prompt_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    completion_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    total_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
    /// DeepSeek's spelling of cache reads.
    #[serde(default, deserialize_with = "lenient_count")]
    prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct PromptDetails {
    #[serde(default, deserialize_with = "lenient_count")]
    cached_tokens: Option<u64>,
    /// OpenRouter reports cache writes here; they are part of `prompt_tokens`.
    #[serde(default, deserialize_with = "lenient_count")]
    cache_write_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct CompletionDetails {
    #[serde(default, deserialize_with = "lenient_count")]
    reasoning_tokens: Option<u64>,
}

impl WireUsage {
    pub fn to_usage(&self) -> Usage {
        let details = self.prompt_tokens_details.as_ref();
        let cache_read = details
            .and_then(|d| d.cached_tokens)
            .or(self.prompt_cache_hit_tokens);
        let cache_write = details.and_then(|d| d.cache_write_tokens);
        let reasoning = self
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens);
        // Tokens in the total that neither prompt nor completion account for (see above).
        let hidden = match (
            self.total_tokens,
            self.prompt_tokens,
            self.completion_tokens,
        ) {
            (Some(total), Some(prompt), Some(completion)) => {
                total.saturating_sub(prompt.saturating_add(completion))
            }
            _ => 0,
        };
        let (output, reasoning) = match hidden {
            0 => (self.completion_tokens, reasoning),
            _ => (
                self.completion_tokens.map(|c| c.saturating_add(hidden)),
                reasoning.or(Some(hidden)),
            ),
        };
        Usage {
            output_tokens: output,
            reasoning_tokens: reasoning,
            ..Usage::from_prompt(
                PromptConvention::IncludesCache,
                self.prompt_tokens,
                cache_read,
                cache_write,
            )
        }
    }
}

/// Canonical usage → OpenAI usage object. Details appear only for counters that are known;
/// cache writes use OpenRouter's `cache_write_tokens` so they are not lost.
pub fn encode(usage: &Usage) -> Value {
    let prompt = usage.prompt_tokens();
    let completion = usage.completion_tokens();
    let mut out = Map::new();
    out.insert("prompt_tokens".into(), json!(prompt));
    out.insert("completion_tokens".into(), json!(completion));
    out.insert("total_tokens".into(), json!(usage.total_tokens()));
    let mut prompt_details = Map::new();
    if let Some(read) = usage.cache_read_tokens {
        prompt_details.insert("cached_tokens".into(), json!(read));
    }
    if let Some(write) = usage.cache_write_tokens {
        prompt_details.insert("cache_write_tokens".into(), json!(write));
    }
    if !prompt_details.is_empty() {
        out.insert(
            "prompt_tokens_details".into(),
            Value::Object(prompt_details),
        );
    }
    if let Some(reasoning) = usage.reasoning_tokens {
        out.insert(
            "completion_tokens_details".into(),
            json!({ "reasoning_tokens": reasoning }),
        );
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
    fn prompt_includes_cache_and_completion_includes_reasoning() {
        let u = decode(json!({
            "prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
            "prompt_tokens_details": {"cached_tokens": 1920},
            "completion_tokens_details": {"reasoning_tokens": 192}
        }));
        assert_eq!(u.input_tokens, Some(86));
        assert_eq!(u.cache_read_tokens, Some(1920));
        assert_eq!(u.cache_write_tokens, None);
        assert_eq!(u.output_tokens, Some(300));
        assert_eq!(u.reasoning_tokens, Some(192));
    }

    #[test]
    fn deepseek_cache_hits() {
        let u = decode(
            json!({"prompt_tokens": 10, "completion_tokens": 1, "prompt_cache_hit_tokens": 4}),
        );
        assert_eq!((u.input_tokens, u.cache_read_tokens), (Some(6), Some(4)));
    }

    #[test]
    fn openrouter_cache_writes_are_inside_prompt() {
        let u = decode(json!({"prompt_tokens": 100, "completion_tokens": 1,
            "prompt_tokens_details": {"cached_tokens": 10, "cache_write_tokens": 30}}));
        assert_eq!(u.input_tokens, Some(60));
        assert_eq!(u.cache_write_tokens, Some(30));
    }

    #[test]
    fn missing_details_are_unknown_not_zero() {
        let u = decode(json!({"prompt_tokens": 35, "completion_tokens": 12, "total_tokens": 47}));
        assert_eq!(u.input_tokens, Some(35));
        assert_eq!(u.cache_read_tokens, None);
        assert_eq!(u.output_tokens, Some(12));
        assert_eq!(u.reasoning_tokens, None);
    }

    #[test]
    fn thinking_hidden_in_the_total_counts_as_output() {
        // Gemini's OpenAI-compatible endpoint (recorded): 62 thinking tokens only in the total.
        let u = decode(json!({"prompt_tokens": 35, "completion_tokens": 12, "total_tokens": 109}));
        assert_eq!(u.output_tokens, Some(74));
        assert_eq!(u.reasoning_tokens, Some(62));
        assert_eq!(u.total_tokens(), 109);
    }

    #[test]
    fn encode_round_trips() {
        let u = Usage {
            input_tokens: Some(3),
            cache_read_tokens: Some(1111),
            cache_write_tokens: Some(418),
            output_tokens: Some(33),
            reasoning_tokens: None,
        };
        let wire = encode(&u);
        assert_eq!(wire["prompt_tokens"], 1532);
        assert_eq!(wire["total_tokens"], 1565);
        assert!(wire.get("completion_tokens_details").is_none());
        assert_eq!(decode(wire), u);
    }
}
