//! The Prometheus metrics the provider filter keeps, as Envoy stats.
//!
//! proxy-wasm metrics have a name and no labels, so the labels are written into the name
//! in Istio's encoding (`provider=.=openai;.;`) and the Envoy bootstrap's
//! `stats_config.stats_tags` ([`stats_tags`]) cuts each one out again as a tag. Envoy
//! prefixes the name with `wasmcustom.`; its Prometheus output strips that namespace, so
//! the tag-extracted `wasmcustom.tollgate_requests_total` becomes
//! `tollgate_requests_total{provider="openai",…}`. The labels go *before* the metric
//! name so that nothing but the name is left once every tag is cut out.
//!
//! Every label value comes from the configuration (provider name, model alias, upstream
//! model, guardrail name) or a small fixed set (status class, stage, action), so label
//! cardinality is bounded by the config; key ids, run ids and request ids never become
//! labels.

use crate::guardrails::report::{action_name, stage_name, Report};
use crate::usage_record::UsageRecord;

/// Upstream attempts that got a response, by status class.
pub const REQUESTS: &str = "tollgate_requests_total";
/// Tokens in (cache reads and writes included) and out, as the provider reported them
/// (or as estimated, see the usage record).
pub const INPUT_TOKENS: &str = "tollgate_input_tokens_total";
pub const OUTPUT_TOKENS: &str = "tollgate_output_tokens_total";
/// What the attempts cost, in nano-dollars (10⁻⁹ USD); unpriced models add nothing.
pub const COST: &str = "tollgate_cost_nano_usd_total";
/// Attempts after the first (`x-envoy-attempt-count` > 1), and attempts served by a
/// fallback step rather than the primary.
pub const RETRIES: &str = "tollgate_retries_total";
pub const FALLBACKS: &str = "tollgate_fallbacks_total";
/// Request start to response end of each attempt, in milliseconds (histogram).
pub const UPSTREAM_LATENCY: &str = "tollgate_upstream_latency_ms";
/// Guardrail findings by guardrail, stage and action.
pub const GUARDRAIL_VERDICTS: &str = "tollgate_guardrail_verdicts_total";

/// Every label any Tollgate metric carries; one `stats_tags` entry each.
pub const LABELS: [&str; 7] = [
    "provider",
    "model",
    "upstream_model",
    "status_class",
    "guardrail",
    "stage",
    "action",
];

/// Around a label's value in a stat name (Istio's encoding: dots are Envoy's separators,
/// so the delimiters contain one and survive any splitting on them).
const VALUE_START: &str = "=.=";
const VALUE_END: &str = ";.;";

/// How Envoy aggregates a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Counter,
    Histogram,
}

/// One update: add `value` to a counter, or record it in a histogram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub kind: Kind,
    /// The stat name with its labels encoded (see [`stat_name`]).
    pub name: String,
    pub value: u64,
}

/// `provider=.=openai;.;model=.=gpt-4o;.;tollgate_requests_total`: the labels, in the
/// order given, then the metric. A `;` or `=` in a value (aliases are any visible ASCII)
/// is written as `_`, so no value can end its label early or look like another label.
pub fn stat_name(metric: &str, labels: &[(&str, &str)]) -> String {
    let mut name = String::with_capacity(metric.len() + 24 * labels.len());
    for (label, value) in labels {
        name.push_str(label);
        name.push_str(VALUE_START);
        name.extend(
            value
                .chars()
                .map(|c| if c == ';' || c == '=' { '_' } else { c }),
        );
        name.push_str(VALUE_END);
    }
    name.push_str(metric);
    name
}

/// The bootstrap's `stats_config.stats_tags`: for each label, a regex whose first group
/// is cut from the stat name and whose second is the label's value.
pub fn stats_tags() -> Vec<(&'static str, String)> {
    LABELS
        .iter()
        .map(|label| (*label, format!(r"({label}=\.=(.*?);\.;)")))
        .collect()
}

/// `2xx` … `5xx`; `other` for anything outside 100–599.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// The updates for an attempt's final usage record.
pub fn attempt_samples(record: &UsageRecord) -> Vec<Sample> {
    let model = record.alias.as_deref().unwrap_or_default();
    let upstream_model = record.upstream_model.as_deref().unwrap_or_default();
    let labels = [
        ("provider", record.provider.as_str()),
        ("model", model),
        ("upstream_model", upstream_model),
    ];
    let counter = |metric: &str, value: u64| Sample {
        kind: Kind::Counter,
        name: stat_name(metric, &labels),
        value,
    };
    let requests = [
        labels[0],
        labels[1],
        labels[2],
        ("status_class", status_class(record.status)),
    ];
    let mut samples = vec![Sample {
        kind: Kind::Counter,
        name: stat_name(REQUESTS, &requests),
        value: 1,
    }];
    let usage = record.usage.unwrap_or_default();
    let counts = [
        // Cache reads and writes included: every token the prompt held.
        (INPUT_TOKENS, Some(usage.prompt_tokens())),
        (OUTPUT_TOKENS, Some(usage.completion_tokens())),
        (COST, record.cost_nano_usd),
    ];
    samples.extend(
        counts
            .into_iter()
            .filter_map(|(metric, value)| Some(counter(metric, value.filter(|v| *v > 0)?))),
    );
    if record.attempt.is_some_and(|attempt| attempt > 1) {
        samples.push(counter(RETRIES, 1));
    }
    if record
        .fallback_step
        .as_deref()
        .is_some_and(|step| step != "0")
    {
        samples.push(counter(FALLBACKS, 1));
    }
    if let Some(duration) = record.duration_ms {
        samples.push(Sample {
            kind: Kind::Histogram,
            name: stat_name(UPSTREAM_LATENCY, &labels),
            value: duration,
        });
    }
    samples
}

/// The updates for a request's guardrail verdicts (findings counted once per match).
pub fn guardrail_samples(provider: &str, report: &Report) -> Vec<Sample> {
    report
        .verdict_counts()
        .map(|(stage, guardrail, action, count)| Sample {
            kind: Kind::Counter,
            name: stat_name(
                GUARDRAIL_VERDICTS,
                &[
                    ("provider", provider),
                    ("guardrail", guardrail),
                    ("stage", stage_name(stage)),
                    ("action", action_name(action)),
                ],
            ),
            value: u64::from(count),
        })
        .collect()
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
