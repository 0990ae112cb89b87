//! The audit log in PostgreSQL, shared by control-plane replicas.

use super::chain::{canonical_json, AuditEntry, Head};
use super::store::{now, parse_details, AuditStore, StoreError, COMPONENT};
use super::AuditEvent;
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

impl AuditStore for PostgresStore {
    fn append(&mut self, event: &AuditEvent) -> Result<AuditEntry, StoreError> {
        let mut tx = self.connection.client()?.transaction()?;
        // EXCLUSIVE blocks other appenders (any replica) until commit, not readers. The
        // head is read after the lock is granted; under READ COMMITTED each statement
        // sees what was committed before it started, so it is the last appender's entry.
        tx.batch_execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")?;
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
            "INSERT INTO audit_log (seq, time, actor, action, target, details, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &entry.seq,
                &entry.time,
                &entry.actor,
                &entry.action,
                &entry.target,
                &canonical_json(&entry.details),
                &entry.prev_hash,
                &entry.hash,
            ],
        )?;
        tx.commit()?;
        Ok(entry)
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
