//! HTTP behaviour of the Gemini mock (AI Studio and Vertex AI): routes, auth and Google's
//! error shapes, request checks, usage, tool calls with signatures, stream faults.

mod support;

use std::net::SocketAddr;

use serde_json::{json, Value};
use support::{post_json, SseEvent, GEMINI_KEY, VERTEX_TOKEN};

const FLASH: &str = "/v1beta/models/gemini-2.5-flash:generateContent";
const FLASH_STREAM: &str = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";
const VERTEX: &str =
    "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent";

async fn gemini(
    addr: SocketAddr,
    path: &str,
    extra: &[(&str, &str)],
    body: Value,
) -> support::Response {
    let mut headers = vec![("x-goog-api-key", GEMINI_KEY)];
    headers.extend_from_slice(extra);
    post_json(addr, path, &headers, &body).await
}

fn ask(text: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}]})
}

fn with_weather_tool(text: &str) -> Value {
    let mut body = ask(text);
    body["tools"] = json!([{"functionDeclarations": [{"name": "get_weather",
        "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}}}]}]);
    body
}

fn error_status(response: &support::Response) -> String {
    response.json()["error"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn ai_studio_key_errors_have_googles_shapes() {
    let addr = support::start().await;
    let missing = post_json(addr, FLASH, &[], &ask("hi")).await;
    assert_eq!(missing.status, 403);
    assert_eq!(error_status(&missing), "PERMISSION_DENIED");

    let wrong = post_json(addr, FLASH, &[("x-goog-api-key", "AIza-wrong")], &ask("hi")).await;
    assert_eq!(wrong.status, 400);
    let error = &wrong.json()["error"];
    assert_eq!(error["status"], "INVALID_ARGUMENT");
    assert_eq!(error["code"], 400);
    assert_eq!(error["details"][0]["reason"], "API_KEY_INVALID");

    let bearer = post_json(
        addr,
        FLASH,
        &[("authorization", &format!("Bearer {GEMINI_KEY}"))],
        &ask("hi"),
    )
    .await;
    assert_eq!(bearer.status, 403, "AI Studio reads x-goog-api-key only");
    assert_eq!(gemini(addr, FLASH, &[], ask("hi")).await.status, 200);
}

#[tokio::test]
async fn vertex_takes_a_bearer_token_and_refuses_call_ids() {
    let addr = support::start().await;
    let auth = format!("Bearer {VERTEX_TOKEN}");
    let denied = post_json(addr, VERTEX, &[("x-goog-api-key", GEMINI_KEY)], &ask("hi")).await;
    assert_eq!(denied.status, 401);
    assert_eq!(error_status(&denied), "UNAUTHENTICATED");

    let ok = post_json(addr, VERTEX, &[("authorization", &auth)], &ask("hi")).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok.json()["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap()
        .contains("(vertex)"));

    let with_id = json!({"contents": [
        {"role": "user", "parts": [{"text": "q"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}, "id": "call_1"}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]},
    ]});
    let refused = post_json(addr, VERTEX, &[("authorization", &auth)], &with_id).await;
    assert_eq!(refused.status, 400);
    let message = refused.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("Unknown name \"id\""), "{message}");
    assert!(
        message.contains("contents[1].parts[0].function_call"),
        "{message}"
    );
    // AI Studio takes the same request.
    assert_eq!(gemini(addr, FLASH, &[], with_id).await.status, 200);
}

#[tokio::test]
async fn requests_are_checked_like_google_does() {
    let addr = support::start().await;
    let mut unknown = ask("hi");
    unknown["stream"] = json!(true);
    let refused = gemini(addr, FLASH, &[], unknown).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.text().contains("Unknown name \\\"stream\\\""),
        "{}",
        refused.text()
    );

    let mut snake = ask("hi");
    snake["generation_config"] = json!({"max_output_tokens": 5, "temperature": 0.5});
    snake["system_instruction"] = json!({"parts": [{"text": "s"}]});
    assert_eq!(gemini(addr, FLASH, &[], snake).await.status, 200);

    let mut hot = ask("hi");
    hot["generationConfig"] = json!({"temperature": 2.5});
    assert_eq!(gemini(addr, FLASH, &[], hot).await.status, 400);

    let bad_role = json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]});
    assert_eq!(gemini(addr, FLASH, &[], bad_role).await.status, 400);
    assert_eq!(
        gemini(addr, FLASH, &[], json!({"contents": []}))
            .await
            .status,
        400
    );

    let no_sse = "/v1beta/models/gemini-2.5-flash:streamGenerateContent";
    assert_eq!(gemini(addr, no_sse, &[], ask("hi")).await.status, 400);
    let unknown_method = gemini(
        addr,
        "/v1beta/models/gemini-2.5-flash:predict",
        &[],
        ask("hi"),
    )
    .await;
    assert_eq!(unknown_method.status, 404);
    assert_eq!(error_status(&unknown_method), "NOT_FOUND");
}

#[tokio::test]
async fn gemini_3_needs_the_signature_back_on_the_first_call() {
    let addr = support::start().await;
    let path = "/v1beta/models/gemini-3-pro-preview:generateContent";
    let first = gemini(addr, path, &[], with_weather_tool("please use a tool")).await;
    assert_eq!(first.status, 200);
    let answer = first.json();
    let part = &answer["candidates"][0]["content"]["parts"][0];
    assert_eq!(part["functionCall"]["name"], "get_weather");
    assert!(part.get("id").is_none() && part["functionCall"].get("id").is_none());
    let signature = part["thoughtSignature"].as_str().unwrap().to_owned();
    assert!(signature.contains('+') && signature.contains('/') && signature.len() % 4 == 0);
    assert_eq!(answer["candidates"][0]["finishReason"], "STOP");

    let next = |part: Value| {
        let mut body = with_weather_tool("please use a tool");
        body["contents"] = json!([
            {"role": "user", "parts": [{"text": "please use a tool"}]},
            {"role": "model", "parts": [part]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"output": "21C"}}}]},
        ]);
        body
    };
    let unsigned = json!({"functionCall": {"name": "get_weather", "args": {"city": "mock"}}});
    let refused = gemini(addr, path, &[], next(unsigned.clone())).await;
    assert_eq!(refused.status, 400);
    assert!(refused.text().contains("thought_signature"));
    let signed = json!({"functionCall": {"name": "get_weather", "args": {"city": "mock"}},
                        "thoughtSignature": signature});
    let answered = gemini(addr, path, &[], next(signed)).await;
    assert_eq!(answered.status, 200, "{}", answered.text());
    assert!(answered.json()["candidates"][0]["content"]["parts"][0]["text"].is_string());
    // Older models do not check.
    assert_eq!(gemini(addr, FLASH, &[], next(unsigned)).await.status, 200);
}

#[tokio::test]
async fn usage_counts_cache_inside_prompt_and_thoughts_outside_candidates() {
    let addr = support::start().await;
    let controls = [
        ("x-mock-cached-tokens", "100"),
        ("x-mock-reasoning-tokens", "7"),
    ];
    let usage = gemini(addr, FLASH, &controls, ask("hi")).await.json()["usageMetadata"].clone();
    let prompt = usage["promptTokenCount"].as_u64().unwrap();
    let candidates = usage["candidatesTokenCount"].as_u64().unwrap();
    assert!(prompt > 100);
    assert_eq!(usage["cachedContentTokenCount"], 100);
    assert_eq!(usage["thoughtsTokenCount"], 7);
    assert_eq!(
        usage["totalTokenCount"].as_u64().unwrap(),
        prompt + candidates + 7
    );

    let plain = gemini(addr, FLASH, &[], ask("hi")).await.json()["usageMetadata"].clone();
    assert!(
        plain.get("cachedContentTokenCount").is_none(),
        "zeros are left out: {plain}"
    );
    assert!(plain.get("thoughtsTokenCount").is_none());
}

#[tokio::test]
async fn streams_are_crlf_sse_with_cumulative_usage_and_no_end_marker() {
    let addr = support::start().await;
    let response = gemini(addr, FLASH_STREAM, &[], ask("one two three")).await;
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let text = response.text();
    assert!(text.contains("\r\n\r\n") && !text.contains("[DONE]") && !text.contains("event:"));
    let chunks: Vec<Value> = response.events().iter().map(SseEvent::json).collect();
    assert!(chunks.len() > 3);
    let counts: Vec<u64> = chunks
        .iter()
        .map(|c| c["usageMetadata"]["candidatesTokenCount"].as_u64().unwrap())
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] < w[1]),
        "cumulative: {counts:?}"
    );
    let finished: Vec<bool> = chunks
        .iter()
        .map(|c| c["candidates"][0].get("finishReason").is_some())
        .collect();
    assert_eq!(finished.iter().filter(|f| **f).count(), 1);
    assert!(finished.last().copied().unwrap_or(false));
}

#[tokio::test]
async fn streamed_call_is_whole_then_an_empty_finish_chunk() {
    let addr = support::start().await;
    let response = gemini(addr, FLASH_STREAM, &[], with_weather_tool("use a tool")).await;
    let chunks: Vec<Value> = response.events().iter().map(SseEvent::json).collect();
    assert_eq!(chunks.len(), 2);
    let call = &chunks[0]["candidates"][0]["content"]["parts"][0];
    assert_eq!(call["functionCall"]["args"], json!({"city": "mock"}));
    assert!(call["thoughtSignature"].is_string());
    assert_eq!(
        chunks[1]["candidates"][0]["content"]["parts"][0],
        json!({"text": ""})
    );
    assert_eq!(chunks[1]["candidates"][0]["finishReason"], "STOP");
}

#[tokio::test]
async fn stream_error_after_content_is_a_google_error_event() {
    let addr = support::start().await;
    let response = gemini(
        addr,
        FLASH_STREAM,
        &[("x-mock-stream-error", "after:2")],
        ask("one two three four five"),
    )
    .await;
    assert_eq!(response.status, 200);
    let chunks: Vec<Value> = response.events().iter().map(SseEvent::json).collect();
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[2]["error"]["status"], "UNAVAILABLE");
    assert_eq!(chunks[2]["error"]["code"], 503);
}

#[tokio::test]
async fn injected_statuses_and_unknown_google_paths_use_googles_error_object() {
    let addr = support::start().await;
    let limited = gemini(addr, FLASH, &[("x-mock-status", "429")], ask("hi")).await;
    assert_eq!(limited.status, 429);
    assert_eq!(error_status(&limited), "RESOURCE_EXHAUSTED");
    let lost = gemini(
        addr,
        "/v1beta/tunedModels/x:generateContent",
        &[],
        ask("hi"),
    )
    .await;
    assert_eq!(lost.status, 404);
    assert_eq!(error_status(&lost), "NOT_FOUND");
}

#[tokio::test]
async fn batch_embeddings_give_one_vector_per_request_in_order() {
    let addr = support::start().await;
    const EMBED: &str = "/v1beta/models/gemini-embedding-001:batchEmbedContents";
    let request = |text: &str| {
        json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": text}]},
               "task_type": "RETRIEVAL_QUERY", "outputDimensionality": 3})
    };
    let body = json!({"requests": [request("ab"), request("xyz")]});
    let ok = gemini(addr, EMBED, &[], body).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let answer = ok.json();
    // The first component is the text's length, then its bytes (as f32).
    let values: Vec<f64> = answer["embeddings"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let expected = [2.0, f64::from(97.0f32 / 255.0), f64::from(98.0f32 / 255.0)];
    assert_eq!(values, expected);
    assert_eq!(answer["embeddings"][1]["values"][0], 3.0);
    assert!(answer.get("usageMetadata").is_none());

    let other_model =
        json!({"requests": [{"model": "models/other", "content": {"parts": [{"text": "a"}]}}]});
    let refused = gemini(addr, EMBED, &[], other_model).await;
    assert_eq!(
        (refused.status, error_status(&refused)),
        (400, "INVALID_ARGUMENT".into())
    );
    let unknown = json!({"requests": [{"model": "models/gemini-embedding-001",
        "content": {"parts": [{"text": "a"}]}, "input": "a"}]});
    let refused = gemini(addr, EMBED, &[], unknown).await;
    assert!(refused.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Unknown name \"input\""));
    let keyless = post_json(addr, EMBED, &[], &json!({"requests": [request("a")]})).await;
    assert_eq!(keyless.status, 403);

    // Vertex embeds through `:predict` (see tests/embeddings.rs), not batchEmbedContents.
    let vertex = post_json(
        addr,
        "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-embedding-001:batchEmbedContents",
        &[("authorization", &format!("Bearer {VERTEX_TOKEN}"))],
        &json!({"requests": [request("a")]}),
    )
    .await;
    assert_eq!(
        (vertex.status, error_status(&vertex)),
        (404, "NOT_FOUND".into())
    );
}
