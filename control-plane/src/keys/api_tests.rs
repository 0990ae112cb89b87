use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::{to_bytes, Body};
use axum::http::Request;
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;
use crate::audit::AuditSink;
use crate::keys::registry::test_support::MemoryAudit;
use crate::keys::store::SqliteKeyStore;

const ADMIN: &str = "admin-secret";
const T0: u64 = 1_800_000_000_000;

struct Harness {
    app: Router,
    audit: Arc<MemoryAudit>,
    clock: Arc<AtomicU64>,
    registry: Arc<KeyRegistry>,
}

fn harness_with(admins: Vec<Admin>) -> Harness {
    let audit = Arc::new(MemoryAudit::default());
    let clock = Arc::new(AtomicU64::new(T0));
    let now = Arc::clone(&clock);
    let store = SqliteKeyStore::open(std::path::Path::new(":memory:")).unwrap();
    let sink: Arc<dyn AuditSink> = audit.clone();
    let registry = Arc::new(KeyRegistry::new(
        Box::new(store),
        sink,
        ["file-key".to_string()],
        Arc::new(move || now.load(Ordering::SeqCst)),
    ));
    let catalog = Catalog {
        aliases: vec!["gpt".into(), "claude".into()],
        providers: vec!["openai".into(), "anthropic".into()],
    };
    let app = routes(Arc::clone(&registry), admins, catalog).into_router();
    Harness {
        app,
        audit,
        clock,
        registry,
    }
}

fn harness() -> Harness {
    harness_with(vec![Admin {
        name: "ops".into(),
        digest: digest(ADMIN),
    }])
}

fn request(method: &str, path: &str, body: Option<Value>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {ADMIN}"));
    match body {
        Some(body) => builder.body(Body::from(body.to_string())).unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, value)
}

async fn create(h: &Harness, body: Value) -> (StatusCode, Value) {
    send(&h.app, request("POST", KEYS_PATH, Some(body))).await
}

#[tokio::test]
async fn create_returns_the_secret_once_and_stores_its_hash() {
    let h = harness();
    let (status, answer) = create(
        &h,
        json!({"id": "ci", "models": ["gpt"], "team": "ml", "agent": "planner",
               "metadata": {"env": "prod"}, "rate_limits": {"requests_per_minute": 60},
               "expires_at": "2030-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let secret = answer["secret"].as_str().unwrap();
    assert!(secret.starts_with("tg-"));
    assert_eq!(answer["key"]["status"], "active");
    assert_eq!(answer["key"]["agent"], "planner");
    assert_eq!(answer["key"]["rate_limits"]["requests_per_minute"], 60);
    assert_eq!(answer["key"]["expires_unix_ms"], 1_893_456_000_000u64);
    let stored = h.registry.get("ci").unwrap();
    assert_eq!(stored.sha256, tollgate_core::keys::hash_hex(secret));
    // Show and list carry neither the secret nor its hash.
    for path in [KEYS_PATH, "/v1/admin/keys/ci"] {
        let (status, answer) = send(&h.app, request("GET", path, None)).await;
        assert_eq!(status, StatusCode::OK);
        let text = answer.to_string();
        assert!(text.contains("\"ci\""), "{text}");
        assert!(
            !text.contains(secret) && !text.contains(&stored.sha256),
            "{text}"
        );
    }
    let events = h.audit.events();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].actor.as_str(), events[0].action.as_str()),
        ("ops", "key.create")
    );
}

#[tokio::test]
async fn every_route_needs_an_admin_key() {
    let h = harness();
    let routes = [
        ("GET", KEYS_PATH),
        ("POST", KEYS_PATH),
        ("GET", "/v1/admin/keys/ci"),
        ("PATCH", "/v1/admin/keys/ci"),
        ("POST", "/v1/admin/keys/ci/rotate"),
        ("POST", "/v1/admin/keys/ci/revoke"),
    ];
    for (method, path) in routes {
        for authorization in [None, Some("Bearer wrong"), Some("Bearer ")] {
            let mut builder = Request::builder().method(method).uri(path);
            if let Some(value) = authorization {
                builder = builder.header("authorization", value);
            }
            let request = builder.body(Body::from(r#"{"models":["*"]}"#)).unwrap();
            let (status, answer) = send(&h.app, request).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert!(answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("admin key"));
        }
    }
    assert!(h.audit.events().is_empty());
    assert!(h.registry.list().unwrap().is_empty());
}

#[tokio::test]
async fn without_admin_credentials_the_api_says_it_is_off() {
    let h = harness_with(vec![]);
    let (status, answer) = send(&h.app, request("GET", KEYS_PATH, None)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("TOLLGATE_ADMIN_KEY"));
}

#[tokio::test]
async fn bad_input_is_a_4xx_that_says_why() {
    let h = harness();
    let cases = [
        (
            json!({"models": ["nope"]}),
            StatusCode::BAD_REQUEST,
            "unknown model alias",
        ),
        (
            json!({"models": ["*"], "providers": ["x"]}),
            StatusCode::BAD_REQUEST,
            "unknown provider",
        ),
        (
            json!({"models": []}),
            StatusCode::BAD_REQUEST,
            "at least one model",
        ),
        (
            json!({"id": "a b", "models": ["*"]}),
            StatusCode::BAD_REQUEST,
            "key id",
        ),
        (
            json!({"models": ["*"], "colour": 1}),
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
        (
            json!({"models": ["*"], "expires_at": "soon"}),
            StatusCode::BAD_REQUEST,
            "expires_at",
        ),
        (
            json!({"models": ["*"], "expires_at": "2020-01-01"}),
            StatusCode::BAD_REQUEST,
            "past",
        ),
        (
            json!({"id": "file-key", "models": ["*"]}),
            StatusCode::CONFLICT,
            "configuration file",
        ),
    ];
    for (body, expected, says) in cases {
        let (status, answer) = create(&h, body.clone()).await;
        assert_eq!(status, expected, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    let not_json = request("POST", KEYS_PATH, None);
    let not_json = Request::from_parts(not_json.into_parts().0, Body::from("{"));
    assert_eq!(send(&h.app, not_json).await.0, StatusCode::BAD_REQUEST);
    create(&h, json!({"id": "ci", "models": ["*"]})).await;
    let (status, _) = create(&h, json!({"id": "ci", "models": ["*"]})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, answer) = send(&h.app, request("GET", "/v1/admin/keys/other", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("other"));
    assert_eq!(h.audit.events().len(), 1);
}

#[tokio::test]
async fn update_changes_scope_and_expiry_and_null_clears() {
    let h = harness();
    create(&h, json!({"id": "ci", "models": ["*"], "team": "ml"})).await;
    let patch = json!({"models": ["claude"], "providers": ["anthropic"],
                       "expires_at": "2030-01-01", "team": null});
    let (status, key) = send(&h.app, request("PATCH", "/v1/admin/keys/ci", Some(patch))).await;
    assert_eq!(status, StatusCode::OK, "{key}");
    assert_eq!(key["models"], json!(["claude"]));
    assert_eq!(key["providers"], json!(["anthropic"]));
    assert_eq!(key["team"], Value::Null);
    assert_eq!(key["expires_unix_ms"], 1_893_456_000_000u64);
    let event = &h.audit.events()[1];
    assert_eq!(event.action, "key.update");
    assert_eq!(
        event.details["team"],
        json!({"before": "ml", "after": null})
    );
    assert!(
        event.details.get("agent").is_none(),
        "unchanged fields are not listed"
    );
    // The key expires when its time comes, without any further change.
    h.clock.store(1_893_456_000_000, Ordering::SeqCst);
    let (_, key) = send(&h.app, request("GET", "/v1/admin/keys/ci", None)).await;
    assert_eq!(key["status"], "expired");
    let clear = json!({"expires_at": null});
    let (_, key) = send(&h.app, request("PATCH", "/v1/admin/keys/ci", Some(clear))).await;
    assert_eq!(key["status"], "active");
}

#[tokio::test]
async fn rotate_issues_a_new_secret_and_revoke_ends_the_key() {
    let h = harness();
    let (_, created) = create(&h, json!({"id": "ci", "models": ["*"]})).await;
    let rotate_body = json!({"grace_seconds": 60});
    let (status, rotated) = send(
        &h.app,
        request("POST", "/v1/admin/keys/ci/rotate", Some(rotate_body)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_ne!(rotated["secret"], created["secret"]);
    assert_eq!(
        rotated["key"]["previous_secrets_expire_unix_ms"],
        json!([T0 + 60_000])
    );
    let changes = h.registry.subscribe();
    let (status, revoked) = send(&h.app, request("POST", "/v1/admin/keys/ci/revoke", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(revoked["status"], "revoked");
    assert!(changes.has_changed().unwrap(), "revocation is announced");
    let (status, answer) = send(&h.app, request("POST", "/v1/admin/keys/ci/rotate", None)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));
    let actions: Vec<String> = h.audit.events().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["key.create", "key.rotate", "key.revoke"]);
}

#[tokio::test]
async fn a_change_the_audit_log_cannot_record_is_refused() {
    let h = harness();
    create(&h, json!({"id": "ci", "models": ["*"]})).await;
    h.audit.fail(true);
    let (status, answer) = send(&h.app, request("POST", "/v1/admin/keys/ci/revoke", None)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nothing was changed"));
    assert_eq!(h.registry.get("ci").unwrap().status(T0), Status::Active);
}
