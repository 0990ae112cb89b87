//! The audit log: who changed what, when. Every admin action and key lifecycle event is
//! handed to an [`AuditSink`] as an [`AuditEvent`]. [`AuditLog`] keeps them as an
//! append-only, hash-chained log ([`chain`]) in the control plane's database
//! ([`store::AuditStore`], SQLite or PostgreSQL); `tollgate audit verify` checks the chain
//! and `tollgate audit export` writes it as JSON lines.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::storage::{Database, StoreError};
use store::AuditStore;

pub mod chain;
pub mod mcp;
pub mod store;
pub mod store_postgres;
pub mod store_sqlite;

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

impl AuditError {
    fn new(event: AuditEvent, reason: StoreError) -> Self {
        AuditError {
            action: event.action,
            reason: reason.to_string(),
        }
    }
}

/// Where events go. An action whose event cannot be recorded must fail: an unaudited
/// change is worse than a refused one.
pub trait AuditSink: Send + Sync {
    fn record(&self, event: AuditEvent) -> Result<(), AuditError>;

    /// Records an event shipped by a filter as the record `source`, unless that source was
    /// recorded before; returns whether it was new.
    fn record_once(&self, source: &str, event: AuditEvent) -> Result<bool, AuditError>;
}

/// The [`AuditSink`] of the service: appends each event to the chained log.
pub struct AuditLog {
    store: Mutex<Box<dyn AuditStore>>,
}

impl AuditLog {
    fn store(&self) -> std::sync::MutexGuard<'_, Box<dyn AuditStore>> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn open(database: &Database) -> Result<Self, StoreError> {
        Ok(Self::new(store::open(database)?))
    }

    pub fn new(store: Box<dyn AuditStore>) -> Self {
        AuditLog {
            store: Mutex::new(store),
        }
    }
}

impl AuditSink for AuditLog {
    /// Blocks on the database: call it where blocking is allowed (`spawn_blocking`).
    fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let appended = self.store().append(&event);
        appended.map(drop).map_err(|e| AuditError::new(event, e))
    }

    /// Blocks on the database, as [`Self::record`].
    fn record_once(&self, source: &str, event: AuditEvent) -> Result<bool, AuditError> {
        let appended = self.store().append_once(source, &event);
        appended
            .map(|entry| entry.is_some())
            .map_err(|e| AuditError::new(event, e))
    }
}
