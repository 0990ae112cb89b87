//! The usage store suite, run against SQLite and PostgreSQL.

use super::*;
use crate::storage::test_support::{storage_suite, Backend, TestDb};
use crate::usage::ingest::parse_batch;

storage_suite!(
    a_reopened_store_ignores_redelivered_records,
    duplicates_within_one_batch_count_once,
    selects_a_half_open_time_range,
    orders_by_time_then_id_bytewise,
    keeps_the_optional_columns,
    selects_the_records_of_one_run,
    the_run_column_is_filled_for_records_stored_before_it,
    spending_is_summed_per_scope_and_range_leaving_one_instance_out,
);

fn record(id: &str, time_unix_ms: i64) -> IncomingRecord {
    let line = format!(r#"{{"id":"{id}","time_unix_ms":{time_unix_ms},"provider":"p"}}"#);
    parse_batch(&line).records.remove(0)
}

fn ids(store: &mut dyn UsageStore, range: TimeRange) -> Vec<String> {
    store
        .records(range)
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn a_reopened_store_ignores_redelivered_records(db: &TestDb) {
    {
        let mut store = open(db.database()).unwrap();
        assert_eq!(store.insert(&[record("a", 1)]).unwrap(), 1);
    }
    // A restarted service finds its records and does not count a redelivery again.
    let mut reopened = open(db.database()).unwrap();
    assert_eq!(
        reopened.insert(&[record("a", 1), record("b", 2)]).unwrap(),
        1
    );
    assert_eq!(ids(reopened.as_mut(), TimeRange::default()), ["a", "b"]);
}

fn duplicates_within_one_batch_count_once(db: &TestDb) {
    let mut store = open(db.database()).unwrap();
    assert_eq!(store.insert(&[record("a", 1), record("a", 1)]).unwrap(), 1);
    assert_eq!(store.insert(&[]).unwrap(), 0);
}

fn selects_a_half_open_time_range(db: &TestDb) {
    let mut store = open(db.database()).unwrap();
    let batch: Vec<_> = (0..5).map(|t| record(&format!("r{t}"), t * 10)).collect();
    assert_eq!(store.insert(&batch).unwrap(), 5);
    let range = TimeRange {
        from_ms: Some(10),
        to_ms: Some(30),
    };
    assert_eq!(ids(store.as_mut(), range), ["r1", "r2"]);
    let from = TimeRange {
        from_ms: Some(30),
        to_ms: None,
    };
    assert_eq!(ids(store.as_mut(), from), ["r3", "r4"]);
}

/// A locale-aware collation would put `a` before `B` and ignore `_`; both backends
/// compare ids byte by byte.
fn orders_by_time_then_id_bytewise(db: &TestDb) {
    let mut store = open(db.database()).unwrap();
    let batch = [
        record("a", 5),
        record("_", 5),
        record("B", 5),
        record("z", 1),
    ];
    store.insert(&batch).unwrap();
    assert_eq!(
        ids(store.as_mut(), TimeRange::default()),
        ["z", "B", "_", "a"]
    );
}

fn keeps_the_optional_columns(db: &TestDb) {
    let line = r#"{"id":"r","time_unix_ms":3,"provider":"p","key_id":"k","team":null,"alias":"fast","status":429,"extra":{"n":1}}"#;
    let mut store = open(db.database()).unwrap();
    store.insert(&parse_batch(line).records).unwrap();
    let records = store.records(TimeRange::default()).unwrap();
    assert_eq!(records, [serde_json::from_str::<Value>(line).unwrap()]);
    // The indexed columns hold what reports filter on.
    db.execute("DELETE FROM usage_records WHERE key_id = 'k' AND status = 429 AND team IS NULL AND alias = 'fast'");
    assert!(store.records(TimeRange::default()).unwrap().is_empty());
}

#[test]
fn sqlite_creates_the_file_and_its_directory() {
    let db = TestDb::sqlite();
    let Database::Sqlite(file) = db.database() else {
        unreachable!()
    };
    let nested = file.parent().unwrap().join("nested").join("usage.db");
    let mut store = open(&Database::Sqlite(nested.clone())).unwrap();
    assert_eq!(store.insert(&[record("a", 1)]).unwrap(), 1);
    assert!(nested.is_file());
    assert_eq!(
        crate::storage::sqlite::version(&rusqlite::Connection::open(&nested).unwrap(), COMPONENT)
            .unwrap(),
        crate::usage::store_sqlite::MIGRATIONS.len() as i64
    );
}

fn spending_is_summed_per_scope_and_range_leaving_one_instance_out(db: &TestDb) {
    use tollgate_core::budget::BudgetScope;

    use super::SpendQuery;
    let mut store = open(db.database()).unwrap();
    let costed = |id: &str,
                  time: i64,
                  key: &str,
                  team: &str,
                  agent: &str,
                  cost: &str,
                  instance: &str| {
        let json = format!(
            r#"{{"id":"{id}","time_unix_ms":{time},"key_id":"{key}","team":"{team}","agent_id":"{agent}","cost_nano_usd":{cost},"envoy_instance":"{instance}"}}"#
        );
        crate::usage::ingest::parse_batch(&json).records.remove(0)
    };
    store
        .insert(&[
            costed("a", 100, "k1", "t1", "planner", "1000", "e1"),
            costed("b", 200, "k1", "t2", "coder", "20", "e2"),
            costed("c", 300, "k2", "t1", "planner", "null", "e2"),
            costed("d", 400, "k2", "t1", "planner", "3", "e2"),
        ])
        .unwrap();
    let mut spent = |scope: BudgetScope, from: i64, exclude: Option<&str>| {
        let range = TimeRange {
            from_ms: Some(from),
            to_ms: Some(1000),
        };
        let query = SpendQuery {
            scope: &scope,
            range,
            exclude_instance: exclude,
        };
        store.spent(&query).unwrap()
    };
    assert_eq!(spent(BudgetScope::Key("k1".into()), 0, None), 1020);
    assert_eq!(spent(BudgetScope::Team("t1".into()), 0, None), 1003);
    assert_eq!(spent(BudgetScope::Agent("planner".into()), 0, None), 1003);
    assert_eq!(
        spent(BudgetScope::Agent("planner".into()), 0, Some("e1")),
        3
    );
    assert_eq!(spent(BudgetScope::Key("k1".into()), 150, None), 20);
    assert_eq!(spent(BudgetScope::Key("nobody".into()), 0, None), 0);
}

fn run_record(id: &str, time_unix_ms: i64, run: &str) -> IncomingRecord {
    let line = format!(r#"{{"id":"{id}","time_unix_ms":{time_unix_ms},"run_id":"{run}"}}"#);
    parse_batch(&line).records.remove(0)
}

fn selects_the_records_of_one_run(db: &TestDb) {
    let mut store = open(db.database()).unwrap();
    let records = [
        run_record("b", 2, "r1"),
        run_record("x", 1, "r2"),
        run_record("a", 1, "r1"),
    ];
    store.insert(&records).unwrap();
    let ids: Vec<_> = store
        .run_records("r1")
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(store.run_records("nope").unwrap().is_empty());
}

fn the_run_column_is_filled_for_records_stored_before_it(db: &TestDb) {
    let first = match db.backend() {
        Backend::Sqlite => &crate::usage::store_sqlite::MIGRATIONS[..1],
        Backend::Postgres => &crate::usage::store_postgres::MIGRATIONS[..1],
    };
    db.migrate(COMPONENT, first).unwrap();
    db.execute(
        "INSERT INTO usage_records (id, time_unix_ms, received_unix_ms, record)
         VALUES ('old.1', 5, 5, '{\"id\":\"old.1\",\"time_unix_ms\":5,\"run_id\":\"r-old\"}')",
    );
    let mut store = open(db.database()).unwrap();
    assert_eq!(store.run_records("r-old").unwrap().len(), 1);
}
