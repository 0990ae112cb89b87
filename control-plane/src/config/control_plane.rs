//! Validating the `control_plane:` section: where the Tollgate service listens, where it
//! stores usage, and how Envoy ships usage records to it.

use std::net::SocketAddr;
use std::time::Duration;

use tollgate_core::usage_outbox::{Backoff, OutboxLimits, MAX_BATCH_BYTES};

use super::diagnostics::Problem;
use super::exports::Export;
use super::model::SecretSource;
use super::raw_control_plane as raw;
use super::spans::{field, item};
use super::validate::{is_env_name, Seen, Validator};
use crate::storage::Database;

const DEFAULT_PORT: u16 = 9902;
const DEFAULT_DATABASE: &str = "tollgate.db";
const DEFAULT_INGEST_KEY_ENV: &str = "TOLLGATE_INGEST_KEY";
const DEFAULT_ADMIN_KEY_NAME: &str = "admin";
const DEFAULT_ADMIN_KEY_ENV: &str = "TOLLGATE_ADMIN_KEY";
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
    /// A SQLite file (relative to the config file) or a `postgres://` URL.
    pub database: Database,
    pub ingest_key_env: String,
    pub usage: UsageShipping,
    /// Who may use the admin API; an absent secret just disables that credential.
    pub admin_keys: Vec<AdminKey>,
    pub exports: Vec<Export>,
}

/// A named admin credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminKey {
    /// Recorded as the actor of the changes made with it.
    pub name: String,
    pub secret: SecretSource,
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
        let database = self.database(&field(path, "database"), raw.database.as_deref());
        let ingest_key_env = raw
            .ingest_key_env
            .unwrap_or_else(|| DEFAULT_INGEST_KEY_ENV.to_string());
        if !is_env_name(&ingest_key_env) {
            let problem = Problem::EnvName(ingest_key_env.clone());
            self.report(&field(path, "ingest_key_env"), problem);
        }
        let usage = self.usage_shipping(&field(path, "usage"), raw.usage);
        let admin_keys = match raw.admin_keys {
            Some(raws) => self.admin_keys(&field(path, "admin_keys"), raws),
            None => vec![AdminKey {
                name: DEFAULT_ADMIN_KEY_NAME.to_string(),
                secret: SecretSource::Env(DEFAULT_ADMIN_KEY_ENV.to_string()),
            }],
        };
        let exports = self.exports(&field(path, "exports"), raw.exports);
        ControlPlane {
            listen,
            database,
            ingest_key_env,
            usage,
            admin_keys,
            exports,
        }
    }

    fn database(&mut self, path: &str, text: Option<&str>) -> Database {
        let default = || Database::Sqlite(self.resolve(DEFAULT_DATABASE));
        match Database::parse(text.unwrap_or(DEFAULT_DATABASE), |file| self.resolve(file)) {
            Ok(Database::Postgres(url)) if url.has_password() => {
                self.report(path, Problem::DatabasePassword);
                Database::Postgres(url)
            }
            Ok(database) => database,
            Err(e) => {
                let database = default();
                self.report(path, Problem::Database(e));
                database
            }
        }
    }

    fn admin_keys(&mut self, path: &str, raws: Vec<raw::AdminKey>) -> Vec<AdminKey> {
        let mut names = Seen::new();
        let mut keys = Vec::with_capacity(raws.len());
        for (i, raw) in raws.into_iter().enumerate() {
            let path = item(path, i);
            let name_path = field(&path, "name");
            self.identifier(&name_path, "admin key name", &raw.name);
            self.unique(&mut names, "admin key name", &raw.name, &name_path);
            let credential = self.credential(&field(&path, "credential"), raw.credential);
            if let Some(credential) = credential {
                keys.push(AdminKey {
                    name: raw.name,
                    secret: credential.source,
                });
            }
        }
        keys
    }

    /// `value`, or `default` when absent; zero is reported at `path.name`.
    pub(super) fn positive(
        &mut self,
        path: &str,
        name: &str,
        value: Option<usize>,
        default: usize,
    ) -> usize {
        match value {
            Some(0) => {
                self.report(&field(path, name), Problem::Zero);
                default
            }
            value => value.unwrap_or(default),
        }
    }

    /// The timing of a batched delivery (usage shipping, exports): flush interval and
    /// timeout, neither zero, and back-off; `defaults` for what is absent.
    pub(super) fn delivery_timing(
        &mut self,
        path: &str,
        raw: RawTiming<'_>,
        defaults: DeliveryTiming,
    ) -> DeliveryTiming {
        let flush_interval = self.duration(
            &field(path, "flush_interval"),
            raw.flush_interval,
            defaults.flush_interval,
        );
        let timeout = self.duration(&field(path, "timeout"), raw.timeout, defaults.timeout);
        for (name, value) in [("flush_interval", flush_interval), ("timeout", timeout)] {
            if value.is_zero() {
                self.report(&field(path, name), Problem::Zero);
            }
        }
        let (backoff_base, backoff_max) = self.backoff(
            &field(path, "backoff"),
            raw.backoff,
            (defaults.backoff_base, defaults.backoff_max),
        );
        DeliveryTiming {
            flush_interval,
            timeout,
            backoff_base,
            backoff_max,
        }
    }

    fn usage_shipping(&mut self, path: &str, raw: raw::Usage) -> UsageShipping {
        let mut positive = |name: &str, value, default| self.positive(path, name, value, default);
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
        let timing = self.delivery_timing(
            path,
            RawTiming {
                flush_interval: raw.flush_interval.as_deref(),
                timeout: raw.timeout.as_deref(),
                backoff: raw.backoff.as_ref(),
            },
            DeliveryTiming {
                flush_interval: DEFAULT_FLUSH_INTERVAL,
                timeout: DEFAULT_TIMEOUT,
                backoff_base: DEFAULT_BACKOFF_BASE,
                backoff_max: DEFAULT_BACKOFF_MAX,
            },
        );
        UsageShipping {
            flush_interval: timing.flush_interval,
            timeout: timing.timeout,
            limits,
            backoff: Backoff {
                base_ms: millis(timing.backoff_base),
                max_ms: millis(timing.backoff_max),
            },
        }
    }
}

/// The timing fields of a delivery section, as written.
pub(super) struct RawTiming<'a> {
    pub flush_interval: Option<&'a str>,
    pub timeout: Option<&'a str>,
    pub backoff: Option<&'a super::raw::Backoff>,
}

/// A delivery's validated timing.
#[derive(Debug, Clone, Copy)]
pub(super) struct DeliveryTiming {
    pub flush_interval: Duration,
    pub timeout: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "control_plane_tests.rs"]
mod tests;
