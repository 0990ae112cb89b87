//! Budget ledgers in the store every worker shares (proxy-wasm shared data in Envoy),
//! updated with the rate limits' compare-and-swap ([`compare_and_swap`]).
//!
//! Each update is atomic per budget. A request under several budgets reserves in each in
//! turn and gives back what it had reserved when one refuses, so a refused request holds
//! nothing; two requests racing for the last room of a budget cannot both get it.

use serde::{Deserialize, Serialize};

use super::ledger::{apply, Exhausted, Ledger, Op, Reservation};
use super::{budget_exceeded, Budget, Refusal};
use crate::error::{ErrorKind, GatewayError};
use crate::ratelimit::store::{compare_and_swap, Conflict, SharedStore};

/// An admitted request's reservation in one budget, until it settles (serializable: an
/// MCP call cut off leaves its holds in filter state for the gateway filter to settle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub budget: Budget,
    pub estimate: u64,
    /// The period the estimate was reserved in.
    pub period_start_ms: u64,
}

/// Applies `op` to `budget`'s ledger; returns the ledger written.
fn update(
    store: &(impl SharedStore + ?Sized),
    budget: &Budget,
    now_ms: u64,
    op: Op,
) -> Result<Result<Ledger, Exhausted>, Conflict> {
    let mut written = Ledger::default();
    let outcome = compare_and_swap(store, &budget.ledger_key(), |bytes| {
        // Unreadable bytes (another build's layout) start afresh, still under CAS.
        let stored = bytes.and_then(Ledger::decode);
        let next = apply(stored, budget.limit_nano_usd, budget.period, now_ms, op)?;
        written = next;
        Ok(next.encode())
    })?;
    Ok(outcome.map(|()| written))
}

/// Why a reservation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// A budget cannot hold the estimate.
    Exhausted(Refusal),
    /// A ledger changed under every attempt to update it.
    Contended { budget_id: String },
}

impl Denied {
    /// The client's error, and its `retry-after` in seconds when waiting helps: until the
    /// period resets for an exhausted budget, a second for a contended one (429).
    pub fn reply(&self, now_ms: u64) -> (GatewayError, Option<u64>) {
        match self {
            Denied::Exhausted(refusal) => {
                (budget_exceeded(refusal), refusal.retry_after_secs(now_ms))
            }
            Denied::Contended { budget_id } => {
                let message = format!("Budget '{budget_id}' is busy. Retry after 1 s.");
                let error = GatewayError::new(ErrorKind::RateLimited, "budget_contended", message);
                (error, Some(1))
            }
        }
    }
}

/// Reserves `estimate` in every budget, or in none.
pub fn reserve_all(
    store: &(impl SharedStore + ?Sized),
    budgets: &[&Budget],
    now_ms: u64,
    estimate: u64,
) -> Result<Vec<Hold>, Denied> {
    let mut holds = Vec::with_capacity(budgets.len());
    for budget in budgets {
        let denied = match update(store, budget, now_ms, Op::Reserve(estimate)) {
            Ok(Ok(ledger)) => {
                holds.push(Hold {
                    budget: (*budget).clone(),
                    estimate,
                    period_start_ms: ledger.period_start_ms,
                });
                continue;
            }
            Ok(Err(exhausted)) => Denied::Exhausted(Refusal {
                budget_id: budget.id.clone(),
                exhausted,
                estimate,
            }),
            Err(Conflict) => Denied::Contended {
                budget_id: budget.id.clone(),
            },
        };
        // Best effort: a release that loses every race leaves the estimate held until the
        // period ends (only ever too strict, never too lenient).
        let _ = settle_all(store, &holds, now_ms, 0);
        return Err(denied);
    }
    Ok(holds)
}

/// Swaps every hold's estimate for the actual cost `actual` (0 releases it). Best effort: an
/// update that loses every race is skipped and reported.
pub fn settle_all(
    store: &(impl SharedStore + ?Sized),
    holds: &[Hold],
    now_ms: u64,
    actual: u64,
) -> Result<(), Conflict> {
    let mut result = Ok(());
    for hold in holds {
        let reservation = Reservation {
            estimate: hold.estimate,
            period_start_ms: hold.period_start_ms,
            actual,
        };
        if update(store, &hold.budget, now_ms, Op::Settle(reservation)).is_err() {
            result = Err(Conflict);
        }
    }
    result
}

/// Records the control plane's count of what the other Envoy processes spent on `budget`
/// in the period starting at `period_start_ms`.
pub fn rebase(
    store: &(impl SharedStore + ?Sized),
    budget: &Budget,
    now_ms: u64,
    period_start_ms: u64,
    others: u64,
) -> Result<(), Conflict> {
    let op = Op::Rebase {
        period_start_ms,
        others,
    };
    update(store, budget, now_ms, op).map(|_| ())
}

/// The ledger of `budget` as stored (for reports and tests).
pub fn ledger(store: &(impl SharedStore + ?Sized), budget: &Budget) -> Option<Ledger> {
    store
        .get(&budget.ledger_key())
        .and_then(|(bytes, _)| Ledger::decode(&bytes))
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
