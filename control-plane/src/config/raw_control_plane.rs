//! The `control_plane:` section exactly as written (see [`super::raw`] for the conventions).

use serde::Deserialize;

use super::raw::{Backoff, Credential, Endpoint};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlane {
    #[serde(default)]
    pub listen: Endpoint,
    /// SQLite file (relative to the config file's directory) or a `postgres://` URL.
    pub database: Option<String>,
    /// Environment variable holding the ingest key, read by the service and by Envoy.
    pub ingest_key_env: Option<String>,
    #[serde(default)]
    pub usage: Usage,
    /// Credentials of the admin API (`/v1/admin/…`), each named for the audit log.
    pub admin_keys: Option<Vec<AdminKey>>,
    /// Where ingested usage records are exported (JSON Lines, webhook, OTLP).
    #[serde(default)]
    pub exports: Vec<Export>,
}

/// One admin credential: its name (the actor in audit events) and where its secret is.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminKey {
    pub name: String,
    pub credential: Credential,
}

/// One export target: exactly one of `jsonl`, `webhook`, `otlp`, with delivery settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Export {
    pub jsonl: Option<JsonlTarget>,
    pub webhook: Option<UrlTarget>,
    pub otlp: Option<OtlpTarget>,
    pub batch_records: Option<usize>,
    pub flush_interval: Option<String>,
    pub queue_records: Option<usize>,
    pub timeout: Option<String>,
    pub attempts: Option<u32>,
    pub backoff: Option<Backoff>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlTarget {
    pub path: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlTarget {
    pub url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpTarget {
    pub endpoint: String,
}

/// How Envoy ships usage records to the service.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    pub flush_interval: Option<String>,
    pub timeout: Option<String>,
    pub batch_records: Option<usize>,
    pub batch_bytes: Option<usize>,
    pub buffer_records: Option<usize>,
    pub buffer_bytes: Option<usize>,
    pub backoff: Option<Backoff>,
}
