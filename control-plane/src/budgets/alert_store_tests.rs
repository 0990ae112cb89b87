//! The alert store suite, run against SQLite and PostgreSQL.

use super::*;
use crate::storage::test_support::{storage_suite, TestDb};

storage_suite!(
    an_alert_is_new_once_whoever_writes_it,
    undelivered_alerts_come_oldest_first_until_delivered,
);

fn alert(budget_id: &str, period_start_ms: u64, threshold_percent: u64) -> Alert {
    Alert {
        budget_id: budget_id.into(),
        period_start_ms,
        threshold_percent,
        spent_nano_usd: 900,
        limit_nano_usd: 1_000,
    }
}

/// Two replicas finding one threshold reached: only the first announces it.
fn an_alert_is_new_once_whoever_writes_it(db: &TestDb) {
    let (mut first, mut second) = (open(db.database()).unwrap(), open(db.database()).unwrap());
    assert!(first.record(&alert("b", 0, 50), 10).unwrap());
    assert!(!second.record(&alert("b", 0, 50), 11).unwrap());
    assert!(!first.record(&alert("b", 0, 50), 12).unwrap());
    // Another threshold, period or budget is another alert.
    assert!(second.record(&alert("b", 0, 80), 13).unwrap());
    assert!(second.record(&alert("b", 1, 50), 14).unwrap());
    assert!(second.record(&alert("c", 0, 50), 15).unwrap());
    assert_eq!(first.undelivered().unwrap().len(), 4);
}

fn undelivered_alerts_come_oldest_first_until_delivered(db: &TestDb) {
    let mut store = open(db.database()).unwrap();
    let (late, early, tied_b, tied_a) = (
        alert("x", 0, 50),
        alert("y", 0, 50),
        alert("b", 0, 50),
        alert("a", 0, 80),
    );
    store.record(&late, 30).unwrap();
    store.record(&early, 10).unwrap();
    // Written at one time: by budget id, bytewise ("B" before "a").
    store.record(&tied_b, 20).unwrap();
    store.record(&alert("B", 0, 50), 20).unwrap();
    store.record(&tied_a, 20).unwrap();
    let ids = |store: &mut Box<dyn AlertStore>| -> Vec<String> {
        store
            .undelivered()
            .unwrap()
            .into_iter()
            .map(|a| a.budget_id)
            .collect()
    };
    assert_eq!(ids(&mut store), ["y", "B", "a", "b", "x"]);
    assert_eq!(store.undelivered().unwrap()[0], early);

    store.delivered(&early, 40).unwrap();
    store.delivered(&tied_a, 41).unwrap();
    assert_eq!(ids(&mut store), ["B", "b", "x"]);
    // Delivered stays delivered when found again.
    assert!(!store.record(&early, 50).unwrap());
    assert_eq!(ids(&mut store), ["B", "b", "x"]);
}
