//! Usage records on their way to the control plane: the bounded buffer a root context
//! keeps them in, the batches it sends, the back-off between failed sends and the count
//! of records dropped when the buffer is full.
//!
//! The wasm shell moves records from Envoy's shared queue into an [`Outbox`] and sends
//! what [`Outbox::next_batch`] hands it; everything about *when* and *what* is decided
//! here, with time passed in as milliseconds so it is testable without a clock.
//!
//! Delivery is at least once: a batch whose answer is lost is sent again, and the
//! control plane deduplicates on the record id.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// The wasm VM id every Tollgate filter shares; shared queues are named within it.
pub const VM_ID: &str = "tollgate";
/// The shared queue provider filters put usage records on.
pub const QUEUE: &str = "tollgate.usage";
/// Request header carrying the ingest key on every batch.
pub const INGEST_KEY_HEADER: &str = "x-tollgate-ingest-key";
/// Path of the control plane's ingest endpoint.
pub const INGEST_PATH: &str = "/v1/usage/records";
/// Largest batch the control plane accepts; configured batches stay below it.
pub const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// How big batches and the buffer may get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutboxLimits {
    /// Most records in one batch.
    pub batch_records: usize,
    /// Most bytes in one batch (a single larger record still goes alone).
    pub batch_bytes: usize,
    /// Most records held, the batch in flight included.
    pub buffer_records: usize,
    /// Most bytes held, the batch in flight included.
    pub buffer_bytes: usize,
}

/// Exponential back-off after failed sends: `base`, `2 × base`, … up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Backoff {
    pub base_ms: u64,
    pub max_ms: u64,
}

impl Backoff {
    /// The wait after `failures` consecutive failed sends (at least one).
    pub fn delay_ms(&self, failures: u32) -> u64 {
        let doublings = failures.saturating_sub(1).min(63);
        self.base_ms
            .saturating_mul(1u64 << doublings)
            .min(self.max_ms)
    }
}

/// A batch to send: records as JSON lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub body: Vec<u8>,
    pub records: usize,
}

/// The records one root context holds until the control plane has them.
#[derive(Debug)]
pub struct Outbox {
    limits: OutboxLimits,
    backoff: Backoff,
    queued: VecDeque<String>,
    queued_bytes: usize,
    /// The batch being sent: still counted against the bound, put back if the send fails.
    in_flight: Vec<String>,
    in_flight_bytes: usize,
    /// Records dropped since the last [`Outbox::take_dropped`].
    dropped: u64,
    failures: u32,
    /// No send before this time (milliseconds).
    retry_at_ms: u64,
}

impl Outbox {
    pub fn new(limits: OutboxLimits, backoff: Backoff) -> Self {
        Outbox {
            limits,
            backoff,
            queued: VecDeque::new(),
            queued_bytes: 0,
            in_flight: Vec::new(),
            in_flight_bytes: 0,
            dropped: 0,
            failures: 0,
            retry_at_ms: 0,
        }
    }

    /// Records held, the batch in flight included.
    pub fn len(&self) -> usize {
        self.queued.len() + self.in_flight.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn held_bytes(&self) -> usize {
        self.queued_bytes + self.in_flight_bytes
    }

    fn fits(&self, bytes: usize) -> bool {
        self.len() < self.limits.buffer_records
            && self.held_bytes().saturating_add(bytes) <= self.limits.buffer_bytes
    }

    /// Adds a record. When the buffer is full the oldest queued records make room; the
    /// batch in flight is never dropped, so when it alone fills the buffer the new record
    /// is the one dropped.
    pub fn push(&mut self, record: String) {
        while !self.fits(record.len()) {
            match self.queued.pop_front() {
                Some(oldest) => {
                    self.queued_bytes -= oldest.len();
                    self.dropped += 1;
                }
                None => {
                    self.dropped += 1;
                    return;
                }
            }
        }
        self.queued_bytes += record.len();
        self.queued.push_back(record);
    }

    /// The next batch to send, when nothing is in flight, something is queued and the
    /// back-off has passed.
    pub fn next_batch(&mut self, now_ms: u64) -> Option<Batch> {
        if !self.in_flight.is_empty() || self.queued.is_empty() || now_ms < self.retry_at_ms {
            return None;
        }
        let mut body = Vec::new();
        while let Some(next) = self.queued.front() {
            let full = self.in_flight.len() >= self.limits.batch_records
                || (!self.in_flight.is_empty()
                    && body.len() + 1 + next.len() > self.limits.batch_bytes);
            if full {
                break;
            }
            let record = self.queued.pop_front()?;
            if !body.is_empty() {
                body.push(b'\n');
            }
            body.extend_from_slice(record.as_bytes());
            self.queued_bytes -= record.len();
            self.in_flight_bytes += record.len();
            self.in_flight.push(record);
        }
        Some(Batch {
            body,
            records: self.in_flight.len(),
        })
    }

    /// The batch in flight arrived: it is forgotten and the back-off resets. Returns how
    /// many records it held.
    pub fn delivered(&mut self) -> usize {
        let records = self.in_flight.len();
        self.in_flight.clear();
        self.in_flight_bytes = 0;
        self.failures = 0;
        self.retry_at_ms = 0;
        records
    }

    /// The batch in flight did not arrive: it goes back to the front, in order, and the
    /// next send waits out the back-off.
    pub fn failed(&mut self, now_ms: u64) {
        self.queued_bytes += self.in_flight_bytes;
        self.in_flight_bytes = 0;
        for record in self.in_flight.drain(..).rev() {
            self.queued.push_front(record);
        }
        self.failures = self.failures.saturating_add(1);
        self.retry_at_ms = now_ms.saturating_add(self.backoff.delay_ms(self.failures));
    }

    /// Records dropped since the last call, for the drop counter.
    pub fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }
}

#[cfg(test)]
#[path = "usage_outbox_tests.rs"]
mod tests;
