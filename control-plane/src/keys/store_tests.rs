//! The key store suite, run against SQLite and PostgreSQL.

use super::*;
use crate::keys::lifecycle::{create, revoke, KeyScope, NewKey};
use crate::storage::test_support::{storage_suite, TestDb};

storage_suite!(
    keys_come_back_as_they_went_in,
    ids_and_hashes_are_unique,
    a_replacement_must_follow_the_stored_version,
    a_second_connection_sees_keys_and_loses_races,
);

fn key(id: &str, hash: &str) -> StoredKey {
    let new = NewKey {
        id: id.into(),
        scope: KeyScope {
            models: vec!["*".into()],
            team: Some("ml".into()),
            ..KeyScope::default()
        },
        expires_unix_ms: Some(5_000),
    };
    create(new, hash.repeat(32), 1_000).unwrap()
}

fn keys_come_back_as_they_went_in(db: &TestDb) {
    let mut store = open(db.database()).unwrap();
    // "B" sorts before "a" bytewise, after it in most locales.
    let (b, a, upper) = (key("b", "bb"), key("a", "aa"), key("B", "cc"));
    store.insert(&b).unwrap();
    store.insert(&a).unwrap();
    store.insert(&upper).unwrap();
    assert_eq!(store.get("a").unwrap(), Some(a.clone()));
    assert_eq!(store.get("c").unwrap(), None);
    assert_eq!(store.list().unwrap(), [upper, a, b]);
}

fn ids_and_hashes_are_unique(db: &TestDb) {
    let mut store = open(db.database()).unwrap();
    store.insert(&key("a", "aa")).unwrap();
    let taken = store.insert(&key("a", "bb")).unwrap_err();
    assert!(matches!(taken, KeyStoreError::Exists(id) if id == "a"));
    assert!(matches!(
        store.insert(&key("b", "aa")),
        Err(KeyStoreError::Exists(_))
    ));
    assert_eq!(store.list().unwrap().len(), 1);
}

fn a_replacement_must_follow_the_stored_version(db: &TestDb) {
    let mut store = open(db.database()).unwrap();
    let a = key("a", "aa");
    store.insert(&a).unwrap();
    let revoked = revoke(&a, 2_000).unwrap();
    store.replace(&revoked).unwrap();
    assert_eq!(store.get("a").unwrap(), Some(revoked));
    // Another writer computed its change from the version before.
    let stale = revoke(&a, 3_000).unwrap();
    assert!(matches!(
        store.replace(&stale),
        Err(KeyStoreError::Raced(_))
    ));
    let missing = revoke(&key("z", "cc"), 2_000).unwrap();
    assert!(matches!(
        store.replace(&missing),
        Err(KeyStoreError::NotFound(_))
    ));
    store.remove("a").unwrap();
    assert_eq!(store.get("a").unwrap(), None);
}

/// Two replicas on one database: each sees the other's writes, and of two changes computed
/// from one version only the first is kept.
fn a_second_connection_sees_keys_and_loses_races(db: &TestDb) {
    let (mut first, mut second) = (open(db.database()).unwrap(), open(db.database()).unwrap());
    let a = key("a", "aa");
    first.insert(&a).unwrap();
    assert_eq!(second.get("a").unwrap(), Some(a.clone()));
    let revoked = revoke(&a, 2_000).unwrap();
    second.replace(&revoked).unwrap();
    assert!(matches!(
        first.replace(&revoke(&a, 3_000).unwrap()),
        Err(KeyStoreError::Raced(_))
    ));
    assert_eq!(first.get("a").unwrap(), Some(revoked));
}
