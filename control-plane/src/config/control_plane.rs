//! Validating the `control_plane:` section: where the Tollgate service listens, where it
//! stores usage, and how Envoy ships usage records to it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tollgate_core::usage_outbox::{Backoff, OutboxLimits, MAX_BATCH_BYTES};

use super::diagnostics::Problem;
use super::exports::Export;
use super::raw_control_plane as raw;
use super::spans::field;
use super::validate::{is_env_name, Validator};

const DEFAULT_PORT: u16 = 9902;
const DEFAULT_DATABASE: &str = "tollgate.db";
const DEFAULT_INGEST_KEY_ENV: &str = "TOLLGATE_INGEST_KEY";
const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_LIMITS: OutboxLimits = OutboxLimits {
    batch_records: 500,
    batch_bytes: 1024 * 1024,
    buffer_records: 100_000,
    buffer_bytes: 64 * 1024 * 1024,
};
const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(1);
const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// The validated section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPlane {
    /// Where the service listens (loopback unless configured otherwise).
    pub listen: SocketAddr,
    pub database: PathBuf,
    pub ingest_key_env: String,
    pub usage: UsageShipping,
    pub exports: Vec<Export>,
}

/// How Envoy ships usage records (see `tollgate_core::usage_outbox`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageShipping {
    pub flush_interval: Duration,
    pub timeout: Duration,
    /// Per root context: Envoy holds up to this many per thread, the main thread included.
    pub limits: OutboxLimits,
    pub backoff: Backoff,
}

impl Validator<'_> {
    pub(super) fn control_plane(&mut self, raw: raw::ControlPlane) -> ControlPlane {
        let path = "control_plane";
        let listen = self.endpoint(&field(path, "listen"), raw.listen, DEFAULT_PORT);
        let database = match raw.database.as_deref() {
            Some("") => {
                self.report(&field(path, "database"), Problem::Empty);
                self.resolve(DEFAULT_DATABASE)
            }
            database => self.resolve(database.unwrap_or(DEFAULT_DATABASE)),
        };
        let ingest_key_env = raw
            .ingest_key_env
            .unwrap_or_else(|| DEFAULT_INGEST_KEY_ENV.to_string());
        if !is_env_name(&ingest_key_env) {
            let problem = Problem::EnvName(ingest_key_env.clone());
            self.report(&field(path, "ingest_key_env"), problem);
        }
        let usage = self.usage_shipping(&field(path, "usage"), raw.usage);
        let exports = self.exports(&field(path, "exports"), raw.exports);
        ControlPlane {
            listen,
            database,
            ingest_key_env,
            usage,
            exports,
        }
    }

    fn usage_shipping(&mut self, path: &str, raw: raw::Usage) -> UsageShipping {
        let mut positive = |name: &str, value: Option<usize>, default: usize| match value {
            Some(0) => {
                self.report(&field(path, name), Problem::Zero);
                default
            }
            value => value.unwrap_or(default),
        };
        let limits = OutboxLimits {
            batch_records: positive(
                "batch_records",
                raw.batch_records,
                DEFAULT_LIMITS.batch_records,
            ),
            batch_bytes: positive("batch_bytes", raw.batch_bytes, DEFAULT_LIMITS.batch_bytes),
            buffer_records: positive(
                "buffer_records",
                raw.buffer_records,
                DEFAULT_LIMITS.buffer_records,
            ),
            buffer_bytes: positive(
                "buffer_bytes",
                raw.buffer_bytes,
                DEFAULT_LIMITS.buffer_bytes,
            ),
        };
        if limits.batch_records > limits.buffer_records || limits.batch_bytes > limits.buffer_bytes
        {
            self.report(path, Problem::BatchExceedsBuffer);
        }
        if limits.batch_bytes > MAX_BATCH_BYTES {
            self.report(&field(path, "batch_bytes"), Problem::BatchTooLarge);
        }
        let flush_interval = self.duration(
            &field(path, "flush_interval"),
            raw.flush_interval.as_deref(),
            DEFAULT_FLUSH_INTERVAL,
        );
        let timeout = self.duration(
            &field(path, "timeout"),
            raw.timeout.as_deref(),
            DEFAULT_TIMEOUT,
        );
        for (name, value) in [("flush_interval", flush_interval), ("timeout", timeout)] {
            if value.is_zero() {
                self.report(&field(path, name), Problem::Zero);
            }
        }
        let (base, max) = self.backoff(
            &field(path, "backoff"),
            raw.backoff.as_ref(),
            (DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_MAX),
        );
        UsageShipping {
            flush_interval,
            timeout,
            limits,
            backoff: Backoff {
                base_ms: millis(base),
                max_ms: millis(max),
            },
        }
    }
}

pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "control_plane_tests.rs"]
mod tests;
