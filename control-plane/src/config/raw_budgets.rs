//! The `budgets:` section exactly as written (see [`super::raw`] for the conventions).

use serde::Deserialize;
use tollgate_core::budget::Period;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    /// Output tokens reserved for a request without `max_tokens`.
    pub default_max_output_tokens: Option<u64>,
    /// How often each Envoy asks the service what the others spent (and how often the
    /// service checks alert thresholds).
    pub poll_interval: Option<String>,
    /// Where soft-threshold alerts are POSTed (plain `http://`).
    pub alert_webhook: Option<String>,
    pub limits: Vec<Limit>,
}

/// One budget: exactly one of `key`, `team`, `agent`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub id: String,
    pub key: Option<String>,
    pub team: Option<String>,
    pub agent: Option<String>,
    pub limit_usd: f64,
    pub period: Option<Period>,
    #[serde(default)]
    pub alert_at_percent: Vec<u64>,
}
