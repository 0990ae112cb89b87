//! The audit log in PostgreSQL, shared by control-plane replicas.

use super::chain::{canonical_json, AuditEntry, Head};
use super::store::{now, parse_details, AuditStore, StoreError, COMPONENT};
use super::AuditEvent;
use ::postgres::Transaction;

use crate::storage::postgres::{self, Connection};
use crate::storage::PostgresUrl;

/// The audit tables' schema versions, applied in order (see [`postgres::migrate`]).
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: as SQLite's version 1.
    "CREATE TABLE audit_log (
        seq BIGINT PRIMARY KEY,
        time TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL
    );",
    // 2: as SQLite's version 2.
    "ALTER TABLE audit_log ADD COLUMN source TEXT;
    CREATE UNIQUE INDEX audit_log_source ON audit_log (source);",
];

pub struct PostgresStore {
    connection: Connection,
}

impl PostgresStore {
    pub fn open(url: &PostgresUrl) -> Result<Self, StoreError> {
        let mut connection = Connection::open(url)?;
        postgres::migrate(connection.client()?, COMPONENT, MIGRATIONS)?;
        Ok(PostgresStore { connection })
    }
}

/// Appends `event` (shipped as `source`, when named) after the head, in `tx`.
fn append_in(
    tx: &mut Transaction,
    event: &AuditEvent,
    source: Option<&str>,
) -> Result<AuditEntry, StoreError> {
    let head = tx
        .query_opt(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )?
        .map(|row| Head {
            seq: row.get(0),
            hash: row.get(1),
        });
    let entry = AuditEntry::next(head.as_ref(), event, now());
    tx.execute(
        "INSERT INTO audit_log
             (seq, time, actor, action, target, details, prev_hash, hash, source)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &entry.seq,
            &entry.time,
            &entry.actor,
            &entry.action,
            &entry.target,
            &canonical_json(&entry.details),
            &entry.prev_hash,
            &entry.hash,
            &source,
        ],
    )?;
    Ok(entry)
}

impl PostgresStore {
    /// A transaction holding the appenders' lock. EXCLUSIVE blocks other appenders (any
    /// replica) until commit, not readers. The head is read after the lock is granted;
    /// under READ COMMITTED each statement sees what was committed before it started, so
    /// it is the last appender's entry.
    fn locked(&mut self) -> Result<Transaction<'_>, StoreError> {
        let mut tx = self.connection.client()?.transaction()?;
        tx.batch_execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")?;
        Ok(tx)
    }
}

impl AuditStore for PostgresStore {
    fn append(&mut self, event: &AuditEvent) -> Result<AuditEntry, StoreError> {
        let mut tx = self.locked()?;
        let entry = append_in(&mut tx, event, None)?;
        tx.commit()?;
        Ok(entry)
    }

    fn append_once(
        &mut self,
        source: &str,
        event: &AuditEvent,
    ) -> Result<Option<AuditEntry>, StoreError> {
        let mut tx = self.locked()?;
        let known = tx.query_opt("SELECT 1 FROM audit_log WHERE source = $1", &[&source])?;
        if known.is_some() {
            return Ok(None);
        }
        let entry = append_in(&mut tx, event, Some(source))?;
        tx.commit()?;
        Ok(Some(entry))
    }

    fn entries(&mut self) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = self.connection.client()?.query(
            "SELECT seq, time, actor, action, target, details, prev_hash, hash
             FROM audit_log ORDER BY seq",
            &[],
        )?;
        rows.into_iter()
            .map(|row| {
                let seq: i64 = row.get(0);
                Ok(AuditEntry {
                    seq,
                    time: row.get(1),
                    actor: row.get(2),
                    action: row.get(3),
                    target: row.get(4),
                    details: parse_details(seq, row.get(5))?,
                    prev_hash: row.get(6),
                    hash: row.get(7),
                })
            })
            .collect()
    }
}
