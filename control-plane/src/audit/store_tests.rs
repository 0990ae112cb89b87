//! The audit store suite, run against SQLite and PostgreSQL: the chain as stored, appends
//! from several connections at once, and tampering done in SQL.

use serde_json::json;

use super::*;
use crate::audit::chain::{verify, ChainError};
use crate::audit::{AuditLog, AuditSink};
use crate::storage::test_support::{storage_suite, TestDb};

storage_suite!(
    the_sink_appends_a_verifiable_chain,
    a_reopened_log_continues_the_chain,
    concurrent_appenders_never_fork_the_chain,
    an_edited_row_is_named,
    a_deleted_row_is_named,
    swapped_rows_are_named,
    an_event_that_cannot_be_kept_is_an_error,
    a_shipped_event_is_logged_once_per_source,
);

fn event(actor: &str, n: usize) -> AuditEvent {
    AuditEvent {
        actor: actor.into(),
        action: "key.update".into(),
        target: format!("key/k{n}"),
        details: json!({"before": {"team": null}, "after": {"team": "ops", "models": ["a", "b"]}, "n": n}),
    }
}

/// A log of `length` entries, by one writer.
fn written(db: &TestDb, length: usize) -> Box<dyn AuditStore> {
    let mut store = open(db.database()).unwrap();
    for n in 0..length {
        store.append(&event("admin", n)).unwrap();
    }
    store
}

fn the_sink_appends_a_verifiable_chain(db: &TestDb) {
    let log = AuditLog::open(db.database()).unwrap();
    for n in 0..3 {
        log.record(event("admin", n)).unwrap();
    }
    let entries = open(db.database()).unwrap().entries().unwrap();
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(entries[2].target, "key/k2");
    assert_eq!(entries[2].details, event("admin", 2).details);
    assert_eq!(entries[1].prev_hash, entries[0].hash);
    let verified = verify(&entries).unwrap();
    assert_eq!(verified.entries, 3);
    assert_eq!(verified.head, Some(entries[2].head()));
}

fn a_reopened_log_continues_the_chain(db: &TestDb) {
    drop(written(db, 2));
    let mut reopened = open(db.database()).unwrap();
    let third = reopened.append(&event("cli", 2)).unwrap();
    assert_eq!(third.seq, 3);
    assert_eq!(verify(&reopened.entries().unwrap()).unwrap().entries, 3);
}

/// Each thread has its own connection, as each replica does: the appends take turns.
fn concurrent_appenders_never_fork_the_chain(db: &TestDb) {
    const WRITERS: usize = 4;
    const EACH: usize = 25;
    std::thread::scope(|scope| {
        for writer in 0..WRITERS {
            scope.spawn(move || {
                let mut store = open(db.database()).unwrap();
                for n in 0..EACH {
                    store
                        .append(&event(&format!("replica-{writer}"), n))
                        .unwrap();
                }
            });
        }
    });
    let entries = open(db.database()).unwrap().entries().unwrap();
    assert_eq!(verify(&entries).unwrap().entries, WRITERS * EACH);
    for writer in 0..WRITERS {
        let actor = format!("replica-{writer}");
        assert_eq!(entries.iter().filter(|e| e.actor == actor).count(), EACH);
    }
}

fn an_edited_row_is_named(db: &TestDb) {
    let mut store = written(db, 5);
    db.execute(r#"UPDATE audit_log SET details = '{"n":99}' WHERE seq = 3"#);
    assert_eq!(
        verify(&store.entries().unwrap()),
        Err(ChainError::Modified { seq: 3 })
    );
}

fn a_deleted_row_is_named(db: &TestDb) {
    let mut store = written(db, 5);
    db.execute("DELETE FROM audit_log WHERE seq = 3");
    assert_eq!(
        verify(&store.entries().unwrap()),
        Err(ChainError::Missing {
            expected: 3,
            after: 2,
            found: 4
        })
    );
}

fn swapped_rows_are_named(db: &TestDb) {
    let mut store = written(db, 5);
    db.execute(
        "UPDATE audit_log SET seq = -1 WHERE seq = 2;
         UPDATE audit_log SET seq = 2 WHERE seq = 3;
         UPDATE audit_log SET seq = 3 WHERE seq = -1;",
    );
    assert_eq!(
        verify(&store.entries().unwrap()),
        Err(ChainError::Moved {
            seq: 2,
            written_as: 3
        })
    );
}

/// An action whose event cannot be kept must fail, naming the action.
fn an_event_that_cannot_be_kept_is_an_error(db: &TestDb) {
    let log = AuditLog::open(db.database()).unwrap();
    db.execute("DROP TABLE audit_log");
    let error = log.record(event("admin", 1)).unwrap_err();
    assert_eq!(error.action, "key.update");
    assert!(error.reason.contains("audit_log"), "{}", error.reason);
}

/// Filters ship some events (MCP tool changes); a redelivered one is not logged again, and
/// events without a source are never taken for one another.
fn a_shipped_event_is_logged_once_per_source(db: &TestDb) {
    let log = AuditLog::open(db.database()).unwrap();
    assert!(log.record_once("change.1", event("system", 1)).unwrap());
    log.record(event("admin", 2)).unwrap();
    log.record(event("admin", 2)).unwrap();
    assert!(!log.record_once("change.1", event("system", 1)).unwrap());
    let mut store = open(db.database()).unwrap();
    let second = store.append_once("change.2", &event("system", 3)).unwrap();
    assert_eq!(second.map(|e| e.seq), Some(4));
    assert_eq!(
        store.append_once("change.2", &event("system", 3)).unwrap(),
        None
    );
    let entries = store.entries().unwrap();
    assert_eq!(verify(&entries).unwrap().entries, 4);
}
