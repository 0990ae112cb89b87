//! HTTP behaviour of the Cohere v2 and Azure OpenAI mocks: auth, addressing, error bodies,
//! streams with their quirks, and what the journal records.

mod support;

use std::net::SocketAddr;

use serde_json::{json, Value};
use support::{post_json, request, SseEvent, AZURE_KEY, COHERE_KEY};

const COHERE_CHAT: &str = "/v2/chat";
const AZURE_DEPLOYMENT: &str =
    "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21";
const AZURE_V1: &str = "/openai/v1/chat/completions";

fn chat(stream: bool) -> Value {
    json!({"model": "command-a-03-2025", "stream": stream,
           "messages": [{"role": "user", "content": "What is the capital of France?"}]})
}

fn with_tool(mut body: Value) -> Value {
    body["tools"] = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    body["messages"] = json!([{"role": "user", "content": "Use a tool for Paris"}]);
    body
}

async fn cohere(addr: SocketAddr, extra: &[(&str, &str)], body: Value) -> support::Response {
    let auth = format!("Bearer {COHERE_KEY}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    post_json(addr, COHERE_CHAT, &headers, &body).await
}

async fn azure(
    addr: SocketAddr,
    path: &str,
    extra: &[(&str, &str)],
    body: Value,
) -> support::Response {
    let mut headers = vec![("api-key", AZURE_KEY)];
    headers.extend_from_slice(extra);
    post_json(addr, path, &headers, &body).await
}

fn kinds(events: &[SseEvent]) -> Vec<String> {
    let mut kinds: Vec<String> = events
        .iter()
        .map(|e| e.name.clone().unwrap_or_else(|| e.data.clone()))
        .collect();
    kinds.dedup();
    kinds
}

// === Cohere ===

#[tokio::test]
async fn cohere_wants_its_bearer_key() {
    let addr = support::start().await;
    let missing = post_json(addr, COHERE_CHAT, &[], &chat(false)).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json()["message"], "no api key supplied");
    let wrong = post_json(
        addr,
        COHERE_CHAT,
        &[("authorization", "Bearer nope")],
        &chat(false),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["message"], "invalid api token");
    let lower = format!("bearer {COHERE_KEY}");
    let ok = post_json(
        addr,
        COHERE_CHAT,
        &[("authorization", &lower)],
        &chat(false),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
}

#[tokio::test]
async fn cohere_answers_in_its_shape() {
    let addr = support::start().await;
    let body = cohere(addr, &[("x-mock-cached-tokens", "100")], chat(false))
        .await
        .json();
    assert_eq!(body["finish_reason"], "COMPLETE");
    let text = body["message"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("capital of France"), "{text}");
    let usage = &body["usage"];
    assert_eq!(
        usage["tokens"]["input_tokens"].as_u64().unwrap(),
        usage["billed_units"]["input_tokens"].as_u64().unwrap() + 100
    );
    assert_eq!(usage["cached_tokens"], 100);

    let tool = cohere(addr, &[], with_tool(chat(false))).await.json();
    assert_eq!(tool["finish_reason"], "TOOL_CALL");
    assert!(tool["message"]["tool_plan"]
        .as_str()
        .unwrap()
        .contains("get_weather"));
    assert_eq!(
        tool["message"]["tool_calls"][0]["function"]["arguments"],
        r#"{"city":"mock"}"#
    );
    assert!(tool["message"].get("content").is_none());
}

#[tokio::test]
async fn cohere_streams_the_real_event_sequence() {
    let addr = support::start().await;
    let text = cohere(addr, &[], chat(true)).await;
    assert!(text
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    assert_eq!(
        kinds(&text.events()),
        [
            "message-start",
            "content-start",
            "content-delta",
            "content-end",
            "message-end",
            "[DONE]"
        ]
    );
    let tool = cohere(addr, &[], with_tool(chat(true))).await;
    let events = tool.events();
    assert_eq!(
        kinds(&events),
        [
            "message-start",
            "tool-plan-delta",
            "tool-call-start",
            "tool-call-delta",
            "tool-call-end",
            "message-end",
            "[DONE]"
        ]
    );
    let arguments: String = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("tool-call-delta"))
        .map(|e| {
            e.json()["delta"]["message"]["tool_calls"]["function"]["arguments"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(arguments, r#"{"city":"mock"}"#);
}

#[tokio::test]
async fn cohere_errors_and_stream_failures() {
    let addr = support::start().await;
    let limited = cohere(addr, &[("x-mock-status", "429")], chat(false)).await;
    assert_eq!(limited.status, 429);
    assert!(limited.json()["message"]
        .as_str()
        .unwrap()
        .contains("Trial key"));
    assert!(limited.json()["id"].is_string());
    let failed = cohere(addr, &[("x-mock-stream-error", "after:2")], chat(true)).await;
    let events = failed.events();
    let last = events.last().unwrap();
    assert_eq!(last.name.as_deref(), Some("message-end"));
    assert_eq!(last.json()["delta"]["finish_reason"], "ERROR");
    assert!(events.iter().all(|e| e.data != "[DONE]"));
}

// === Azure OpenAI ===

#[tokio::test]
async fn azure_wants_api_key_and_api_version() {
    let addr = support::start().await;
    let bearer = post_json(
        addr,
        AZURE_DEPLOYMENT,
        &[("authorization", &format!("Bearer {AZURE_KEY}"))],
        &chat(false),
    )
    .await;
    assert_eq!(bearer.status, 401);
    assert_eq!(bearer.json()["error"]["code"], "401");
    let wrong = post_json(addr, AZURE_DEPLOYMENT, &[("api-key", "nope")], &chat(false)).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("invalid subscription key"));
    let unversioned = azure(
        addr,
        "/openai/deployments/gpt4o-prod/chat/completions",
        &[],
        chat(false),
    )
    .await;
    assert_eq!(unversioned.status, 404);
    assert_eq!(
        unversioned.json(),
        json!({"error": {"code": "404", "message": "Resource not found"}})
    );
    let no_model = json!({"messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(
        azure(addr, AZURE_DEPLOYMENT, &[], no_model.clone())
            .await
            .status,
        200
    );
    assert_eq!(azure(addr, AZURE_V1, &[], no_model).await.status, 400);
    assert_eq!(azure(addr, AZURE_V1, &[], chat(false)).await.status, 200);
}

#[tokio::test]
async fn azure_annotates_answers_with_filter_results() {
    let addr = support::start().await;
    let body = azure(addr, AZURE_DEPLOYMENT, &[], chat(false)).await.json();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["prompt_filter_results"][0]["prompt_index"], 0);
    assert_eq!(
        body["choices"][0]["content_filter_results"]["hate"]["filtered"],
        false
    );
}

#[tokio::test]
async fn azure_streams_open_with_a_prompt_filter_chunk() {
    let addr = support::start().await;
    let mut body = chat(true);
    body["stream_options"] = json!({"include_usage": true});
    let events = azure(addr, AZURE_V1, &[], body).await.events();
    let first = events[0].json();
    assert_eq!(first["choices"], json!([]));
    assert_eq!(
        (first["id"].as_str(), first["model"].as_str()),
        (Some(""), Some(""))
    );
    assert!(first["prompt_filter_results"].is_array());
    let content: Vec<Value> = events[1..]
        .iter()
        .filter(|e| e.data != "[DONE]")
        .map(SseEvent::json)
        .filter(|c| c["choices"].as_array().is_some_and(|c| !c.is_empty()))
        .collect();
    assert!(content
        .iter()
        .all(|c| c["choices"][0]["content_filter_results"].is_object()));
    let usage = events[events.len() - 2].json();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(events.last().unwrap().data, "[DONE]");
}

#[tokio::test]
async fn azure_rate_limits_carry_millisecond_retry_headers() {
    let addr = support::start().await;
    let limited = azure(
        addr,
        AZURE_DEPLOYMENT,
        &[("x-mock-status", "429")],
        chat(false),
    )
    .await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(limited.header("retry-after-ms"), Some("1000"));
    assert_eq!(limited.header("x-ms-retry-after-ms"), Some("1000"));
    assert_eq!(limited.json()["error"]["code"], "429");
}

#[tokio::test]
async fn journal_shows_azure_path_query_and_key() {
    let addr = support::start().await;
    azure(addr, AZURE_DEPLOYMENT, &[], chat(false)).await;
    let journal = request(addr, "GET", "/__mock/requests", &[], b"")
        .await
        .json();
    let entry = journal.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        entry["path"],
        "/openai/deployments/gpt4o-prod/chat/completions"
    );
    assert_eq!(entry["query"], "api-version=2024-10-21");
    assert_eq!(entry["headers"]["api-key"], AZURE_KEY);
}
