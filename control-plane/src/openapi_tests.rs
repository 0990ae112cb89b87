//! Holds the checked-in OpenAPI document against the service's real routes and answers:
//! a route the document lacks (or documents wrongly) fails here.

use std::path::Path;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use boon::{Compiler, Draft, Schemas};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;
use crate::keys::api::{self, Admin, Catalog};
use crate::keys::registry::{system_clock, test_support::MemoryAudit, KeyRegistry};
use crate::keys::store::SqliteKeyStore;
use crate::pins::registry::PinRegistry;
use crate::pins::store_sqlite::SqlitePinStore;
use crate::pins::tests::{definition, servers, shipped};
use crate::usage::store_sqlite::SqliteStore;

const ADMIN: &str = "admin-secret";
const INGEST: &str = "ingest";
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

fn document() -> Value {
    serde_json::from_str(OPENAPI).unwrap()
}

fn service() -> Routes {
    let usage = SqliteStore::open(Path::new(":memory:")).unwrap();
    let keys = SqliteKeyStore::open(Path::new(":memory:")).unwrap();
    let audit = Arc::new(MemoryAudit::default());
    let registry = KeyRegistry::new(Box::new(keys), audit.clone(), [], system_clock());
    let pin_store = SqlitePinStore::open(Path::new(":memory:")).unwrap();
    let pins = Arc::new(PinRegistry::new(
        Box::new(pin_store),
        audit.clone(),
        &servers(""),
    ));
    let admins = vec![Admin {
        name: "ops".into(),
        digest: digest(ADMIN),
    }];
    let catalog = Catalog {
        aliases: vec!["gpt".into()],
        providers: vec!["openai".into()],
    };
    routes(
        shared(Box::new(usage)),
        INGEST,
        Vec::new(),
        Exports::default(),
        audit.clone(),
        Some(Arc::clone(&pins)),
    )
    .merge(api::routes(Arc::new(registry), admins.clone(), catalog))
    .merge(crate::pins::api::routes(pins, admins))
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(body)
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn every_route_and_method_is_documented_and_nothing_else() {
    let routes = service();
    let paths = routes.paths().to_vec();
    let app = routes.into_router();
    let doc = document();
    let documented = doc["paths"].as_object().unwrap();
    let mut served = Vec::new();
    for path in &paths {
        let concrete = path
            .replace("{id}", "some-id")
            .replace("{server}", "files")
            .replace("{tool}", "echo");
        for method in METHODS {
            let request = Request::builder()
                .method(method.clone())
                .uri(&concrete)
                .body(Body::empty())
                .unwrap();
            let status = app.clone().oneshot(request).await.unwrap().status();
            if status != StatusCode::METHOD_NOT_ALLOWED {
                served.push(format!("{} {path}", method.as_str().to_lowercase()));
            }
        }
    }
    let mut listed: Vec<String> = documented
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().unwrap();
            let methods = item.keys().filter(|k| *k != "parameters");
            methods.map(move |m| format!("{m} {path}"))
        })
        .collect();
    served.sort();
    listed.sort();
    assert_eq!(served, listed);
}

#[tokio::test]
async fn the_document_is_served_and_every_reference_resolves() {
    let app = service().into_router();
    let (status, served) = call(&app, Method::GET, OPENAPI_PATH, None).await;
    assert_eq!(status, StatusCode::OK);
    let doc = document();
    assert_eq!(served, doc);
    assert_eq!(doc["openapi"], "3.1.0");
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let pointer = reference.strip_prefix('#').unwrap();
        assert!(
            doc.pointer(pointer).is_some(),
            "{reference} does not resolve"
        );
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Validates `instance` against the document's schema `name`.
fn conforms(name: &str, instance: &Value) -> Result<(), String> {
    let base = "http://tollgate.invalid/openapi.json";
    let mut compiler = Compiler::new();
    compiler.set_default_draft(Draft::V2020_12);
    compiler.add_resource(base, document()).unwrap();
    let mut schemas = Schemas::new();
    let location = format!("{base}#/components/schemas/{name}");
    let index = compiler.compile(&location, &mut schemas).unwrap();
    schemas
        .validate(instance, index)
        .map_err(|e| format!("{e:#}"))
}

#[tokio::test]
async fn real_answers_match_the_documented_schemas() {
    let app = service().into_router();
    let create = json!({"id": "ci", "models": ["gpt"], "providers": ["openai"], "team": "ml",
        "rate_limits": {"requests_per_minute": 5, "per_agent": {"tokens_per_minute": 9}},
        "expires_at": "2030-01-01"});
    conforms("CreateKey", &create).unwrap();
    let (status, issued) = call(&app, Method::POST, api::KEYS_PATH, Some(create)).await;
    assert_eq!(status, StatusCode::CREATED);
    conforms("IssuedKey", &issued).unwrap();
    let (_, list) = call(&app, Method::GET, api::KEYS_PATH, None).await;
    conforms("KeyList", &list).unwrap();
    let rotate = json!({"grace_seconds": 30});
    conforms("RotateKey", &rotate).unwrap();
    let (_, rotated) = call(&app, Method::POST, "/v1/admin/keys/ci/rotate", Some(rotate)).await;
    conforms("IssuedKey", &rotated).unwrap();
    let (_, revoked) = call(&app, Method::POST, "/v1/admin/keys/ci/revoke", None).await;
    conforms("Key", &revoked).unwrap();
    let (status, refused) = call(&app, Method::POST, "/v1/admin/keys/ci/revoke", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    conforms("Error", &refused).unwrap();
    // MCP tool pins: one shipped, then seen changed, then approved.
    let (v1, v2) = (definition("one"), definition("two"));
    let batch = Request::post(INGEST_PATH)
        .header(INGEST_KEY_HEADER, INGEST)
        .body(Body::from(shipped(&v1, &v2)))
        .unwrap();
    let answer = app.clone().oneshot(batch).await.unwrap();
    let body = to_bytes(answer.into_body(), usize::MAX).await.unwrap();
    conforms("IngestResult", &serde_json::from_slice(&body).unwrap()).unwrap();
    let (_, tools) = call(&app, Method::GET, "/v1/admin/mcp/files/tools", None).await;
    conforms("McpToolList", &tools).unwrap();
    assert_eq!(tools["tools"][0]["seen_sha256"], json!(v2.sha256));
    let approve = json!({"sha256": v2.sha256});
    conforms("ApproveMcpTool", &approve).unwrap();
    let path = "/v1/admin/mcp/files/tools/echo/approve";
    let (status, pin) = call(&app, Method::POST, path, Some(approve.clone())).await;
    assert_eq!(status, StatusCode::OK);
    conforms("McpToolPin", &pin).unwrap();
    let (status, stale) = call(&app, Method::POST, path, Some(approve)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    conforms("Error", &stale).unwrap();
    // The check itself can fail.
    assert!(conforms("Key", &json!({"id": "ci"})).is_err());
    assert!(conforms("CreateKey", &json!({"models": ["*"], "colour": 1})).is_err());
}
