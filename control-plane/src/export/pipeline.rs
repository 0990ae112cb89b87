//! One export target's delivery: a bounded queue fed by ingest, batches, retries with
//! back-off, and counters.
//!
//! Ingest only ever `try_send`s into the queue: when the target is slow or dead the queue
//! fills and further records are dropped (and counted), so ingest answers Envoy as fast
//! with a hanging exporter as without one. A batch leaves when it is full or its flush
//! interval has passed; a send that fails in a way worth retrying (no answer, a timeout,
//! 429 or 5xx) is retried after an exponential back-off, up to the configured attempts,
//! then counted as failed.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::Delivery;

/// Why a send failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub retryable: bool,
    pub message: String,
}

impl SendError {
    pub fn retryable(message: impl Into<String>) -> Self {
        SendError {
            retryable: true,
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        SendError {
            retryable: false,
            message: message.into(),
        }
    }
}

/// Where a batch goes. Records are the JSON lines as the filter wrote them.
pub trait Sink: Send + Sync + 'static {
    fn send(&self, batch: &[Arc<str>]) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// Records per outcome, since the service started.
#[derive(Debug, Default)]
pub struct Counters {
    pub exported: AtomicU64,
    /// Refused by a full queue.
    pub dropped: AtomicU64,
    /// In batches given up after every attempt (or refused for good by the target).
    pub failed: AtomicU64,
    /// Sends that failed, retried or not.
    pub failed_sends: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn to_json(&self) -> Value {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "exported": get(&self.exported),
            "dropped": get(&self.dropped),
            "failed": get(&self.failed),
            "failed_sends": get(&self.failed_sends),
        })
    }
}

/// The ingest side of one running export.
pub struct Exporter {
    queue: mpsc::Sender<Arc<str>>,
    pub counters: Arc<Counters>,
}

impl Exporter {
    /// Starts delivering to `sink` on the current tokio runtime.
    pub fn spawn<S: Sink>(sink: S, delivery: Delivery, name: String) -> Exporter {
        let (queue, records) = mpsc::channel(delivery.queue_records);
        let counters = Arc::new(Counters::default());
        let worker = Worker {
            sink,
            delivery,
            counters: Arc::clone(&counters),
            name,
        };
        tokio::spawn(worker.run(records));
        Exporter { queue, counters }
    }

    /// Queues a record without waiting: a full queue drops it.
    pub fn offer(&self, record: Arc<str>) {
        if self.queue.try_send(record).is_err() {
            Counters::add(&self.counters.dropped, 1);
        }
    }
}

struct Worker<S> {
    sink: S,
    delivery: Delivery,
    counters: Arc<Counters>,
    name: String,
}

impl<S: Sink> Worker<S> {
    async fn run(self, mut records: mpsc::Receiver<Arc<str>>) {
        while let Some(first) = records.recv().await {
            let deadline = Instant::now() + self.delivery.flush_interval;
            let mut batch = vec![first];
            while batch.len() < self.delivery.batch_records {
                match tokio::time::timeout_at(deadline, records.recv()).await {
                    Ok(Some(record)) => batch.push(record),
                    Ok(None) | Err(_) => break,
                }
            }
            self.deliver(&batch).await;
        }
    }

    async fn deliver(&self, batch: &[Arc<str>]) {
        for attempt in 1..=self.delivery.attempts {
            let outcome = tokio::time::timeout(self.delivery.timeout, self.sink.send(batch))
                .await
                .unwrap_or_else(|_| Err(SendError::retryable("timed out")));
            let error = match outcome {
                Ok(()) => {
                    Counters::add(&self.counters.exported, batch.len());
                    return;
                }
                Err(error) => error,
            };
            Counters::add(&self.counters.failed_sends, 1);
            eprintln!(
                "tollgate service: export {}: batch of {} not delivered (attempt {attempt}): {error}",
                self.name,
                batch.len()
            );
            if !error.retryable || attempt == self.delivery.attempts {
                break;
            }
            tokio::time::sleep(backoff(attempt, &self.delivery)).await;
        }
        Counters::add(&self.counters.failed, batch.len());
    }
}

/// The wait after failed attempt `attempt` (1-based): the base, doubled each time, capped.
pub fn backoff(attempt: u32, delivery: &Delivery) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    delivery
        .backoff_base
        .saturating_mul(factor)
        .min(delivery.backoff_max)
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
