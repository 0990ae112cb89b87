//! Token usage, normalised across providers.
//!
//! Providers disagree on what their input count contains: OpenAI's `prompt_tokens` and
//! Gemini's `promptTokenCount` include cached tokens, Anthropic's `input_tokens` and Bedrock's
//! `inputTokens` exclude them. [`Usage`] always stores input *excluding* cache, with cache reads
//! and writes separate, and output *including* reasoning. Every counter is an `Option`: `None`
//! means the provider did not say, which is different from a reported zero.

use serde_json::{json, Value};

/// How a provider's prompt count relates to cached tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptConvention {
    /// The prompt count already contains cache reads and writes (OpenAI, Gemini).
    IncludesCache,
    /// The prompt count excludes cache reads and writes (Anthropic, Bedrock).
    ExcludesCache,
}

/// Normalised token counts for one response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens billed at the normal rate: neither read from nor written to a cache.
    pub input_tokens: Option<u64>,
    /// Input tokens read from the provider's prompt cache.
    pub cache_read_tokens: Option<u64>,
    /// Input tokens written to the provider's prompt cache.
    pub cache_write_tokens: Option<u64>,
    /// Generated tokens, reasoning included.
    pub output_tokens: Option<u64>,
    /// The part of `output_tokens` spent on reasoning, when the provider reports it.
    pub reasoning_tokens: Option<u64>,
}

impl Usage {
    /// Input-side counts from a provider's prompt figure and its convention.
    ///
    /// With [`PromptConvention::IncludesCache`] the cache counts are subtracted from the prompt
    /// count; inconsistent figures (cache larger than prompt) saturate at zero rather than wrap.
    pub fn from_prompt(
        convention: PromptConvention,
        prompt: Option<u64>,
        cache_read: Option<u64>,
        cache_write: Option<u64>,
    ) -> Usage {
        let input = match convention {
            PromptConvention::ExcludesCache => prompt,
            PromptConvention::IncludesCache => prompt.map(|p| {
                p.saturating_sub(cache_read.unwrap_or(0))
                    .saturating_sub(cache_write.unwrap_or(0))
            }),
        };
        Usage {
            input_tokens: input,
            cache_read_tokens: cache_read,
            cache_write_tokens: cache_write,
            ..Usage::default()
        }
    }

    /// True when no counter is known.
    pub fn is_empty(&self) -> bool {
        *self == Usage::default()
    }

    /// Takes every counter `newer` knows, keeping the others. Streams report cumulative
    /// figures, so the latest report of a counter is the right one.
    pub fn update(&mut self, newer: &Usage) {
        fn take(slot: &mut Option<u64>, newer: Option<u64>) {
            if newer.is_some() {
                *slot = newer;
            }
        }
        take(&mut self.input_tokens, newer.input_tokens);
        take(&mut self.cache_read_tokens, newer.cache_read_tokens);
        take(&mut self.cache_write_tokens, newer.cache_write_tokens);
        take(&mut self.output_tokens, newer.output_tokens);
        take(&mut self.reasoning_tokens, newer.reasoning_tokens);
    }

    /// Counter-wise sum, for providers that report several sampling iterations. A counter
    /// stays unknown only if it is unknown in both.
    pub fn sum(&self, other: &Usage) -> Usage {
        fn add(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            match (a, b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
            }
        }
        Usage {
            input_tokens: add(self.input_tokens, other.input_tokens),
            cache_read_tokens: add(self.cache_read_tokens, other.cache_read_tokens),
            cache_write_tokens: add(self.cache_write_tokens, other.cache_write_tokens),
            output_tokens: add(self.output_tokens, other.output_tokens),
            reasoning_tokens: add(self.reasoning_tokens, other.reasoning_tokens),
        }
    }

    /// All input tokens, cached or not (OpenAI's `prompt_tokens`). Unknown counters count as 0.
    pub fn prompt_tokens(&self) -> u64 {
        self.input_tokens
            .unwrap_or(0)
            .saturating_add(self.cache_read_tokens.unwrap_or(0))
            .saturating_add(self.cache_write_tokens.unwrap_or(0))
    }

    /// Output tokens including reasoning (OpenAI's `completion_tokens`). Unknown counts as 0.
    pub fn completion_tokens(&self) -> u64 {
        self.output_tokens.unwrap_or(0)
    }

    /// `prompt_tokens + completion_tokens`.
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens()
            .saturating_add(self.completion_tokens())
    }

    /// The usage as a JSON object for log and usage records; unknown counters are `null`.
    pub fn to_json(&self) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        })
    }

    /// Reads back what [`Usage::to_json`] wrote; counters that are absent or not numbers
    /// are unknown.
    pub fn from_json(value: &Value) -> Usage {
        let counter = |name: &str| value.get(name).and_then(Value::as_u64);
        Usage {
            input_tokens: counter("input_tokens"),
            cache_read_tokens: counter("cache_read_tokens"),
            cache_write_tokens: counter("cache_write_tokens"),
            output_tokens: counter("output_tokens"),
            reasoning_tokens: counter("reasoning_tokens"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusive_prompt_subtracts_cache() {
        let u = Usage::from_prompt(
            PromptConvention::IncludesCache,
            Some(1000),
            Some(800),
            Some(50),
        );
        assert_eq!(u.input_tokens, Some(150));
        assert_eq!(u.prompt_tokens(), 1000);
    }

    #[test]
    fn exclusive_prompt_is_kept() {
        let u = Usage::from_prompt(
            PromptConvention::ExcludesCache,
            Some(3),
            Some(1111),
            Some(418),
        );
        assert_eq!(u.input_tokens, Some(3));
        assert_eq!(u.prompt_tokens(), 1532);
    }

    #[test]
    fn inconsistent_cache_saturates() {
        let u = Usage::from_prompt(PromptConvention::IncludesCache, Some(10), Some(20), None);
        assert_eq!(u.input_tokens, Some(0));
    }

    #[test]
    fn unknown_prompt_stays_unknown() {
        let u = Usage::from_prompt(PromptConvention::IncludesCache, None, Some(20), None);
        assert_eq!(u.input_tokens, None);
        assert_eq!(u.cache_read_tokens, Some(20));
    }

    #[test]
    fn json_round_trips() {
        let u = Usage {
            input_tokens: Some(3),
            cache_read_tokens: Some(1111),
            output_tokens: Some(40),
            reasoning_tokens: Some(0),
            ..Usage::default()
        };
        assert_eq!(Usage::from_json(&u.to_json()), u);
        assert_eq!(Usage::from_json(&json!("x")), Usage::default());
    }

    #[test]
    fn update_keeps_counters_the_newer_report_lacks() {
        let mut u = Usage {
            input_tokens: Some(377),
            output_tokens: Some(1),
            ..Usage::default()
        };
        u.update(&Usage {
            output_tokens: Some(65),
            ..Usage::default()
        });
        assert_eq!(u.input_tokens, Some(377));
        assert_eq!(u.output_tokens, Some(65));
    }

    #[test]
    fn sum_keeps_unknown_only_when_both_unknown() {
        let a = Usage {
            input_tokens: Some(1),
            ..Usage::default()
        };
        let b = Usage {
            input_tokens: Some(2),
            output_tokens: Some(5),
            ..Usage::default()
        };
        let s = a.sum(&b);
        assert_eq!(s.input_tokens, Some(3));
        assert_eq!(s.output_tokens, Some(5));
        assert_eq!(s.reasoning_tokens, None);
    }

    #[test]
    fn json_marks_unknown_as_null() {
        let u = Usage {
            output_tokens: Some(7),
            ..Usage::default()
        };
        let v = u.to_json();
        assert_eq!(v["output_tokens"], 7);
        assert!(v["input_tokens"].is_null());
        assert_eq!(u.total_tokens(), 7);
    }
}
