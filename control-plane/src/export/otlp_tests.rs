use prost::Message;
use serde_json::json;

use super::*;

fn systems() -> ProviderSystems {
    [("mock-openai".to_string(), "openai".to_string())].into()
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a Any> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn step() -> Value {
    json!({
        "id": "req-1.1",
        "time_unix_ms": 1_700_000_001_500u64,
        "duration_ms": 500,
        "provider": "mock-openai",
        "key_id": "k1",
        "team": "core",
        "alias": "gpt",
        "upstream_model": "gpt-4o-2024",
        "status": 200,
        "usage": {"input_tokens": 10, "cache_read_tokens": 4, "output_tokens": 7},
        "attempt": 1,
        "fallback_step": "0",
        "agent_id": "planner",
        "run_id": "run-9",
        "cost_nano_usd": 2500,
        "estimated": false,
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "parent_span_id": "b7ad6b7169203331",
        "step_id": "s2",
        "tool_calls": [{"id": "call_1", "name": "search", "arguments_sha256": "ab12"}],
        "tool_results": [{"tool_call_id": "call_0"}],
    })
}

#[test]
fn maps_a_step_to_a_genai_client_span() {
    let span = span(&step(), &systems()).unwrap();
    assert_eq!(span.name, "chat gpt");
    assert_eq!(span.kind, SpanKind::Client as i32);
    assert_eq!(span.start_time_unix_nano, 1_700_000_001_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_700_000_001_500_000_000);
    assert_eq!(span.trace_id.len(), 16);
    assert_eq!(
        span.span_id,
        [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
    );
    assert_eq!(span.parent_span_id.len(), 8);
    let s = |v: &str| Some(Any::StringValue(v.into()));
    assert_eq!(
        attribute(&span, "gen_ai.operation.name").cloned(),
        s("chat")
    );
    assert_eq!(
        attribute(&span, "gen_ai.provider.name").cloned(),
        s("openai")
    );
    assert_eq!(attribute(&span, "gen_ai.system").cloned(), s("openai"));
    assert_eq!(attribute(&span, "gen_ai.request.model").cloned(), s("gpt"));
    assert_eq!(
        attribute(&span, "gen_ai.response.model").cloned(),
        s("gpt-4o-2024")
    );
    assert_eq!(
        attribute(&span, "gen_ai.usage.input_tokens").cloned(),
        Some(Any::IntValue(14))
    );
    assert_eq!(
        attribute(&span, "gen_ai.usage.output_tokens").cloned(),
        Some(Any::IntValue(7))
    );
    assert_eq!(attribute(&span, "tollgate.key_id").cloned(), s("k1"));
    assert_eq!(attribute(&span, "tollgate.run_id").cloned(), s("run-9"));
    assert_eq!(attribute(&span, "tollgate.agent_id").cloned(), s("planner"));
    assert_eq!(
        attribute(&span, "tollgate.cost_nano_usd").cloned(),
        Some(Any::IntValue(2500))
    );
    assert_eq!(
        attribute(&span, "tollgate.cost_usd").cloned(),
        Some(Any::DoubleValue(2.5e-6))
    );
    assert!(attribute(&span, "error.type").is_none());
    assert_eq!(span.status.unwrap().code, StatusCode::Unset as i32);
    let events: Vec<&str> = span.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(events, ["gen_ai.tool.call", "gen_ai.tool.result"]);
    assert_eq!(span.events[0].attributes.len(), 3);
}

#[test]
fn failures_carry_an_error_type_and_status() {
    let mut record = step();
    record["status"] = json!(503);
    let failed = span(&record, &systems()).unwrap();
    assert_eq!(
        attribute(&failed, "error.type").cloned(),
        Some(Any::StringValue("503".into()))
    );
    assert_eq!(failed.status.unwrap().code, StatusCode::Error as i32);

    record["error_class"] = json!("upstream_timeout");
    let classified = span(&record, &systems()).unwrap();
    assert_eq!(
        attribute(&classified, "error.type").cloned(),
        Some(Any::StringValue("upstream_timeout".into()))
    );
}

#[test]
fn records_of_today_without_trace_fields_still_export() {
    let record = json!({
        "id": "req-7.2", "time_unix_ms": 5, "provider": "unknown-provider", "status": 200,
        "usage": null, "run_id": null, "parent_step_id": "s1",
    });
    let span = span(&record, &systems()).unwrap();
    assert_eq!(span.name, "chat");
    assert_eq!(span.trace_id.len(), 16);
    assert_eq!(
        span.parent_span_id.len(),
        8,
        "parent derived from parent_step_id"
    );
    assert!(attribute(&span, "gen_ai.provider.name").is_none());
    assert!(attribute(&span, "gen_ai.usage.input_tokens").is_none());
}

#[test]
fn the_request_encodes_and_skips_what_is_not_a_record() {
    let request = export_request(&[step(), json!({"time_unix_ms": 1})], &systems());
    let bytes = request.encode_to_vec();
    let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
    let scope = &decoded.resource_spans[0].scope_spans[0];
    assert_eq!(scope.spans.len(), 1);
    assert_eq!(scope.scope.as_ref().unwrap().name, SERVICE_NAME);
}
