use std::cell::RefCell;

use super::*;
use crate::ratelimit::memory::Memory;
use crate::ratelimit::{bucket, RateLimits};

const T0: u64 = 1_700_000_000_000;

type Interference<'a> = Box<dyn FnOnce(&Memory) + 'a>;

/// This worker's view of the store: before each of its writes, the next queued action of
/// "other workers" runs first, between its read and its write.
struct Racing<'a> {
    shared: &'a Memory,
    others: RefCell<Vec<Interference<'a>>>,
}

impl<'a> Racing<'a> {
    fn new(shared: &'a Memory, others: Vec<Interference<'a>>) -> Self {
        Racing {
            shared,
            others: RefCell::new(others.into_iter().rev().collect()),
        }
    }
}

impl SharedStore for Racing<'_> {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.shared.get(key)
    }

    fn set(&self, key: &str, value: &[u8], version: Option<u32>) -> Result<(), Conflict> {
        let other = self.others.borrow_mut().pop();
        if let Some(other) = other {
            other(self.shared);
        }
        self.shared.set(key, value, version)
    }
}

fn scope(kind: ScopeKind, name: &str, rpm: Option<u64>, tpm: Option<u64>) -> Scope {
    Scope {
        kind,
        bucket: name.into(),
        limits: RateLimits {
            requests_per_minute: rpm,
            tokens_per_minute: tpm,
        },
    }
}

fn stored(store: &Memory, key: &str) -> Buckets {
    Buckets::decode(&store.get(key).unwrap().0).unwrap()
}

#[test]
fn a_lost_race_is_retried_on_the_new_value() {
    let shared = Memory::default();
    let key = [scope(ScopeKind::Key, "k", Some(2), None)];
    admit_all(&shared, &key, T0).unwrap();
    // Between this worker's read and write another worker takes the last request.
    let other = |m: &Memory| admit_all(m, &key, T0).unwrap();
    let racing = Racing::new(&shared, vec![Box::new(other)]);
    let refused = admit_all(&racing, &key, T0).unwrap_err();
    assert_eq!(refused.reason, Reason::Requests);
    assert_eq!(stored(&shared, "k").requests, 0);
}

#[test]
fn interleaved_workers_admit_exactly_the_limit() {
    // Every other write of this worker races an admission of another worker: 20 attempts
    // on each side against a limit of 7 admit 7 in total, never more.
    let shared = Memory::default();
    let key = [scope(ScopeKind::Key, "k", Some(7), None)];
    admit_all(&shared, &key, T0).unwrap(); // the buckets exist: no creation race
    let mut admitted = 1;
    let other_admitted = RefCell::new(0);
    let others: Vec<Interference> = (0..40)
        .map(|i| {
            let key = &key;
            let count = &other_admitted;
            Box::new(move |m: &Memory| {
                if i % 2 == 0 && admit_all(m, key, T0).is_ok() {
                    *count.borrow_mut() += 1;
                }
            }) as Interference
        })
        .collect();
    let racing = Racing::new(&shared, others);
    for _ in 0..20 {
        if admit_all(&racing, &key, T0).is_ok() {
            admitted += 1;
        }
    }
    assert_eq!(admitted + *other_admitted.borrow(), 7);
    assert!(admitted > 1 && *other_admitted.borrow() > 0);
}

#[test]
fn a_debit_racing_an_admission_loses_nothing() {
    let shared = Memory::default();
    let key = [scope(ScopeKind::Key, "k", Some(10), Some(600))];
    admit_all(&shared, &key, T0).unwrap();
    let other = |m: &Memory| admit_all(m, &key, T0).unwrap();
    let racing = Racing::new(&shared, vec![Box::new(other)]);
    debit_all(&racing, &key, T0, 100).unwrap();
    let b = stored(&shared, "k");
    assert_eq!(b.requests, 8 * bucket::UNITS);
    assert_eq!(b.tokens, 500 * bucket::UNITS);
}

#[test]
fn endless_conflicts_give_up_after_a_bounded_number_of_attempts() {
    let shared = Memory::default();
    let key = [scope(ScopeKind::Key, "k", Some(100), None)];
    admit_all(&shared, &key, T0).unwrap();
    let others: Vec<Interference> = (0..MAX_ATTEMPTS)
        .map(|_| Box::new(|m: &Memory| admit_all(m, &key, T0).unwrap()) as Interference)
        .collect();
    let racing = Racing::new(&shared, others);
    let refused = admit_all(&racing, &key, T0).unwrap_err();
    assert_eq!(refused.reason, Reason::Contention);
    assert_eq!(refused.retry_after_secs, 1);
    assert!(racing.others.borrow().is_empty());
}

#[test]
fn absent_buckets_written_twice_lose_one_admission_at_most() {
    // Both workers find the buckets absent; the second unconditional write wins. This is
    // the documented creation race: one extra admission, once per scope.
    let shared = Memory::default();
    let key = [scope(ScopeKind::Key, "k", Some(2), None)];
    let other = |m: &Memory| admit_all(m, &key, T0).unwrap();
    let racing = Racing::new(&shared, vec![Box::new(other)]);
    admit_all(&racing, &key, T0).unwrap();
    assert_eq!(stored(&shared, "k").requests, bucket::UNITS);
}

#[test]
fn a_refusing_scope_gets_the_request_given_back_by_narrower_ones() {
    let shared = Memory::default();
    let scopes = [
        scope(ScopeKind::Agent, "a", Some(5), None),
        scope(ScopeKind::Key, "k", Some(1), None),
    ];
    admit_all(&shared, &scopes, T0).unwrap();
    let refused = admit_all(&shared, &scopes, T0).unwrap_err();
    assert_eq!(refused.scope, ScopeKind::Key);
    assert_eq!(stored(&shared, "a").requests, 4 * bucket::UNITS);
}

#[test]
fn agents_are_limited_apart_and_the_key_over_all() {
    let shared = Memory::default();
    let agent = |name: &str| scope(ScopeKind::Agent, name, Some(2), None);
    let key = scope(ScopeKind::Key, "k", Some(3), None);
    let a = [agent("a"), key.clone()];
    let b = [agent("b"), key];
    admit_all(&shared, &a, T0).unwrap();
    admit_all(&shared, &a, T0).unwrap();
    assert_eq!(
        admit_all(&shared, &a, T0).unwrap_err().scope,
        ScopeKind::Agent
    );
    admit_all(&shared, &b, T0).unwrap();
    assert_eq!(
        admit_all(&shared, &b, T0).unwrap_err().scope,
        ScopeKind::Key
    );
}

#[test]
fn debits_reach_only_token_limited_scopes() {
    let shared = Memory::default();
    let scopes = [
        scope(ScopeKind::Agent, "a", None, Some(100)),
        scope(ScopeKind::Key, "k", Some(5), None),
    ];
    admit_all(&shared, &scopes, T0).unwrap();
    let before = shared.get("k");
    debit_all(&shared, &scopes, T0, 150).unwrap();
    assert_eq!(shared.get("k"), before);
    assert_eq!(stored(&shared, "a").tokens, -50 * bucket::UNITS);
    assert_eq!(
        admit_all(&shared, &scopes, T0).unwrap_err().reason,
        Reason::Tokens
    );
}

#[test]
fn unreadable_state_starts_afresh() {
    let shared = Memory::default();
    shared.set("k", b"not buckets", None).unwrap();
    let key = [scope(ScopeKind::Key, "k", Some(1), None)];
    admit_all(&shared, &key, T0).unwrap();
    assert!(admit_all(&shared, &key, T0).is_err());
}
