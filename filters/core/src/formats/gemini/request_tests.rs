use serde_json::json;

use super::*;

fn text(role: Role, t: &str) -> Message {
    Message {
        role,
        content: vec![ContentPart::text(t)],
    }
}

fn call(id: &str, name: &str, arguments: &str) -> ContentPart {
    ContentPart::ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: arguments.into(),
    }
}

fn result(call_id: &str, text: &str, is_error: bool) -> ContentPart {
    ContentPart::ToolResult {
        call_id: call_id.into(),
        content: vec![ToolResultPart::Text(text.into())],
        is_error,
        cache_control: None,
    }
}

fn tool(name: &str) -> ToolDefinition {
    ToolDefinition {
        name: name.into(),
        description: Some("d".into()),
        parameters: json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}},
            "$defs": {"A": {"type": "string"}}, "additionalProperties": false}),
        strict: Some(true),
        cache_control: Some(json!({"type": "ephemeral"})),
    }
}

#[test]
fn minimal_request_shape() {
    let request = Request {
        system: vec![SystemPart {
            text: "Be brief.".into(),
            cache_control: None,
        }],
        messages: vec![text(Role::User, "Hi")],
        stream: true,
        model: "alias".into(),
        ..Request::default()
    };
    assert_eq!(
        encode(&request).unwrap(),
        json!({
            "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
        })
    );
}

#[test]
fn schemas_go_out_whole_as_json_schema() {
    let request = Request {
        messages: vec![text(Role::User, "x")],
        tools: vec![tool("f")],
        tool_choice: Some(ToolChoice::Tool("f".into())),
        response_format: Some(ResponseFormat::JsonSchema {
            name: "r".into(),
            schema: json!({"type": "object", "additionalProperties": false}),
            strict: Some(true),
        }),
        ..Request::default()
    };
    let body = encode(&request).unwrap();
    assert!(
        !body.to_string().contains("ephemeral"),
        "cache markers have no Gemini form"
    );
    let declaration = &body["tools"][0]["functionDeclarations"][0];
    assert_eq!(declaration["parametersJsonSchema"], tool("f").parameters);
    assert!(declaration.get("parameters").is_none());
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}})
    );
    assert_eq!(
        body["generationConfig"],
        json!({"responseMimeType": "application/json",
               "responseJsonSchema": {"type": "object", "additionalProperties": false}})
    );
}

#[test]
fn tool_choice_modes() {
    for (choice, mode) in [
        (ToolChoice::Auto, "AUTO"),
        (ToolChoice::None, "NONE"),
        (ToolChoice::Required, "ANY"),
    ] {
        let request = Request {
            tools: vec![tool("f")],
            tool_choice: Some(choice),
            ..Request::default()
        };
        let body = encode(&request).unwrap();
        assert_eq!(body["toolConfig"]["functionCallingConfig"]["mode"], mode);
    }
    let no_tools = Request {
        tool_choice: Some(ToolChoice::Required),
        ..Request::default()
    };
    assert!(encode(&no_tools).unwrap().get("toolConfig").is_none());
}

#[test]
fn generation_config_maps_and_clamps() {
    let request = Request {
        max_output_tokens: Some(100),
        temperature: Some(2.7),
        top_p: Some(0.5),
        top_k: Some(40),
        stop_sequences: (1..=7).map(|i| i.to_string()).collect(),
        candidate_count: Some(1),
        reasoning: Some(Reasoning::Effort(ReasoningEffort::Low)),
        response_format: Some(ResponseFormat::JsonObject),
        ..Request::default()
    };
    assert_eq!(
        encode(&request).unwrap()["generationConfig"],
        json!({
            "maxOutputTokens": 100, "temperature": 2.0, "topP": 0.5, "topK": 40,
            "stopSequences": ["1", "2", "3", "4", "5"], "candidateCount": 1,
            "responseMimeType": "application/json",
            "thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": true},
        })
    );
    let off = Request {
        reasoning: Some(Reasoning::Disabled),
        temperature: Some(-1.0),
        ..Request::default()
    };
    assert_eq!(
        encode(&off).unwrap()["generationConfig"],
        json!({"temperature": 0.0, "thinkingConfig": {"thinkingBudget": 0}})
    );
}

#[test]
fn more_than_one_candidate_is_refused() {
    let request = Request {
        candidate_count: Some(2),
        ..Request::default()
    };
    assert!(matches!(encode(&request), Err(FieldError::Unsupported { path, .. }) if path == "n"));
}

#[test]
fn turns_alternate_and_function_responses_lead() {
    let request = Request {
        messages: vec![
            text(Role::User, "a"),
            text(Role::User, "b"),
            Message {
                role: Role::Assistant,
                content: vec![
                    ContentPart::text(""),
                    call("call_1", "get", r#"{"x":1}"#),
                    call("call_2", "put", ""),
                ],
            },
            text(Role::User, "after"),
            Message {
                role: Role::User,
                content: vec![result("call_1", "21C", false)],
            },
            Message {
                role: Role::User,
                content: vec![result("call_2", "denied", true)],
            },
            text(Role::Assistant, ""),
        ],
        ..Request::default()
    };
    let body = encode(&request).unwrap();
    assert_eq!(
        body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get", "args": {"x": 1}},
                 "thoughtSignature": "skip_thought_signature_validator"},
                {"functionCall": {"name": "put", "args": {}}},
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get", "response": {"output": "21C"}}},
                {"functionResponse": {"name": "put", "response": {"error": "denied"}}},
                {"text": "after"},
            ]},
        ])
    );
}

#[test]
fn responses_follow_the_order_of_their_calls() {
    let request = Request {
        messages: vec![
            Message {
                role: Role::Assistant,
                content: vec![
                    call("c1", "get", r#"{"city":"A"}"#),
                    call("c2", "get", r#"{"city":"B"}"#),
                ],
            },
            Message {
                role: Role::User,
                content: vec![
                    result("c2", "B is 18C", false),
                    result("c1", "A is 21C", false),
                ],
            },
        ],
        ..Request::default()
    };
    let body = encode(&request).unwrap();
    let outputs: Vec<&Value> = body["contents"][1]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["functionResponse"]["response"]["output"])
        .collect();
    assert_eq!(outputs, [&json!("A is 21C"), &json!("B is 18C")]);
}

#[test]
fn result_without_its_call_is_refused() {
    let request = Request {
        messages: vec![Message {
            role: Role::User,
            content: vec![result("call_9", "x", false)],
        }],
        ..Request::default()
    };
    let err = encode(&request).unwrap_err();
    assert!(err.to_string().contains("tool call"), "{err}");
}

#[test]
fn signatures_go_back_where_gemini_put_them() {
    let packed = ids::pack("call_r_0", Some("Q+/x"));
    let request = Request {
        messages: vec![
            text(Role::User, "q"),
            Message {
                role: Role::Assistant,
                content: vec![
                    ContentPart::Thinking {
                        text: "Plan.".into(),
                        signature: Some("dGV4dA==".into()),
                    },
                    ContentPart::text("Checking."),
                    call(&packed, "get", "{}"),
                    call("call_r_1", "get", "{}"),
                    ContentPart::RedactedThinking { data: "x".into() },
                    ContentPart::Thinking {
                        text: String::new(),
                        signature: Some("dGFpbA==".into()),
                    },
                ],
            },
            Message {
                role: Role::User,
                content: vec![result(&packed, "1", false), result("call_r_1", "2", false)],
            },
        ],
        ..Request::default()
    };
    let body = encode(&request).unwrap();
    assert_eq!(
        body["contents"][1]["parts"],
        json!([
            {"text": "Plan.", "thought": true},
            {"text": "Checking.", "thoughtSignature": "dGV4dA=="},
            {"functionCall": {"name": "get", "args": {}}, "thoughtSignature": "Q+/x"},
            {"functionCall": {"name": "get", "args": {}}},
            {"text": "", "thoughtSignature": "dGFpbA=="},
        ])
    );
    let responses = &body["contents"][2]["parts"];
    assert_eq!(responses[0]["functionResponse"]["name"], "get");
    assert!(
        body.to_string().find("\"id\"").is_none(),
        "no ids go to Gemini"
    );
}

#[test]
fn malformed_arguments_are_wrapped_not_invented() {
    assert_eq!(arguments_to_args(""), json!({}));
    assert_eq!(arguments_to_args(r#"{"a":1}"#), json!({"a": 1}));
    assert_eq!(
        arguments_to_args(r#"{"a":"#),
        json!({"arguments": "{\"a\":"})
    );
    assert_eq!(arguments_to_args("[1]"), json!({"arguments": "[1]"}));
}

#[test]
fn images_inline_and_by_uri() {
    let request = Request {
        messages: vec![Message {
            role: Role::User,
            content: vec![
                ContentPart::Image {
                    source: ImageSource::Base64 {
                        media_type: "image/png".into(),
                        data: "iVBORw0KGgo=".into(),
                    },
                    cache_control: None,
                },
                ContentPart::Image {
                    source: ImageSource::Url("https://example.com/a.WEBP?x=1".into()),
                    cache_control: None,
                },
                ContentPart::Image {
                    source: ImageSource::Url("gs://bucket/photo".into()),
                    cache_control: None,
                },
            ],
        }],
        ..Request::default()
    };
    assert_eq!(
        encode(&request).unwrap()["contents"][0]["parts"],
        json!([
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/a.WEBP?x=1"}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://bucket/photo"}},
        ])
    );
}

#[test]
fn decode_pairs_responses_by_id_then_by_name() {
    let body = json!({"contents": [
        {"role": "user", "parts": [{"text": "q"}]},
        {"role": "model", "parts": [
            {"functionCall": {"name": "a", "args": {}}, "thoughtSignature": "c2ln"},
            {"functionCall": {"name": "b", "args": {"k": 1}}},
            {"functionCall": {"name": "a", "args": {"n": 2}, "id": "g-7"}},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "a", "id": "g-7", "response": {"output": "third"}}},
            {"functionResponse": {"name": "b", "response": {"error": "bad"}}},
            {"functionResponse": {"name": "a", "response": {"temp": 3}}},
        ]},
    ]});
    let request = decode(&body).unwrap();
    let ids: Vec<&str> = request.messages[1]
        .content
        .iter()
        .map(|p| match p {
            ContentPart::ToolCall { id, .. } => id.as_str(),
            _ => "",
        })
        .collect();
    assert_eq!(
        ids,
        ["call_gemini_0__thought__c2ln", "call_gemini_1", "g-7"]
    );
    assert_eq!(
        request.messages[2].content,
        vec![
            result("g-7", "third", false),
            result("call_gemini_1", "bad", true),
            result("call_gemini_0__thought__c2ln", r#"{"temp":3}"#, false),
        ]
    );
    let orphan = json!({"contents": [{"role": "user", "parts": [
        {"functionResponse": {"name": "x", "response": {}}}]}]});
    assert!(decode(&orphan).is_err());
}

#[test]
fn decode_reads_config_and_refuses_server_tools() {
    let body = json!({
        "contents": [{"parts": [{"text": "hi"}]}],
        "systemInstruction": {"role": "user", "parts": [{"text": "s"}]},
        "tools": [{"functionDeclarations": [{"name": "f", "parameters_json_schema": {}}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f", "g"]}},
        "generationConfig": {"temperature": 0.0, "thinkingConfig": {"thinkingLevel": "HIGH"},
            "responseMimeType": "application/json", "responseModalities": ["TEXT"]},
    });
    let request = decode(&body).unwrap();
    assert_eq!(request.tool_choice, Some(ToolChoice::Required));
    assert_eq!(request.temperature, Some(0.0));
    assert_eq!(
        request.reasoning,
        Some(Reasoning::Effort(ReasoningEffort::High))
    );
    assert_eq!(request.response_format, Some(ResponseFormat::JsonObject));
    assert_eq!(request.system[0].text, "s");
    let search = json!({"contents": [], "tools": [{"googleSearch": {}}]});
    assert!(
        matches!(decode(&search), Err(FieldError::Unsupported { path, .. }) if path == "tools[0]")
    );
}
