//! Priced tool calls against budgets. A `tools/call` whose tool has a price
//! ([`ToolPrice`]) reserves it, before it goes on, in every budget of the key, its team and
//! the agent: the ledgers LLM requests use, all or none ([`crate::budget::store`]). A budget
//! that cannot hold the price refuses the call with a JSON-RPC error and the call never
//! reaches the server. When the call ends, the price is spent if the server ran it and
//! released if it did not.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::budget::store::{self, Denied, Hold};
use crate::budget::{self, Budget};
use crate::guardrails::Report;
use crate::ratelimit::store::Conflict;
use crate::ratelimit::SharedStore;

use super::config::ToolPrice;
use super::jsonrpc;
use super::request::{check_request, ClientRequest, Forward, Refusal};
use super::step::CallEnd;

/// What a call of `tool` costs in nano-dollars: the first entry matching it; `None` when
/// no entry matches or the price is zero.
pub fn price_of(prices: &[ToolPrice], tool: &str) -> Option<u64> {
    prices
        .iter()
        .find(|p| p.tool.matches(tool))
        .map(|p| p.nano_usd_per_call)
        .filter(|&price| price > 0)
}

/// The prices of one server and the budgets that pay for its calls.
pub struct Pricing<'a> {
    pub prices: &'a [ToolPrice],
    pub budgets: &'a [Budget],
    pub store: &'a dyn SharedStore,
    /// The key's team and the agent sending (`x-tollgate-agent-id`), for their budgets.
    pub team: Option<&'a str>,
    pub agent: Option<&'a str>,
}

/// A forwarded priced call's price and holds, until the call ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub price: u64,
    holds: Vec<Hold>,
}

impl Pricing<'_> {
    /// [`check_request`], then the price of a call that passed every other check reserved
    /// (last, so a call refused for any other reason holds nothing).
    pub fn check(
        &self,
        request: &ClientRequest,
        body: &[u8],
        report: &mut Report,
    ) -> Result<(Forward, Option<Charge>), Box<Refusal>> {
        let forward = check_request(request, body, report)?;
        let price = match (forward.method.as_deref(), forward.target.as_deref()) {
            (Some("tools/call"), Some(tool)) => price_of(self.prices, tool),
            _ => None,
        };
        let Some(price) = price else {
            return Ok((forward, None));
        };
        let budgets = budget::applicable(self.budgets, request.key_id, self.team, self.agent);
        match store::reserve_all(self.store, &budgets, request.now_ms, price) {
            Ok(holds) => Ok((forward, Some(Charge { price, holds }))),
            Err(denied) => Err(refusal(&denied, forward, body, request.now_ms)),
        }
    }
}

/// The JSON-RPC error of a call no budget room was found for, answered like the other
/// refused calls (HTTP 200, the error in the body).
fn refusal(denied: &Denied, forward: Forward, body: &[u8], now_ms: u64) -> Box<Refusal> {
    let id = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|message| message.get("id").cloned());
    let (error, _) = denied.reply(now_ms);
    let body = jsonrpc::gateway_error(id.as_ref(), &error)
        .to_string()
        .into_bytes();
    Box::new(Refusal {
        id,
        status: 200,
        body,
        method: forward.method,
        target: forward.target,
        reason: error.code,
    })
}

impl Charge {
    /// What the call cost: its price, unless the server turned it down (an HTTP error
    /// status or a JSON-RPC error: the tool did not run). A call cut off before its answer
    /// is charged, since the tool may have run; a result withheld by a guardrail too.
    pub fn cost(&self, end: &CallEnd) -> u64 {
        if end.turned_down() {
            0
        } else {
            self.price
        }
    }

    /// Swaps the holds for `cost` (0 releases them). Best effort, like an LLM request's
    /// settlement: an update that loses every race is skipped and reported.
    pub fn settle(self, store: &dyn SharedStore, now_ms: u64, cost: u64) -> Result<(), Conflict> {
        store::settle_all(store, &self.holds, now_ms, cost)
    }
}

#[cfg(test)]
#[path = "pricing_tests.rs"]
mod tests;
