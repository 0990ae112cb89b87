//! Exporting ingested usage records: JSON Lines file, webhook, OTLP/HTTP.
pub mod ids;
pub mod otlp;
