//! The audit log in SQLite.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::chain::{canonical_json, AuditEntry, Head};
use super::store::{now, parse_details, AuditStore, StoreError, COMPONENT};
use super::AuditEvent;
use crate::storage;

/// The audit tables' schema versions, applied in order (see [`storage::sqlite::migrate`]).
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the chain; `details` is canonical JSON text, exactly what was hashed.
    "CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL
    );",
    // 2: where an event shipped by a filter came from (its record id), so a redelivered
    // record is not logged twice; not part of the hash (the id is also in `details`).
    "ALTER TABLE audit_log ADD COLUMN source TEXT;
    CREATE UNIQUE INDEX audit_log_source ON audit_log (source);",
];

pub struct SqliteStore {
    connection: Connection,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut connection = storage::sqlite::open(path)?;
        storage::sqlite::migrate(&mut connection, COMPONENT, MIGRATIONS)?;
        Ok(SqliteStore { connection })
    }
}

/// Appends `event` (shipped as `source`, when named) after the head, in `tx`.
fn append_in(
    tx: &Transaction,
    event: &AuditEvent,
    source: Option<&str>,
) -> Result<AuditEntry, StoreError> {
    let head = tx
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |row| {
                Ok(Head {
                    seq: row.get(0)?,
                    hash: row.get(1)?,
                })
            },
        )
        .optional()?;
    let entry = AuditEntry::next(head.as_ref(), event, now());
    tx.execute(
        "INSERT INTO audit_log
             (seq, time, actor, action, target, details, prev_hash, hash, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            entry.seq,
            entry.time,
            entry.actor,
            entry.action,
            entry.target,
            canonical_json(&entry.details),
            entry.prev_hash,
            entry.hash,
            source
        ],
    )?;
    Ok(entry)
}

impl SqliteStore {
    /// IMMEDIATE: the file's write lock is held from reading the head to the commit.
    fn locked(&mut self) -> Result<Transaction<'_>, StoreError> {
        Ok(self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }
}

impl AuditStore for SqliteStore {
    fn append(&mut self, event: &AuditEvent) -> Result<AuditEntry, StoreError> {
        let tx = self.locked()?;
        let entry = append_in(&tx, event, None)?;
        tx.commit()?;
        Ok(entry)
    }

    fn append_once(
        &mut self,
        source: &str,
        event: &AuditEvent,
    ) -> Result<Option<AuditEntry>, StoreError> {
        let tx = self.locked()?;
        let known = tx
            .query_row(
                "SELECT 1 FROM audit_log WHERE source = ?1",
                [source],
                |_| Ok(()),
            )
            .optional()?;
        if known.is_some() {
            return Ok(None);
        }
        let entry = append_in(&tx, event, Some(source))?;
        tx.commit()?;
        Ok(Some(entry))
    }

    fn entries(&mut self) -> Result<Vec<AuditEntry>, StoreError> {
        let mut select = self.connection.prepare(
            "SELECT seq, time, actor, action, target, details, prev_hash, hash
             FROM audit_log ORDER BY seq",
        )?;
        let rows = select.query_map([], |row| {
            Ok((
                AuditEntry {
                    seq: row.get(0)?,
                    time: row.get(1)?,
                    actor: row.get(2)?,
                    action: row.get(3)?,
                    target: row.get(4)?,
                    details: serde_json::Value::Null,
                    prev_hash: row.get(6)?,
                    hash: row.get(7)?,
                },
                row.get::<_, String>(5)?,
            ))
        })?;
        rows.map(|row| {
            let (mut entry, details) = row?;
            entry.details = parse_details(entry.seq, &details)?;
            Ok(entry)
        })
        .collect()
    }
}
