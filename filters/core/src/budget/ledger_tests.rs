use super::*;

const DAY: u64 = 86_400_000;
/// 2026-11-23 00:00 UTC, a Monday.
const MONDAY: u64 = 1_795_392_000_000;

fn reserve(ledger: Option<Ledger>, now: u64, estimate: u64) -> Result<Ledger, Exhausted> {
    apply(ledger, 1000, Period::Daily, now, Op::Reserve(estimate))
}

fn settle(ledger: Ledger, now: u64, estimate: u64, reserved_in: u64, actual: u64) -> Ledger {
    let reservation = Reservation {
        estimate,
        period_start_ms: reserved_in,
        actual,
    };
    apply(
        Some(ledger),
        1000,
        Period::Daily,
        now,
        Op::Settle(reservation),
    )
    .unwrap()
}

#[test]
fn reservations_fit_up_to_the_limit_exactly() {
    let l = reserve(None, MONDAY + 5, 600).unwrap();
    assert_eq!(l.reserved, 600);
    assert_eq!(l.period_start_ms, MONDAY);
    let l = reserve(Some(l), MONDAY + 6, 400).unwrap();
    assert_eq!(l.spent(), 1000);
    let refused = reserve(Some(l), MONDAY + 7, 1).unwrap_err();
    assert_eq!(refused.spent, 1000);
    assert_eq!(refused.resets_at_ms, Some(MONDAY + DAY));
}

#[test]
fn settling_swaps_the_estimate_for_the_actual_cost() {
    let l = reserve(None, MONDAY, 600).unwrap();
    let l = settle(l, MONDAY + 1, 600, MONDAY, 250);
    assert_eq!((l.reserved, l.local), (0, 250));
    // What the estimate held back is free again.
    assert!(reserve(Some(l), MONDAY + 2, 750).is_ok());
    assert!(reserve(Some(l), MONDAY + 2, 751).is_err());
}

#[test]
fn a_failed_request_releases_its_whole_reservation() {
    let l = reserve(None, MONDAY, 900).unwrap();
    let l = settle(l, MONDAY + 1, 900, MONDAY, 0);
    assert_eq!(l.spent(), 0);
}

#[test]
fn the_control_plane_count_adds_the_other_processes_spending() {
    let l = reserve(None, MONDAY, 100).unwrap();
    let rebase = Op::Rebase {
        period_start_ms: MONDAY,
        others: 850,
    };
    let l = apply(Some(l), 1000, Period::Daily, MONDAY + 1, rebase).unwrap();
    assert_eq!(l.spent(), 950);
    assert!(reserve(Some(l), MONDAY + 2, 51).is_err());
    // A later count replaces the earlier one (it is a total, not an increment).
    let rebase = Op::Rebase {
        period_start_ms: MONDAY,
        others: 300,
    };
    let l = apply(Some(l), 1000, Period::Daily, MONDAY + 3, rebase).unwrap();
    assert_eq!(l.spent(), 400);
}

#[test]
fn a_count_for_another_period_is_ignored() {
    let l = reserve(None, MONDAY + DAY, 100).unwrap();
    let stale = Op::Rebase {
        period_start_ms: MONDAY,
        others: 900,
    };
    let l = apply(Some(l), 1000, Period::Daily, MONDAY + DAY + 1, stale).unwrap();
    assert_eq!(l.others, 0);
}

#[test]
fn the_budget_resets_with_its_period() {
    let l = reserve(None, MONDAY + 10, 700).unwrap();
    let l = settle(l, MONDAY + 20, 700, MONDAY, 700);
    assert!(reserve(Some(l), MONDAY + DAY - 1, 301).is_err());
    // Tuesday 00:00: a fresh day.
    let l = reserve(Some(l), MONDAY + DAY, 1000).unwrap();
    assert_eq!(l.period_start_ms, MONDAY + DAY);
    assert_eq!((l.local, l.reserved), (0, 1000));
}

#[test]
fn a_request_across_the_reset_costs_the_new_period_its_actual_only() {
    let l = reserve(None, MONDAY + DAY - 5, 600).unwrap();
    // Settled after midnight: the old reservation is gone with its period.
    let l = settle(l, MONDAY + DAY + 5, 600, MONDAY, 200);
    assert_eq!(l.period_start_ms, MONDAY + DAY);
    assert_eq!((l.local, l.reserved), (200, 0));
}

#[test]
fn weekly_and_monthly_budgets_keep_counting_within_their_period() {
    let week = apply(None, 1000, Period::Weekly, MONDAY, Op::Reserve(900)).unwrap();
    let sunday_night = MONDAY + 7 * DAY - 1;
    assert!(apply(
        Some(week),
        1000,
        Period::Weekly,
        sunday_night,
        Op::Reserve(200)
    )
    .is_err());
    assert!(apply(
        Some(week),
        1000,
        Period::Weekly,
        MONDAY + 7 * DAY,
        Op::Reserve(200)
    )
    .is_ok());
    let month = apply(None, 1000, Period::Monthly, MONDAY, Op::Reserve(900)).unwrap();
    // 2026-11-30 is still November; 2026-12-01 is not.
    assert!(apply(
        Some(month),
        1000,
        Period::Monthly,
        MONDAY + 7 * DAY,
        Op::Reserve(200)
    )
    .is_err());
    assert!(apply(
        Some(month),
        1000,
        Period::Monthly,
        MONDAY + 8 * DAY,
        Op::Reserve(200)
    )
    .is_ok());
}

#[test]
fn a_budget_without_period_never_resets() {
    let l = apply(None, 1000, Period::None, MONDAY, Op::Reserve(1000)).unwrap();
    let refused = apply(
        Some(l),
        1000,
        Period::None,
        MONDAY + 400 * DAY,
        Op::Reserve(1),
    );
    assert_eq!(refused.unwrap_err().resets_at_ms, None);
}

#[test]
fn encoding_round_trips_and_rejects_other_bytes() {
    let l = Ledger {
        period_start_ms: MONDAY,
        others: 1,
        local: 2,
        reserved: u64::MAX,
    };
    assert_eq!(Ledger::decode(&l.encode()), Some(l));
    assert_eq!(Ledger::decode(&[0u8; 24]), None);
}
