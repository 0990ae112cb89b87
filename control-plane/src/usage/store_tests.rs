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

fn run_record(id: &str, time_unix_ms: i64, run: &str) -> IncomingRecord {
    let line = format!(r#"{{"id":"{id}","time_unix_ms":{time_unix_ms},"run_id":"{run}"}}"#);
    parse_batch(&line).records.remove(0)
}

#[test]
fn selects_the_records_of_one_run() {
    let mut store = SqliteStore::open(Path::new(":memory:")).unwrap();
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

#[test]
fn the_run_column_is_filled_for_records_stored_before_it() {
    let dir = std::env::temp_dir().join(format!("tollgate-store-v1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("usage.db");
    let mut old = Connection::open(&path).unwrap();
    storage::sqlite::migrate(&mut old, COMPONENT, &MIGRATIONS[..1]).unwrap();
    old.execute(
        "INSERT INTO usage_records (id, time_unix_ms, received_unix_ms, record)
         VALUES ('old.1', 5, 5, '{\"id\":\"old.1\",\"time_unix_ms\":5,\"run_id\":\"r-old\"}')",
        [],
    )
    .unwrap();
    drop(old);
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.run_records("r-old").unwrap().len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
