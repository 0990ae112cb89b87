//! One request's budgets in the gateway filter: an estimate reserved before anything goes
//! upstream, swapped for the actual cost once the answer has ended (or released when it
//! failed). Ledgers live in proxy-wasm shared data; every decision is
//! `tollgate_core::budget`'s.

use proxy_wasm::traits::HttpContext;
use tollgate_core::budget::store::{self, Denied, Hold};
use tollgate_core::budget::{self, BudgetsConfig};
use tollgate_core::log_fields;

use crate::host::unix_millis;
use crate::ratelimiting::SharedData;

/// Who is asking and for what, as far as budgets care.
pub struct Request<'a> {
    pub key_id: &'a str,
    pub team: Option<&'a str>,
    pub agent: Option<&'a str>,
    pub alias: &'a str,
    pub body_bytes: u64,
    pub max_output_tokens: Option<u64>,
}

/// The holds of an admitted request, until it settles.
pub struct Budgeting {
    holds: Vec<Hold>,
}

impl Budgeting {
    /// Reserves the request's estimate in every budget it falls under. `Ok(None)` when
    /// none applies.
    pub fn admit(
        config: &BudgetsConfig,
        request: &Request,
        now_ms: u64,
    ) -> Result<Option<Budgeting>, Denied> {
        let budgets =
            budget::applicable(&config.budgets, request.key_id, request.team, request.agent);
        if budgets.is_empty() {
            return Ok(None);
        }
        let max_output = request
            .max_output_tokens
            .unwrap_or(config.default_max_output_tokens);
        let estimate = config.prices.get(request.alias).map_or(0, |price| {
            budget::estimate_nano_usd(price, request.body_bytes, max_output)
        });
        let holds = store::reserve_all(&SharedData, &budgets, now_ms, estimate)?;
        Ok(Some(Budgeting { holds }))
    }

    /// Swaps the estimate for the cost in the usage record the provider filter left in
    /// filter state: the final one, or the last provisional one of a stream the client cut.
    /// No record (the request never reached a provider) releases the estimate.
    pub fn settle(self, ctx: &dyn HttpContext) {
        let cost = ctx
            .get_property(vec![log_fields::USAGE.property])
            .and_then(|record| budget::record_cost(&record))
            .unwrap_or(0);
        let now = unix_millis(ctx.get_current_time());
        if store::settle_all(&SharedData, &self.holds, now, cost).is_err() {
            log::warn!("tollgate: budget settlement of {cost} nano-USD lost to contention");
        }
    }
}
