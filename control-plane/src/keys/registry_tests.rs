use std::path::Path;

use super::test_support::MemoryAudit;
use super::*;
use crate::keys::lifecycle::{KeyScope, Status};
use crate::keys::store::SqliteKeyStore;

const NOW: u64 = 1_000_000;

fn registry(audit: &Arc<MemoryAudit>) -> KeyRegistry {
    let store = SqliteKeyStore::open(Path::new(":memory:")).unwrap();
    let sink: Arc<dyn AuditSink> = audit.clone();
    KeyRegistry::new(
        Box::new(store),
        sink,
        ["file".to_string()],
        Arc::new(|| NOW),
    )
}

fn new_key(id: &str) -> NewKey {
    NewKey {
        id: id.into(),
        scope: KeyScope {
            models: vec!["*".into()],
            ..KeyScope::default()
        },
        expires_unix_ms: None,
    }
}

#[test]
fn creation_stores_the_hash_audits_and_announces() {
    let audit = Arc::new(MemoryAudit::default());
    let registry = registry(&audit);
    let changes = registry.subscribe();
    let issued = registry.create("ops", new_key("ci")).unwrap();
    assert!(issued.secret.starts_with("tg-"));
    let stored = registry.get("ci").unwrap();
    assert_eq!(stored.sha256, tollgate_core::keys::hash_hex(&issued.secret));
    assert_eq!(*changes.borrow(), 1);
    let [event] = audit.events().try_into().unwrap();
    assert_eq!(
        (
            event.actor.as_str(),
            event.action.as_str(),
            event.target.as_str()
        ),
        ("ops", "key.create", "key/ci")
    );
    assert_eq!(event.details["models"], json!(["*"]));
    assert!(!event.details.to_string().contains(&stored.sha256));
    assert!(
        !format!("{issued:?}").contains(&issued.secret),
        "debug output redacts it"
    );
}

#[test]
fn an_empty_id_gets_a_generated_one_and_config_ids_are_refused() {
    let audit = Arc::new(MemoryAudit::default());
    let registry = registry(&audit);
    let issued = registry.create("ops", new_key("")).unwrap();
    assert!(issued.key.id.starts_with("key-"), "{}", issued.key.id);
    assert!(crate::config::is_identifier(&issued.key.id));
    let refused = registry.create("ops", new_key("file")).unwrap_err();
    assert!(matches!(refused, RegistryError::ConfigKey(_)), "{refused}");
    let taken = registry.create("ops", new_key(&issued.key.id)).unwrap_err();
    assert!(matches!(
        taken,
        RegistryError::Store(KeyStoreError::Exists(_))
    ));
}

#[test]
fn rotation_and_revocation_are_audited_with_what_changed() {
    let audit = Arc::new(MemoryAudit::default());
    let registry = registry(&audit);
    let first = registry.create("ops", new_key("ci")).unwrap();
    let rotated = registry.rotate("ops", "ci", 60_000).unwrap();
    assert_ne!(rotated.secret, first.secret);
    assert_eq!(
        rotated.key.previous_secrets[0].expires_unix_ms,
        NOW + 60_000
    );
    let revoked = registry.revoke("bot", "ci").unwrap();
    assert_eq!(revoked.status(NOW), Status::Revoked);
    let events = audit.events();
    assert_eq!(events[1].action, "key.rotate");
    assert_eq!(events[1].details, json!({"grace_ms": 60_000}));
    assert_eq!(events[2].action, "key.revoke");
    assert_eq!(events[2].actor, "bot");
    assert_eq!(
        events[2].details,
        json!({"revoked_unix_ms": {"before": null, "after": NOW}})
    );
    assert_eq!(*registry.subscribe().borrow(), 3);
    assert!(matches!(
        registry.revoke("ops", "nope"),
        Err(RegistryError::Store(KeyStoreError::NotFound(_)))
    ));
}

#[test]
fn a_change_the_audit_log_refuses_is_undone_and_not_announced() {
    let audit = Arc::new(MemoryAudit::default());
    let registry = registry(&audit);
    registry.create("ops", new_key("ci")).unwrap();
    audit.fail(true);
    assert!(matches!(
        registry.revoke("ops", "ci"),
        Err(RegistryError::Audit(_))
    ));
    assert_eq!(registry.get("ci").unwrap().status(NOW), Status::Active);
    assert!(matches!(
        registry.create("ops", new_key("other")),
        Err(RegistryError::Audit(_))
    ));
    assert_eq!(registry.list().unwrap().len(), 1);
    assert_eq!(*registry.subscribe().borrow(), 1);
    // The restored key can still change once the log works again.
    audit.fail(false);
    registry.revoke("ops", "ci").unwrap();
}
