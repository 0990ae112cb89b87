//! Validating `control_plane.exports`: where the service sends the usage records it
//! ingests (see `crate::export`).

use std::path::PathBuf;
use std::time::Duration;

use super::control_plane::{DeliveryTiming, RawTiming};
use super::diagnostics::Problem;
use super::parse::BaseUrl;
use super::raw_control_plane as raw;
use super::spans::{field, item};
use super::validate::Validator;

const DEFAULT_BATCH_RECORDS: usize = 512;
const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_QUEUE_RECORDS: usize = 10_000;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_ATTEMPTS: u32 = 5;
const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(500);
const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// One validated export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub target: ExportTarget,
    pub delivery: Delivery,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTarget {
    /// Appends one record per line to a file.
    Jsonl { path: PathBuf },
    /// POSTs each batch as `{"records": [...]}`.
    Webhook { url: BaseUrl },
    /// POSTs each batch as an OTLP/HTTP protobuf `ExportTraceServiceRequest` to
    /// `<endpoint>/v1/traces`.
    Otlp { url: BaseUrl },
}

impl ExportTarget {
    /// `jsonl`, `webhook`, `otlp`: for logs and the export counters.
    pub fn kind(&self) -> &'static str {
        match self {
            ExportTarget::Jsonl { .. } => "jsonl",
            ExportTarget::Webhook { .. } => "webhook",
            ExportTarget::Otlp { .. } => "otlp",
        }
    }
}

/// How records reach a target: batched, queued, retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Records per batch at most.
    pub batch_records: usize,
    /// A batch that is not full leaves after this long.
    pub flush_interval: Duration,
    /// Records waiting for this target at most; more are dropped (and counted).
    pub queue_records: usize,
    /// Per send.
    pub timeout: Duration,
    /// Sends of one batch before it is given up (and counted as failed).
    pub attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Validator<'_> {
    pub(super) fn exports(&mut self, path: &str, raws: Vec<raw::Export>) -> Vec<Export> {
        raws.into_iter()
            .enumerate()
            .filter_map(|(i, raw)| self.export(&item(path, i), raw))
            .collect()
    }

    fn export(&mut self, path: &str, raw: raw::Export) -> Option<Export> {
        let delivery = self.delivery(path, &raw);
        let target = match (raw.jsonl, raw.webhook, raw.otlp) {
            (Some(jsonl), None, None) => {
                if jsonl.path.is_empty() {
                    self.report(&field(&field(path, "jsonl"), "path"), Problem::Empty);
                    return None;
                }
                ExportTarget::Jsonl {
                    path: self.resolve(&jsonl.path),
                }
            }
            (None, Some(webhook), None) => ExportTarget::Webhook {
                url: self.export_url(&field(&field(path, "webhook"), "url"), &webhook.url)?,
            },
            (None, None, Some(otlp)) => {
                let endpoint = field(&field(path, "otlp"), "endpoint");
                ExportTarget::Otlp {
                    url: self.export_url(&endpoint, &otlp.endpoint)?,
                }
            }
            _ => {
                self.report(path, Problem::ExportTarget);
                return None;
            }
        };
        Some(Export { target, delivery })
    }

    fn export_url(&mut self, path: &str, text: &str) -> Option<BaseUrl> {
        match BaseUrl::parse(text) {
            Ok(url) if url.tls => {
                self.report(path, Problem::ExportTls);
                None
            }
            Ok(url) => Some(url),
            Err(reason) => {
                let value = text.to_string();
                self.report(path, Problem::ExportUrl { value, reason });
                None
            }
        }
    }

    fn delivery(&mut self, path: &str, raw: &raw::Export) -> Delivery {
        let mut positive = |name: &str, value, default| self.positive(path, name, value, default);
        let batch_records = positive("batch_records", raw.batch_records, DEFAULT_BATCH_RECORDS);
        let queue_records = positive("queue_records", raw.queue_records, DEFAULT_QUEUE_RECORDS);
        let attempts = positive(
            "attempts",
            raw.attempts.map(|a| a as usize),
            DEFAULT_ATTEMPTS as usize,
        );
        if batch_records > queue_records {
            self.report(path, Problem::BatchExceedsBuffer);
        }
        let DeliveryTiming {
            flush_interval,
            timeout,
            backoff_base,
            backoff_max,
        } = self.delivery_timing(
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
        Delivery {
            batch_records,
            flush_interval,
            queue_records,
            timeout,
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            backoff_base,
            backoff_max,
        }
    }
}

#[cfg(test)]
#[path = "exports_tests.rs"]
mod tests;
