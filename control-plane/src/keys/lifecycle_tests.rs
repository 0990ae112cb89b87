use super::*;

const T0: u64 = 1_000_000;

fn scope(models: &[&str]) -> KeyScope {
    KeyScope {
        models: models.iter().map(|m| m.to_string()).collect(),
        ..KeyScope::default()
    }
}

fn new_key(id: &str) -> StoredKey {
    let new = NewKey {
        id: id.into(),
        scope: scope(&["*"]),
        expires_unix_ms: None,
    };
    create(new, "aa".repeat(32), T0).unwrap()
}

#[test]
fn a_created_key_is_active_with_version_one() {
    let key = new_key("ci");
    assert_eq!(key.status(T0), Status::Active);
    assert_eq!((key.version, key.created_unix_ms), (1, T0));
    assert!(key.previous_secrets.is_empty());
}

#[test]
fn creation_checks_id_scope_and_expiry() {
    let attempt = |id: &str, models: &[&str], expires| {
        let new = NewKey {
            id: id.into(),
            scope: scope(models),
            expires_unix_ms: expires,
        };
        create(new, String::new(), T0).unwrap_err()
    };
    assert_eq!(
        attempt("a b", &["*"], None),
        LifecycleError::Id("a b".into())
    );
    assert_eq!(attempt("k", &[], None), LifecycleError::NoModels);
    assert_eq!(
        attempt("k", &["has space"], None),
        LifecycleError::Alias("has space".into())
    );
    assert_eq!(attempt("k", &["*"], Some(T0)), LifecycleError::ExpiryInPast);
    let mut zero_limit = NewKey {
        id: "k".into(),
        scope: scope(&["*"]),
        expires_unix_ms: None,
    };
    zero_limit.scope.rate_limits = Some(KeyRateLimits {
        tokens_per_minute: Some(0),
        ..KeyRateLimits::default()
    });
    assert_eq!(
        create(zero_limit, String::new(), T0).unwrap_err(),
        LifecycleError::RateLimit("tokens_per_minute")
    );
    let mut bad_team = NewKey {
        id: "k".into(),
        scope: scope(&["*"]),
        expires_unix_ms: None,
    };
    bad_team.scope.team = Some("a\nb".into());
    assert_eq!(
        create(bad_team, String::new(), T0).unwrap_err(),
        LifecycleError::Label { field: "team" }
    );
}

#[test]
fn update_changes_only_the_patched_fields() {
    let mut key = new_key("ci");
    key.scope.team = Some("ml".into());
    let patch = KeyPatch {
        models: Some(vec!["gpt".into()]),
        agent: Some(Some("planner".into())),
        expires_unix_ms: Some(Some(T0 + 10)),
        ..KeyPatch::default()
    };
    let next = update(&key, patch, T0 + 1).unwrap();
    assert_eq!(next.scope.models, ["gpt"]);
    assert_eq!(next.scope.agent.as_deref(), Some("planner"));
    assert_eq!(next.scope.team.as_deref(), Some("ml"));
    assert_eq!(next.expires_unix_ms, Some(T0 + 10));
    assert_eq!((next.version, next.updated_unix_ms), (2, T0 + 1));
    assert_eq!(next.status(T0 + 10), Status::Expired);
    // Clearing the expiry brings an expired key back.
    let clear = KeyPatch {
        expires_unix_ms: Some(None),
        ..KeyPatch::default()
    };
    let back = update(&next, clear, T0 + 20).unwrap();
    assert_eq!(back.status(T0 + 20), Status::Active);
    let bad = KeyPatch {
        models: Some(vec![]),
        ..KeyPatch::default()
    };
    assert_eq!(update(&key, bad, T0).unwrap_err(), LifecycleError::NoModels);
}

#[test]
fn rotation_keeps_the_old_secret_for_the_grace_period_only() {
    let key = new_key("ci");
    let old = key.sha256.clone();
    let rotated = rotate(&key, "bb".repeat(32), 60_000, T0 + 5).unwrap();
    assert_eq!(rotated.sha256, "bb".repeat(32));
    assert_eq!(
        rotated.previous_secrets,
        [PreviousSecret {
            sha256: old,
            expires_unix_ms: T0 + 60_005
        }]
    );
    // A second rotation keeps the first grace and adds its own; an ended grace is dropped.
    let twice = rotate(&rotated, "cc".repeat(32), 1_000, T0 + 10).unwrap();
    assert_eq!(twice.previous_secrets.len(), 2);
    let later = rotate(&twice, "dd".repeat(32), 0, T0 + 60_005).unwrap();
    assert!(later.previous_secrets.is_empty(), "{later:?}");
}

#[test]
fn an_expired_key_is_not_rotated() {
    let mut key = new_key("ci");
    key.expires_unix_ms = Some(T0 + 1);
    assert_eq!(
        rotate(&key, String::new(), 0, T0 + 1).unwrap_err(),
        LifecycleError::Expired("ci".into())
    );
}

#[test]
fn a_revoked_key_loses_every_secret_and_never_changes_again() {
    let key = new_key("ci");
    let rotated = rotate(&key, "bb".repeat(32), 60_000, T0).unwrap();
    let revoked = revoke(&rotated, T0 + 1).unwrap();
    assert_eq!(revoked.status(T0 + 1), Status::Revoked);
    assert!(revoked.previous_secrets.is_empty());
    let refused = LifecycleError::Revoked("ci".into());
    assert_eq!(revoke(&revoked, T0 + 2).unwrap_err(), refused);
    assert_eq!(rotate(&revoked, String::new(), 0, T0).unwrap_err(), refused);
    let patch = KeyPatch::default();
    assert_eq!(update(&revoked, patch, T0).unwrap_err(), refused);
}
