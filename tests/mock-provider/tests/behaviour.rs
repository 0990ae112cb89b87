//! HTTP behaviour of the mock: auth, usage reporting, tool calls, fault controls,
//! streaming and the request journal.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mock_provider::ExpectedKeys;
use serde_json::{json, Value};
use support::{post_json, request, SseEvent, ANTHROPIC_KEY, OPENAI_KEY};
use tokio::io::AsyncReadExt;

const CHAT: &str = "/v1/chat/completions";
const MESSAGES: &str = "/v1/messages";

fn openai_auth() -> (&'static str, String) {
    ("authorization", format!("Bearer {OPENAI_KEY}"))
}

async fn openai(addr: SocketAddr, extra: &[(&str, &str)], body: Value) -> support::Response {
    let (name, value) = openai_auth();
    let mut headers = vec![(name, value.as_str())];
    headers.extend_from_slice(extra);
    post_json(addr, CHAT, &headers, &body).await
}

async fn anthropic(addr: SocketAddr, extra: &[(&str, &str)], body: Value) -> support::Response {
    let mut headers = vec![
        ("x-api-key", ANTHROPIC_KEY),
        ("anthropic-version", "2023-06-01"),
    ];
    headers.extend_from_slice(extra);
    post_json(addr, MESSAGES, &headers, &body).await
}

fn chat(stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "stream": stream,
           "messages": [{"role": "user", "content": "What is the capital of France?"}]})
}

fn message(stream: bool) -> Value {
    json!({"model": "claude-haiku-4-5", "max_tokens": 256, "stream": stream,
           "messages": [{"role": "user", "content": "What is the capital of France?"}]})
}

fn with_weather_tool(mut body: Value, text: &str, openai: bool) -> Value {
    let schema = json!({"type": "object", "required": ["city"],
                        "properties": {"city": {"type": "string"}, "units": {"enum": ["c", "f"]}}});
    body["tools"] = if openai {
        json!([{"type": "function", "function": {"name": "get_weather", "parameters": schema}}])
    } else {
        json!([{"name": "get_weather", "input_schema": schema}])
    };
    body["messages"] = json!([{"role": "user", "content": text}]);
    body
}

fn datas(events: &[SseEvent]) -> Vec<Value> {
    events
        .iter()
        .filter(|event| event.data != "[DONE]")
        .map(SseEvent::json)
        .collect()
}

// === auth ===

#[tokio::test]
async fn openai_rejects_missing_and_wrong_keys_with_its_error_object() {
    let addr = support::start().await;
    let missing = post_json(addr, CHAT, &[], &chat(false)).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json()["error"]["type"], "invalid_request_error");

    let wrong = post_json(
        addr,
        CHAT,
        &[("authorization", "Bearer sk-wrong-key-123456")],
        &chat(false),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let error = &wrong.json()["error"];
    assert_eq!(error["code"], "invalid_api_key");
    assert_eq!(error["param"], Value::Null);
    let message = error["message"].as_str().unwrap();
    assert!(
        !message.contains("sk-wrong-key-123456"),
        "key echoed: {message}"
    );

    assert_eq!(openai(addr, &[], chat(false)).await.status, 200);
}

#[tokio::test]
async fn anthropic_requires_key_then_version_then_max_tokens() {
    let addr = support::start().await;
    let no_key = post_json(
        addr,
        MESSAGES,
        &[("anthropic-version", "2023-06-01")],
        &message(false),
    )
    .await;
    assert_eq!(no_key.status, 401);
    assert_eq!(no_key.json()["error"]["type"], "authentication_error");
    assert_eq!(no_key.json()["type"], "error");

    let no_version = post_json(
        addr,
        MESSAGES,
        &[("x-api-key", ANTHROPIC_KEY)],
        &message(false),
    )
    .await;
    assert_eq!(no_version.status, 400);
    assert_eq!(no_version.json()["error"]["type"], "invalid_request_error");

    let mut body = message(false);
    body.as_object_mut().unwrap().remove("max_tokens");
    let no_max = anthropic(addr, &[], body).await;
    assert_eq!(no_max.status, 400);
    assert!(no_max.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_tokens"));

    assert_eq!(anthropic(addr, &[], message(false)).await.status, 200);
}

#[tokio::test]
async fn without_configured_keys_any_key_passes_but_one_is_required() {
    let addr = support::start_with(ExpectedKeys::default()).await;
    let any = post_json(
        addr,
        CHAT,
        &[("authorization", "Bearer whatever")],
        &chat(false),
    )
    .await;
    assert_eq!(any.status, 200);
    assert_eq!(post_json(addr, CHAT, &[], &chat(false)).await.status, 401);
}

#[tokio::test]
async fn invalid_bodies_are_400_in_each_format() {
    let addr = support::start().await;
    let (name, value) = openai_auth();
    let broken = request(addr, "POST", CHAT, &[(name, &value)], b"{not json").await;
    assert_eq!(broken.status, 400);
    assert_eq!(broken.json()["error"]["type"], "invalid_request_error");

    let no_messages = openai(addr, &[], json!({"model": "gpt-4o"})).await;
    assert_eq!(no_messages.status, 400);
    assert_eq!(no_messages.json()["error"]["param"], "messages");

    let wrong_type = anthropic(
        addr,
        &[],
        json!({"model": 1, "max_tokens": 1, "messages": []}),
    )
    .await;
    assert_eq!(wrong_type.status, 400);
    assert_eq!(wrong_type.json()["error"]["type"], "invalid_request_error");
}

// === replies and usage ===

#[tokio::test]
async fn replies_echo_the_user_in_both_formats() {
    let addr = support::start().await;
    let completion = openai(addr, &[], chat(false)).await.json();
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        "Hello from the Tollgate mock (openai). You said: What is the capital of France?"
    );
    let reply = anthropic(addr, &[], message(false)).await.json();
    assert_eq!(
        reply["content"][0]["text"],
        "Hello from the Tollgate mock (anthropic). You said: What is the capital of France?"
    );
}

#[tokio::test]
async fn include_usage_adds_null_usage_everywhere_and_a_final_usage_chunk() {
    let addr = support::start().await;
    let mut body = chat(true);
    body["stream_options"] = json!({"include_usage": true});
    let response = openai(addr, &[], body).await;
    let events = response.events();
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks = datas(&events);
    let (last, rest) = chunks.split_last().unwrap();
    assert!(rest
        .iter()
        .all(|chunk| chunk["usage"].is_null() && chunk.get("usage").is_some()));
    assert_eq!(last["choices"], json!([]));
    let usage = &last["usage"];
    let content_chunks = rest
        .iter()
        .filter(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        })
        .count();
    assert_eq!(usage["completion_tokens"], content_chunks);
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(
            usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
        )
    );
    let text: String = rest
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(
        text.ends_with("You said: What is the capital of France?"),
        "{text}"
    );
}

#[tokio::test]
async fn without_include_usage_no_chunk_mentions_usage() {
    let addr = support::start().await;
    let events = openai(addr, &[], chat(true)).await.events();
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks = datas(&events);
    assert!(chunks.iter().all(|chunk| chunk.get("usage").is_none()));
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
}

#[tokio::test]
async fn cached_and_reasoning_tokens_follow_each_providers_convention() {
    let addr = support::start().await;
    let controls = [
        ("x-mock-cached-tokens", "300"),
        ("x-mock-reasoning-tokens", "7"),
    ];

    let usage = openai(addr, &controls, chat(false)).await.json()["usage"].clone();
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 300);
    assert!(
        usage["prompt_tokens"].as_u64().unwrap() > 300,
        "prompt_tokens include cached"
    );
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 7);

    let events = anthropic(addr, &controls, message(true)).await.events();
    let start = &events[0].json()["message"]["usage"];
    assert_eq!(start["cache_read_input_tokens"], 300);
    let delta = events
        .iter()
        .find(|e| e.name.as_deref() == Some("message_delta"))
        .unwrap()
        .json();
    assert_eq!(delta["usage"]["cache_read_input_tokens"], 300);
    assert_eq!(
        delta["usage"]["input_tokens"], start["input_tokens"],
        "input excludes cache"
    );
    let text_deltas = events
        .iter()
        .filter(|e| e.data.contains("text_delta"))
        .count() as u64;
    assert_eq!(
        delta["usage"]["output_tokens"].as_u64(),
        Some(text_deltas + 7)
    );
}

// === tool calls ===

#[tokio::test]
async fn openai_streams_a_tool_call_when_asked_to_use_a_tool() {
    let addr = support::start().await;
    let body = with_weather_tool(chat(true), "Please use a tool for Paris", true);
    let chunks = datas(&openai(addr, &[], body).await.events());
    let first = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(first["function"]["name"], "get_weather");
    assert_eq!(first["function"]["arguments"], "");
    assert!(first["id"].as_str().unwrap().starts_with("call_"));
    let fragments: Vec<&str> = chunks[1..]
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert!(fragments.len() > 1, "arguments arrive in fragments");
    let arguments: Value = serde_json::from_str(&fragments.concat()).unwrap();
    assert_eq!(arguments, json!({"city": "mock", "units": "c"}));
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn anthropic_streams_tool_use_named_by_header() {
    let addr = support::start().await;
    let body = with_weather_tool(message(true), "no trigger phrase here", false);
    let events = anthropic(addr, &[("x-mock-tool", "get_weather")], body)
        .await
        .events();
    let partials: Vec<String> = events
        .iter()
        .filter(|e| e.data.contains("input_json_delta"))
        .map(|e| {
            e.json()["delta"]["partial_json"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        partials[0], "",
        "the first input_json_delta is empty, as recorded"
    );
    let input: Value = serde_json::from_str(&partials.concat()).unwrap();
    assert_eq!(input, json!({"city": "mock", "units": "c"}));
    let delta = events
        .iter()
        .find(|e| e.name.as_deref() == Some("message_delta"))
        .unwrap()
        .json();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");

    let unknown = with_weather_tool(message(false), "x", false);
    let response = anthropic(addr, &[("x-mock-tool", "nope")], unknown).await;
    assert_eq!(response.status, 400);
}

// === faults ===

#[tokio::test]
async fn injected_statuses_use_the_providers_error_bodies() {
    let addr = support::start().await;
    let limited = openai(addr, &[("x-mock-status", "429")], chat(false)).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(limited.json()["error"]["code"], "rate_limit_exceeded");

    let failed = openai(addr, &[("x-mock-status", "500")], chat(true)).await;
    assert_eq!(failed.status, 500);
    assert_eq!(failed.json()["error"]["type"], "server_error");

    let overloaded = anthropic(addr, &[("x-mock-status", "529")], message(true)).await;
    assert_eq!(overloaded.status, 529);
    assert_eq!(overloaded.json()["error"]["type"], "overloaded_error");

    let limited = anthropic(addr, &[("x-mock-status", "429")], message(false)).await;
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(limited.json()["error"]["type"], "rate_limit_error");

    let typo = openai(addr, &[("x-mock-status", "ok")], chat(false)).await;
    assert_eq!(typo.status, 400);
}

#[tokio::test]
async fn openai_stream_error_cuts_after_n_content_chunks_without_done() {
    let addr = support::start().await;
    let events = openai(addr, &[("x-mock-stream-error", "after:2")], chat(true))
        .await
        .events();
    let chunks = datas(&events);
    // role chunk, two content chunks, then the error object.
    assert_eq!(chunks.len(), 4, "{events:?}");
    assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hello");
    assert_eq!(chunks[3]["error"]["type"], "server_error");
    assert!(events.iter().all(|event| event.data != "[DONE]"));
}

#[tokio::test]
async fn anthropic_stream_error_is_an_overloaded_error_event() {
    let addr = support::start().await;
    let events = anthropic(addr, &[("x-mock-stream-error", "after:1")], message(true))
        .await
        .events();
    let names: Vec<_> = events.iter().map(|e| e.name.as_deref().unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(events[4].json()["error"]["type"], "overloaded_error");
}

#[tokio::test]
async fn streams_arrive_incrementally() {
    let addr = support::start().await;
    let (name, value) = openai_auth();
    let body = chat(true).to_string();
    let headers = [(name, value.as_str()), ("x-mock-chunk-delay-ms", "40")];
    let started = Instant::now();
    let mut stream = support::open(addr, "POST", CHAT, &headers, body.as_bytes()).await;
    let mut received = Vec::new();
    let mut first_data_at = None;
    let mut buffer = [0u8; 4096];
    loop {
        let read = stream.read(&mut buffer).await.unwrap();
        if read == 0 {
            break;
        }
        received.extend_from_slice(&buffer[..read]);
        if first_data_at.is_none() && received.windows(5).any(|w| w == b"data:") {
            first_data_at = Some(started.elapsed());
        }
    }
    let total = started.elapsed();
    let first = first_data_at.unwrap();
    // 13 events 40 ms apart take ~0.5 s; the first must not wait for the rest.
    assert!(
        total >= Duration::from_millis(400),
        "delay honoured: {total:?}"
    );
    assert!(first < total / 4, "first event at {first:?} of {total:?}");
}

// === journal, health, models, unknown routes ===

#[tokio::test]
async fn journal_records_what_was_sent_and_can_be_cleared() {
    let addr = support::start().await;
    anthropic(addr, &[("x-trace", "t1")], message(false)).await;
    let (name, value) = openai_auth();
    request(addr, "GET", "/v1/models?limit=2", &[(name, &value)], b"").await;
    request(addr, "GET", "/__mock/health", &[], b"").await;

    let journal = request(addr, "GET", "/__mock/requests", &[], b"")
        .await
        .json();
    let entries = journal.as_array().unwrap();
    assert_eq!(
        entries.len(),
        2,
        "mock control paths are not journaled: {journal}"
    );
    assert_eq!(entries[0]["method"], "POST");
    assert_eq!(entries[0]["path"], MESSAGES);
    assert_eq!(entries[0]["headers"]["x-api-key"], ANTHROPIC_KEY);
    assert_eq!(entries[0]["headers"]["x-trace"], "t1");
    assert_eq!(entries[0]["body"], message(false));
    assert_eq!(entries[1]["query"], "limit=2");
    assert_eq!(entries[1]["body"], Value::Null);

    let cleared = request(addr, "DELETE", "/__mock/requests", &[], b"").await;
    assert_eq!(cleared.status, 204);
    let journal = request(addr, "GET", "/__mock/requests", &[], b"")
        .await
        .json();
    assert_eq!(journal, json!([]));
}

#[tokio::test]
async fn health_models_and_unknown_routes() {
    let addr = support::start().await;
    assert_eq!(
        request(addr, "GET", "/__mock/health", &[], b"")
            .await
            .status,
        200
    );

    assert_eq!(
        request(addr, "GET", "/v1/models", &[], b"").await.status,
        401
    );
    let (name, value) = openai_auth();
    let models = request(addr, "GET", "/v1/models", &[(name, &value)], b"")
        .await
        .json();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["object"], "model");

    let unknown = request(addr, "POST", "/v1/responses", &[], b"").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["type"], "invalid_request_error");
    let unknown = request(
        addr,
        "POST",
        "/v1/nope",
        &[("anthropic-version", "2023-06-01")],
        b"",
    )
    .await;
    assert_eq!(unknown.json()["error"]["type"], "not_found_error");
}

// === Bedrock ===

const CONVERSE: &str = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse";
const CONVERSE_STREAM: &str =
    "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream";

fn converse_body(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": [{"text": text}]}]})
}

fn error_type(response: &support::Response) -> &str {
    response
        .header("x-amzn-errortype")
        .and_then(|t| t.split(':').next())
        .unwrap_or_default()
}

#[tokio::test]
async fn bedrock_requires_a_credential_and_verifies_signatures() {
    let keys = ExpectedKeys {
        bedrock: mock_provider::BedrockAuth {
            sigv4: Some(mock_provider::AwsCredentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "secret".into(),
            }),
            api_key: Some("bedrock-api-key".into()),
        },
        ..ExpectedKeys::default()
    };
    let addr = support::start_with(keys).await;
    let body = converse_body("hi");
    let unsigned = post_json(addr, CONVERSE, &[], &body).await;
    assert_eq!(unsigned.status, 403);
    assert_eq!(error_type(&unsigned), "MissingAuthenticationTokenException");
    assert_eq!(
        unsigned.json(),
        json!({"message": "Missing Authentication Token"})
    );

    let forged =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/bedrock/aws4_request, \
        SignedHeaders=content-type;host;x-amz-date, Signature=0000";
    let headers = [
        ("authorization", forged),
        ("x-amz-date", "20260101T000000Z"),
    ];
    let bad = post_json(addr, CONVERSE, &headers, &body).await;
    assert_eq!(bad.status, 403);
    assert_eq!(error_type(&bad), "InvalidSignatureException");
    assert!(bad.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("The request signature we calculated"));

    let wrong_key = post_json(addr, CONVERSE, &[("authorization", "Bearer other")], &body).await;
    assert_eq!(error_type(&wrong_key), "UnrecognizedClientException");
    let api_key = [("authorization", "Bearer bedrock-api-key")];
    let ok = post_json(addr, CONVERSE, &api_key, &body).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok.json()["output"]["message"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("You said: hi"));
    assert!(ok.header("x-amzn-requestid").is_some());
}

#[tokio::test]
async fn bedrock_rejects_what_bedrock_rejects() {
    let addr = support::start().await;
    let auth = [("authorization", "Bearer any")];
    let cases = [
        (
            json!({"messages": [{"role": "user", "content": [{"text": " "}]}]}),
            "is blank",
        ),
        (
            json!({"messages": [
                {"role": "user", "content": [{"text": "q"}]},
                {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "f", "input": {}}}]},
                {"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": [{"text": "r"}]}}]}]}),
            "toolConfig field must be defined",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]}, {"role": "user", "content": [{"text": "b"}]}]}),
            "must alternate",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]}],
                   "toolConfig": {"tools": [{"toolSpec": {"name": "fs/read", "inputSchema": {"json": {}}}}]}}),
            "regular expression pattern",
        ),
        (
            json!({"model": "x", "messages": [{"role": "user", "content": [{"text": "a"}]}]}),
            "extraneous key [model]",
        ),
    ];
    for (body, message) in cases {
        let response = post_json(addr, CONVERSE, &auth, &body).await;
        assert_eq!(response.status, 400, "{body}");
        assert_eq!(error_type(&response), "ValidationException");
        let text = response.json()["message"].as_str().unwrap().to_owned();
        assert!(text.contains(message), "{text}");
    }
}

#[tokio::test]
async fn bedrock_streams_frames_and_fails_mid_stream_with_an_exception() {
    let addr = support::start().await;
    let headers = [
        ("authorization", "Bearer any"),
        ("x-mock-stream-error", "after:2"),
    ];
    let response = post_json(
        addr,
        CONVERSE_STREAM,
        &headers,
        &converse_body("one two three"),
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("application/vnd.amazon.eventstream")
    );
    let frames = support::parse_event_stream(&response.body).unwrap();
    let kinds: Vec<&str> = frames.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "messageStart",
            "contentBlockDelta",
            "contentBlockDelta",
            "throttlingException"
        ]
    );
    assert!(frames[1].1["p"].is_string(), "payloads are padded");

    let headers = [
        ("authorization", "Bearer any"),
        ("x-mock-cached-tokens", "7"),
    ];
    let response = post_json(addr, CONVERSE_STREAM, &headers, &converse_body("hi")).await;
    let frames = support::parse_event_stream(&response.body).unwrap();
    let (kind, metadata) = frames.last().unwrap();
    assert_eq!(kind, "metadata");
    assert_eq!(metadata["usage"]["cacheReadInputTokens"], 7);
    let usage = &metadata["usage"];
    assert_eq!(
        usage["totalTokens"].as_u64(),
        Some(usage["inputTokens"].as_u64().unwrap() + 7 + usage["outputTokens"].as_u64().unwrap())
    );
}
