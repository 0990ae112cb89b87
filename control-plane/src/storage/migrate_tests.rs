//! The migration runners of both backends, through one suite.

use super::test_support::{storage_suite, TestDb};
use super::MigrationError;

const TWO: &[&str] = &[
    "CREATE TABLE a (x INTEGER)",
    "ALTER TABLE a ADD COLUMN y INTEGER",
];

storage_suite!(
    applies_each_version_once_per_component,
    refuses_tables_from_a_newer_build,
    a_failed_version_leaves_the_last_good_one,
    concurrent_openers_apply_each_version_once,
);

fn applies_each_version_once_per_component(db: &TestDb) {
    assert_eq!(db.version("one"), 0);
    db.migrate("one", &TWO[..1]).unwrap();
    assert_eq!(db.version("one"), 1);
    // A later build adds a version; only that one runs (re-running 1 would fail).
    db.migrate("one", TWO).unwrap();
    db.migrate("one", TWO).unwrap();
    assert_eq!(db.version("one"), 2);
    db.execute("INSERT INTO a (x, y) VALUES (1, 2)");
    // Components do not share a version.
    db.migrate("two", &["CREATE TABLE b (z INTEGER)"]).unwrap();
    assert_eq!(db.version("two"), 1);
    assert_eq!(db.version("one"), 2);
}

fn refuses_tables_from_a_newer_build(db: &TestDb) {
    db.migrate("one", TWO).unwrap();
    assert!(matches!(
        db.migrate("one", &TWO[..1]),
        Err(MigrationError::TooNew {
            found: 2,
            known: 1,
            ..
        })
    ));
}

fn a_failed_version_leaves_the_last_good_one(db: &TestDb) {
    let broken = [TWO[0], "NOT SQL"];
    assert!(db.migrate("one", &broken).is_err());
    assert_eq!(db.version("one"), 1);
}

/// Replicas (or `tollgate serve` beside `tollgate audit`) starting at once: each version is
/// applied once, so none of them fails on "table already exists".
fn concurrent_openers_apply_each_version_once(db: &TestDb) {
    std::thread::scope(|scope| {
        let openers: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| db.migrate("one", TWO)))
            .collect();
        for opener in openers {
            opener.join().unwrap().unwrap();
        }
    });
    assert_eq!(db.version("one"), 2);
}
