//! `rate_limits:` of a key, and the document-wide defaults for every key.

use tollgate_core::ratelimit::{KeyRateLimits, RateLimits, MAX_PER_MINUTE};

use super::diagnostics::Problem;
use super::raw;
use super::spans::field;
use super::validate::Validator;

impl Validator<'_> {
    /// A key's limits, each field absent from `raw` taken from `defaults` (`per_agent` as a
    /// whole). `None` when nothing is limited.
    pub(super) fn rate_limits(
        &mut self,
        path: &str,
        raw: Option<&raw::RateLimits>,
        defaults: Option<&KeyRateLimits>,
    ) -> Option<KeyRateLimits> {
        let written = raw.map(|raw| {
            let agent_path = field(path, "per_agent");
            KeyRateLimits {
                requests_per_minute: self.per_minute(
                    path,
                    "requests_per_minute",
                    raw.requests_per_minute,
                ),
                tokens_per_minute: self.per_minute(
                    path,
                    "tokens_per_minute",
                    raw.tokens_per_minute,
                ),
                per_agent: raw.per_agent.as_ref().map(|agent| RateLimits {
                    requests_per_minute: self.per_minute(
                        &agent_path,
                        "requests_per_minute",
                        agent.requests_per_minute,
                    ),
                    tokens_per_minute: self.per_minute(
                        &agent_path,
                        "tokens_per_minute",
                        agent.tokens_per_minute,
                    ),
                }),
            }
        });
        KeyRateLimits::with_defaults(written, defaults.copied())
    }

    /// A limit per minute: 1 to [`MAX_PER_MINUTE`]. An invalid one is reported and dropped.
    fn per_minute(&mut self, path: &str, name: &str, value: Option<u64>) -> Option<u64> {
        let problem = match value? {
            0 => Problem::Zero,
            v if v > MAX_PER_MINUTE => Problem::AtMost(MAX_PER_MINUTE),
            v => return Some(v),
        };
        self.report(&field(path, name), problem);
        None
    }
}

#[cfg(test)]
#[path = "ratelimits_tests.rs"]
mod tests;
