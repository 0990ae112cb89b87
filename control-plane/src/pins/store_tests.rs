//! The pin store suite, run against SQLite and PostgreSQL.

use serde_json::json;

use super::*;
use crate::storage::test_support::{storage_suite, TestDb};

storage_suite!(
    the_first_pin_of_a_tool_wins,
    a_change_is_noted_against_its_pin_only,
    an_approval_must_name_the_definition_last_seen,
    a_second_connection_sees_pins_and_loses_races,
);

fn first<'a>(tool: &'a str, sha256: &'a str, definition: &'a Value) -> FirstPin<'a> {
    FirstPin {
        server: "files",
        tool,
        sha256,
        definition,
        now_unix_ms: 1_000,
    }
}

fn seen<'a>(pinned: &'a str, seen: &'a str, changes: &'a Value) -> SeenChange<'a> {
    SeenChange {
        server: "files",
        tool: "echo",
        pinned,
        seen,
        changes,
        now_unix_ms: 2_000,
    }
}

fn approval(sha256: &str) -> Approval<'_> {
    Approval {
        server: "files",
        tool: "echo",
        sha256,
        actor: "ops",
        now_unix_ms: 3_000,
    }
}

fn the_first_pin_of_a_tool_wins(db: &TestDb) {
    let mut store = open(db.database()).unwrap();
    let definition = json!({"sha256": "a", "fields": []});
    assert!(store.pin_first(&first("echo", "a", &definition)).unwrap());
    assert!(!store.pin_first(&first("echo", "b", &json!(null))).unwrap());
    // "B" sorts before "a" bytewise, after it in most locales.
    assert!(store.pin_first(&first("B", "c", &json!(null))).unwrap());
    let pins = store.list().unwrap();
    let tools: Vec<_> = pins.iter().map(|p| p.tool.as_str()).collect();
    assert_eq!(tools, ["B", "echo"]);
    assert_eq!(
        pins[1],
        ToolPin {
            server: "files".into(),
            tool: "echo".into(),
            pinned_sha256: "a".into(),
            definition: Some(definition),
            seen_sha256: None,
            changes: None,
            approved_by: None,
            updated_unix_ms: 1_000,
        }
    );
}

fn a_change_is_noted_against_its_pin_only(db: &TestDb) {
    let mut store = open(db.database()).unwrap();
    let changes = json!({"changed_fields": ["description"]});
    // No first-seen record arrived: the change's pin becomes the tool's.
    assert!(store.record_seen(&seen("a", "b", &changes)).unwrap());
    let [pin] = store.list().unwrap().try_into().unwrap();
    assert_eq!(
        (pin.pinned_sha256.as_str(), pin.seen_sha256.as_deref()),
        ("a", Some("b"))
    );
    assert_eq!(pin.changes, Some(changes.clone()));
    assert!(!store.record_seen(&seen("a", "c", &changes)).unwrap());
    // A late record of a change from another pin is ignored.
    assert!(!store.record_seen(&seen("x", "d", &changes)).unwrap());
    let [pin] = store.list().unwrap().try_into().unwrap();
    assert_eq!(pin.seen_sha256.as_deref(), Some("c"));
}

fn an_approval_must_name_the_definition_last_seen(db: &TestDb) {
    let mut store = open(db.database()).unwrap();
    let definition = json!({"sha256": "a"});
    store.pin_first(&first("echo", "a", &definition)).unwrap();
    assert_eq!(store.approve(&approval("b")).unwrap(), None, "nothing seen");
    store.record_seen(&seen("a", "b", &json!({}))).unwrap();
    assert_eq!(store.approve(&approval("c")).unwrap(), None, "stale");
    let before = store.approve(&approval("b")).unwrap().unwrap();
    assert_eq!(
        (before.pinned_sha256.as_str(), before.seen_sha256.as_deref()),
        ("a", Some("b"))
    );
    let [pin] = store.list().unwrap().try_into().unwrap();
    assert_eq!(
        (
            pin.pinned_sha256.as_str(),
            pin.seen_sha256.as_deref(),
            pin.approved_by.as_deref()
        ),
        ("b", None, Some("ops"))
    );
    assert_eq!(store.approve(&approval("b")).unwrap(), None, "done once");
    store.restore(&before).unwrap();
    assert_eq!(store.list().unwrap(), [before]);
}

/// Two replicas on one database: one approval of a change wins.
fn a_second_connection_sees_pins_and_loses_races(db: &TestDb) {
    let (mut first_db, mut second) = (open(db.database()).unwrap(), open(db.database()).unwrap());
    first_db
        .pin_first(&first("echo", "a", &json!(null)))
        .unwrap();
    assert!(!second.pin_first(&first("echo", "z", &json!(null))).unwrap());
    second.record_seen(&seen("a", "b", &json!({}))).unwrap();
    assert!(first_db.approve(&approval("b")).unwrap().is_some());
    assert_eq!(second.approve(&approval("b")).unwrap(), None);
    assert_eq!(second.list().unwrap()[0].pinned_sha256, "b");
}
