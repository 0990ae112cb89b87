//! Buckets in a store shared by every worker, updated with compare-and-swap.
//!
//! The wasm shell implements [`SharedStore`] with proxy-wasm shared data (process-wide in
//! Envoy); tests implement it in memory and interleave other workers' writes.
//!
//! Envoy's shared data cannot create a key only if it is absent: a write to an absent key
//! always succeeds. Two workers that both find a scope's buckets absent can therefore both
//! write them, and the first write is lost: at most one admission per other worker, once
//! per scope and Envoy process (see the README's bounds).

use super::bucket::{apply, Buckets, Op, Reason, Shortfall};
use super::{Denial, Scope, ScopeKind};

/// Attempts at one update before giving up. Two workers contend rarely; this bounds the
/// work a pathological interleaving can cause.
pub const MAX_ATTEMPTS: usize = 16;

/// Another worker wrote since the read (or the host refused the write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict;

/// A key-value store with compare-and-swap.
pub trait SharedStore {
    /// The value and its version; `None` when the key was never written.
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)>;
    /// Writes if the value is still at `version`; `None` writes unconditionally.
    fn set(&self, key: &str, value: &[u8], version: Option<u32>) -> Result<(), Conflict>;
}

/// Reads `key`, computes its next value with `step` (given the stored bytes, `None` when
/// absent) and writes it unless another worker wrote in between, retrying then.
/// `Ok(Err(_))` is `step`'s refusal (nothing written); `Err(Conflict)` means every attempt
/// lost its race.
pub fn compare_and_swap<V: AsRef<[u8]>, E>(
    store: &(impl SharedStore + ?Sized),
    key: &str,
    mut step: impl FnMut(Option<&[u8]>) -> Result<V, E>,
) -> Result<Result<(), E>, Conflict> {
    for _ in 0..MAX_ATTEMPTS {
        let stored = store.get(key);
        let next = match step(stored.as_ref().map(|(bytes, _)| bytes.as_slice())) {
            Ok(next) => next,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if store
            .set(key, next.as_ref(), stored.map(|(_, version)| version))
            .is_ok()
        {
            return Ok(Ok(()));
        }
    }
    Err(Conflict)
}

/// Applies `op` to one scope's buckets, retrying on conflicts. `Ok(Err(_))` is a refusal;
/// `Err(Conflict)` means every attempt lost its race.
fn update(
    store: &(impl SharedStore + ?Sized),
    scope: &Scope,
    now_ms: u64,
    op: Op,
) -> Result<Result<(), Shortfall>, Conflict> {
    // Unreadable bytes (another build's layout) start afresh, still under CAS.
    compare_and_swap(store, &scope.bucket, |bytes| {
        apply(bytes.and_then(Buckets::decode), &scope.limits, now_ms, op).map(|b| b.encode())
    })
}

/// Admits a request into every scope (narrowest first), or refuses it. A scope that
/// refuses gets the request given back by the scopes that had admitted it.
pub fn admit_all(
    store: &(impl SharedStore + ?Sized),
    scopes: &[Scope],
    now_ms: u64,
) -> Result<(), Denial> {
    for (i, scope) in scopes.iter().enumerate() {
        let refused = match update(store, scope, now_ms, Op::Admit) {
            Ok(Ok(())) => continue,
            Ok(Err(shortfall)) => Denial::new(scope.kind, shortfall),
            Err(Conflict) => contended(scope.kind),
        };
        for admitted in &scopes[..i] {
            // Best effort: a refund that loses every race leaves the request counted.
            let _ = update(store, admitted, now_ms, Op::Refund);
        }
        return Err(refused);
    }
    Ok(())
}

/// Spends an answer's tokens in every scope that limits tokens. Best effort: a debit that
/// loses every race is dropped (and reported, so the shell can log it).
pub fn debit_all(
    store: &(impl SharedStore + ?Sized),
    scopes: &[Scope],
    now_ms: u64,
    tokens: u64,
) -> Result<(), Conflict> {
    let mut result = Ok(());
    for scope in scopes
        .iter()
        .filter(|s| s.limits.tokens_per_minute.is_some())
    {
        if update(store, scope, now_ms, Op::Debit(tokens)).is_err() {
            result = Err(Conflict);
        }
    }
    result
}

fn contended(scope: ScopeKind) -> Denial {
    Denial::new(
        scope,
        Shortfall {
            reason: Reason::Contention,
            limit: 0,
            retry_after_secs: 1,
        },
    )
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
