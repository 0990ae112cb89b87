//! How budget state reaches every Envoy: one root context per process asks the control
//! plane, on a tick, what every *other* Envoy process has spent per budget this period
//! (`GET` [`STATE_PATH`]), and writes the answer into the shared ledgers ([`super::store::rebase`]).
//! No request ever waits for the control plane.
//!
//! Each Envoy process names itself with a random instance id kept in shared data
//! ([`INSTANCE_KEY`]); its usage records carry it (`envoy_instance`), and the control plane
//! leaves that instance's records out of its answer. What this process spent is in its
//! ledgers already, so nothing is counted twice, however late its records are shipped.

use serde::{Deserialize, Serialize};

use crate::ratelimit::store::{compare_and_swap, Conflict, SharedStore};

/// The control plane's budget state endpoint (ingest-key guarded, like usage ingest).
pub const STATE_PATH: &str = "/v1/budgets/state";
/// Query parameter naming the instance whose own records are left out.
pub const EXCLUDE_PARAM: &str = "exclude_instance";
/// Shared-data key of this Envoy process's instance id.
pub const INSTANCE_KEY: &str = "tollgate.instance";
/// Shared-data key of the time the next poll is due, so one root of the process polls.
const LEASE_KEY: &str = "tollgate.budget.poll";

/// The control plane's answer: spending per budget in its current period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetState {
    pub budgets: Vec<BudgetSpend>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetSpend {
    pub id: String,
    pub period_start_ms: u64,
    /// Cost of the records counted (those of the excluded instance left out).
    pub spent_nano_usd: u64,
}

/// The request path for the poll of `instance`.
pub fn state_path(instance: &str) -> String {
    format!("{STATE_PATH}?{EXCLUDE_PARAM}={instance}")
}

/// An instance id from random bits: 16 lower-case hex digits (safe in a query string).
pub fn instance_id(random: u64) -> String {
    format!("{random:016x}")
}

/// Whether this root should poll now: takes the lease (the next due time, shared by every
/// root of the process) when it has expired. Losing a race means another root polls.
pub fn claim_poll(store: &impl SharedStore, now_ms: u64, interval_ms: u64) -> bool {
    let claimed = compare_and_swap(store, LEASE_KEY, |bytes| {
        let due = bytes
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_le_bytes);
        if now_ms < due {
            return Err(());
        }
        Ok(now_ms.saturating_add(interval_ms).to_le_bytes())
    });
    matches!(claimed, Ok(Ok(())))
}

/// The instance id of this process, creating it with `random` when no root has yet.
/// Envoy's shared data cannot create a key only if absent; roots configure before any
/// request, and the id is read back, so every user sees the id that stayed.
pub fn ensure_instance(store: &impl SharedStore, random: u64) -> Result<String, Conflict> {
    if let Some(id) = read_instance(store) {
        return Ok(id);
    }
    store.set(INSTANCE_KEY, instance_id(random).as_bytes(), None)?;
    read_instance(store).ok_or(Conflict)
}

/// This process's instance id, once a root has made it.
pub fn read_instance(store: &impl SharedStore) -> Option<String> {
    let (bytes, _) = store.get(INSTANCE_KEY)?;
    String::from_utf8(bytes).ok().filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::memory::Memory;

    #[test]
    fn one_root_polls_per_interval() {
        let store = Memory::default();
        assert!(claim_poll(&store, 1000, 500));
        assert!(!claim_poll(&store, 1000, 500), "another root, same tick");
        assert!(!claim_poll(&store, 1499, 500));
        assert!(claim_poll(&store, 1500, 500));
    }

    #[test]
    fn the_first_instance_id_stays() {
        let store = Memory::default();
        let first = ensure_instance(&store, 0xabc).unwrap();
        assert_eq!(first, "0000000000000abc");
        assert_eq!(ensure_instance(&store, 0xdef).unwrap(), first);
        assert_eq!(read_instance(&store).as_deref(), Some(first.as_str()));
        assert_eq!(
            state_path(&first),
            "/v1/budgets/state?exclude_instance=0000000000000abc"
        );
    }

    #[test]
    fn state_round_trips_as_json() {
        let state = BudgetState {
            budgets: vec![BudgetSpend {
                id: "b".into(),
                period_start_ms: 5,
                spent_nano_usd: 7,
            }],
        };
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(
            json,
            r#"{"budgets":[{"id":"b","period_start_ms":5,"spent_nano_usd":7}]}"#
        );
        assert_eq!(serde_json::from_str::<BudgetState>(&json).unwrap(), state);
    }
}
