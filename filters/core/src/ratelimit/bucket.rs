//! Token-bucket arithmetic for one scope: pure, with the time passed in.
//!
//! Levels are kept in units of 1/60 000 of a request or token. A limit of N per minute
//! then refills exactly N units per millisecond: no division, no rounding drift.

use super::RateLimits;

/// Units per request or token.
pub const UNITS: i64 = 60_000;

/// Bytes of an encoded [`Buckets`].
const ENCODED_LEN: usize = 24;

/// One scope's buckets as stored in shared data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    /// Requests left, in units.
    pub requests: i64,
    /// Tokens left, in units; negative after answers that spent more than was left.
    pub tokens: i64,
    /// When the levels were last brought up to date (ms since the Unix epoch).
    pub at_ms: u64,
}

/// What to do to a scope's buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Admit a request: take one request, and need tokens left.
    Admit,
    /// Give back the request of an admission that a wider scope then refused.
    Refund,
    /// Spend an answer's tokens.
    Debit(u64),
}

/// Which bucket refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Requests,
    Tokens,
    /// The shared state changed under every attempt to update it (see `store`).
    Contention,
}

/// Why a bucket refused and when it will have room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    pub reason: Reason,
    /// The limit per minute.
    pub limit: u64,
    /// Whole seconds until the bucket has room; at least 1.
    pub retry_after_secs: u64,
}

/// A bucket's capacity: a minute's worth. Unlimited is an endless bucket that never refills.
fn capacity(limit: Option<u64>) -> i64 {
    limit.map_or(i64::MAX, to_units)
}

fn to_units(count: u64) -> i64 {
    i64::try_from(count).map_or(i64::MAX, |c| c.saturating_mul(UNITS))
}

impl Buckets {
    /// Buckets never used: full.
    pub fn full(limits: &RateLimits, now_ms: u64) -> Buckets {
        Buckets {
            requests: capacity(limits.requests_per_minute),
            tokens: capacity(limits.tokens_per_minute),
            at_ms: now_ms,
        }
    }

    /// The levels at `now_ms`. A clock behind `at_ms` (another worker read a later time
    /// first, or the clock stepped back) refills nothing and keeps `at_ms`, so no time is
    /// ever refilled twice. Levels above a (lowered) limit are cut to it.
    pub fn refilled(self, limits: &RateLimits, now_ms: u64) -> Buckets {
        let elapsed = i128::from(now_ms.saturating_sub(self.at_ms));
        let refill = |level: i64, limit: Option<u64>| -> i64 {
            let rate = i128::from(limit.unwrap_or(0));
            let level = i128::from(level) + rate * elapsed;
            let capped = level.min(i128::from(capacity(limit)));
            i64::try_from(capped).unwrap_or(i64::MAX)
        };
        Buckets {
            requests: refill(self.requests, limits.requests_per_minute),
            tokens: refill(self.tokens, limits.tokens_per_minute),
            at_ms: self.at_ms.max(now_ms),
        }
    }

    pub fn encode(&self) -> [u8; ENCODED_LEN] {
        let mut out = [0u8; ENCODED_LEN];
        out[..8].copy_from_slice(&self.requests.to_le_bytes());
        out[8..16].copy_from_slice(&self.tokens.to_le_bytes());
        out[16..].copy_from_slice(&self.at_ms.to_le_bytes());
        out
    }

    /// `None` for anything [`Buckets::encode`] did not write.
    pub fn decode(bytes: &[u8]) -> Option<Buckets> {
        let bytes: &[u8; ENCODED_LEN] = bytes.try_into().ok()?;
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i..i + 8]);
            w
        };
        Some(Buckets {
            requests: i64::from_le_bytes(word(0)),
            tokens: i64::from_le_bytes(word(8)),
            at_ms: u64::from_le_bytes(word(16)),
        })
    }
}

/// Applies `op` at `now_ms` to the stored buckets (`None`: never used). Returns the
/// buckets to store, or why the request is refused (nothing to store then: refill is a
/// function of time and is recomputed on the next call).
pub fn apply(
    stored: Option<Buckets>,
    limits: &RateLimits,
    now_ms: u64,
    op: Op,
) -> Result<Buckets, Shortfall> {
    let mut b = stored
        .unwrap_or_else(|| Buckets::full(limits, now_ms))
        .refilled(limits, now_ms);
    match op {
        Op::Admit => {
            // Requests need a whole request left; tokens need the bucket above zero.
            let short_requests = limits
                .requests_per_minute
                .filter(|_| b.requests < UNITS)
                .map(|limit| shortfall(Reason::Requests, limit, UNITS - b.requests, &b, now_ms));
            let short_tokens = limits
                .tokens_per_minute
                .filter(|_| b.tokens <= 0)
                .map(|limit| shortfall(Reason::Tokens, limit, 1 - b.tokens, &b, now_ms));
            match (short_requests, short_tokens) {
                (Some(r), Some(t)) => Err(if t.retry_after_secs > r.retry_after_secs {
                    t
                } else {
                    r
                }),
                (Some(s), None) | (None, Some(s)) => Err(s),
                (None, None) => {
                    if limits.requests_per_minute.is_some() {
                        b.requests -= UNITS;
                    }
                    Ok(b)
                }
            }
        }
        Op::Refund => {
            if limits.requests_per_minute.is_some() {
                b.requests = b
                    .requests
                    .saturating_add(UNITS)
                    .min(capacity(limits.requests_per_minute));
            }
            Ok(b)
        }
        Op::Debit(tokens) => {
            if limits.tokens_per_minute.is_some() {
                b.tokens = b.tokens.saturating_sub(to_units(tokens));
            }
            Ok(b)
        }
    }
}

/// The wait until `missing` units have refilled at `limit` per minute (= units per ms),
/// counted from `at_ms` (later than now when the clock is behind).
fn shortfall(reason: Reason, limit: u64, missing: i64, b: &Buckets, now_ms: u64) -> Shortfall {
    let missing = u64::try_from(missing).unwrap_or(0);
    let refill_ms = missing.div_ceil(limit.max(1));
    let wait_ms = b.at_ms.saturating_sub(now_ms).saturating_add(refill_ms);
    Shortfall {
        reason,
        limit,
        retry_after_secs: wait_ms.div_ceil(1000).max(1),
    }
}

#[cfg(test)]
#[path = "bucket_tests.rs"]
mod tests;
