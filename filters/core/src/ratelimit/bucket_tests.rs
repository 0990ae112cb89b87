use super::*;

const T0: u64 = 1_700_000_000_000;

fn limits(rpm: Option<u64>, tpm: Option<u64>) -> RateLimits {
    RateLimits {
        requests_per_minute: rpm,
        tokens_per_minute: tpm,
    }
}

/// Admits at `now`, threading the state like the store would.
fn admit(state: &mut Option<Buckets>, l: &RateLimits, now: u64) -> Result<(), Shortfall> {
    let next = apply(*state, l, now, Op::Admit)?;
    *state = Some(next);
    Ok(())
}

#[test]
fn a_full_bucket_admits_its_limit_at_once_then_refuses() {
    let l = limits(Some(3), None);
    let mut s = None;
    for _ in 0..3 {
        admit(&mut s, &l, T0).unwrap();
    }
    let refused = admit(&mut s, &l, T0).unwrap_err();
    assert_eq!(refused.reason, Reason::Requests);
    assert_eq!(refused.limit, 3);
    // One request refills every 20 s at 3 per minute.
    assert_eq!(refused.retry_after_secs, 20);
}

#[test]
fn retry_after_is_when_the_bucket_has_room() {
    let l = limits(Some(3), None);
    let mut s = None;
    for _ in 0..3 {
        admit(&mut s, &l, T0).unwrap();
    }
    // 19.001 s later: 999 ms still missing, rounded up to a whole second.
    let refused = admit(&mut s, &l, T0 + 19_001).unwrap_err();
    assert_eq!(refused.retry_after_secs, 1);
    assert!(admit(&mut s, &l, T0 + 19_999).is_err());
    admit(&mut s, &l, T0 + 20_000).unwrap();
    assert!(admit(&mut s, &l, T0 + 20_000).is_err());
}

#[test]
fn refill_is_exact_and_capped_at_a_minute() {
    let l = limits(Some(7), None);
    let mut s = None;
    for _ in 0..7 {
        admit(&mut s, &l, T0).unwrap();
    }
    // After an hour idle the bucket holds one minute (7), not 420.
    let later = T0 + 3_600_000;
    for _ in 0..7 {
        admit(&mut s, &l, later).unwrap();
    }
    assert!(admit(&mut s, &l, later).is_err());
    // 7 per minute does not divide a minute in whole ms: 60000/7 = 8571.43 ms per request.
    assert!(admit(&mut s, &l, later + 8_571).is_err());
    admit(&mut s, &l, later + 8_572).unwrap();
}

#[test]
fn tokens_admit_while_positive_and_debit_below_zero() {
    let l = limits(None, Some(600));
    let mut s = None;
    admit(&mut s, &l, T0).unwrap();
    // The answer spent 605 of the 600 tokens: 5 tokens owed, at 10 tokens a second.
    s = Some(apply(s, &l, T0, Op::Debit(605)).unwrap());
    let refused = admit(&mut s, &l, T0).unwrap_err();
    assert_eq!(refused.reason, Reason::Tokens);
    assert_eq!(refused.retry_after_secs, 1);
    // Zero is not positive; just past 500 ms it is.
    assert!(admit(&mut s, &l, T0 + 500).is_err());
    admit(&mut s, &l, T0 + 501).unwrap();
    // Admission itself spends no tokens: concurrent requests all get in while positive.
    admit(&mut s, &l, T0 + 501).unwrap();
}

#[test]
fn a_large_debit_owes_for_as_long_as_it_takes() {
    let l = limits(None, Some(60));
    let s = apply(None, &l, T0, Op::Debit(60 * 5)).unwrap();
    // 240 tokens owed at one a second: 240 s, and then a little more to be positive.
    let refused = apply(Some(s), &l, T0, Op::Admit).unwrap_err();
    assert_eq!(refused.retry_after_secs, 241);
}

#[test]
fn the_longer_wait_is_reported_when_both_are_exhausted() {
    let l = limits(Some(1), Some(60));
    let s = apply(None, &l, T0, Op::Admit).unwrap();
    let s = apply(Some(s), &l, T0, Op::Debit(600)).unwrap();
    let refused = apply(Some(s), &l, T0, Op::Admit).unwrap_err();
    assert_eq!(refused.reason, Reason::Tokens);
    assert_eq!(refused.retry_after_secs, 541);
}

#[test]
fn a_refused_request_takes_nothing() {
    let l = limits(Some(2), Some(60));
    let s = apply(None, &l, T0, Op::Debit(61)).unwrap();
    assert!(apply(Some(s), &l, T0, Op::Admit).is_err());
    // Tokens refused, so the two requests are still there once tokens are back.
    let mut s = Some(s);
    admit(&mut s, &l, T0 + 2_000).unwrap();
    admit(&mut s, &l, T0 + 2_000).unwrap();
    assert!(admit(&mut s, &l, T0 + 2_000).is_err());
}

#[test]
fn refund_gives_back_one_request_up_to_the_limit() {
    let l = limits(Some(2), None);
    let s = apply(None, &l, T0, Op::Admit).unwrap();
    let s = apply(Some(s), &l, T0, Op::Refund).unwrap();
    assert_eq!(s.requests, 2 * UNITS);
    let s = apply(Some(s), &l, T0, Op::Refund).unwrap();
    assert_eq!(s.requests, 2 * UNITS);
}

#[test]
fn a_clock_behind_the_stored_time_refills_nothing_and_waits_for_it() {
    let l = limits(Some(60), None);
    let mut s = None;
    for _ in 0..60 {
        admit(&mut s, &l, T0).unwrap();
    }
    // Another worker's later clock reading was stored; this worker's clock is 3 s behind.
    let skewed = Buckets {
        at_ms: T0 + 3_000,
        ..s.unwrap()
    };
    let refused = apply(Some(skewed), &l, T0, Op::Admit).unwrap_err();
    // 3 s until the stored time, then 1 s for a request.
    assert_eq!(refused.retry_after_secs, 4);
    // The stored time never goes back, so the 3 s are not refilled twice.
    let after = skewed.refilled(&l, T0 + 1_000);
    assert_eq!(after.at_ms, T0 + 3_000);
    assert_eq!(after.requests, 0);
    assert_eq!(skewed.refilled(&l, T0 + 4_000).requests, UNITS);
}

#[test]
fn a_lowered_limit_cuts_the_stored_level() {
    let high = limits(Some(100), None);
    let s = Buckets::full(&high, T0);
    let low = limits(Some(2), None);
    let mut s = Some(s);
    admit(&mut s, &low, T0).unwrap();
    admit(&mut s, &low, T0).unwrap();
    assert!(admit(&mut s, &low, T0).is_err());
}

#[test]
fn a_limit_added_later_starts_full() {
    let none = limits(None, None);
    let s = apply(None, &none, T0, Op::Admit).unwrap();
    let l = limits(Some(1), None);
    let mut s = Some(s);
    admit(&mut s, &l, T0).unwrap();
    assert!(admit(&mut s, &l, T0).is_err());
}

#[test]
fn extreme_values_saturate_instead_of_overflowing() {
    let max = super::super::MAX_PER_MINUTE;
    let l = limits(Some(max), Some(1));
    let s = apply(None, &l, 0, Op::Debit(u64::MAX)).unwrap();
    assert!(s.tokens < -UNITS * 1_000_000);
    assert!(apply(Some(s), &l, 0, Op::Admit).is_err());
    // Ages later every bucket is full again, and no more than full.
    let s = s.refilled(&l, u64::MAX);
    assert_eq!((s.requests, s.tokens), (to_units(max), UNITS));
    assert!(apply(Some(s), &l, u64::MAX, Op::Admit).is_ok());
}

#[test]
fn encoding_round_trips_and_refuses_other_lengths() {
    let b = Buckets {
        requests: -5,
        tokens: i64::MIN,
        at_ms: T0,
    };
    assert_eq!(Buckets::decode(&b.encode()), Some(b));
    assert_eq!(Buckets::decode(&b.encode()[..23]), None);
    assert_eq!(Buckets::decode(b""), None);
}
