//! Exporting the usage records the service ingests: to a JSON Lines file, a webhook, or
//! an OpenTelemetry collector over OTLP/HTTP (see `control_plane.exports` in the README).
//!
//! Ingest hands every stored batch to [`Exports::offer`], which never waits: each target
//! has its own bounded queue and delivery task ([`pipeline`]). Delivery is at least once:
//! a record Envoy redelivers after a lost answer may be exported again, with the same id
//! (and, for OTLP, the same span id).

pub mod ids;
pub mod otlp;
pub mod pipeline;
pub mod sinks;

use std::sync::Arc;

use serde_json::{json, Value};

use crate::config::{Export, ExportTarget};
use otlp::ProviderSystems;
use pipeline::Exporter;
use sinks::{HttpPoster, JsonlSink, OtlpSink, WebhookSink};

/// OTLP/HTTP's path for traces, appended to the configured endpoint.
pub const OTLP_TRACES_PATH: &str = "/v1/traces";

/// Every running export.
#[derive(Default)]
pub struct Exports {
    running: Vec<(String, Exporter)>,
}

#[derive(Debug, thiserror::Error)]
#[error("export {name}: {source}")]
pub struct ExportError {
    name: String,
    source: hyper::http::uri::InvalidUri,
}

impl Exports {
    /// Starts a delivery task per export on `runtime`.
    pub fn start(
        exports: &[Export],
        systems: ProviderSystems,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Exports, ExportError> {
        let _entered = runtime.enter();
        let systems = Arc::new(systems);
        let mut running = Vec::with_capacity(exports.len());
        for (i, export) in exports.iter().enumerate() {
            let name = format!("{i}:{}", export.target.kind());
            let http = |url, suffix| {
                HttpPoster::new(url, suffix).map_err(|source| ExportError {
                    name: name.clone(),
                    source,
                })
            };
            let exporter = match &export.target {
                ExportTarget::Jsonl { path } => {
                    let sink = JsonlSink {
                        path: Arc::new(path.clone()),
                    };
                    Exporter::spawn(sink, export.delivery, name.clone())
                }
                ExportTarget::Webhook { url } => {
                    let sink = WebhookSink {
                        http: http(url, "")?,
                    };
                    Exporter::spawn(sink, export.delivery, name.clone())
                }
                ExportTarget::Otlp { url } => {
                    let sink = OtlpSink {
                        http: http(url, OTLP_TRACES_PATH)?,
                        systems: Arc::clone(&systems),
                    };
                    Exporter::spawn(sink, export.delivery, name.clone())
                }
            };
            running.push((name, exporter));
        }
        Ok(Exports { running })
    }

    /// Queues records (JSON lines) for every export, without waiting.
    pub fn offer<'a>(&self, records: impl IntoIterator<Item = &'a str>) {
        if self.running.is_empty() {
            return;
        }
        for record in records {
            let shared: Arc<str> = Arc::from(record);
            for (_, exporter) in &self.running {
                exporter.offer(Arc::clone(&shared));
            }
        }
    }

    /// `[{"export": "0:otlp", "exported": …, "dropped": …, "failed": …, "failed_sends": …}]`
    pub fn stats(&self) -> Value {
        let stats: Vec<Value> = self
            .running
            .iter()
            .map(|(name, exporter)| {
                let mut counters = exporter.counters.to_json();
                counters["export"] = json!(name);
                counters
            })
            .collect();
        Value::Array(stats)
    }
}
