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
