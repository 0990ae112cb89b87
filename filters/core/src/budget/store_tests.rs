use super::*;
use crate::budget::{BudgetScope, Period};
use crate::ratelimit::memory::Memory;

/// 2026-11-23 00:00 UTC.
const T0: u64 = 1_795_392_000_000;

fn budget(id: &str, limit: u64) -> Budget {
    Budget {
        id: id.into(),
        scope: BudgetScope::Key("k1".into()),
        limit_nano_usd: limit,
        period: Period::Daily,
    }
}

#[test]
fn a_request_holds_every_budget_or_none() {
    let store = Memory::default();
    let (wide, narrow) = (budget("wide", 1000), budget("narrow", 300));
    let holds = reserve_all(&store, &[&wide, &narrow], T0, 200).unwrap();
    assert_eq!(holds.len(), 2);
    let Err(Denied::Exhausted(refusal)) = reserve_all(&store, &[&wide, &narrow], T0, 200) else {
        panic!("the narrow budget has only 100 left");
    };
    assert_eq!(refusal.budget_id, "narrow");
    assert_eq!(refusal.exhausted.spent, 200);
    // The wide budget gave back what the refused request had reserved in it.
    assert_eq!(ledger(&store, &wide).unwrap().reserved, 200);
}

#[test]
fn settling_replaces_estimates_with_actual_costs() {
    let store = Memory::default();
    let b = budget("b", 1000);
    let holds = reserve_all(&store, &[&b], T0, 600).unwrap();
    settle_all(&store, &holds, T0 + 1, 150).unwrap();
    let l = ledger(&store, &b).unwrap();
    assert_eq!((l.local, l.reserved), (150, 0));
}

#[test]
fn concurrent_admissions_never_exceed_the_limit_with_estimates_that_hold() {
    // Fifty requests in flight at once (all reserved before any settles), each estimated
    // at 70 and actually costing at most that: admitted spend stays within the limit.
    let store = Memory::default();
    let b = budget("b", 1000);
    let admitted: Vec<_> = (0..50)
        .filter_map(|_| reserve_all(&store, &[&b], T0, 70).ok())
        .collect();
    assert_eq!(admitted.len(), 14); // 14 × 70 = 980 ≤ 1000 < 15 × 70
    for (i, holds) in admitted.iter().enumerate() {
        settle_all(&store, holds, T0 + 1, 40 + i as u64 % 31).unwrap();
    }
    let l = ledger(&store, &b).unwrap();
    assert_eq!(l.reserved, 0);
    assert!(l.local <= 1000);
}

#[test]
fn the_control_plane_count_is_kept_per_period() {
    let store = Memory::default();
    let b = budget("b", 1000);
    rebase(&store, &b, T0 + 5, T0, 900).unwrap();
    assert!(reserve_all(&store, &[&b], T0 + 6, 101).is_err());
    assert!(reserve_all(&store, &[&b], T0 + 6, 100).is_ok());
}

#[test]
fn unreadable_ledgers_start_afresh() {
    let store = Memory::default();
    let b = budget("b", 1000);
    store.set(&b.ledger_key(), b"garbage", None).unwrap();
    assert!(reserve_all(&store, &[&b], T0, 1000).is_ok());
}
