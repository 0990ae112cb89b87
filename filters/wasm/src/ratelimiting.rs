//! One request's rate limits in the gateway filter: admission before anything goes
//! upstream, and the debit of the answer's tokens once its usage is known. The buckets
//! live in proxy-wasm shared data, which Envoy shares between all workers; every decision
//! is `tollgate_core::ratelimit`'s.

use std::time::SystemTime;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::HttpContext;
use tollgate_core::config::VirtualKeyConfig;
use tollgate_core::log_fields;
use tollgate_core::ratelimit::store::Conflict;
use tollgate_core::ratelimit::{self, Denial, Scope, SharedStore};

use crate::host::unix_millis;

/// Envoy's shared data, process-wide, with its compare-and-swap versions.
pub struct SharedData;

impl SharedStore for SharedData {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        match hostcalls::get_shared_data(key) {
            Ok((value, Some(version))) => Some((value.unwrap_or_default(), version)),
            _ => None,
        }
    }

    fn set(&self, key: &str, value: &[u8], version: Option<u32>) -> Result<(), Conflict> {
        hostcalls::set_shared_data(key, Some(value), version).map_err(|_| Conflict)
    }
}

/// The scopes an admitted request counts against, until its tokens are debited.
pub struct RateLimiting {
    scopes: Vec<Scope>,
}

impl RateLimiting {
    /// Admits a request of `key` from `agent`. `Ok(None)` when no tokens-per-minute limit
    /// waits for the answer's debit.
    pub fn admit(
        key: &VirtualKeyConfig,
        agent: Option<&str>,
        now: SystemTime,
    ) -> Result<Option<RateLimiting>, Denial> {
        let scopes = ratelimit::scopes(key, agent);
        if scopes.is_empty() {
            return Ok(None);
        }
        ratelimit::admit_all(&SharedData, &scopes, unix_millis(now))?;
        let tokens_limited = scopes.iter().any(|s| s.limits.tokens_per_minute.is_some());
        Ok(tokens_limited.then_some(RateLimiting { scopes }))
    }

    /// Debits the answer's tokens from the usage record the provider filter left in filter
    /// state. Called once, when the answer has ended.
    pub fn settle(self, ctx: &dyn HttpContext) {
        let tokens = ctx
            .get_property(vec![log_fields::USAGE.property])
            .and_then(|record| ratelimit::billed_tokens(&record));
        let Some(tokens) = tokens.filter(|&t| t > 0) else {
            return;
        };
        let now = unix_millis(ctx.get_current_time());
        if ratelimit::debit_all(&SharedData, &self.scopes, now, tokens).is_err() {
            log::warn!("tollgate: rate limit debit of {tokens} tokens lost to contention");
        }
    }
}
