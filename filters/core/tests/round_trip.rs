//! Round trips: canonical → provider format → canonical for requests with tools, images and
//! thinking, and the multi-turn trip that matters most for reasoning models: an Anthropic
//! (or Gemini) answer with signed thinking goes to an OpenAI client, comes back in its next
//! request, and must reach the provider again with the thinking and signatures untouched.
//! The same trip for Cohere tool calls: ids, tool plan and arguments come back to Cohere as
//! it sent them.

mod common;

use common::*;
use serde_json::{json, Value};
use tollgate_core::formats::{anthropic, bedrock, cohere, gemini, openai, WireFormat};
use tollgate_core::model::{
    ContentPart, ImageSource, Message, Reasoning, ReasoningEffort, Request, ResponseFormat, Role,
    SystemPart, ToolChoice, ToolDefinition, ToolResultPart,
};
use tollgate_core::translate::{translate_request, ProviderTarget};

fn tool(name: &str) -> ToolDefinition {
    ToolDefinition {
        name: name.into(),
        description: Some(format!("{name} tool")),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
        strict: Some(true),
        cache_control: None,
    }
}

fn base64_image() -> ImageSource {
    ImageSource::Base64 {
        media_type: "image/png".into(),
        data: "iVBORw0KGgo=".into(),
    }
}

fn image(source: ImageSource) -> ContentPart {
    ContentPart::Image {
        source,
        cache_control: None,
    }
}

fn call(id: &str, arguments: &str) -> ContentPart {
    ContentPart::ToolCall {
        id: id.into(),
        name: "get_weather".into(),
        arguments: arguments.into(),
    }
}

fn result(id: &str, text: &str) -> ContentPart {
    ContentPart::ToolResult {
        call_id: id.into(),
        content: vec![ToolResultPart::Text(text.into())],
        is_error: false,
        cache_control: None,
    }
}

/// The conversation both Claude APIs (Anthropic Messages, Bedrock Converse) must carry
/// whole: cached system prompt, images, signed and redacted thinking, parallel tool calls,
/// an error result with an image, a cached tool. `call_id` prefixes the tool-call ids
/// (each API has its own charset), `image_url` is an image URL the API accepts.
fn claude_conversation(call_id: &str, image_url: &str) -> Request {
    let ephemeral = Some(json!({"type": "ephemeral"}));
    let (lisbon, porto) = (format!("{call_id}_01"), format!("{call_id}_02"));
    Request {
        system: vec![SystemPart {
            text: "Be brief.".into(),
            cache_control: ephemeral.clone(),
        }],
        messages: vec![
            Message {
                role: Role::User,
                content: vec![
                    ContentPart::Text {
                        text: "Weather where these were taken?".into(),
                        cache_control: ephemeral.clone(),
                    },
                    image(base64_image()),
                    image(ImageSource::Url(image_url.into())),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    ContentPart::Thinking {
                        text: "Two cities.".into(),
                        signature: Some("EqQBCkYIBxgCKkBs1gn+ZcVJ0==".into()),
                    },
                    ContentPart::RedactedThinking {
                        data: "EmwKAhgBEgy3va3pzix".into(),
                    },
                    ContentPart::text("Checking."),
                    call(&lisbon, r#"{"city":"Lisbon"}"#),
                    call(&porto, r#"{"city":"Porto"}"#),
                ],
            },
            Message {
                role: Role::User,
                content: vec![
                    result(&lisbon, "21C"),
                    ContentPart::ToolResult {
                        call_id: porto,
                        content: vec![
                            ToolResultPart::Text("timeout".into()),
                            ToolResultPart::Image(base64_image()),
                        ],
                        is_error: true,
                        cache_control: ephemeral.clone(),
                    },
                    ContentPart::text("Thanks"),
                ],
            },
        ],
        tools: vec![ToolDefinition {
            cache_control: ephemeral,
            ..tool("get_weather")
        }],
        max_output_tokens: Some(4000),
        stop_sequences: vec!["END".into()],
        reasoning: Some(Reasoning::Budget(2048)),
        ..Request::default()
    }
}

#[test]
fn anthropic_round_trip_keeps_tools_images_thinking_and_cache_markers() {
    let request = Request {
        model: "m".into(),
        tool_choice: Some(ToolChoice::Auto),
        parallel_tool_calls: Some(false),
        response_format: Some(ResponseFormat::JsonSchema {
            name: "response".into(),
            schema: json!({"type": "object"}),
            strict: Some(true),
        }),
        user: Some("u-1".into()),
        stream: true,
        ..claude_conversation("toolu", "https://example.com/a.jpg")
    };
    let wire = anthropic::request::encode(&request, "m").unwrap();
    let back = anthropic::request::decode(&wire).unwrap();
    assert_eq!(back, request);
}

/// A question with two images (`second_image` after a base64 one), two parallel calls
/// (`assistant_text` before them; the second call's arguments cut short, as a client may
/// send them), their results in separate turns, then a thanks.
fn parallel_calls_turns(
    second_image: ImageSource,
    assistant_text: &str,
    ids: [&str; 2],
) -> Vec<Message> {
    let user = |content| Message {
        role: Role::User,
        content,
    };
    vec![
        user(vec![
            ContentPart::text("Weather?"),
            image(base64_image()),
            image(second_image),
        ]),
        Message {
            role: Role::Assistant,
            content: vec![
                ContentPart::text(assistant_text),
                call(ids[0], r#"{"city":"Lisbon"}"#),
                call(ids[1], r#"{"city":"Por"#),
            ],
        },
        user(vec![result(ids[0], "21C")]),
        user(vec![result(ids[1], "18C")]),
        user(vec![ContentPart::text("Thanks")]),
    ]
}

#[test]
fn openai_round_trip_keeps_tools_images_and_effort() {
    let request = Request {
        model: "m".into(),
        system: vec![SystemPart {
            text: "Be brief.".into(),
            cache_control: None,
        }],
        messages: parallel_calls_turns(
            ImageSource::Url("https://example.com/a.jpg".into()),
            "Checking.",
            ["call_1", "call_2"],
        ),
        tools: vec![tool("get_weather"), tool("get_forecast")],
        tool_choice: Some(ToolChoice::Tool("get_forecast".into())),
        parallel_tool_calls: Some(true),
        max_output_tokens: Some(1000),
        temperature: Some(1.5),
        top_p: Some(0.9),
        stop_sequences: vec!["END".into(), "STOP".into()],
        candidate_count: Some(2),
        reasoning: Some(Reasoning::Effort(ReasoningEffort::High)),
        response_format: Some(ResponseFormat::JsonSchema {
            name: "weather".into(),
            schema: json!({"type": "object"}),
            strict: Some(false),
        }),
        user: Some("u-1".into()),
        stream: true,
        ..Request::default()
    };
    let wire = openai::request::encode(&request, "m");
    let back = openai::request::decode(&wire).unwrap();
    assert_eq!(back, request);
}

/// The assistant message an OpenAI client builds from a (non-streamed) answer.
fn assistant_from_body(body: &Value) -> Value {
    body["choices"][0]["message"].clone()
}

/// The assistant message an OpenAI client builds from a streamed answer, following the
/// `thinking_blocks` convention: collect the entries, concatenate content and arguments.
fn assistant_from_stream(bytes: &[u8]) -> Value {
    let mut content = String::new();
    let mut blocks = Vec::new();
    let mut calls: Vec<Value> = Vec::new();
    for (_, chunk) in sse_json(bytes) {
        let delta = &chunk["choices"][0]["delta"];
        content.push_str(delta["content"].as_str().unwrap_or_default());
        blocks.extend(
            delta["thinking_blocks"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64().unwrap_or(0) as usize;
            if index == calls.len() {
                calls.push(json!({"id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}));
            }
            let args = calls[index]["function"]["arguments"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
                + call["function"]["arguments"].as_str().unwrap_or_default();
            calls[index]["function"]["arguments"] = json!(args);
        }
    }
    json!({"role": "assistant", "content": content, "thinking_blocks": blocks, "tool_calls": calls})
}

/// A provider's recorded answer (`fixture`, below testdata) as an OpenAI client gets it:
/// the recording, and the assistant message the client builds from the translation.
fn answer_through_openai(provider: WireFormat, fixture: &str) -> (Value, Value) {
    let path = testdata().join(fixture);
    let (out, _) = Run::body(WireFormat::OpenAi, provider, 200).one_shot(&read(&path));
    let answer: Value = serde_json::from_slice(&out).unwrap();
    (read_json(&path), assistant_from_body(&answer))
}

/// A provider's recorded stream as an OpenAI client gets it: the assistant message the
/// client builds from the translated chunks.
fn stream_through_openai(provider: WireFormat, fixture: &str) -> Value {
    let path = testdata().join(fixture);
    let (out, _) = Run::stream(WireFormat::OpenAi, provider, false).one_shot(&read(&path));
    assistant_from_stream(&out)
}

fn provider(
    format: WireFormat,
    base_path: &'static str,
    model: &'static str,
) -> ProviderTarget<'static> {
    ProviderTarget {
        format,
        base_path,
        upstream_model: model,
        api_version: None,
    }
}

/// Sends an OpenAI client's next turn (`question`, the `assistant` message it was answered
/// with, then `results`) through the gateway to `target`; returns the provider's path and
/// body.
fn send_next_turn(
    target: ProviderTarget,
    question: &str,
    assistant: Value,
    results: Vec<Value>,
) -> (String, Value) {
    let mut messages = vec![json!({"role": "user", "content": question}), assistant];
    messages.extend(results);
    let next = json!({"model": "smart", "messages": messages});
    let upstream =
        translate_request(WireFormat::OpenAi, &target, next.to_string().as_bytes()).unwrap();
    (
        upstream.path,
        serde_json::from_slice(&upstream.body).unwrap(),
    )
}

/// A tool message answering each of the assistant's calls with `content`.
fn answer_every_call(assistant: &Value, content: &str) -> Vec<Value> {
    let calls = assistant["tool_calls"].as_array().into_iter().flatten();
    calls
        .map(|c| json!({"role": "tool", "tool_call_id": c["id"], "content": content}))
        .collect()
}

/// Sends the next OpenAI turn (the assistant message plus a tool result) to Anthropic and
/// returns the assistant turn Anthropic receives.
fn next_turn_to_anthropic(assistant: Value, call_id: &str) -> Value {
    let target = provider(WireFormat::Anthropic, "/v1", "claude");
    let result = json!({"role": "tool", "tool_call_id": call_id, "content": "21C"});
    let (_, body) = send_next_turn(target, "Weather in Lisbon?", assistant, vec![result]);
    body["messages"][1].clone()
}

#[test]
fn signed_thinking_survives_a_trip_through_an_openai_client() {
    let (original, assistant) = answer_through_openai(
        WireFormat::Anthropic,
        "responses/anthropic/thinking-text-tool.json",
    );
    let turn = next_turn_to_anthropic(assistant, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
    let kept: Vec<&Value> = original["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| {
            ["thinking", "redacted_thinking", "text", "tool_use"]
                .contains(&b["type"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(
        turn["content"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        kept
    );
}

#[test]
fn streamed_signed_thinking_survives_a_trip_through_an_openai_client() {
    let assistant = stream_through_openai(
        WireFormat::Anthropic,
        "streams/anthropic/thinking-text-tool.sse",
    );
    let turn = next_turn_to_anthropic(assistant, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
    assert_eq!(
        turn["content"],
        json!([
            {"type": "thinking", "thinking": "Lisbon is in Portugal; call the tool.",
             "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"},
            {"type": "text", "text": "Checking the weather – one moment ☀️"},
            {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather",
             "input": {"city": "Lisbon"}},
        ])
    );
}

#[test]
fn cohere_round_trip_keeps_tools_plans_images_and_sampling() {
    let request = Request {
        model: "m".into(),
        system: vec![SystemPart {
            text: "Be brief.".into(),
            cache_control: None,
        }],
        messages: parallel_calls_turns(
            base64_image(),
            "I will check both cities.",
            ["get_weather_1", "get_weather_2"],
        ),
        tools: vec![
            ToolDefinition {
                strict: None,
                ..tool("get_weather")
            },
            ToolDefinition {
                strict: None,
                ..tool("get_forecast")
            },
        ],
        tool_choice: Some(ToolChoice::Required),
        max_output_tokens: Some(1000),
        temperature: Some(0.5),
        top_p: Some(0.9),
        top_k: Some(40),
        stop_sequences: vec!["END".into()],
        seed: Some(7),
        frequency_penalty: Some(0.25),
        presence_penalty: Some(0.5),
        reasoning: Some(Reasoning::Budget(3000)),
        response_format: Some(ResponseFormat::JsonSchema {
            name: "response".into(),
            schema: json!({"type": "object"}),
            strict: None,
        }),
        stream: true,
        ..Request::default()
    };
    let wire = cohere::request::encode(&request, "m").unwrap();
    let back = cohere::request::decode(&wire).unwrap();
    assert_eq!(back, request);
}

/// Sends the next OpenAI turn (the assistant message plus a result for every call) to
/// Cohere and returns the messages Cohere receives after the user's question.
fn next_turn_to_cohere(assistant: Value) -> Vec<Value> {
    let target = provider(WireFormat::Cohere, "/v2", "command-a");
    let results = answer_every_call(&assistant, "sunny");
    let (_, body) = send_next_turn(target, "Weather in SF?", assistant, results);
    body["messages"].as_array().unwrap()[1..].to_vec()
}

#[test]
fn cohere_tool_calls_survive_a_trip_through_an_openai_client() {
    let (original, assistant) = answer_through_openai(
        WireFormat::Cohere,
        "responses/cohere/tool-plan-parallel.json",
    );
    let messages = next_turn_to_cohere(assistant);
    let sent = &original["message"];
    assert_eq!(
        messages[0],
        json!({"role": "assistant", "tool_plan": sent["tool_plan"], "tool_calls": sent["tool_calls"]})
    );
    let answered: Vec<&Value> = messages[1..].iter().map(|m| &m["tool_call_id"]).collect();
    let called: Vec<&Value> = sent["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(answered, called);
}

#[test]
fn streamed_cohere_tool_calls_survive_a_trip_through_an_openai_client() {
    let mut assistant =
        stream_through_openai(WireFormat::Cohere, "streams/cohere/tool-plan-parallel.sse");
    assistant.as_object_mut().unwrap().remove("thinking_blocks");
    let messages = next_turn_to_cohere(assistant);
    let arguments = |city: &str| format!("{{\n    \"city\": \"{city}\"\n}}");
    assert_eq!(
        messages[0],
        json!({"role": "assistant", "tool_plan": "I will check the weather in both cities.",
        "tool_calls": [
            {"id": "get_weather_2fnrphbsnr66", "type": "function",
             "function": {"name": "get_weather", "arguments": arguments("Lisbon")}},
            {"id": "get_weather_9xk2m4q7w1za", "type": "function",
             "function": {"name": "get_weather", "arguments": arguments("Porto")}},
        ]})
    );
    assert_eq!(messages.len(), 3);
}

#[test]
fn gemini_round_trip_keeps_tools_images_thinking_and_signatures() {
    let signature = "EpwICpkIAXLI2nx+/w==";
    let signed_id = gemini::ids::pack("call_1", Some(signature));
    let request = Request {
        system: vec![SystemPart {
            text: "Be brief.".into(),
            cache_control: None,
        }],
        messages: vec![
            Message {
                role: Role::User,
                content: vec![
                    ContentPart::text("Weather where these were taken?"),
                    image(base64_image()),
                    image(ImageSource::Url("https://example.com/a.png".into())),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    ContentPart::Thinking {
                        text: "Two cities.".into(),
                        signature: Some("dGhpbms=".into()),
                    },
                    ContentPart::text("Checking."),
                    call(&signed_id, r#"{"city":"Lisbon"}"#),
                    call("call_2", r#"{"city":"Porto"}"#),
                ],
            },
            Message {
                role: Role::User,
                content: vec![
                    result(&signed_id, "21C"),
                    ContentPart::ToolResult {
                        call_id: "call_2".into(),
                        content: vec![ToolResultPart::Text("timeout".into())],
                        is_error: true,
                        cache_control: None,
                    },
                    ContentPart::text("Thanks"),
                ],
            },
        ],
        tools: vec![ToolDefinition {
            strict: None,
            ..tool("get_weather")
        }],
        tool_choice: Some(ToolChoice::Tool("get_weather".into())),
        max_output_tokens: Some(4000),
        temperature: Some(1.5),
        top_p: Some(0.9),
        top_k: Some(40),
        stop_sequences: vec!["END".into()],
        candidate_count: Some(1),
        reasoning: Some(Reasoning::Budget(2048)),
        response_format: Some(ResponseFormat::JsonSchema {
            name: "response".into(),
            schema: json!({"type": "object", "additionalProperties": false}),
            strict: None,
        }),
        ..Request::default()
    };
    let wire = gemini::request::encode(&request).unwrap();
    let back = gemini::request::decode(&wire).unwrap();
    // Gemini gets no ids: calls come back with ids of their own, signature still inside, and
    // the results still answer the same calls.
    let renamed = |id: &str| match id {
        "call_2" => "call_gemini_1".to_owned(),
        _ => gemini::ids::pack("call_gemini_0", Some(signature)),
    };
    let mut expected = request.clone();
    for part in expected.messages.iter_mut().flat_map(|m| &mut m.content) {
        match part {
            ContentPart::ToolCall { id, .. } => *id = renamed(id),
            ContentPart::ToolResult { call_id, .. } => *call_id = renamed(call_id),
            _ => {}
        }
    }
    assert_eq!(back, expected);
}

/// Sends the next OpenAI turn (the assistant message plus both tool results) to Gemini and
/// returns the model turn Gemini receives.
fn next_turn_to_gemini(assistant: Value) -> Value {
    let target = provider(WireFormat::Gemini, "/v1beta", "gemini-2.5-flash");
    let results = answer_every_call(&assistant, "20C");
    let calls = results.len();
    let question = "Weather in Lisbon and Porto?";
    let (path, body) = send_next_turn(target, question, assistant, results);
    assert_eq!(path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(
        body["contents"][2]["parts"].as_array().map(Vec::len),
        Some(calls),
        "one functionResponse per call"
    );
    body["contents"][1].clone()
}

#[test]
fn gemini_signatures_survive_a_trip_through_an_openai_client() {
    let (original, assistant) = answer_through_openai(
        WireFormat::Gemini,
        "responses/gemini/thinking-text-calls.json",
    );
    let turn = next_turn_to_gemini(assistant);
    assert_eq!(turn["role"], "model");
    assert_eq!(turn["parts"], original["candidates"][0]["content"]["parts"]);
}

#[test]
fn streamed_gemini_signatures_survive_a_trip_through_an_openai_client() {
    let assistant =
        stream_through_openai(WireFormat::Gemini, "streams/gemini/thoughts-text-calls.sse");
    let turn = next_turn_to_gemini(assistant);
    assert_eq!(
        turn["parts"],
        json!([
            {"text": "**Weighing the cities**\n\nLisbon first.", "thought": true},
            {"text": "I will check the weather – ☀️ or 🌧?",
             "thoughtSignature": "CiQBcsjafE7nZGlPh0Fbx2pUVbD3oC+Rq2Ukhy8RbqqtGz0="},
            {"functionCall": {"name": "get_weather", "args": {"city": "Lisbon"}},
             "thoughtSignature": "EpwICpkIAXLI2nxlU6gsWZaZ+/YkX1orzuM8vSUFwaAt1JRxEC2hJzPA"},
            {"functionCall": {"name": "get_weather", "args": {"city": "Porto"}}},
        ])
    );
}

// === Bedrock ===

const CLAUDE_ON_BEDROCK: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

#[test]
fn bedrock_round_trip_keeps_tools_images_thinking_and_cache_markers() {
    let mut request = claude_conversation("tooluse", "s3://photos/porto.jpeg");
    // Converse has no strict mode.
    request.tools[0].strict = None;
    request.response_format = Some(ResponseFormat::JsonSchema {
        name: "forecast".into(),
        schema: json!({"type": "object", "additionalProperties": false}),
        strict: None,
    });
    let wire = bedrock::request::encode(&request, CLAUDE_ON_BEDROCK).unwrap();
    let back = bedrock::request::decode(&wire).unwrap();
    assert_eq!(back, request);
}

#[test]
fn bedrock_round_trip_keeps_nova_sampling_and_effort() {
    let request = Request {
        messages: vec![Message {
            role: Role::User,
            content: vec![ContentPart::text("Hi")],
        }],
        tools: vec![ToolDefinition {
            strict: None,
            ..tool("get_weather")
        }],
        tool_choice: Some(ToolChoice::Tool("get_weather".into())),
        max_output_tokens: Some(300),
        temperature: Some(0.5),
        top_p: Some(0.9),
        top_k: Some(20),
        reasoning: Some(Reasoning::Effort(ReasoningEffort::High)),
        ..Request::default()
    };
    let wire = bedrock::request::encode(&request, "us.amazon.nova-premier-v1:0").unwrap();
    assert_eq!(bedrock::request::decode(&wire).unwrap(), request);
}

/// MCP-style tool names cannot reach Bedrock as they are; the client must still see its
/// own names in the answer, streamed or not.
#[test]
fn rewritten_tool_names_come_back_to_the_client() {
    let client_body = json!({
        "model": "claude",
        "messages": [{"role": "user", "content": "file it"}],
        "tools": [{"type": "function", "function": {"name": "github/create_issue", "parameters": {"type": "object"}}}],
        "stream": true,
    });
    let target = ProviderTarget {
        format: WireFormat::Bedrock,
        base_path: "",
        upstream_model: CLAUDE_ON_BEDROCK,
        api_version: None,
    };
    let upstream = translate_request(
        WireFormat::OpenAi,
        &target,
        client_body.to_string().as_bytes(),
    )
    .unwrap();
    let sent: Value = serde_json::from_slice(&upstream.body).unwrap();
    let provider_name = sent["toolConfig"]["tools"][0]["toolSpec"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(provider_name, "github/create_issue");

    let answer = json!({
        "output": {"message": {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "tooluse_1", "name": provider_name, "input": {"title": "t"}}}]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7},
    });
    let mut translator = Run::body(WireFormat::OpenAi, WireFormat::Bedrock, 200)
        .translator()
        .with_tool_names(upstream.tool_names.clone())
        .with_model(CLAUDE_ON_BEDROCK)
        .with_fallback_id("req-1");
    let out = translator.feed(answer.to_string().as_bytes(), true);
    let body: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "github/create_issue"
    );
    assert_eq!(body["id"], "req-1");
    assert_eq!(body["model"], CLAUDE_ON_BEDROCK);

    let mut frames = Vec::new();
    let mut encoder = bedrock::stream::FrameEncoder::new();
    for event in [
        tollgate_core::model::StreamEvent::BlockStart {
            index: 0,
            block: tollgate_core::model::BlockStart::ToolCall {
                id: "tooluse_1".into(),
                name: provider_name,
            },
        },
        tollgate_core::model::StreamEvent::Finish {
            reason: tollgate_core::model::StopReason::ToolUse,
            stop_sequence: None,
        },
        tollgate_core::model::StreamEvent::End,
    ] {
        encoder.encode(&event, &mut frames);
    }
    let mut translator = Run::stream(WireFormat::OpenAi, WireFormat::Bedrock, false)
        .translator()
        .with_tool_names(upstream.tool_names);
    let out = translator.feed(&frames, true);
    let streamed = assemble_stream(WireFormat::OpenAi, &out);
    assert_eq!(streamed.tool_calls[0].1, "github/create_issue");
    assert!(streamed.terminated);
}
