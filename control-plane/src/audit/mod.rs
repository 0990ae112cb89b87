//! The audit log: who changed what, when. Every admin action and key lifecycle event is
//! handed to an [`AuditSink`] as an [`AuditEvent`]; the sink decides how it is kept.

pub mod stream;

use serde::{Deserialize, Serialize};

/// One admin action or lifecycle event. Never carries a secret: a key appears by its id,
/// a credential not at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Who acted: the admin credential's name, `cli`, or `system` (expiry, config reload).
    pub actor: String,
    /// What was done, dotted: `key.create`, `key.rotate`, `key.revoke`, `config.reload`.
    pub action: String,
    /// What it was done to: `key/<id>`, `config`, ...
    pub target: String,
    /// What changed (before/after of the fields that changed), free-form JSON.
    pub details: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
#[error("the audit log could not record {action}: {reason}")]
pub struct AuditError {
    pub action: String,
    pub reason: String,
}

/// Where events go. An action whose event cannot be recorded must fail: an unaudited
/// change is worse than a refused one.
pub trait AuditSink: Send + Sync {
    fn record(&self, event: AuditEvent) -> Result<(), AuditError>;
}
