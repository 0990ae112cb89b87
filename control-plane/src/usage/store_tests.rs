use super::*;
use crate::usage::ingest::parse_batch;

fn record(id: &str, time_unix_ms: i64) -> IncomingRecord {
    let line = format!(r#"{{"id":"{id}","time_unix_ms":{time_unix_ms},"provider":"p"}}"#);
    parse_batch(&line).records.remove(0)
}

fn ids(store: &mut SqliteStore, range: TimeRange) -> Vec<String> {
    store
        .records(range)
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn creates_the_file_and_migrates_once() {
    let dir = std::env::temp_dir().join(format!("tollgate-store-{}", std::process::id()));
    let path = dir.join("nested").join("usage.db");
    let _ = std::fs::remove_dir_all(&dir);
    {
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version(), MIGRATIONS.len() as i64);
        assert_eq!(store.insert(&[record("a", 1)]).unwrap(), 1);
    }
    // A restarted service finds its records and does not count a redelivery again.
    let mut reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(
        reopened.insert(&[record("a", 1), record("b", 2)]).unwrap(),
        1
    );
    assert_eq!(ids(&mut reopened, TimeRange::default()), ["a", "b"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn refuses_a_database_from_a_newer_build() {
    let dir = std::env::temp_dir().join(format!("tollgate-store-new-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("usage.db");
    let mut newer = Connection::open(&path).unwrap();
    let future: Vec<&str> = MIGRATIONS.iter().copied().chain(["SELECT 1"]).collect();
    storage::sqlite::migrate(&mut newer, COMPONENT, &future).unwrap();
    drop(newer);
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::Migration(MigrationError::TooNew { found, .. })) if found == future.len() as i64
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn duplicates_within_one_batch_count_once() {
    let mut store = SqliteStore::open(Path::new(":memory:")).unwrap();
    assert_eq!(store.insert(&[record("a", 1), record("a", 1)]).unwrap(), 1);
}

#[test]
fn selects_a_half_open_time_range() {
    let mut store = SqliteStore::open(Path::new(":memory:")).unwrap();
    let batch: Vec<_> = (0..5).map(|t| record(&format!("r{t}"), t * 10)).collect();
    store.insert(&batch).unwrap();
    let range = TimeRange {
        from_ms: Some(10),
        to_ms: Some(30),
    };
    assert_eq!(ids(&mut store, range), ["r1", "r2"]);
    let from = TimeRange {
        from_ms: Some(30),
        to_ms: None,
    };
    assert_eq!(ids(&mut store, from), ["r3", "r4"]);
}

#[test]
fn spending_is_summed_per_scope_and_range_leaving_one_instance_out() {
    use tollgate_core::budget::BudgetScope;

    use super::SpendQuery;
    let mut store = SqliteStore::open(Path::new(":memory:")).unwrap();
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
