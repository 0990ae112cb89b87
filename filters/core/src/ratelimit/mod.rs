//! Rate limits per virtual key and per agent: requests and tokens per minute.
//!
//! Each limited scope (a key, or one agent of a key) has a pair of token buckets kept in
//! proxy-wasm shared data, which is process-wide: every Envoy worker sees and updates the
//! same buckets, with compare-and-swap ([`store`]). The arithmetic is pure and takes the
//! time as an argument ([`bucket`]).
//!
//! - Requests per minute: admission takes one request from the bucket, or is refused.
//! - Tokens per minute: admission needs the bucket to be positive; the answer's actual
//!   tokens (input, cached and output) are debited once its usage is known, which may take
//!   the bucket below zero. Until it has refilled above zero, the scope is refused.
//!
//! Both buckets hold a minute's worth (the limit itself) and refill continuously, so a
//! scope that was idle may spend its whole minute at once.

pub mod bucket;
#[cfg(test)]
pub(crate) mod memory;
pub mod store;

use serde::{Deserialize, Serialize};

use crate::config::VirtualKeyConfig;
use crate::error::{ErrorKind, GatewayError};
use crate::model::Usage;

pub use bucket::{Op, Reason, Shortfall};
pub use store::{admit_all, debit_all, SharedStore};

/// Largest limit accepted, per minute: keeps the bucket arithmetic far from overflow.
pub const MAX_PER_MINUTE: u64 = 1_000_000_000_000;

/// Limits of one scope; an absent limit does not limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u64>,
}

/// A key's limits: its own, and those of each agent using it (every agent separately).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyRateLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u64>,
    /// Applies to each agent id (`x-tollgate-agent-id`) seen with this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_agent: Option<RateLimits>,
}

impl RateLimits {
    pub fn is_unlimited(&self) -> bool {
        self.requests_per_minute.is_none() && self.tokens_per_minute.is_none()
    }
}

impl KeyRateLimits {
    /// `own` limits completed field by field from `defaults`; `None` when the result
    /// limits nothing.
    pub fn with_defaults(
        own: Option<KeyRateLimits>,
        defaults: Option<KeyRateLimits>,
    ) -> Option<KeyRateLimits> {
        let own = own.unwrap_or_default();
        let defaults = defaults.unwrap_or_default();
        let limits = KeyRateLimits {
            requests_per_minute: own.requests_per_minute.or(defaults.requests_per_minute),
            tokens_per_minute: own.tokens_per_minute.or(defaults.tokens_per_minute),
            per_agent: own
                .per_agent
                .or(defaults.per_agent)
                .filter(|a| !a.is_unlimited()),
        };
        (limits != KeyRateLimits::default()).then_some(limits)
    }

    /// The key's own limits.
    pub fn key(&self) -> RateLimits {
        RateLimits {
            requests_per_minute: self.requests_per_minute,
            tokens_per_minute: self.tokens_per_minute,
        }
    }
}

/// What a scope is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    Key,
    Agent,
    /// One key's calls of one MCP tool.
    Tool,
}

/// One pair of buckets a request counts against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub kind: ScopeKind,
    /// Shared-data key of the buckets.
    pub bucket: String,
    pub limits: RateLimits,
}

/// Prefix of every shared-data key holding buckets.
const BUCKET_PREFIX: &str = "tollgate.rl.";

/// The scopes a request of `key` (sent by `agent`, if named) counts against, narrowest
/// first. Unlimited scopes are left out, so an unlimited key costs nothing.
pub fn scopes(key: &VirtualKeyConfig, agent: Option<&str>) -> Vec<Scope> {
    let Some(limits) = &key.rate_limits else {
        return Vec::new();
    };
    // Key ids are identifiers (no '.'), so the agent id after the key's is unambiguous.
    let agent = agent.zip(limits.per_agent).map(|(agent, limits)| Scope {
        kind: ScopeKind::Agent,
        bucket: format!("{BUCKET_PREFIX}agent.{}.{agent}", key.id),
        limits,
    });
    let own = Scope {
        kind: ScopeKind::Key,
        bucket: format!("{BUCKET_PREFIX}key.{}", key.id),
        limits: limits.key(),
    };
    agent
        .into_iter()
        .chain([own])
        .filter(|s| !s.limits.is_unlimited())
        .collect()
}

/// Why a request was refused, and when the scope will have room again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denial {
    pub scope: ScopeKind,
    pub reason: Reason,
    /// The exhausted limit, per minute (0 for contention).
    pub limit: u64,
    /// Whole seconds until the bucket has room (for `retry-after`); at least 1.
    pub retry_after_secs: u64,
}

impl Denial {
    pub fn new(scope: ScopeKind, shortfall: Shortfall) -> Denial {
        Denial {
            scope,
            reason: shortfall.reason,
            limit: shortfall.limit,
            retry_after_secs: shortfall.retry_after_secs,
        }
    }
}

/// The 429 a refused request gets; the shell adds `retry-after` from the denial.
pub fn rate_limited(denial: &Denial) -> GatewayError {
    let whose = match denial.scope {
        ScopeKind::Key => "this key",
        ScopeKind::Agent => "this agent",
        ScopeKind::Tool => "this tool and key",
    };
    let message = match denial.reason {
        Reason::Requests => format!(
            "Rate limit reached: {} requests per minute for {whose}. Retry after {} s.",
            denial.limit, denial.retry_after_secs
        ),
        Reason::Tokens => format!(
            "Rate limit reached: {} tokens per minute for {whose}. Retry after {} s.",
            denial.limit, denial.retry_after_secs
        ),
        Reason::Contention => format!(
            "Rate limit state for {whose} is busy. Retry after {} s.",
            denial.retry_after_secs
        ),
    };
    GatewayError::new(ErrorKind::RateLimited, "rate_limit_exceeded", message)
}

/// The tokens an answer spends against tokens-per-minute limits: every input token
/// (cached or not) and every output token, from the provider filter's usage record (see
/// `usage_record`). `None` when the record has no usage.
pub fn billed_tokens(usage_record: &[u8]) -> Option<u64> {
    let record: serde_json::Value = serde_json::from_slice(usage_record).ok()?;
    let usage = record.get("usage").filter(|u| u.is_object())?;
    Some(Usage::from_json(usage).total_tokens())
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
