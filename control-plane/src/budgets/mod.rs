//! Budgets in the service: what each budget's scope spent this period, for the Envoys'
//! poll (`GET /v1/budgets/state`, see `tollgate_core::budget::poll`), and the soft
//! thresholds' alerts ([`alerts`], written through [`alert_store`]).

pub mod alert_store;
pub mod alert_store_postgres;
pub mod alert_store_sqlite;
pub mod alerts;
pub mod webhook;

use tollgate_core::budget::poll::BudgetSpend;
use tollgate_core::budget::Budget;

use crate::usage::store::{SpendQuery, StoreError, TimeRange, UsageStore};

/// What `budget`'s scope spent in its period holding `now_ms`, leaving out the records of
/// `exclude_instance` (the asking Envoy counts its own).
pub fn spend(
    store: &mut dyn UsageStore,
    budget: &Budget,
    now_ms: u64,
    exclude_instance: Option<&str>,
) -> Result<BudgetSpend, StoreError> {
    let period_start_ms = budget.period.start(now_ms);
    let to_ms = budget.period.next_start(now_ms).map(millis);
    let query = SpendQuery {
        scope: &budget.scope,
        range: TimeRange {
            from_ms: Some(millis(period_start_ms)),
            to_ms,
        },
        exclude_instance,
    };
    Ok(BudgetSpend {
        id: budget.id.clone(),
        period_start_ms,
        spent_nano_usd: store.spent(&query)?,
    })
}

/// The system clock in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// The thresholds (percentages of `limit`) that `spent` has reached.
pub fn reached(spent: u64, limit: u64, thresholds: &[u64]) -> impl Iterator<Item = u64> + '_ {
    thresholds
        .iter()
        .copied()
        .filter(move |&percent| u128::from(spent) * 100 >= u128::from(limit) * u128::from(percent))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use tollgate_core::budget::{BudgetScope, Period};

    use super::*;
    use crate::usage::ingest::parse_batch;
    use crate::usage::store_sqlite::SqliteStore;

    /// 2026-11-23 00:00 UTC.
    const MONDAY: u64 = 1_795_392_000_000;
    const DAY: u64 = 86_400_000;

    #[test]
    fn thresholds_are_reached_at_their_share_of_the_limit() {
        let at = |spent| reached(spent, 1000, &[50, 80, 100]).collect::<Vec<_>>();
        assert_eq!(at(499), Vec::<u64>::new());
        assert_eq!(at(500), [50]);
        assert_eq!(at(999), [50, 80]);
        assert_eq!(at(1200), [50, 80, 100]);
    }

    #[test]
    fn spend_counts_the_current_period_only() {
        let mut store = SqliteStore::open(Path::new(":memory:")).unwrap();
        let lines: String = [(MONDAY - 1, 7), (MONDAY + 5, 11), (MONDAY + DAY, 13)]
            .iter()
            .enumerate()
            .map(|(i, (time, cost))| {
                format!(
                    r#"{{"id":"r{i}","time_unix_ms":{time},"team":"t","cost_nano_usd":{cost}}}"#
                ) + "\n"
            })
            .collect();
        store.insert(&parse_batch(&lines).records).unwrap();
        let budget = |period| Budget {
            id: "b".into(),
            scope: BudgetScope::Team("t".into()),
            limit_nano_usd: 100,
            period,
        };
        let daily = spend(&mut store, &budget(Period::Daily), MONDAY + 10, None).unwrap();
        assert_eq!((daily.period_start_ms, daily.spent_nano_usd), (MONDAY, 11));
        let tuesday = spend(&mut store, &budget(Period::Daily), MONDAY + DAY, None).unwrap();
        assert_eq!(tuesday.spent_nano_usd, 13);
        let ever = spend(&mut store, &budget(Period::None), MONDAY + 10, None).unwrap();
        assert_eq!((ever.period_start_ms, ever.spent_nano_usd), (0, 31));
    }
}
