//! What an attempt cost, from its usage and its model's prices.
//!
//! Money is integers, never floats, so sums over millions of records do not drift: prices
//! are micro-dollars per million tokens (which is also pico-dollars per token), the cost of
//! one record is computed exactly in pico-dollars and rounded half up to whole
//! nano-dollars (10⁻⁹ USD), the unit of the usage record's `cost_nano_usd`.

use serde::{Deserialize, Serialize};

use crate::model::Usage;

/// Prices of one model, each in micro-dollars per million tokens (USD per million × 10⁶).
/// Counters without a price of their own are charged at the related one: cache reads and
/// writes at the input price, reasoning at the output price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Price {
    pub input: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<u64>,
    pub output: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<u64>,
}

/// Pico-dollars in a nano-dollar.
const PICO_PER_NANO: u128 = 1000;

impl Price {
    /// The cost of `usage` in nano-dollars, rounded half up. Unknown counters count as 0;
    /// reasoning is the part of the output it is reported to be (never more than all of it).
    pub fn cost_nano_usd(&self, usage: &Usage) -> u64 {
        let count = |n: Option<u64>| u128::from(n.unwrap_or(0));
        let output = count(usage.output_tokens);
        let (visible, reasoning) = match self.reasoning {
            Some(_) => {
                let reasoning = count(usage.reasoning_tokens).min(output);
                (output - reasoning, reasoning)
            }
            None => (output, 0),
        };
        let pico = count(usage.input_tokens) * u128::from(self.input)
            + count(usage.cache_read_tokens) * u128::from(self.cached_input.unwrap_or(self.input))
            + count(usage.cache_write_tokens) * u128::from(self.cache_write.unwrap_or(self.input))
            + visible * u128::from(self.output)
            + reasoning * u128::from(self.reasoning.unwrap_or(self.output));
        u64::try_from((pico + PICO_PER_NANO / 2) / PICO_PER_NANO).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// USD per million tokens, as price tables state it.
    fn usd(per_million: f64) -> u64 {
        (per_million * 1e6).round() as u64
    }

    /// Input and output prices only.
    fn price(input: f64, output: f64) -> Price {
        Price {
            input: usd(input),
            cached_input: None,
            cache_write: None,
            output: usd(output),
            reasoning: None,
        }
    }

    fn usage(input: u64, read: u64, write: u64, output: u64, reasoning: Option<u64>) -> Usage {
        Usage {
            input_tokens: Some(input),
            cache_read_tokens: Some(read),
            cache_write_tokens: Some(write),
            output_tokens: Some(output),
            reasoning_tokens: reasoning,
        }
    }

    #[test]
    fn every_counter_at_its_price() {
        // Claude Sonnet 4.5: $3 in, $0.30 cache read, $3.75 cache write, $15 out.
        let price = Price {
            cached_input: Some(usd(0.30)),
            cache_write: Some(usd(3.75)),
            ..price(3.0, 15.0)
        };
        // The recorded cache answer: 3 in, 1111 read, 418 written, 33 out.
        // 3×3 + 1111×0.3 + 418×3.75 + 33×15 = 9 + 333.3 + 1567.5 + 495 = 2404.8 µ$
        assert_eq!(
            price.cost_nano_usd(&usage(3, 1111, 418, 33, None)),
            2_404_800
        );
    }

    #[test]
    fn missing_prices_fall_back_to_input_and_output() {
        let price = price(1.0, 2.0);
        // (10 + 20 + 30) × 1 + 40 × 2 = 140 µ$
        assert_eq!(
            price.cost_nano_usd(&usage(10, 20, 30, 40, Some(5))),
            140_000
        );
    }

    #[test]
    fn reasoning_priced_apart_is_taken_out_of_the_output() {
        let price = Price {
            reasoning: Some(usd(3.0)),
            ..price(0.0, 1.0)
        };
        // 40 out of which 10 reasoning: 30 × 1 + 10 × 3 = 60 µ$
        assert_eq!(price.cost_nano_usd(&usage(0, 0, 0, 40, Some(10))), 60_000);
        // Reported reasoning above the output (seen from OpenRouter) is capped.
        assert_eq!(price.cost_nano_usd(&usage(0, 0, 0, 10, Some(11))), 30_000);
    }

    #[test]
    fn fractions_of_a_nano_dollar_round_half_up_and_sums_stay_exact() {
        // $0.0375 per million tokens is 37.5 nano-dollars a token.
        let price = price(0.0375, 0.0);
        assert_eq!(price.cost_nano_usd(&usage(1, 0, 0, 0, None)), 38);
        assert_eq!(price.cost_nano_usd(&usage(2, 0, 0, 0, None)), 75);
        assert_eq!(
            price.cost_nano_usd(&usage(1_000_000, 0, 0, 0, None)),
            37_500_000
        );
    }

    #[test]
    fn unknown_counters_cost_nothing() {
        let price = price(1.0, 1.0);
        assert_eq!(price.cost_nano_usd(&Usage::default()), 0);
    }
}
