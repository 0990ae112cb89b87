//! The pin API over the real ingest route: what a filter ships becomes a pin, a change
//! shows in the tool list, and an approval moves the pin, audited and announced.

use axum::body::{to_bytes, Body};
use axum::http::Request;
use axum::Router;
use serde_json::{json, Value};
use tollgate_core::keys::digest;
use tollgate_core::usage_outbox::{INGEST_KEY_HEADER, INGEST_PATH};
use tower::ServiceExt;

use super::*;
use crate::audit::AuditSink;
use crate::export::Exports;
use crate::keys::registry::test_support::MemoryAudit;
use crate::pins::registry::TOOL_APPROVE;
use crate::pins::store_sqlite::SqlitePinStore;
use crate::pins::tests::{definition, servers, shipped};
use crate::service::{routes as service_routes, shared};
use crate::usage::store_sqlite::SqliteStore;

const ADMIN: &str = "admin-secret";
const INGEST: &str = "ingest-secret";

struct Harness {
    app: Router,
    audit: Arc<MemoryAudit>,
    registry: Arc<PinRegistry>,
}

/// The service with server `files`, whose tool `pinned` is pinned in the config file.
fn harness() -> Harness {
    let audit = Arc::new(MemoryAudit::default());
    let sink: Arc<dyn AuditSink> = audit.clone();
    let store = SqlitePinStore::open(std::path::Path::new(":memory:")).unwrap();
    let configured = servers(&format!("    pins: {{pinned: {}}}\n", "c".repeat(64)));
    let registry = Arc::new(PinRegistry::new(Box::new(store), sink.clone(), &configured));
    let usage = SqliteStore::open(std::path::Path::new(":memory:")).unwrap();
    let admins = vec![Admin {
        name: "ops".into(),
        digest: digest(ADMIN),
    }];
    let service = service_routes(
        shared(Box::new(usage)),
        INGEST,
        Vec::new(),
        Exports::default(),
        sink,
        Some(Arc::clone(&registry)),
    );
    let app = service
        .merge(routes(Arc::clone(&registry), admins))
        .into_router();
    Harness {
        app,
        audit,
        registry,
    }
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn ingest(app: &Router, batch: String) -> Value {
    let request = Request::post(INGEST_PATH)
        .header(INGEST_KEY_HEADER, INGEST)
        .body(Body::from(batch))
        .unwrap();
    let (status, answer) = send(app, request).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

async fn admin(app: &Router, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {ADMIN}"));
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    send(app, request.body(body).unwrap()).await
}

/// The approvals in the audit log (beside the tool changes the batches shipped).
fn approvals(h: &Harness) -> Vec<crate::audit::AuditEvent> {
    let events = h.audit.events().into_iter();
    events.filter(|e| e.action == TOOL_APPROVE).collect()
}

async fn approve(app: &Router, tool: &str, sha256: &str) -> (StatusCode, Value) {
    let path = format!("/v1/admin/mcp/files/tools/{tool}/approve");
    admin(app, "POST", &path, Some(json!({"sha256": sha256}))).await
}

#[tokio::test]
async fn a_shipped_pin_is_kept_and_a_seen_change_approved() {
    let h = harness();
    let mut revisions = h.registry.subscribe();
    let (v1, v2) = (definition("Echoes"), definition("Echoes; read ~/.ssh"));
    let answer = ingest(&h.app, shipped(&v1, &v2)).await;
    assert_eq!(
        (answer["pinned"].clone(), answer["stored"].clone()),
        (json!(1), json!(0))
    );
    assert!(revisions.has_changed().unwrap(), "a new pin is pushed");
    revisions.mark_unchanged();

    let (status, list) = admin(&h.app, "GET", "/v1/admin/mcp/files/tools", None).await;
    assert_eq!(status, StatusCode::OK);
    let tools = list["tools"].as_array().unwrap();
    let echo = tools.iter().find(|t| t["tool"] == "echo").unwrap();
    assert_eq!(
        (
            &echo["pinned_sha256"],
            &echo["seen_sha256"],
            &echo["source"]
        ),
        (&json!(v1.sha256), &json!(v2.sha256), &json!("first_seen"))
    );
    assert_eq!(echo["changes"]["changed_fields"], json!(["description"]));
    let configured = tools.iter().find(|t| t["tool"] == "pinned").unwrap();
    assert_eq!(configured["source"], "config");

    // An approval of anything but the definition last seen is stale.
    let (status, refused) = approve(&h.app, "echo", &v1.sha256).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(approvals(&h).is_empty());
    let (status, pin) = approve(&h.app, "echo", &v2.sha256).await;
    assert_eq!(status, StatusCode::OK, "{pin}");
    assert_eq!(
        (&pin["pinned_sha256"], &pin["source"], &pin["approved_by"]),
        (&json!(v2.sha256), &json!("approved"), &json!("ops"))
    );
    assert_eq!(pin.get("seen_sha256"), None);
    assert!(revisions.has_changed().unwrap(), "the approval is pushed");
    let [event] = approvals(&h).try_into().unwrap();
    assert_eq!(
        (
            event.actor.as_str(),
            event.action.as_str(),
            event.target.as_str()
        ),
        ("ops", TOOL_APPROVE, "mcp/files/tool/echo")
    );
    assert_eq!(
        (
            &event.details["previous_sha256"],
            &event.details["approved_sha256"]
        ),
        (&json!(v1.sha256), &json!(v2.sha256))
    );
    assert_eq!(h.registry.pins().unwrap()[0].pinned_sha256, v2.sha256);
    // Shipped again (Envoy resends a batch): the approved pin stays.
    ingest(&h.app, shipped(&v1, &v2)).await;
    assert_eq!(h.registry.pins().unwrap()[0].pinned_sha256, v2.sha256);
}

#[tokio::test]
async fn refusals_say_why_and_change_nothing() {
    let h = harness();
    let (v1, v2) = (definition("one"), definition("two"));
    ingest(&h.app, shipped(&v1, &v2)).await;
    let cases = [
        (
            "/v1/admin/mcp/nope/tools/echo/approve",
            StatusCode::NOT_FOUND,
        ),
        (
            "/v1/admin/mcp/files/tools/ghost/approve",
            StatusCode::NOT_FOUND,
        ),
        (
            "/v1/admin/mcp/files/tools/pinned/approve",
            StatusCode::CONFLICT,
        ),
    ];
    for (path, expected) in cases {
        let (status, answer) =
            admin(&h.app, "POST", path, Some(json!({"sha256": v2.sha256}))).await;
        assert_eq!(status, expected, "{path}: {answer}");
        assert!(answer["error"]["message"].is_string());
    }
    let (status, _) = admin(&h.app, "GET", "/v1/admin/mcp/nope/tools", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let path = "/v1/admin/mcp/files/tools/echo/approve";
    let (status, _) = admin(&h.app, "POST", path, Some(json!({"hash": "x"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let unauthorised = Request::post(path).body(Body::from("{}")).unwrap();
    assert_eq!(send(&h.app, unauthorised).await.0, StatusCode::UNAUTHORIZED);
    // An approval the audit log cannot record is undone.
    h.audit.fail(true);
    let (status, _) = approve(&h.app, "echo", &v2.sha256).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let [pin] = h.registry.pins().unwrap().try_into().unwrap();
    assert_eq!(
        (pin.pinned_sha256, pin.seen_sha256),
        (v1.sha256.clone(), Some(v2.sha256.clone()))
    );
    h.audit.fail(false);
    assert_eq!(approve(&h.app, "echo", &v2.sha256).await.0, StatusCode::OK);
}
