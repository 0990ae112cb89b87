use tollgate_core::budget::{Budget, BudgetScope, Period};

use super::*;
use crate::storage::test_support::{storage_suite, TestDb};
use crate::usage::ingest::parse_batch;

storage_suite!(each_threshold_alerts_once_per_period_across_restarts);

/// 2026-11-23 00:00 UTC.
const MONDAY: u64 = 1_795_392_000_000;
const DAY: u64 = 86_400_000;

fn limit() -> BudgetLimit {
    BudgetLimit {
        budget: Budget {
            id: "b".into(),
            scope: BudgetScope::Key("k1".into()),
            limit_nano_usd: 1000,
            period: Period::Daily,
        },
        alert_at_percent: vec![50, 80],
    }
}

fn spend_at(store: &mut dyn UsageStore, id: &str, time: u64, cost: u64) {
    let line =
        format!(r#"{{"id":"{id}","time_unix_ms":{time},"key_id":"k1","cost_nano_usd":{cost}}}"#);
    store.insert(&parse_batch(&line).records).unwrap();
}

fn each_threshold_alerts_once_per_period_across_restarts(db: &TestDb) {
    let mut usage = crate::usage::store::open(db.database()).unwrap();
    let store = usage.as_mut();
    let mut log = AlertLog::open(db.database()).unwrap();
    let limits = [limit()];

    spend_at(store, "r1", MONDAY + 1, 600);
    let pending = check(store, &mut log, &limits, MONDAY + 2).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].threshold_percent, pending[0].spent_nano_usd),
        (50, 600)
    );
    log.delivered(&pending[0], MONDAY + 3).unwrap();
    assert!(check(store, &mut log, &limits, MONDAY + 4)
        .unwrap()
        .is_empty());

    // A restarted service finds the alert written: nothing is announced again.
    drop(log);
    let mut log = AlertLog::open(db.database()).unwrap();
    assert!(check(store, &mut log, &limits, MONDAY + 5)
        .unwrap()
        .is_empty());
    spend_at(store, "r2", MONDAY + 6, 300);
    let pending = check(store, &mut log, &limits, MONDAY + 7).unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|a| a.threshold_percent)
            .collect::<Vec<_>>(),
        [80]
    );
    // Not delivered: it stays pending (and is not written twice).
    assert_eq!(
        check(store, &mut log, &limits, MONDAY + 8).unwrap(),
        pending
    );

    // The next day is a new period: its thresholds alert again when reached.
    spend_at(store, "r3", MONDAY + DAY + 1, 500);
    let pending = check(store, &mut log, &limits, MONDAY + DAY + 2).unwrap();
    let tuesday: Vec<_> = pending
        .iter()
        .filter(|a| a.period_start_ms == MONDAY + DAY)
        .collect();
    assert_eq!(tuesday.len(), 1);
    assert_eq!(tuesday[0].threshold_percent, 50);
}

#[test]
fn the_webhook_body_names_budget_period_and_threshold() {
    let alert = Alert {
        budget_id: "b".into(),
        period_start_ms: MONDAY,
        threshold_percent: 80,
        spent_nano_usd: 800_000_000,
        limit_nano_usd: 1_000_000_000,
    };
    let v: serde_json::Value = serde_json::from_str(&alert.to_json()).unwrap();
    assert_eq!(v["type"], "budget.threshold_reached");
    assert_eq!(v["budget_id"], "b");
    assert_eq!(v["threshold_percent"], 80);
    assert_eq!(v["spent_usd"], 0.8);
    assert_eq!(v["limit_usd"], 1.0);
}
