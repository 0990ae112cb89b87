//! Model prices: the table shipped with Tollgate (`control-plane/prices/prices.yaml`,
//! embedded at build time) and the config's `prices:` overrides, merged per model into the
//! filter contract's integer [`Price`]s.

use std::collections::BTreeMap;

use serde::Deserialize;
use tollgate_core::cost::Price;

use super::diagnostics::Problem;
use super::raw;
use super::spans::field;
use super::validate::Validator;

/// The shipped price table, as text.
pub const PRICE_TABLE: &str = include_str!("../../prices/prices.yaml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    #[allow(dead_code)] // read for strictness; one version so far
    version: u32,
    models: BTreeMap<String, raw::Price>,
}

/// Micro-dollars per dollar: prices are held as micro-dollars per million tokens.
const MICROS: f64 = 1e6;
/// Highest price accepted, in USD per million tokens: far above any list price, and low
/// enough that a cost cannot overflow for any realistic token count.
const MAX_USD_PER_MILLION: f64 = 1e6;

/// USD per million tokens → micro-dollars per million, when it is a price at all: finite,
/// in range and exact to the micro-dollar.
fn micros(usd: f64) -> Option<u64> {
    if !(0.0..=MAX_USD_PER_MILLION).contains(&usd) {
        return None;
    }
    let scaled = usd * MICROS;
    let rounded = scaled.round();
    // Six decimals survive f64 exactly at these magnitudes; a seventh does not round away.
    ((scaled - rounded).abs() < 1e-3).then_some(rounded as u64)
}

/// The shipped table, converted. Its validity is a build-time invariant, checked by the
/// tests below; an entry that somehow fails is left out (unpriced), never guessed.
fn shipped() -> BTreeMap<String, Price> {
    let Ok(table) = serde_yaml_ng::from_str::<Table>(PRICE_TABLE) else {
        return BTreeMap::new();
    };
    table
        .models
        .into_iter()
        .filter_map(|(model, price)| Some((model, convert(&price).ok()?)))
        .collect()
}

/// The first field that is not a price, with its value.
fn convert(raw: &raw::Price) -> Result<Price, (&'static str, f64)> {
    let required = |name: &'static str, usd: f64| micros(usd).ok_or((name, usd));
    let optional =
        |name: &'static str, usd: Option<f64>| usd.map(|u| required(name, u)).transpose();
    Ok(Price {
        input: required("input", raw.input)?,
        cached_input: optional("cached_input", raw.cached_input)?,
        cache_write: optional("cache_write", raw.cache_write)?,
        output: required("output", raw.output)?,
        reasoning: optional("reasoning", raw.reasoning)?,
    })
}

impl Validator<'_> {
    /// The shipped table with the config's overrides applied: an override replaces the
    /// table's entry for its model whole.
    pub(super) fn prices(
        &mut self,
        overrides: Option<BTreeMap<String, raw::Price>>,
    ) -> BTreeMap<String, Price> {
        let mut prices = shipped();
        for (model, raw) in overrides.unwrap_or_default() {
            let path = field("prices", &model);
            if model.is_empty() {
                self.report(&path, Problem::Empty);
                continue;
            }
            match convert(&raw) {
                Ok(price) => {
                    prices.insert(model, price);
                }
                Err((name, usd)) => {
                    self.report(&field(&path, name), Problem::Price(usd.to_string()))
                }
            }
        }
        prices
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load;
    use crate::config::test_support::errors;

    const BASE: &str = "version: 1
providers: [{name: p, kind: openai, base_url: 'https://x.example/v1'}]
models: [{alias: a, provider: p, model: gpt-4o-mini}]
";

    #[test]
    fn overrides_replace_the_table_entry_and_add_models() {
        let text = format!(
            "{BASE}prices:\n  gpt-4o-mini: {{input: 1, output: 2}}\n  \
             my-finetune: {{input: 0.5, cached_input: 0.25, output: 1.5, reasoning: 3}}\n"
        );
        let prices = load(&text, None).unwrap().config.prices;
        let overridden = prices["gpt-4o-mini"];
        assert_eq!(
            (overridden.input, overridden.output),
            (1_000_000, 2_000_000)
        );
        assert_eq!(
            overridden.cached_input, None,
            "an override replaces the entry whole"
        );
        assert_eq!(prices["my-finetune"].reasoning, Some(3_000_000));
        assert!(
            prices.contains_key("claude-sonnet-4-5"),
            "the table is still there"
        );
    }

    #[test]
    fn bad_prices_are_located() {
        let text = format!(
            "{BASE}prices:\n  x: {{input: -1, output: 2}}\n  y: {{input: 1, output: 0.0000001}}\n"
        );
        assert_eq!(
            errors(&text),
            [
                (
                    "prices.x.input".to_string(),
                    5,
                    "a price is USD per million tokens: at least 0, at most 1000000, with at \
                     most 6 decimals; found -1"
                        .to_string()
                ),
                (
                    "prices.y.output".to_string(),
                    6,
                    "a price is USD per million tokens: at least 0, at most 1000000, with at \
                     most 6 decimals; found 0.0000001"
                        .to_string()
                ),
            ]
        );
        let typo = format!("{BASE}prices:\n  x: {{input: 1, outptu: 2}}\n");
        let found = errors(&typo);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].0.as_str(), found[0].1),
            ("prices.x.outptu", 5),
            "{found:?}"
        );
        assert!(found[0].2.contains("unknown field `outptu`"), "{found:?}");
    }

    #[test]
    fn the_shipped_table_is_valid_and_complete() {
        let table: Table = serde_yaml_ng::from_str(PRICE_TABLE).expect("prices.yaml parses");
        assert_eq!(table.version, 1);
        for (model, price) in &table.models {
            assert!(convert(price).is_ok(), "{model}: {price:?}");
        }
        assert_eq!(shipped().len(), table.models.len());
        // The default config's models are priced.
        for model in [
            "mock-gpt",
            "mock-claude",
            "gpt-4o-mini",
            "claude-sonnet-4-5",
        ] {
            assert!(shipped().contains_key(model), "{model}");
        }
    }

    #[test]
    fn prices_are_exact_micro_dollars() {
        assert_eq!(micros(3.0), Some(3_000_000));
        assert_eq!(micros(0.0375), Some(37_500));
        assert_eq!(micros(4.125), Some(4_125_000));
        assert_eq!(micros(0.000001), Some(1));
        assert_eq!(micros(0.0000001), None);
        assert_eq!(micros(-1.0), None);
        assert_eq!(micros(f64::NAN), None);
        assert_eq!(micros(f64::INFINITY), None);
        assert_eq!(micros(2e6), None);
    }

    #[test]
    fn shipped_prices_convert_to_micro_dollars() {
        let sonnet = shipped()["claude-sonnet-4-5"];
        assert_eq!(
            sonnet,
            Price {
                input: 3_000_000,
                cached_input: Some(300_000),
                cache_write: Some(3_750_000),
                output: 15_000_000,
                reasoning: None,
            }
        );
    }
}
