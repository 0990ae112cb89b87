use serde_json::json;

use super::*;
use crate::capture::MAX_CAPTURE_BYTES;
use crate::model::ContentPart;
use crate::tool_calls::{ToolCall, ToolCallLog};

fn call_body(arguments: &str) -> Vec<u8> {
    format!(
        r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{"name":"get_weather","arguments":{arguments}}}}}"#
    )
    .into_bytes()
}

/// The hash an LLM step records for a call with these argument text.
fn llm_hash(arguments: &str) -> String {
    let mut log = ToolCallLog::default();
    log.observe_content(&[ContentPart::ToolCall {
        id: "call_1".into(),
        name: "get_weather".into(),
        arguments: arguments.into(),
    }]);
    let calls: Vec<ToolCall> = log.calls();
    calls[0].arguments_sha256.clone()
}

#[test]
fn hashes_arguments_like_the_llm_step_whatever_the_clients_spacing() {
    let model_text = r#"{"city":"Paris","days":2}"#;
    for sent in [
        model_text,
        r#"{ "city": "Paris",  "days": 2 }"#,
        r#"{"days":2,"city":"Paris"}"#,
    ] {
        let invocation = ToolInvocation::from_body(&call_body(sent)).unwrap();
        assert_eq!(invocation.tool, "get_weather");
        assert_eq!(invocation.arguments_sha256, llm_hash(model_text), "{sent}");
    }
    let other = ToolInvocation::from_body(&call_body(r#"{"city":"Rome","days":2}"#)).unwrap();
    assert_ne!(other.arguments_sha256, llm_hash(model_text));
}

#[test]
fn missing_arguments_hash_as_an_empty_object() {
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ping"}}"#;
    let invocation = ToolInvocation::from_body(body).unwrap();
    assert_eq!(invocation.arguments_sha256, llm_hash("{}"));
}

#[test]
fn only_tool_calls_are_invocations() {
    for body in [
        &br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#[..],
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
        b"not json",
    ] {
        assert_eq!(ToolInvocation::from_body(body), None);
    }
}

#[test]
fn error_class_names_the_first_failure() {
    let ok = CallEnd {
        status: 200,
        ..CallEnd::default()
    };
    assert_eq!(ok.error_class(), None);
    // A tool that ran and failed is not a gateway or transport failure.
    let tool_failed = CallEnd {
        is_error: true,
        ..ok
    };
    assert_eq!(tool_failed.error_class(), None);
    let refused = CallEnd {
        status: 403,
        refused: Some("access_denied"),
        ..CallEnd::default()
    };
    assert_eq!(refused.error_class(), Some("access_denied"));
    let rpc = CallEnd {
        jsonrpc_error: true,
        ..ok
    };
    assert_eq!(rpc.error_class(), Some("jsonrpc_error"));
    let http = CallEnd {
        status: 502,
        ..CallEnd::default()
    };
    assert_eq!(http.error_class(), Some("server"));
    assert_eq!(CallEnd::default().error_class(), Some("no_response"));
    // Cut off after the status came (an SSE answer the client left): no answer all the same.
    let cut = CallEnd {
        cut_off: true,
        ..ok
    };
    assert_eq!(cut.error_class(), Some(CUT_OFF));
}

pub(in crate::mcp) fn draft(capture: PayloadCapture) -> StepDraft {
    StepDraft {
        id: "req-9.1".into(),
        started_unix_ms: 1_700_000_000_000,
        server: "weather".into(),
        key_id: Some("k1".into()),
        team: None,
        invocation: ToolInvocation::from_body(&call_body(r#"{"city":"MARKER"}"#)).unwrap(),
        attribution: Attribution {
            agent_id: Some("planner".into()),
            run_id: Some("run-1".into()),
            parent_step_id: Some("s0".into()),
            ..Attribution::default()
        },
        trace: Some(TraceContext::from_headers(
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            None,
            [1; 16],
        )),
        step_id: "req-9".into(),
        capture,
        price_nano_usd: None,
        envoy_instance: None,
    }
}

fn step(capture: PayloadCapture) -> ToolStep {
    let end = CallEnd {
        status: 200,
        is_error: true,
        ..CallEnd::default()
    };
    draft(capture).finish(end, 1_700_000_000_012)
}

#[test]
fn a_draft_finishes_with_its_latency() {
    let draft = draft(PayloadCapture::Full);
    let step = draft.finish(CallEnd::default(), 1_700_000_000_250);
    assert_eq!(
        (step.duration_ms, step.time_unix_ms),
        (250, 1_700_000_000_250)
    );
    // A clock that went back does not underflow.
    assert_eq!(step.draft.finish(CallEnd::default(), 5).duration_ms, 0);
}

#[test]
fn a_draft_keeps_argument_text_only_as_its_capture_records_it() {
    let long = format!(r#"{{"text":"{}"}}"#, "é".repeat(MAX_CAPTURE_BYTES));
    let invocation = ToolInvocation::from_body(&call_body(&long)).unwrap();
    assert_eq!(
        invocation
            .clone()
            .kept_for(PayloadCapture::Metadata)
            .arguments,
        ""
    );
    let kept = invocation.clone().kept_for(PayloadCapture::Full);
    assert!(
        kept.arguments.len() > MAX_CAPTURE_BYTES && kept.arguments.len() <= MAX_CAPTURE_BYTES + 2
    );
    assert_eq!(kept.arguments_sha256, invocation.arguments_sha256);
    let short = ToolInvocation::from_body(&call_body("{}")).unwrap();
    assert_eq!(short.clone().kept_for(PayloadCapture::Full), short);
}

#[test]
fn record_names_the_run_the_tool_and_the_outcome() {
    let v: serde_json::Value =
        serde_json::from_str(&step(PayloadCapture::Metadata).to_json()).unwrap();
    assert_eq!(v["kind"], "tool");
    assert_eq!(v["run_id"], "run-1");
    assert_eq!(v["agent_id"], "planner");
    assert_eq!(v["parent_step_id"], "s0");
    assert_eq!(v["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(v["step_id"], "req-9");
    assert_eq!(v["duration_ms"], 12);
    assert_eq!(v["status"], 200);
    assert!(v["error_class"].is_null());
    assert_eq!(v["mcp"]["server"], "weather");
    assert_eq!(v["mcp"]["tool"], "get_weather");
    assert_eq!(v["mcp"]["is_error"], true);
    assert_eq!(
        v["mcp"]["arguments_sha256"],
        llm_hash(r#"{"city":"MARKER"}"#)
    );
}

#[test]
fn a_priced_calls_price_is_its_cost_unless_the_server_turned_it_down() {
    let record =
        |step: ToolStep| -> serde_json::Value { serde_json::from_str(&step.to_json()).unwrap() };
    let free = record(step(PayloadCapture::Metadata));
    assert!(free["cost_nano_usd"].is_null());
    assert!(free.get("envoy_instance").is_none());
    let mut priced = draft(PayloadCapture::Metadata);
    priced.price_nano_usd = Some(2_500_000);
    priced.envoy_instance = Some("00ab".into());
    let failed_tool = CallEnd {
        status: 200,
        is_error: true,
        ..CallEnd::default()
    };
    let ran = record(priced.clone().finish(failed_tool, 1_700_000_000_012));
    assert_eq!(
        ran["cost_nano_usd"], 2_500_000,
        "the tool ran, even if it failed"
    );
    assert_eq!(ran["envoy_instance"], "00ab");
    let rejected = CallEnd {
        status: 200,
        jsonrpc_error: true,
        ..CallEnd::default()
    };
    let turned_down = record(priced.finish(rejected, 1_700_000_000_012));
    assert!(turned_down["cost_nano_usd"].is_null());
    assert!(turned_down.get("envoy_instance").is_none());
}

#[test]
fn without_a_run_id_the_trace_is_the_run() {
    let mut step = step(PayloadCapture::Metadata);
    step.draft.attribution.run_id = None;
    let v: serde_json::Value = serde_json::from_str(&step.to_json()).unwrap();
    assert_eq!(v["run_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
}

#[test]
fn argument_text_only_under_full_capture() {
    for (capture, has_text, has_hash) in [
        (PayloadCapture::Full, true, true),
        (PayloadCapture::Metadata, false, true),
        (PayloadCapture::None, false, false),
    ] {
        let json = step(capture).to_json();
        assert_eq!(json.contains("MARKER"), has_text, "{capture:?}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            v["mcp"]["arguments_sha256"].is_string(),
            has_hash,
            "{capture:?}"
        );
        assert_eq!(v["payload_capture"], capture.as_str());
    }
    let v: serde_json::Value = serde_json::from_str(&step(PayloadCapture::Full).to_json()).unwrap();
    assert_eq!(
        v["payload"]["request"]["text"],
        json!(r#"{"city":"MARKER"}"#)
    );
}
