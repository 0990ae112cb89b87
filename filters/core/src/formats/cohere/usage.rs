//! Cohere usage objects: `{billed_units: {input_tokens, output_tokens}, tokens:
//! {input_tokens, output_tokens}, cached_tokens}`.
//!
//! `tokens` counts everything the model read and wrote, including tokens Cohere adds
//! itself (its system preamble, special tokens); `billed_units` only what is charged. The
//! gateway prefers `tokens`, per counter, and falls back to `billed_units` (as Portkey
//! does). `cached_tokens` (newer responses) is part of `tokens.input_tokens`: every
//! recording has it at or below that figure (1360 of 1394, 1504 of 1549), far above the
//! billed input, so with `tokens` the cache is subtracted; `billed_units` input is taken to
//! exclude it. Cohere reports no reasoning count.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::formats::fields::lenient_count;
use crate::model::{PromptConvention, Usage};

#[derive(Debug, Default, Deserialize)]
pub struct WireUsage {
    #[serde(default)]
    billed_units: Option<Counts>,
    #[serde(default)]
    tokens: Option<Counts>,
    #[serde(default, deserialize_with = "lenient_count")]
    cached_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct Counts {
    #[serde(default, deserialize_with = "lenient_count")]
    input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    output_tokens: Option<u64>,
}

impl WireUsage {
    pub fn to_usage(&self) -> Usage {
        let counted = |read: fn(&Counts) -> Option<u64>| self.tokens.as_ref().and_then(read);
        let billed = |read: fn(&Counts) -> Option<u64>| self.billed_units.as_ref().and_then(read);
        let input = match counted(|c| c.input_tokens) {
            Some(all) => Usage::from_prompt(
                PromptConvention::IncludesCache,
                Some(all),
                self.cached_tokens,
                None,
            ),
            None => Usage::from_prompt(
                PromptConvention::ExcludesCache,
                billed(|c| c.input_tokens),
                self.cached_tokens,
                None,
            ),
        };
        Usage {
            output_tokens: counted(|c| c.output_tokens).or(billed(|c| c.output_tokens)),
            ..input
        }
    }
}

/// Canonical usage → Cohere usage object. The gateway does not know what Cohere would have
/// billed, so `billed_units` repeats `tokens`; unknown counters are 0.
pub fn encode(usage: &Usage) -> Value {
    let counts = json!({
        "input_tokens": usage.prompt_tokens(),
        "output_tokens": usage.completion_tokens(),
    });
    let mut out = Map::new();
    out.insert("billed_units".into(), counts.clone());
    out.insert("tokens".into(), counts);
    if let Some(cached) = usage.cache_read_tokens {
        out.insert("cached_tokens".into(), json!(cached));
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
    fn tokens_are_preferred_over_billed_units() {
        let u = decode(
            json!({"billed_units": {"input_tokens": 4, "output_tokens": 28},
            "tokens": {"input_tokens": 70, "output_tokens": 29}}),
        );
        assert_eq!((u.input_tokens, u.output_tokens), (Some(70), Some(29)));
        assert_eq!(u.cache_read_tokens, None);
        assert_eq!(u.reasoning_tokens, None);
    }

    #[test]
    fn billed_units_fill_in_per_counter() {
        let u = decode(
            json!({"billed_units": {"input_tokens": 4, "output_tokens": 28},
            "tokens": {"input_tokens": 70}}),
        );
        assert_eq!((u.input_tokens, u.output_tokens), (Some(70), Some(28)));
        let u = decode(json!({"billed_units": {"input_tokens": 4, "output_tokens": 28}}));
        assert_eq!((u.input_tokens, u.output_tokens), (Some(4), Some(28)));
    }

    #[test]
    fn cached_tokens_are_inside_the_token_count() {
        let u = decode(
            json!({"billed_units": {"input_tokens": 8, "output_tokens": 50},
            "tokens": {"input_tokens": 1394, "output_tokens": 54}, "cached_tokens": 1360}),
        );
        assert_eq!(
            (u.input_tokens, u.cache_read_tokens),
            (Some(34), Some(1360))
        );
        assert_eq!(u.prompt_tokens(), 1394);
    }

    #[test]
    fn nothing_reported_is_unknown() {
        assert!(decode(json!({})).is_empty());
    }

    #[test]
    fn encode_round_trips_totals() {
        let u = Usage {
            input_tokens: Some(34),
            cache_read_tokens: Some(1360),
            output_tokens: Some(54),
            ..Usage::default()
        };
        let wire = encode(&u);
        assert_eq!(
            wire["tokens"],
            json!({"input_tokens": 1394, "output_tokens": 54})
        );
        assert_eq!(decode(wire), u);
    }
}
