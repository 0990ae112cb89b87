use std::path::Path;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::Request;
use serde_json::Value;
use tower::ServiceExt;

use super::*;
use crate::config::{BaseUrl, Delivery, Export, ExportTarget};
use crate::export::otlp::ProviderSystems;
use crate::keys::registry::test_support::MemoryAudit;
use crate::usage::store_sqlite::SqliteStore;

const KEY: &str = "ingest-secret";

fn app() -> Router {
    app_exporting(Exports::default())
}

fn app_exporting(exports: Exports) -> Router {
    app_auditing(exports, Arc::new(MemoryAudit::default()))
}

fn app_auditing(exports: Exports, audit: Arc<dyn AuditSink>) -> Router {
    routes(
        shared(Box::new(SqliteStore::open(Path::new(":memory:")).unwrap())),
        KEY,
        vec![],
        exports,
        audit,
        None,
    )
    .into_router()
}

fn post_batch(body: &str, key: Option<&str>) -> Request<Body> {
    let mut request = Request::post(INGEST_PATH);
    if let Some(key) = key {
        request = request.header(INGEST_KEY_HEADER, key);
    }
    request.body(Body::from(body.to_string())).unwrap()
}

fn get_report(query: &str) -> Request<Body> {
    Request::get(format!("{REPORT_PATH}?{query}"))
        .header(INGEST_KEY_HEADER, KEY)
        .body(Body::empty())
        .unwrap()
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

const BATCH: &str = concat!(
    r#"{"id":"a.1","time_unix_ms":1000,"provider":"p","key_id":"k","usage":{"input_tokens":3}}"#,
    "\n",
    r#"{"id":"b.1","time_unix_ms":2000,"provider":"p","key_id":"k","usage":{"input_tokens":4}}"#,
);

#[tokio::test]
async fn a_replayed_batch_is_not_counted_twice() {
    let app = app();
    let (status, body) = send(&app, post_batch(BATCH, Some(KEY))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (answer["stored"].as_u64(), answer["duplicates"].as_u64()),
        (Some(2), Some(0))
    );
    let (_, body) = send(&app, post_batch(BATCH, Some(KEY))).await;
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (answer["stored"].as_u64(), answer["duplicates"].as_u64()),
        (Some(0), Some(2))
    );
    let (status, body) = send(&app, get_report("group_by=key")).await;
    assert_eq!(status, StatusCode::OK);
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["groups"][0]["requests"], 2);
    assert_eq!(report["groups"][0]["input_tokens"], 7);
}

/// A tool-change record as the MCP filter ships it (see `tollgate_core::mcp::tool_change`).
const TOOL_CHANGE: &str = concat!(
    r#"{"kind":"mcp_tool_change","id":"mcp_tool_change.ab","time_unix_ms":1500,"#,
    r#""server":"files","tool":"echo","policy":"hide","pinned_sha256":"p","seen_sha256":"s","#,
    r#""changed_fields":["description"],"changes":{"description":{"before":"a","after":"b"}}}"#,
);

fn batch_with_tool_change() -> String {
    format!("{BATCH}\n{TOOL_CHANGE}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_changes_are_audited_once_and_never_usage() {
    let dir = std::env::temp_dir().join(format!("tollgate-audit-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("usage.jsonl");
    let _ = std::fs::remove_file(&file);
    let exports = [export(ExportTarget::Jsonl { path: file.clone() }, 100)];
    let runtime = tokio::runtime::Handle::current();
    let exports = Exports::start(&exports, ProviderSystems::new(), &runtime).unwrap();
    let audit = Arc::new(MemoryAudit::default());
    let app = app_auditing(exports, audit.clone());
    for audited in [1, 0] {
        let (status, body) = send(&app, post_batch(&batch_with_tool_change(), Some(KEY))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["audited"], audited, "{answer}");
        assert_eq!(answer["rejected"], 0, "{answer}");
    }
    let [event] = audit.events().try_into().unwrap();
    assert_eq!(
        (event.action.as_str(), event.target.as_str()),
        ("mcp.tool_changed", "mcp/files/tool/echo")
    );
    assert_eq!(event.details["changes"]["description"]["after"], "b");
    let (_, body) = send(&app, get_report("group_by=key")).await;
    let report: Value = serde_json::from_str(&body).unwrap();
    let [group] = report["groups"].as_array().unwrap().as_slice() else {
        panic!("only the usage records' key: {report}")
    };
    assert_eq!(group["requests"], 2, "{report}");
    // Exports keep the order of ingestion: once a later record is out, so is the change,
    // had it been offered.
    send(
        &app,
        post_batch(r#"{"id":"z.1","time_unix_ms":9}"#, Some(KEY)),
    )
    .await;
    let exported = || std::fs::read_to_string(&file).unwrap_or_default();
    for _ in 0..200 {
        if exported().contains("z.1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ids: Vec<String> = exported()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["id"].to_string())
        .collect();
    assert_eq!(ids.last().map(String::as_str), Some(r#""z.1""#), "{ids:?}");
    assert!(
        ids.iter().all(|id| !id.contains("mcp_tool_change")),
        "{ids:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_failing_audit_log_refuses_the_batch_until_it_is_kept() {
    let audit = Arc::new(MemoryAudit::default());
    let app = app_auditing(Exports::default(), audit.clone());
    audit.fail(true);
    let (status, body) = send(&app, post_batch(&batch_with_tool_change(), Some(KEY))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("audit log"), "{body}");
    audit.fail(false);
    let (status, body) = send(&app, post_batch(&batch_with_tool_change(), Some(KEY))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (&answer["duplicates"], &answer["audited"]),
        (&json!(2), &json!(1))
    );
    assert_eq!(audit.events().len(), 1);
}

#[tokio::test]
async fn ingest_and_reports_need_the_key() {
    let app = app();
    for key in [None, Some("wrong")] {
        let (status, _) = send(&app, post_batch(BATCH, key)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let unkeyed = Request::get(REPORT_PATH).body(Body::empty()).unwrap();
    assert_eq!(send(&app, unkeyed).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn reports_filter_by_time_and_speak_csv() {
    let app = app();
    send(&app, post_batch(BATCH, Some(KEY))).await;
    let (status, body) = send(
        &app,
        get_report("from=1970-01-01T00:00:01.500Z&group_by=provider&format=csv"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = body.lines().collect();
    assert!(
        lines[0].starts_with("provider,requests,input_tokens"),
        "{body}"
    );
    assert!(lines[1].starts_with("p,1,4,"), "{body}");
    assert_eq!(lines.len(), 2);
}

#[tokio::test]
async fn bad_report_parameters_are_a_400_that_says_why() {
    let app = app();
    for (query, says) in [
        ("group_by=colour", "cannot group by"),
        ("format=xml", "unknown format"),
        ("from=yesterday", "not a time"),
    ] {
        let (status, body) = send(&app, get_report(query)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(body.contains(says), "{query}: {body}");
    }
}

mod backends {
    use super::*;
    use crate::storage::test_support::{storage_suite, TestDb};

    storage_suite!(
        the_service_stores_and_reports_through_the_backend,
        tool_changes_reach_the_backends_audit_log_once,
    );

    fn tool_changes_reach_the_backends_audit_log_once(db: &TestDb) {
        let store = crate::usage::store::open(db.database()).unwrap();
        let audit = Arc::new(crate::audit::AuditLog::open(db.database()).unwrap());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let app = routes(
                shared(store),
                KEY,
                Vec::new(),
                Exports::default(),
                audit,
                None,
            );
            let app = app.into_router();
            for _ in 0..2 {
                let (status, body) =
                    send(&app, post_batch(&batch_with_tool_change(), Some(KEY))).await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
            drop(app);
        });
        let entries = crate::audit::store::open(db.database())
            .unwrap()
            .entries()
            .unwrap();
        let [entry] = entries.as_slice() else {
            panic!("one entry expected: {entries:?}")
        };
        assert_eq!(entry.action, "mcp.tool_changed");
        assert_eq!(entry.details["record_id"], "mcp_tool_change.ab");
        crate::audit::chain::verify(&entries).unwrap();
    }

    /// As `tollgate serve` runs it: the store opened first, then served by a multi-thread
    /// runtime, and dropped when the service ends (the PostgreSQL client blocks on a
    /// runtime of its own, which must never happen on an async thread).
    fn the_service_stores_and_reports_through_the_backend(db: &TestDb) {
        let store = crate::usage::store::open(db.database()).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let audit = Arc::new(MemoryAudit::default());
            let app = routes(
                shared(store),
                KEY,
                Vec::new(),
                Exports::default(),
                audit,
                None,
            );
            let app = app.into_router();
            let (status, body) = send(&app, post_batch(BATCH, Some(KEY))).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let (status, body) = send(&app, get_report("group_by=key")).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let report: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(report["groups"][0]["input_tokens"], 7, "{report}");
            drop(app);
        });
    }
}

#[tokio::test]
async fn budget_state_leaves_the_asking_envoys_records_out() {
    use tollgate_core::budget::{Budget, BudgetScope, Period};
    let budget = Budget {
        id: "k-all-time".into(),
        scope: BudgetScope::Key("k".into()),
        limit_nano_usd: 1_000,
        period: Period::None,
    };
    let store = SqliteStore::open(Path::new(":memory:")).unwrap();
    let app = routes(
        shared(Box::new(store)),
        KEY,
        vec![budget],
        Exports::default(),
        Arc::new(MemoryAudit::default()),
        None,
    )
    .into_router();
    let batch = concat!(
        r#"{"id":"a.1","time_unix_ms":1000,"key_id":"k","cost_nano_usd":30,"envoy_instance":"e1"}"#,
        "\n",
        r#"{"id":"b.1","time_unix_ms":2000,"key_id":"k","cost_nano_usd":12,"envoy_instance":"e2"}"#,
        "\n",
        r#"{"id":"c.1","time_unix_ms":3000,"key_id":"other","cost_nano_usd":99}"#,
    );
    send(&app, post_batch(batch, Some(KEY))).await;
    let state = |query: &str| {
        Request::get(format!("/v1/budgets/state{query}"))
            .header(INGEST_KEY_HEADER, KEY)
            .body(Body::empty())
            .unwrap()
    };
    let (status, body) = send(&app, state("")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        r#"{"budgets":[{"id":"k-all-time","period_start_ms":0,"spent_nano_usd":42}]}"#
    );
    let (_, body) = send(&app, state("?exclude_instance=e1")).await;
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["budgets"][0]["spent_nano_usd"], 12);
    let unkeyed = Request::get("/v1/budgets/state")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, unkeyed).await.0, StatusCode::UNAUTHORIZED);
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(INGEST_KEY_HEADER, KEY)
        .body(Body::empty())
        .unwrap()
}

fn export(target: ExportTarget, queue_records: usize) -> Export {
    Export {
        target,
        delivery: Delivery {
            batch_records: 1,
            flush_interval: Duration::from_millis(10),
            queue_records,
            // Far longer than the guard below: an ingest that waited would trip it.
            timeout: Duration::from_secs(600),
            attempts: 1,
            backoff_base: Duration::from_millis(10),
            backoff_max: Duration::from_millis(10),
        },
    }
}

fn get_exports() -> Request<Body> {
    Request::get(EXPORTS_PATH)
        .header(INGEST_KEY_HEADER, KEY)
        .body(Body::empty())
        .unwrap()
}

const RUN_BATCH: &str = concat!(
    r#"{"id":"s1.1","step_id":"s1","run_id":"r1","agent_id":"planner","key_id":"k","time_unix_ms":1000,"total_ms":100,"usage":{"input_tokens":3,"output_tokens":1},"cost_nano_usd":5,"price_known":true,"tool_calls":[{"id":"c1","name":"search"}]}"#,
    "\n",
    r#"{"id":"s2.1","step_id":"s2","run_id":"r1","agent_id":"planner","key_id":"k","time_unix_ms":1300,"total_ms":100,"usage":{"input_tokens":4,"output_tokens":2},"cost_nano_usd":7,"price_known":true,"tool_results":[{"tool_call_id":"c1"}]}"#,
    "\n",
    r#"{"id":"o.1","step_id":"o","run_id":"r2","agent_id":"coder","key_id":"k2","time_unix_ms":5000}"#,
);

#[tokio::test]
async fn serves_a_run_timeline_and_the_run_list() {
    let app = app();
    send(&app, post_batch(RUN_BATCH, Some(KEY))).await;
    let (status, body) = send(&app, get("/v1/runs/r1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let run: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(run["steps"], 2);
    assert_eq!(run["input_tokens"], 7);
    assert_eq!(run["cost_nano_usd"], 12);
    assert_eq!(run["roots"][0]["tool_calls"][0]["result_step"], "s2");

    let (status, _) = send(&app, get("/v1/runs/missing")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = send(&app, get("/v1/runs?agent=planner")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["runs"].as_array().unwrap().len(), 1);
    assert_eq!(list["agents"][0]["agent"], "planner");
    assert_eq!(list["agents"][0]["step_latency_ms"]["p50"], 100.0);

    let (status, _) = send(&app, get("/v1/runs?from=yesterday")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let unkeyed = Request::get("/v1/runs/r1").body(Body::empty()).unwrap();
    assert_eq!(send(&app, unkeyed).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_export_never_holds_up_ingest() {
    // A webhook that accepts connections and never answers.
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = BaseUrl::parse(&format!("http://{}/hook", hanging.local_addr().unwrap())).unwrap();
    let accepted = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = hanging.accept().await {
            open.push(socket);
        }
    });
    let dir = std::env::temp_dir().join(format!("tollgate-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("usage.jsonl");
    let _ = std::fs::remove_file(&file);
    let exports = [
        export(ExportTarget::Webhook { url }, 2),
        export(ExportTarget::Jsonl { path: file.clone() }, 100),
    ];
    let runtime = tokio::runtime::Handle::current();
    let app = app_exporting(Exports::start(&exports, ProviderSystems::new(), &runtime).unwrap());

    let ingest_all = async {
        for i in 0..20 {
            let line = format!(r#"{{"id":"h.{i}","time_unix_ms":{i},"provider":"p"}}"#);
            let (status, _) = send(&app, post_batch(&line, Some(KEY))).await;
            assert_eq!(status, StatusCode::OK);
        }
    };
    // A deadlock guard, not a timing target: waiting on the webhook would take 600 s.
    tokio::time::timeout(Duration::from_secs(60), ingest_all)
        .await
        .expect("ingest waited on the hanging export");

    // The file export counts a batch once it is written: wait for both.
    let (mut lines, mut stats) = (0, Value::Null);
    for _ in 0..200 {
        lines = std::fs::read_to_string(&file).map_or(0, |t| t.lines().count());
        let (_, body) = send(&app, get_exports()).await;
        stats = serde_json::from_str(&body).unwrap();
        if lines == 20 && stats["exports"][1]["exported"] == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(lines, 20, "the file export is not held up by the webhook's");
    let webhook = &stats["exports"][0];
    assert_eq!(webhook["export"], "0:webhook");
    assert_eq!(webhook["exported"], 0);
    // One batch in flight, two queued, the rest dropped (one more if the delivery task
    // had not yet taken the first when the queue filled).
    let dropped = webhook["dropped"].as_u64().unwrap();
    assert!((17..=18).contains(&dropped), "{dropped}");
    assert_eq!(stats["exports"][1]["exported"], 20);
    accepted.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
