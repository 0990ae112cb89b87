//! Spending budgets per virtual key, team and agent, enforced at admission.
//!
//! A request that falls under budgets reserves an estimate of its cost in each of them
//! before anything goes upstream ([`estimate_nano_usd`]: the request's input tokens,
//! estimated from its size, plus its `max_tokens` — or a configured default — of output,
//! each at the model's dearest price for that side). A budget that cannot hold the whole
//! estimate refuses the request ([`budget_exceeded`], HTTP 402). When the answer ends, the
//! estimate is swapped for the actual cost from the usage record; a request that fails
//! releases its estimate. Ledgers live in proxy-wasm shared data ([`store`]) with the same
//! compare-and-swap as the rate limits, and the control plane's count of what the other
//! Envoy processes spent arrives on a poll ([`poll`]); no request waits for it.

pub mod ledger;
pub mod period;
pub mod poll;
pub mod store;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cost::Price;
use crate::error::{ErrorKind, GatewayError};
use crate::usage_estimate::CHARS_PER_TOKEN;

pub use ledger::{Exhausted, Ledger, Reservation};
pub use period::Period;

/// The gateway filter's budgets (`GatewayConfig::budgets`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BudgetsConfig {
    pub budgets: Vec<Budget>,
    /// Output tokens reserved for a request that sets no `max_tokens`.
    pub default_max_output_tokens: u64,
    /// How often the control plane is asked what every Envoy has spent.
    pub poll_interval_ms: u64,
    /// Model alias → the dearest price among the upstream models that may serve it, for
    /// estimates. An alias missing here costs nothing to reserve (its cost is unknown, and
    /// so is its records' cost).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<String, Price>,
}

/// One budget: a limit on what its scope spends per period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Budget {
    /// Identifier from the configuration (alerts and the control plane's state name it).
    pub id: String,
    pub scope: BudgetScope,
    /// The hard limit, in nano-dollars (10⁻⁹ USD, the unit of usage records' cost).
    pub limit_nano_usd: u64,
    #[serde(default)]
    pub period: Period,
}

/// Whose spending a budget limits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum BudgetScope {
    /// A virtual key, by id.
    Key(String),
    /// Every key of a team.
    Team(String),
    /// An agent id (`x-tollgate-agent-id`), whichever key it uses.
    Agent(String),
}

impl BudgetScope {
    /// Whether a request of `key_id` (of `team`), sent by `agent`, counts against it.
    pub fn covers(&self, key_id: &str, team: Option<&str>, agent: Option<&str>) -> bool {
        match self {
            BudgetScope::Key(id) => id == key_id,
            BudgetScope::Team(name) => team == Some(name.as_str()),
            BudgetScope::Agent(id) => agent == Some(id.as_str()),
        }
    }
}

/// Prefix of every shared-data key holding a budget's ledger.
const LEDGER_PREFIX: &str = "tollgate.budget.";

impl Budget {
    /// Shared-data key of the budget's ledger. Budget ids are identifiers (validated by the
    /// control plane), so keys cannot collide.
    pub fn ledger_key(&self) -> String {
        format!("{LEDGER_PREFIX}{}", self.id)
    }
}

/// The budgets a request counts against, in configuration order.
pub fn applicable<'a>(
    budgets: &'a [Budget],
    key_id: &str,
    team: Option<&str>,
    agent: Option<&str>,
) -> Vec<&'a Budget> {
    budgets
        .iter()
        .filter(|b| b.scope.covers(key_id, team, agent))
        .collect()
}

/// Pico-dollars in a nano-dollar.
const PICO_PER_NANO: u128 = 1000;

/// The most a request can cost, as far as is known before it runs: its input tokens
/// (`request_bytes` / [`CHARS_PER_TOKEN`], rounded up: bytes are never fewer than
/// characters) at the dearest input-side price (plain, cached or cache write), and
/// `max_output_tokens` at the dearest output-side price (plain or reasoning). Rounded up, so
/// an answer that stays within both never costs more.
pub fn estimate_nano_usd(price: &Price, request_bytes: u64, max_output_tokens: u64) -> u64 {
    let input_price = [price.cached_input, price.cache_write]
        .into_iter()
        .flatten()
        .fold(price.input, u64::max);
    let output_price = price
        .reasoning
        .map_or(price.output, |r| r.max(price.output));
    let input_tokens = request_bytes.div_ceil(CHARS_PER_TOKEN);
    let pico = u128::from(input_tokens) * u128::from(input_price)
        + u128::from(max_output_tokens) * u128::from(output_price);
    u64::try_from(pico.div_ceil(PICO_PER_NANO)).unwrap_or(u64::MAX)
}

/// The cost in a usage record (`cost_nano_usd`; see `usage_record`), `None` when it has
/// none (unknown price) or is not a record.
pub fn record_cost(usage_record: &[u8]) -> Option<u64> {
    let record: serde_json::Value = serde_json::from_slice(usage_record).ok()?;
    record.get("cost_nano_usd")?.as_u64()
}

/// Why a request was refused by a budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub budget_id: String,
    pub exhausted: Exhausted,
    /// The request's estimate.
    pub estimate: u64,
}

impl Refusal {
    /// Whole seconds until the budget resets (for `retry-after`); `None` without period.
    pub fn retry_after_secs(&self, now_ms: u64) -> Option<u64> {
        let resets = self.exhausted.resets_at_ms?;
        Some(resets.saturating_sub(now_ms).div_ceil(1000).max(1))
    }
}

/// The 402 a refused request gets, in the client's format: OpenAI's `insufficient_quota`,
/// Anthropic's `billing_error`.
pub fn budget_exceeded(refusal: &Refusal) -> GatewayError {
    let usd = |nano: u64| nano as f64 / 1e9;
    let e = &refusal.exhausted;
    let message = format!(
        "Budget '{}' is exhausted: ${:.6} of ${:.6} spent or reserved, and this request may \
         cost up to ${:.6}.{}",
        refusal.budget_id,
        usd(e.spent),
        usd(e.limit),
        usd(refusal.estimate),
        match e.resets_at_ms {
            Some(_) => " It resets at the start of its next period (see retry-after).",
            None => "",
        }
    );
    GatewayError::new(ErrorKind::BudgetExceeded, "budget_exceeded", message)
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
