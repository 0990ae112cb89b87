use super::*;

const CLAUDE: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const NOVA: &str = "us.amazon.nova-micro-v1:0";
const LLAMA: &str = "meta.llama3-70b-instruct-v1:0";

fn text(role: Role, t: &str) -> Message {
    Message {
        role,
        content: vec![ContentPart::text(t)],
    }
}

fn tool(name: &str) -> ToolDefinition {
    ToolDefinition {
        name: name.into(),
        description: Some("d".into()),
        parameters: json!({"type": "object"}),
        strict: Some(true),
        cache_control: None,
    }
}

fn call(id: &str, name: &str) -> Message {
    Message {
        role: Role::Assistant,
        content: vec![ContentPart::ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: r#"{"city":"Paris"}"#.into(),
        }],
    }
}

fn result(id: &str, content: Vec<ToolResultPart>, is_error: bool) -> Message {
    Message {
        role: Role::User,
        content: vec![ContentPart::ToolResult {
            call_id: id.into(),
            content,
            is_error,
            cache_control: None,
        }],
    }
}

fn encode_ok(request: &Request, model: &str) -> Value {
    encode(request, model).unwrap()
}

#[test]
fn system_is_hoisted_in_order_and_the_body_has_no_model() {
    let request = Request {
        model: "client-model".into(),
        system: vec![
            SystemPart {
                text: "first".into(),
                cache_control: None,
            },
            SystemPart {
                text: String::new(),
                cache_control: None,
            },
            SystemPart {
                text: "second".into(),
                cache_control: Some(json!({"type": "ephemeral"})),
            },
        ],
        messages: vec![text(Role::User, "hi")],
        stream: true,
        ..Request::default()
    };
    let body = encode_ok(&request, NOVA);
    assert_eq!(
        body["system"],
        json!([{"text": "first"}, {"text": "second"}, {"cachePoint": {"type": "default"}}])
    );
    assert!(body.get("model").is_none() && body.get("stream").is_none());
    assert!(
        body.get("inferenceConfig").is_none(),
        "nothing to configure for Nova"
    );
}

#[test]
fn turns_alternate_with_tool_results_first_and_no_empty_text() {
    let mut answer = result("call_1", vec![ToolResultPart::Text("21C".into())], false);
    answer.content.insert(0, ContentPart::text("and?"));
    let request = Request {
        messages: vec![
            text(Role::User, "a"),
            text(Role::User, ""),
            text(Role::User, "b"),
            call("call_1", "get_weather"),
            text(Role::Assistant, ""),
            answer,
        ],
        tools: vec![tool("get_weather")],
        ..Request::default()
    };
    let body = encode_ok(&request, CLAUDE);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(
        messages[0]["content"],
        json!([{"text": "a"}, {"text": "b"}])
    );
    assert_eq!(
        messages[1]["content"][0]["toolUse"],
        json!({"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}})
    );
    assert_eq!(
        messages[2]["content"][0]["toolResult"]["toolUseId"],
        "call_1"
    );
    assert_eq!(messages[2]["content"][1], json!({"text": "and?"}));
    assert!(!body.to_string().contains(r#""text":"""#));
}

#[test]
fn tool_choice_none_keeps_a_tool_config_only_when_the_history_needs_one() {
    let mut request = Request {
        messages: vec![
            text(Role::User, "weather?"),
            call("call_1", "get_weather"),
            result("call_1", vec![ToolResultPart::Text("21C".into())], false),
        ],
        tools: vec![tool("get_weather")],
        tool_choice: Some(ToolChoice::None),
        ..Request::default()
    };
    let body = encode_ok(&request, CLAUDE);
    let tools = body["toolConfig"]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0]["toolSpec"]["name"], PLACEHOLDER_TOOL);
    assert!(body["toolConfig"].get("toolChoice").is_none());

    // History with tool blocks but no tools at all: still a toolConfig.
    request.tools.clear();
    request.tool_choice = None;
    assert_eq!(
        encode_ok(&request, CLAUDE)["toolConfig"]["tools"][0]["toolSpec"]["name"],
        PLACEHOLDER_TOOL
    );

    // No tool blocks, tools off: no toolConfig.
    let plain = Request {
        messages: vec![text(Role::User, "hi")],
        tools: vec![tool("get_weather")],
        tool_choice: Some(ToolChoice::None),
        ..Request::default()
    };
    assert!(encode_ok(&plain, CLAUDE).get("toolConfig").is_none());
}

#[test]
fn tool_choices_and_sanitised_names() {
    let mut request = Request {
        messages: vec![
            text(Role::User, "go"),
            call("call/1", "github/create.issue"),
        ],
        tools: vec![tool("github/create.issue"), tool("plain")],
        tool_choice: Some(ToolChoice::Required),
        ..Request::default()
    };
    let body = encode_ok(&request, CLAUDE);
    assert_eq!(body["toolConfig"]["toolChoice"], json!({"any": {}}));
    let name = body["toolConfig"]["tools"][0]["toolSpec"]["name"]
        .as_str()
        .unwrap();
    assert_ne!(name, "github/create.issue");
    assert!(name.len() <= 64 && name.chars().all(crate::formats::identifier::allowed));
    let tool_use = &body["messages"][1]["content"][0]["toolUse"];
    assert_eq!(
        tool_use["name"], name,
        "history uses the same rewritten name"
    );
    assert!(tool_use["toolUseId"]
        .as_str()
        .unwrap()
        .starts_with("tooluse_call_1_"));
    assert_eq!(body["toolConfig"]["tools"][1]["toolSpec"]["name"], "plain");

    request.tool_choice = Some(ToolChoice::Tool("github/create.issue".into()));
    let body = encode_ok(&request, CLAUDE);
    assert_eq!(body["toolConfig"]["toolChoice"]["tool"]["name"], name);
    request.tool_choice = Some(ToolChoice::Auto);
    assert!(encode_ok(&request, CLAUDE)["toolConfig"]
        .get("toolChoice")
        .is_none());
}

#[test]
fn images_are_bytes_or_s3_and_web_urls_are_refused() {
    let image = |source| Request {
        messages: vec![Message {
            role: Role::User,
            content: vec![ContentPart::Image {
                source,
                cache_control: None,
            }],
        }],
        ..Request::default()
    };
    let body = encode_ok(
        &image(ImageSource::Base64 {
            media_type: "image/jpg".into(),
            data: "AAAA".into(),
        }),
        NOVA,
    );
    assert_eq!(
        body["messages"][0]["content"][0],
        json!({"image": {"format": "jpeg", "source": {"bytes": "AAAA"}}})
    );
    let body = encode_ok(
        &image(ImageSource::Url("s3://bucket/cat.webp".into())),
        NOVA,
    );
    assert_eq!(
        body["messages"][0]["content"][0]["image"],
        json!({"format": "webp", "source": {"s3Location": {"uri": "s3://bucket/cat.webp"}}})
    );
    let err = encode(&image(ImageSource::Url("https://x/cat.png".into())), NOVA).unwrap_err();
    assert!(
        matches!(&err, FieldError::Unsupported { path, .. } if path == "image_url"),
        "{err}"
    );
    let svg = image(ImageSource::Base64 {
        media_type: "image/svg+xml".into(),
        data: "AAAA".into(),
    });
    assert!(encode(&svg, NOVA).is_err());
}

#[test]
fn claude_thinking_goes_in_additional_fields_with_claude_rules() {
    let request = Request {
        messages: vec![text(Role::User, "think")],
        reasoning: Some(Reasoning::Effort(ReasoningEffort::High)),
        max_output_tokens: Some(5000),
        temperature: Some(0.3),
        top_k: Some(5),
        ..Request::default()
    };
    let body = encode_ok(&request, CLAUDE);
    assert_eq!(
        body["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 4999}})
    );
    assert_eq!(body["inferenceConfig"], json!({"maxTokens": 5000}));

    let without = Request {
        reasoning: None,
        top_p: Some(0.5),
        ..request.clone()
    };
    let body = encode_ok(&without, CLAUDE);
    assert_eq!(
        body["inferenceConfig"],
        json!({"maxTokens": 5000, "temperature": 0.3}),
        "temperature wins over top_p for Claude"
    );
    assert_eq!(body["additionalModelRequestFields"], json!({"top_k": 5}));
}

#[test]
fn other_families_get_their_own_reasoning_fields_or_none() {
    let request = Request {
        messages: vec![text(Role::User, "think")],
        reasoning: Some(Reasoning::Budget(3000)),
        temperature: Some(1.7),
        top_p: Some(0.9),
        top_k: Some(40),
        stop_sequences: vec!["END".into()],
        ..Request::default()
    };
    let body = encode_ok(&request, NOVA);
    assert_eq!(
        body["inferenceConfig"],
        json!({"temperature": 1.0, "topP": 0.9, "stopSequences": ["END"]})
    );
    assert_eq!(
        body["additionalModelRequestFields"],
        json!({"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "medium"},
               "inferenceConfig": {"topK": 40}})
    );
    let body = encode_ok(&request, "openai.gpt-oss-120b-1:0");
    assert_eq!(
        body["additionalModelRequestFields"],
        json!({"reasoning_effort": "medium"})
    );
    assert!(encode_ok(&request, LLAMA)
        .get("additionalModelRequestFields")
        .is_none());
}

#[test]
fn reasoning_history_keeps_signed_and_redacted_blocks_only() {
    let request = Request {
        messages: vec![
            text(Role::User, "q"),
            Message {
                role: Role::Assistant,
                content: vec![
                    ContentPart::Thinking {
                        text: "t".into(),
                        signature: Some("sig==".into()),
                    },
                    ContentPart::Thinking {
                        text: "unsigned".into(),
                        signature: None,
                    },
                    ContentPart::RedactedThinking { data: "b64".into() },
                    ContentPart::text("answer"),
                ],
            },
        ],
        ..Request::default()
    };
    let content = &encode_ok(&request, CLAUDE)["messages"][1]["content"];
    assert_eq!(
        content,
        &json!([
            {"reasoningContent": {"reasoningText": {"text": "t", "signature": "sig=="}}},
            {"reasoningContent": {"redactedContent": "b64"}},
            {"text": "answer"},
        ])
    );
}

#[test]
fn tool_results_are_never_empty_and_status_only_where_accepted() {
    let request = Request {
        messages: vec![
            text(Role::User, "q"),
            call("c1", "f"),
            result("c1", vec![ToolResultPart::Text(String::new())], true),
        ],
        tools: vec![tool("f")],
        ..Request::default()
    };
    let block = &encode_ok(&request, CLAUDE)["messages"][2]["content"][0]["toolResult"];
    assert_eq!(
        block,
        &json!({"toolUseId": "c1", "content": [{"json": {}}], "status": "error"})
    );
    let block = &encode_ok(&request, LLAMA)["messages"][2]["content"][0]["toolResult"];
    assert!(block.get("status").is_none());
}

#[test]
fn json_schema_output_is_a_schema_string_in_output_config() {
    let request = Request {
        response_format: Some(ResponseFormat::JsonSchema {
            name: "person".into(),
            schema: json!({"type": "object", "properties": {"age": {"type": "integer"}}}),
            strict: Some(true),
        }),
        ..Request::default()
    };
    let body = encode(&request, NOVA).unwrap();
    let format = &body["outputConfig"]["textFormat"];
    assert_eq!(format["type"], "json_schema");
    let structure = &format["structure"]["jsonSchema"];
    assert_eq!(structure["name"], "person");
    let schema: serde_json::Value =
        serde_json::from_str(structure["schema"].as_str().expect("a JSON string")).unwrap();
    assert_eq!(schema["properties"]["age"]["type"], "integer");
}

#[test]
fn output_config_schema_must_be_a_json_string() {
    let body = json!({"messages": [], "outputConfig": {"textFormat": {
        "type": "json_schema", "structure": {"jsonSchema": {"schema": {"type": "object"}}}}}});
    assert!(
        matches!(decode(&body), Err(FieldError::WrongType { path, .. })
        if path == "outputConfig.textFormat.structure.jsonSchema.schema")
    );
}

#[test]
fn unsupported_requests_are_refused_by_field() {
    let n = Request {
        candidate_count: Some(2),
        ..Request::default()
    };
    assert!(matches!(encode(&n, NOVA), Err(FieldError::Unsupported { path, .. }) if path == "n"));
    let json_object = Request {
        response_format: Some(ResponseFormat::JsonObject),
        ..Request::default()
    };
    assert!(
        encode(&json_object, NOVA).is_ok(),
        "JSON-object mode is dropped"
    );
}

#[test]
fn decode_reads_the_recorded_request_shape() {
    let body = json!({"messages": [{"role": "user", "content": [{"text": "Hello!"}]}],
        "system": [{"text": "You are a chatbot."}], "inferenceConfig": {}});
    let request = decode(&body).unwrap();
    assert_eq!(request.system[0].text, "You are a chatbot.");
    assert_eq!(request.messages, vec![text(Role::User, "Hello!")]);
    let err =
        decode(&json!({"messages": [{"role": "user", "content": [{"video": {}}]}]})).unwrap_err();
    assert!(
        matches!(&err, FieldError::Unsupported { path, .. } if path == "messages[0].content[0].content"),
        "{err}"
    );
    assert!(matches!(
        decode(&json!({})),
        Err(FieldError::Missing { .. })
    ));
}

#[test]
fn tool_arguments_become_input_objects() {
    let with_arguments = |arguments: &str| Request {
        messages: vec![
            text(Role::User, "q"),
            Message {
                role: Role::Assistant,
                content: vec![ContentPart::ToolCall {
                    id: "c".into(),
                    name: "f".into(),
                    arguments: arguments.into(),
                }],
            },
        ],
        tools: vec![tool("f")],
        ..Request::default()
    };
    let input = |arguments: &str| {
        encode_ok(&with_arguments(arguments), CLAUDE)["messages"][1]["content"][0]["toolUse"]
            ["input"]
            .clone()
    };
    assert_eq!(input(""), json!({}), "empty arguments are an empty object");
    assert_eq!(input(r#"{"a":1}"#), json!({"a": 1}));
    assert_eq!(
        input(r#"{"a":"#),
        json!(r#"{"a":"#),
        "malformed text is kept, not invented"
    );
}
