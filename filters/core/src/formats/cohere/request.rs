//! Cohere v2 chat requests.

use serde_json::{json, Map, Value};

use crate::formats::fields::{wrong_type, FieldError, Fields};
use crate::formats::openai_shapes::{
    decode_conversation, decode_image_part, decode_tool_calls, encode_user_turn, function_tool,
    tool_call, tool_definition,
};
use crate::model::{
    ContentPart, Message, Reasoning, Request, ResponseFormat, Role, SystemPart, ToolChoice,
    ToolResultPart,
};

/// Cohere's temperature range is 0–1.
const MAX_TEMPERATURE: f64 = 1.0;
/// Cohere's `p` (top-p) range.
const MIN_P: f64 = 0.01;
const MAX_P: f64 = 0.99;
/// Cohere's largest `k` (top-k).
const MAX_K: u64 = 500;
/// Cohere's frequency and presence penalties range over 0–1 (OpenAI's over -2–2).
const MAX_PENALTY: f64 = 1.0;
/// Cohere accepts at most this many stop sequences.
const MAX_STOP_SEQUENCES: usize = 5;

// === passthrough ===

/// Prepares a Cohere body for a Cohere provider: only the model changes. Cohere streams
/// always report usage, so nothing else is needed to count tokens.
pub fn prepare_passthrough(body: &mut Value, model: &str) {
    crate::formats::replace_model(body, model);
}

// === decode ===

/// Decodes a client's v2 chat body. System messages are hoisted into the canonical system
/// prompt (their position among the turns is not kept); `documents` cannot be carried to
/// other providers and is refused; `safety_mode`, `citation_options` and other
/// Cohere-only knobs are ignored.
pub fn decode(body: &Value) -> Result<Request, FieldError> {
    let root = Fields::new(body, "")?;
    if root.has("documents") {
        return Err(FieldError::unsupported(
            "documents",
            "cannot be translated for this provider",
        ));
    }
    let mut request = Request {
        model: root.str("model")?.unwrap_or_default().to_owned(),
        max_output_tokens: root.u64("max_tokens")?,
        temperature: root.f64("temperature")?,
        top_p: root.f64("p")?,
        top_k: root.u64("k")?,
        seed: root.i64("seed")?,
        frequency_penalty: root.f64("frequency_penalty")?,
        presence_penalty: root.f64("presence_penalty")?,
        stream: root.bool("stream")?.unwrap_or(false),
        reasoning: decode_thinking(&root)?,
        response_format: decode_response_format(&root)?,
        tool_choice: decode_tool_choice(&root)?,
        ..Request::default()
    };
    request.stop_sequences = root.strings("stop_sequences")?;
    decode_conversation(&root, &mut request, decode_message)?;
    Ok(request)
}

fn decode_message(message: &Fields, request: &mut Request) -> Result<(), FieldError> {
    match message.required_str("role")? {
        "system" => {
            for text in text_content(message)? {
                request.system.push(SystemPart {
                    text,
                    cache_control: None,
                });
            }
        }
        "user" => request.messages.push(Message {
            role: Role::User,
            content: user_content(message)?,
        }),
        "assistant" => request.messages.push(Message {
            role: Role::Assistant,
            content: assistant_content(message)?,
        }),
        "tool" => request.messages.push(Message {
            role: Role::User,
            content: vec![ContentPart::ToolResult {
                call_id: message.required_str("tool_call_id")?.to_owned(),
                content: tool_content(message)?,
                is_error: false,
                cache_control: None,
            }],
        }),
        _ => {
            return Err(FieldError::unsupported(
                message.path("role"),
                "must be one of system, user, assistant, tool",
            ))
        }
    }
    Ok(())
}

/// The parts of a `content` that is a string or an array of typed parts, each read by
/// `part` (which returns `None` for parts the message may carry but that hold nothing).
fn content_parts<T>(
    message: &Fields,
    mut part: impl FnMut(&Fields) -> Result<Option<T>, FieldError>,
    from_text: impl Fn(String) -> T,
) -> Result<Vec<T>, FieldError> {
    match message.get("content") {
        None => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![from_text(text.clone())]),
        Some(Value::Array(_)) => {
            let mut out = Vec::new();
            for (path, item) in message.items("content")? {
                out.extend(part(&Fields::new(item, path)?)?);
            }
            Ok(out)
        }
        Some(_) => Err(wrong_type(
            &message.path("content"),
            "a string or an array of content parts",
        )),
    }
}

fn unsupported_part(part: &Fields, allowed: &'static str) -> FieldError {
    FieldError::unsupported(part.path("type"), allowed)
}

fn text_content(message: &Fields) -> Result<Vec<String>, FieldError> {
    content_parts(
        message,
        |part| match part.required_str("type")? {
            "text" => Ok(Some(part.required_str("text")?.to_owned())),
            _ => Err(unsupported_part(part, "must be 'text' in this message")),
        },
        |text| text,
    )
}

fn user_content(message: &Fields) -> Result<Vec<ContentPart>, FieldError> {
    if !message.has("content") {
        return Err(message.missing("content"));
    }
    content_parts(
        message,
        |part| match part.required_str("type")? {
            "text" => Ok(Some(ContentPart::text(part.required_str("text")?))),
            "image_url" => Ok(Some(ContentPart::Image {
                source: decode_image_part(part)?,
                cache_control: None,
            })),
            _ => Err(unsupported_part(part, "must be 'text' or 'image_url'")),
        },
        ContentPart::text,
    )
}

/// Thinking, text, the tool plan, then the tool calls: the order Cohere produces them in.
fn assistant_content(message: &Fields) -> Result<Vec<ContentPart>, FieldError> {
    let mut parts = content_parts(
        message,
        |part| match part.required_str("type")? {
            "text" => Ok(Some(ContentPart::text(part.required_str("text")?))),
            "thinking" => Ok(Some(ContentPart::Thinking {
                text: part.str("thinking")?.unwrap_or_default().to_owned(),
                signature: None,
            })),
            _ => Err(unsupported_part(part, "must be 'text' or 'thinking'")),
        },
        ContentPart::text,
    )?;
    if let Some(plan) = message.str("tool_plan")?.filter(|p| !p.is_empty()) {
        parts.push(ContentPart::text(plan));
    }
    parts.extend(decode_tool_calls(message)?);
    Ok(parts)
}

/// A tool result's text: `text` parts, and `document` parts whose data is sent as text.
fn tool_content(message: &Fields) -> Result<Vec<ToolResultPart>, FieldError> {
    content_parts(
        message,
        |part| match part.required_str("type")? {
            "text" => Ok(Some(ToolResultPart::Text(
                part.required_str("text")?.to_owned(),
            ))),
            "document" => {
                let document = part
                    .object("document")?
                    .ok_or_else(|| part.missing("document"))?;
                Ok(Some(ToolResultPart::Text(match document.get("data") {
                    Some(Value::String(text)) => text.clone(),
                    Some(other) => other.to_string(),
                    None => return Err(document.missing("data")),
                })))
            }
            _ => Err(unsupported_part(part, "must be 'text' or 'document'")),
        },
        ToolResultPart::Text,
    )
}

fn decode_tool_choice(root: &Fields) -> Result<Option<ToolChoice>, FieldError> {
    Ok(match root.str("tool_choice")? {
        None => None,
        Some("REQUIRED") => Some(ToolChoice::Required),
        Some("NONE") => Some(ToolChoice::None),
        Some(_) => {
            return Err(FieldError::unsupported(
                "tool_choice",
                "must be 'REQUIRED' or 'NONE'",
            ))
        }
    })
}

fn decode_thinking(root: &Fields) -> Result<Option<Reasoning>, FieldError> {
    let Some(thinking) = root.object("thinking")? else {
        return Ok(None);
    };
    Ok(Some(match thinking.required_str("type")? {
        "disabled" => Reasoning::Disabled,
        "enabled" => match thinking.u64("token_budget")? {
            Some(budget) => Reasoning::Budget(budget),
            // Enabled without a budget: the model's own default depth.
            None => Reasoning::Effort(crate::model::ReasoningEffort::Medium),
        },
        _ => {
            return Err(FieldError::unsupported(
                thinking.path("type"),
                "must be 'enabled' or 'disabled'",
            ))
        }
    }))
}

fn decode_response_format(root: &Fields) -> Result<Option<ResponseFormat>, FieldError> {
    let Some(format) = root.object("response_format")? else {
        return Ok(None);
    };
    Ok(Some(match format.required_str("type")? {
        "text" => ResponseFormat::Text,
        "json_object" => match format.get("json_schema") {
            None => ResponseFormat::JsonObject,
            Some(schema) => ResponseFormat::JsonSchema {
                name: "response".to_owned(),
                schema: schema.clone(),
                strict: None,
            },
        },
        _ => {
            return Err(FieldError::unsupported(
                format.path("type"),
                "must be 'text' or 'json_object'",
            ))
        }
    }))
}

// === encode ===

/// Encodes a canonical request as a v2 chat body for `model`.
///
/// Cohere keeps `system` messages in the message list, so the system prompt is one
/// `system` message first. Turns need no alternation; tool results are `tool` messages
/// right after the assistant message with the calls, and the text of an assistant turn
/// with tool calls is its `tool_plan`. `tool_choice` is `REQUIRED` or `NONE` (auto is the
/// default and is left out); a named tool has no Cohere form, so it becomes `REQUIRED`
/// with only that tool offered. Ranges are clamped: temperature 0–1, `p` 0.01–0.99, `k` up
/// to 500, penalties 0–1, at most five stop sequences. JSON-schema mode becomes
/// `json_object` with `json_schema`; a reasoning budget becomes `thinking.token_budget`.
///
/// Dropped because Cohere v2 cannot express them: cache markers, thinking in the history
/// (Cohere takes no reasoning back), `is_error` on tool results, `parallel_tool_calls`,
/// `strict` on tools, `user`.
pub fn encode(request: &Request, model: &str) -> Result<Value, FieldError> {
    if request.candidate_count.is_some_and(|n| n > 1) {
        return Err(FieldError::unsupported(
            "n",
            "greater than 1 is not supported by this provider",
        ));
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(encode_messages(request)));
    encode_tools(request, &mut body);
    if let Some(max) = request.max_output_tokens {
        body.insert("max_tokens".into(), json!(max));
    }
    if let Some(temperature) = request.temperature {
        body.insert(
            "temperature".into(),
            json!(temperature.clamp(0.0, MAX_TEMPERATURE)),
        );
    }
    if let Some(p) = request.top_p {
        body.insert("p".into(), json!(p.clamp(MIN_P, MAX_P)));
    }
    if let Some(k) = request.top_k {
        body.insert("k".into(), json!(k.min(MAX_K)));
    }
    if !request.stop_sequences.is_empty() {
        let stop: Vec<&String> = request
            .stop_sequences
            .iter()
            .take(MAX_STOP_SEQUENCES)
            .collect();
        body.insert("stop_sequences".into(), json!(stop));
    }
    if let Some(seed) = request.seed {
        body.insert("seed".into(), json!(seed));
    }
    for (key, penalty) in [
        ("frequency_penalty", request.frequency_penalty),
        ("presence_penalty", request.presence_penalty),
    ] {
        if let Some(penalty) = penalty {
            body.insert(key.into(), json!(penalty.clamp(0.0, MAX_PENALTY)));
        }
    }
    match &request.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            body.insert(
                "response_format".into(),
                json!({"type": "json_object", "json_schema": schema}),
            );
        }
    }
    match request.reasoning {
        None => {}
        Some(Reasoning::Disabled) => {
            body.insert("thinking".into(), json!({"type": "disabled"}));
        }
        Some(reasoning) => {
            if let Some(budget) = reasoning.budget_tokens() {
                body.insert(
                    "thinking".into(),
                    json!({"type": "enabled", "token_budget": budget}),
                );
            }
        }
    }
    body.insert("stream".into(), json!(request.stream));
    Ok(Value::Object(body))
}

fn encode_messages(request: &Request) -> Vec<Value> {
    let mut messages = Vec::new();
    if !request.system.is_empty() {
        let text: Vec<&str> = request.system.iter().map(|p| p.text.as_str()).collect();
        messages.push(json!({"role": "system", "content": text.join("\n\n")}));
    }
    for message in &request.messages {
        match message.role {
            Role::User => encode_user_turn(message, &mut messages),
            Role::Assistant => messages.extend(encode_assistant(message)),
        }
    }
    messages
}

fn encode_assistant(message: &Message) -> Option<Value> {
    let mut text = String::new();
    let mut calls = Vec::new();
    for part in &message.content {
        match part {
            ContentPart::Text { text: t, .. } => text.push_str(t),
            ContentPart::ToolCall {
                id,
                name,
                arguments,
            } => {
                // Cohere parses the arguments; an empty string is no object.
                let arguments = if arguments.trim().is_empty() {
                    "{}"
                } else {
                    arguments
                };
                calls.push(tool_call(id, name, arguments));
            }
            _ => {}
        }
    }
    let mut out = Map::new();
    out.insert("role".into(), json!("assistant"));
    match (calls.is_empty(), text.is_empty()) {
        (true, true) => return None,
        (true, false) => {
            out.insert("content".into(), json!(text));
        }
        (false, _) => {
            if !text.is_empty() {
                out.insert("tool_plan".into(), json!(text));
            }
            out.insert("tool_calls".into(), Value::Array(calls));
        }
    }
    Some(Value::Object(out))
}

fn encode_tools(request: &Request, body: &mut Map<String, Value>) {
    if request.tools.is_empty() {
        return;
    }
    let named = match &request.tool_choice {
        Some(ToolChoice::Tool(name)) => request.tools.iter().find(|t| &t.name == name),
        _ => None,
    };
    let offered: Vec<Value> = match named {
        Some(tool) => vec![tool_definition(function_tool(tool))],
        None => request
            .tools
            .iter()
            .map(|tool| tool_definition(function_tool(tool)))
            .collect(),
    };
    body.insert("tools".into(), Value::Array(offered));
    let choice = match &request.tool_choice {
        None | Some(ToolChoice::Auto) => return,
        Some(ToolChoice::None) => "NONE",
        Some(ToolChoice::Required | ToolChoice::Tool(_)) => "REQUIRED",
    };
    body.insert("tool_choice".into(), json!(choice));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ReasoningEffort, ToolDefinition};

    fn tool(name: &str) -> ToolDefinition {
        ToolDefinition {
            name: name.into(),
            description: None,
            parameters: json!({"type": "object"}),
            strict: Some(true),
            cache_control: None,
        }
    }

    fn encode_ok(request: &Request) -> Value {
        encode(request, "command-a").unwrap()
    }

    // Field guide §4.7, pitfall 1: Cohere v2 keeps the system prompt as a message.
    #[test]
    fn system_prompt_is_the_first_message() {
        let request = Request {
            system: vec![
                SystemPart {
                    text: "a".into(),
                    cache_control: Some(json!({"type": "ephemeral"})),
                },
                SystemPart {
                    text: "b".into(),
                    cache_control: None,
                },
            ],
            messages: vec![Message {
                role: Role::User,
                content: vec![ContentPart::text("hi")],
            }],
            ..Request::default()
        };
        let body = encode_ok(&request);
        assert_eq!(
            body["messages"],
            json!([{"role": "system", "content": "a\n\nb"}, {"role": "user", "content": "hi"}])
        );
        assert!(body.get("preamble").is_none());
    }

    // Pitfalls 2, 6 and 7: tool results follow the calls, ids are kept, empty arguments
    // become an object, the assistant's text is the tool plan.
    #[test]
    fn tool_turns() {
        let request = Request {
            messages: vec![
                Message {
                    role: Role::Assistant,
                    content: vec![
                        ContentPart::Thinking {
                            text: "hidden".into(),
                            signature: Some("sig".into()),
                        },
                        ContentPart::text("I will look."),
                        ContentPart::ToolCall {
                            id: "toolu_01".into(),
                            name: "f".into(),
                            arguments: String::new(),
                        },
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![
                        ContentPart::ToolResult {
                            call_id: "toolu_01".into(),
                            content: vec![ToolResultPart::Text("42".into())],
                            is_error: true,
                            cache_control: None,
                        },
                        ContentPart::text("thanks"),
                    ],
                },
            ],
            ..Request::default()
        };
        assert_eq!(
            encode_ok(&request)["messages"],
            json!([
                {"role": "assistant", "tool_plan": "I will look.", "tool_calls": [
                    {"id": "toolu_01", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "toolu_01", "content": "42"},
                {"role": "user", "content": "thanks"},
            ])
        );
    }

    // Pitfalls 4 and 9: OpenAI-shaped tools without `strict`; tool_choice in upper case.
    #[test]
    fn tools_and_tool_choice() {
        let with = |choice: Option<ToolChoice>| {
            encode_ok(&Request {
                tools: vec![tool("a"), tool("b")],
                tool_choice: choice,
                ..Request::default()
            })
        };
        let auto = with(Some(ToolChoice::Auto));
        assert!(auto.get("tool_choice").is_none());
        assert_eq!(
            auto["tools"][0],
            json!({"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}})
        );
        assert_eq!(with(Some(ToolChoice::Required))["tool_choice"], "REQUIRED");
        assert_eq!(with(Some(ToolChoice::None))["tool_choice"], "NONE");
        let named = with(Some(ToolChoice::Tool("b".into())));
        assert_eq!(named["tool_choice"], "REQUIRED");
        assert_eq!(named["tools"].as_array().unwrap().len(), 1);
        assert_eq!(named["tools"][0]["function"]["name"], "b");
        let without_tools = encode_ok(&Request {
            tool_choice: Some(ToolChoice::Required),
            ..Request::default()
        });
        assert!(without_tools.get("tool_choice").is_none());
    }

    // Pitfalls 3 and 13: max_tokens passes through unchanged; sampling is clamped.
    #[test]
    fn sampling_is_renamed_and_clamped() {
        let body = encode_ok(&Request {
            max_output_tokens: Some(300),
            temperature: Some(1.7),
            top_p: Some(1.0),
            top_k: Some(900),
            frequency_penalty: Some(-0.5),
            presence_penalty: Some(1.5),
            seed: Some(-7),
            stop_sequences: (0..7).map(|i| i.to_string()).collect(),
            ..Request::default()
        });
        assert_eq!(body["max_tokens"], 300);
        assert_eq!(body["temperature"], 1.0);
        assert_eq!(body["p"], 0.99);
        assert_eq!(body["k"], 500);
        assert_eq!(body["frequency_penalty"], 0.0);
        assert_eq!(body["presence_penalty"], 1.0);
        assert_eq!(body["seed"], -7);
        assert_eq!(body["stop_sequences"], json!(["0", "1", "2", "3", "4"]));
        assert!(body.get("top_p").is_none() && body.get("stop").is_none());
        assert_eq!(body["stream"], false);
    }

    // Pitfall 15: structured output.
    #[test]
    fn response_formats() {
        let with = |format| {
            encode_ok(&Request {
                response_format: Some(format),
                ..Request::default()
            })["response_format"]
                .clone()
        };
        assert_eq!(
            with(ResponseFormat::JsonObject),
            json!({"type": "json_object"})
        );
        assert_eq!(
            with(ResponseFormat::JsonSchema {
                name: "x".into(),
                schema: json!({"type": "object"}),
                strict: Some(true)
            }),
            json!({"type": "json_object", "json_schema": {"type": "object"}})
        );
        assert!(with(ResponseFormat::Text).is_null());
    }

    #[test]
    fn reasoning_becomes_thinking() {
        let with = |reasoning| {
            encode_ok(&Request {
                reasoning: Some(reasoning),
                ..Request::default()
            })["thinking"]
                .clone()
        };
        assert_eq!(
            with(Reasoning::Budget(2000)),
            json!({"type": "enabled", "token_budget": 2000})
        );
        assert_eq!(
            with(Reasoning::Effort(ReasoningEffort::Low)),
            json!({"type": "enabled", "token_budget": 2048})
        );
        assert_eq!(with(Reasoning::Disabled), json!({"type": "disabled"}));
    }

    #[test]
    fn several_candidates_are_refused() {
        let request = Request {
            candidate_count: Some(2),
            ..Request::default()
        };
        assert!(matches!(
            encode(&request, "m"),
            Err(FieldError::Unsupported { .. })
        ));
    }

    #[test]
    fn decodes_a_client_body() {
        let body = json!({
            "model": "command-a", "stream": true, "p": 0.5, "k": 40, "max_tokens": 10,
            "tool_choice": "REQUIRED", "stop_sequences": ["x"],
            "thinking": {"type": "enabled", "token_budget": 1500},
            "response_format": {"type": "json_object", "json_schema": {"type": "object"}},
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": "s"}]},
                {"role": "user", "content": [{"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
                {"role": "assistant", "tool_plan": "plan", "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": [
                    {"type": "document", "document": {"data": {"t": 21}}}]},
            ],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        });
        let r = decode(&body).unwrap();
        assert_eq!(r.system[0].text, "s");
        assert_eq!((r.top_p, r.top_k), (Some(0.5), Some(40)));
        assert_eq!(r.tool_choice, Some(ToolChoice::Required));
        assert_eq!(r.reasoning, Some(Reasoning::Budget(1500)));
        assert!(matches!(
            r.response_format,
            Some(ResponseFormat::JsonSchema { .. })
        ));
        assert_eq!(r.messages.len(), 3);
        assert_eq!(
            r.messages[1].content,
            vec![
                ContentPart::text("plan"),
                ContentPart::ToolCall {
                    id: "c1".into(),
                    name: "f".into(),
                    arguments: "{}".into()
                }
            ]
        );
        assert_eq!(
            r.messages[2].content,
            vec![ContentPart::ToolResult {
                call_id: "c1".into(),
                content: vec![ToolResultPart::Text(r#"{"t":21}"#.into())],
                is_error: false,
                cache_control: None,
            }]
        );
    }

    #[test]
    fn decode_errors_name_fields() {
        let err = decode(&json!({"messages": [], "documents": []})).unwrap_err();
        assert!(matches!(err, FieldError::Unsupported { ref path, .. } if path == "documents"));
        let err = decode(&json!({"messages": [], "tool_choice": "AUTO"})).unwrap_err();
        assert!(matches!(err, FieldError::Unsupported { ref path, .. } if path == "tool_choice"));
        let err = decode(&json!({"messages": [{"role": "user"}]})).unwrap_err();
        assert_eq!(
            err,
            FieldError::Missing {
                path: "messages[0].content".into()
            }
        );
    }
}
