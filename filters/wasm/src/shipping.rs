//! Usage shipping, in the gateway's root contexts: moves records from Envoy's shared queue
//! into this root's [`Outbox`] and sends its batches to the control plane.
//!
//! Envoy runs a root context per thread (main and every worker) and all of them tick;
//! `on_queue_ready` reaches only one of them, and any may dequeue (envoy-spike.md, Q5).
//! So every gateway root drains the queue on its tick and ships what it got on its own:
//! none depends on being the one Envoy notifies.

use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::Context;
use proxy_wasm::types::{MetricType, Status};
use tollgate_core::config::UsageShipping;
use tollgate_core::usage_outbox::{self, Outbox};

use crate::host::unix_millis;

/// Envoy stats (`wasmcustom.<name>`), shared by every root of the process.
const DROPPED: &str = "tollgate_usage_dropped";
const DELIVERED: &str = "tollgate_usage_delivered";
const FAILED_SENDS: &str = "tollgate_usage_failed_sends";

pub struct Shipper {
    config: UsageShipping,
    outbox: Outbox,
    queue: u32,
    ingest_key: String,
    dropped: u32,
    delivered: u32,
    failed_sends: u32,
}

impl Shipper {
    /// Registers the queue and the counters; `None` (logged) when Envoy refuses either.
    pub fn start(config: UsageShipping) -> Option<Shipper> {
        let ingest_key = ingest_key(&config.ingest_key_env);
        Shipper::register(config, ingest_key)
            .map_err(|status| log::error!("tollgate: usage shipping not started: {status:?}"))
            .ok()
    }

    fn register(config: UsageShipping, ingest_key: String) -> Result<Shipper, Status> {
        Ok(Shipper {
            queue: hostcalls::register_shared_queue(usage_outbox::QUEUE)?,
            dropped: hostcalls::define_metric(MetricType::Counter, DROPPED)?,
            delivered: hostcalls::define_metric(MetricType::Counter, DELIVERED)?,
            failed_sends: hostcalls::define_metric(MetricType::Counter, FAILED_SENDS)?,
            outbox: Outbox::new(config.limits, config.backoff),
            config,
            ingest_key,
        })
    }

    pub fn tick_period(&self) -> Duration {
        Duration::from_millis(self.config.flush_interval_ms)
    }

    /// Moves every queued record into the outbox.
    pub fn drain(&mut self) {
        while let Ok(Some(record)) = hostcalls::dequeue_shared_queue(self.queue) {
            match String::from_utf8(record) {
                Ok(record) => self.outbox.push(record),
                Err(_) => log::warn!("tollgate: dropped a usage record that is not UTF-8"),
            }
        }
        self.count_drops();
    }

    /// Sends the next batch if one is due.
    pub fn flush(&mut self, root: &dyn Context) {
        let now = unix_millis(root.get_current_time());
        let Some(batch) = self.outbox.next_batch(now) else {
            return;
        };
        let headers = vec![
            (":method", "POST"),
            (":path", usage_outbox::INGEST_PATH),
            (":authority", self.config.authority.as_str()),
            ("content-type", "application/x-ndjson"),
            (usage_outbox::INGEST_KEY_HEADER, self.ingest_key.as_str()),
        ];
        let timeout = Duration::from_millis(self.config.timeout_ms);
        let sent = root.dispatch_http_call(
            &self.config.cluster,
            headers,
            Some(&batch.body),
            vec![],
            timeout,
        );
        if let Err(status) = sent {
            log::warn!("tollgate: usage batch not sent: {status:?}");
            self.failed(now);
        }
    }

    /// The control plane answered the batch in flight (`None`: no answer at all).
    pub fn answered(&mut self, root: &dyn Context, status: Option<u16>) {
        match status {
            Some(200..=299) => {
                let records = self.outbox.delivered();
                increment(self.delivered, records as i64);
            }
            _ => {
                log::warn!(
                    "tollgate: usage batch refused or lost (status {status:?}); kept for a retry"
                );
                self.failed(unix_millis(root.get_current_time()));
            }
        }
    }

    fn failed(&mut self, now: u64) {
        self.outbox.failed(now);
        increment(self.failed_sends, 1);
    }

    fn count_drops(&mut self) {
        let dropped = self.outbox.take_dropped();
        if dropped > 0 {
            increment(self.dropped, i64::try_from(dropped).unwrap_or(i64::MAX));
        }
    }
}

/// The ingest key, from the variable `env` (Envoy passes only the variables the bootstrap
/// names, `host_env_keys`).
pub fn ingest_key(env: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| {
        log::warn!("tollgate: {env} is not set; the control plane will refuse Envoy's calls");
        String::new()
    })
}

fn increment(metric: u32, by: i64) {
    if let Err(status) = hostcalls::increment_metric(metric, by) {
        log::warn!("tollgate: metric not updated: {status:?}");
    }
}
