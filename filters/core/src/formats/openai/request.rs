//! OpenAI Chat Completions requests.
//!
//! Reasoning round-trips use LiteLLM's convention, the de facto one for OpenAI-shaped clients
//! of Anthropic models: assistant messages may carry `thinking_blocks` (Anthropic-shaped
//! blocks with signatures) and `reasoning_content`.

use serde_json::{json, Map, Value};

use crate::formats::fields::{string_or_strings, wrong_type, FieldError, Fields};
use crate::formats::openai_shapes::{
    decode_conversation, decode_image_part, decode_tool_calls, encode_user_turn, function_tool,
    tool_call, tool_definition,
};
use crate::model::{
    ContentPart, Message, Reasoning, ReasoningEffort, Request, ResponseFormat, Role, SystemPart,
    ToolChoice, ToolDefinition, ToolResultPart,
};

/// OpenAI allows at most this many stop sequences.
const MAX_STOP_SEQUENCES: usize = 4;

// === passthrough ===

/// Prepares an OpenAI body for an OpenAI provider: only the model changes, and streams always
/// ask for usage so the gateway can count tokens (the translator strips the extra usage chunk
/// again when the client did not ask for it). Unknown fields are kept as they are.
pub fn prepare_passthrough(body: &mut Value, model: &str, stream: bool) {
    let Some(map) = body.as_object_mut() else {
        return;
    };
    map.insert("model".into(), Value::String(model.to_owned()));
    if stream {
        let options = map
            .entry("stream_options")
            .or_insert_with(|| Value::Object(Map::new()));
        if !options.is_object() {
            *options = Value::Object(Map::new());
        }
        if let Some(options) = options.as_object_mut() {
            options.insert("include_usage".into(), Value::Bool(true));
        }
    }
}

/// Whether the client itself asked for the usage chunk of a stream.
pub fn wants_stream_usage(body: &Value) -> bool {
    body.pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

// === decode ===

/// Decodes a client's Chat Completions body.
pub fn decode(body: &Value) -> Result<Request, FieldError> {
    let root = Fields::new(body, "")?;
    for legacy in ["functions", "function_call"] {
        if root.has(legacy) {
            return Err(FieldError::unsupported(
                legacy,
                "is deprecated and not supported; use 'tools' and 'tool_choice'",
            ));
        }
    }
    let mut request = Request {
        model: root.str("model")?.unwrap_or_default().to_owned(),
        max_output_tokens: match root.u64("max_completion_tokens")? {
            Some(max) => Some(max),
            None => root.u64("max_tokens")?,
        },
        temperature: root.f64("temperature")?,
        top_p: root.f64("top_p")?,
        stop_sequences: string_or_strings(&root, "stop")?,
        seed: root.i64("seed")?,
        frequency_penalty: root.f64("frequency_penalty")?,
        presence_penalty: root.f64("presence_penalty")?,
        candidate_count: root.u64("n")?,
        parallel_tool_calls: root.bool("parallel_tool_calls")?,
        user: root.str("user")?.map(str::to_owned),
        stream: root.bool("stream")?.unwrap_or(false),
        reasoning: decode_reasoning(&root)?,
        response_format: decode_response_format(&root)?,
        tool_choice: decode_tool_choice(&root)?,
        ..Request::default()
    };
    decode_conversation(&root, &mut request, decode_message)?;
    Ok(request)
}

fn decode_message(message: &Fields, request: &mut Request) -> Result<(), FieldError> {
    match message.required_str("role")? {
        "system" | "developer" => {
            for (text, cache_control) in text_parts(message, "content")? {
                request.system.push(SystemPart {
                    text,
                    cache_control,
                });
            }
        }
        "user" => {
            let content = user_content(message)?;
            request.messages.push(Message {
                role: Role::User,
                content,
            });
        }
        "assistant" => {
            let content = assistant_content(message)?;
            request.messages.push(Message {
                role: Role::Assistant,
                content,
            });
        }
        "tool" => {
            let call_id = message.required_str("tool_call_id")?.to_owned();
            let content = text_parts(message, "content")?
                .into_iter()
                .map(|(text, _)| ToolResultPart::Text(text))
                .collect();
            request.messages.push(Message {
                role: Role::User,
                content: vec![ContentPart::ToolResult {
                    call_id,
                    content,
                    is_error: false,
                    cache_control: None,
                }],
            });
        }
        _ => {
            return Err(FieldError::unsupported(
                message.path("role"),
                "must be one of system, developer, user, assistant, tool",
            ))
        }
    }
    Ok(())
}

/// Content that may only hold text: a string or an array of `text` (or `refusal`) parts,
/// each with its cache marker.
fn text_parts(message: &Fields, key: &str) -> Result<Vec<(String, Option<Value>)>, FieldError> {
    match message.get(key) {
        None => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![(text.clone(), None)]),
        Some(Value::Array(_)) => {
            let mut texts = Vec::new();
            for (path, part) in message.items(key)? {
                let part = Fields::new(part, path)?;
                let text = match part.required_str("type")? {
                    "text" => part.required_str("text")?,
                    "refusal" => part.required_str("refusal")?,
                    _ => {
                        return Err(FieldError::unsupported(
                            part.path("type"),
                            "must be 'text' in this message",
                        ))
                    }
                };
                texts.push((text.to_owned(), cache_control(&part)));
            }
            Ok(texts)
        }
        Some(_) => Err(wrong_type(
            &message.path(key),
            "a string or an array of content parts",
        )),
    }
}

fn user_content(message: &Fields) -> Result<Vec<ContentPart>, FieldError> {
    match message.get("content") {
        None => Err(message.missing("content")),
        Some(Value::String(text)) => Ok(vec![ContentPart::text(text.clone())]),
        Some(Value::Array(_)) => {
            let mut parts = Vec::new();
            for (path, part) in message.items("content")? {
                let part = Fields::new(part, path)?;
                parts.push(match part.required_str("type")? {
                    "text" => ContentPart::Text {
                        text: part.required_str("text")?.to_owned(),
                        cache_control: cache_control(&part),
                    },
                    "image_url" => ContentPart::Image {
                        source: decode_image_part(&part)?,
                        cache_control: cache_control(&part),
                    },
                    "input_audio" | "file" => {
                        return Err(FieldError::unsupported(
                            part.path("type"),
                            "cannot be translated for this provider",
                        ))
                    }
                    _ => {
                        return Err(FieldError::unsupported(
                            part.path("type"),
                            "must be 'text' or 'image_url'",
                        ))
                    }
                });
            }
            Ok(parts)
        }
        Some(_) => Err(wrong_type(
            &message.path("content"),
            "a string or an array of content parts",
        )),
    }
}

/// Anthropic-style `cache_control` on a content part, as LiteLLM and OpenRouter accept it
/// from OpenAI clients; used when the provider supports prompt-cache markers.
fn cache_control(part: &Fields) -> Option<Value> {
    part.get("cache_control").cloned()
}

fn assistant_content(message: &Fields) -> Result<Vec<ContentPart>, FieldError> {
    let mut parts = Vec::new();
    if message.has("thinking_blocks") {
        for (path, block) in message.items("thinking_blocks")? {
            parts.push(thinking_block(&Fields::new(block, path)?)?);
        }
    } else if let Some(text) = message.str("reasoning_content")? {
        parts.push(ContentPart::Thinking {
            text: text.to_owned(),
            signature: None,
        });
    }
    for (text, _) in text_parts(message, "content")? {
        parts.push(ContentPart::text(text));
    }
    parts.extend(decode_tool_calls(message)?);
    Ok(parts)
}

fn thinking_block(block: &Fields) -> Result<ContentPart, FieldError> {
    match block.required_str("type")? {
        "thinking" => Ok(ContentPart::Thinking {
            text: block.str("thinking")?.unwrap_or_default().to_owned(),
            signature: block.str("signature")?.map(str::to_owned),
        }),
        "redacted_thinking" => Ok(ContentPart::RedactedThinking {
            data: block.required_str("data")?.to_owned(),
        }),
        _ => Err(FieldError::unsupported(
            block.path("type"),
            "must be 'thinking' or 'redacted_thinking'",
        )),
    }
}

fn decode_tool_choice(root: &Fields) -> Result<Option<ToolChoice>, FieldError> {
    let path = root.path("tool_choice");
    Ok(Some(match root.get("tool_choice") {
        None => return Ok(None),
        Some(Value::String(choice)) => match choice.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => {
                return Err(FieldError::unsupported(
                    path,
                    "must be 'auto', 'none', 'required' or a function",
                ))
            }
        },
        Some(_) => {
            let choice = root
                .object("tool_choice")?
                .ok_or_else(|| root.missing("tool_choice"))?;
            if choice.str("type")? != Some("function") {
                return Err(FieldError::unsupported(
                    choice.path("type"),
                    "must be 'function'",
                ));
            }
            let function = choice
                .object("function")?
                .ok_or_else(|| choice.missing("function"))?;
            ToolChoice::Tool(function.required_str("name")?.to_owned())
        }
    }))
}

fn decode_reasoning(root: &Fields) -> Result<Option<Reasoning>, FieldError> {
    Ok(match root.str("reasoning_effort")? {
        None => None,
        Some("none") => Some(Reasoning::Disabled),
        Some(level) => Some(Reasoning::Effort(
            ReasoningEffort::parse(level).ok_or_else(|| {
                FieldError::unsupported(
                    "reasoning_effort",
                    "must be one of none, minimal, low, medium, high, xhigh",
                )
            })?,
        )),
    })
}

fn decode_response_format(root: &Fields) -> Result<Option<ResponseFormat>, FieldError> {
    let Some(format) = root.object("response_format")? else {
        return Ok(None);
    };
    Ok(Some(match format.required_str("type")? {
        "text" => ResponseFormat::Text,
        "json_object" => ResponseFormat::JsonObject,
        "json_schema" => {
            let spec = format
                .object("json_schema")?
                .ok_or_else(|| format.missing("json_schema"))?;
            ResponseFormat::JsonSchema {
                name: spec.str("name")?.unwrap_or("response").to_owned(),
                schema: spec
                    .get("schema")
                    .cloned()
                    .ok_or_else(|| spec.missing("schema"))?,
                strict: spec.bool("strict")?,
            }
        }
        _ => {
            return Err(FieldError::unsupported(
                format.path("type"),
                "must be 'text', 'json_object' or 'json_schema'",
            ))
        }
    }))
}

// === encode ===

/// Encodes a canonical request as a Chat Completions body for `model`.
///
/// Dropped because Chat Completions cannot express them: cache markers, `top_k`, thinking in
/// the history (OpenAI does not take reasoning back), `is_error` on tool results, stop
/// sequences beyond the fourth. Streams always ask for usage.
pub fn encode(request: &Request, model: &str) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(encode_messages(request)));
    if !request.tools.is_empty() {
        let tools = request.tools.iter().map(encode_tool).collect();
        body.insert("tools".into(), Value::Array(tools));
        if let Some(parallel) = request.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), json!(parallel));
        }
    }
    if let Some(choice) = request
        .tool_choice
        .as_ref()
        .filter(|_| !request.tools.is_empty())
    {
        body.insert("tool_choice".into(), encode_tool_choice(choice));
    }
    if let Some(max) = request.max_output_tokens {
        body.insert("max_completion_tokens".into(), json!(max));
    }
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), json!(temperature.clamp(0.0, 2.0)));
    }
    if let Some(top_p) = request.top_p {
        body.insert("top_p".into(), json!(top_p));
    }
    if !request.stop_sequences.is_empty() {
        let stop: Vec<&String> = request
            .stop_sequences
            .iter()
            .take(MAX_STOP_SEQUENCES)
            .collect();
        body.insert("stop".into(), json!(stop));
    }
    if let Some(seed) = request.seed {
        body.insert("seed".into(), json!(seed));
    }
    if let Some(penalty) = request.frequency_penalty {
        body.insert("frequency_penalty".into(), json!(penalty));
    }
    if let Some(penalty) = request.presence_penalty {
        body.insert("presence_penalty".into(), json!(penalty));
    }
    if let Some(n) = request.candidate_count {
        body.insert("n".into(), json!(n));
    }
    if let Some(effort) = request.reasoning.and_then(Reasoning::effort) {
        body.insert("reasoning_effort".into(), json!(effort.as_str()));
    }
    match &request.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        Some(ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        }) => {
            let mut spec = json!({"name": name, "schema": schema});
            if let (Some(strict), Some(spec)) = (strict, spec.as_object_mut()) {
                spec.insert("strict".into(), json!(strict));
            }
            body.insert(
                "response_format".into(),
                json!({"type": "json_schema", "json_schema": spec}),
            );
        }
    }
    if let Some(user) = &request.user {
        body.insert("user".into(), json!(user));
    }
    if request.stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Value::Object(body)
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
            Role::Assistant => {
                if let Some(assistant) = encode_assistant(message) {
                    messages.push(assistant);
                }
            }
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
            } => calls.push(tool_call(id, name, arguments)),
            _ => {}
        }
    }
    if text.is_empty() && calls.is_empty() {
        return None;
    }
    let mut out = Map::new();
    out.insert("role".into(), json!("assistant"));
    let content = if text.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    };
    out.insert("content".into(), content);
    if !calls.is_empty() {
        out.insert("tool_calls".into(), Value::Array(calls));
    }
    Some(Value::Object(out))
}

fn encode_tool(tool: &ToolDefinition) -> Value {
    let mut function = function_tool(tool);
    if let Some(strict) = tool.strict {
        function.insert("strict".into(), json!(strict));
    }
    tool_definition(function)
}

fn encode_tool_choice(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_json(v: Value) -> Result<Request, FieldError> {
        decode(&v)
    }

    #[test]
    fn passthrough_rewrites_model_and_forces_stream_usage() {
        let mut body =
            json!({"model": "alias", "stream": true, "stream_options": {"x": 1}, "unknown": [1]});
        assert!(!wants_stream_usage(&body));
        prepare_passthrough(&mut body, "gpt-4o", true);
        assert_eq!(body["model"], "gpt-4o");
        assert_eq!(
            body["stream_options"],
            json!({"x": 1, "include_usage": true})
        );
        assert_eq!(body["unknown"], json!([1]));
    }

    #[test]
    fn passthrough_leaves_non_streams_alone() {
        let mut body = json!({"model": "alias"});
        prepare_passthrough(&mut body, "m", false);
        assert_eq!(body, json!({"model": "m"}));
    }

    #[test]
    fn system_and_developer_are_hoisted_in_order() {
        let r = decode_json(json!({"messages": [
            {"role": "system", "content": "a"},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": [{"type": "text", "text": "b"}]},
        ]}))
        .unwrap();
        let texts: Vec<&str> = r.system.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["a", "b"]);
        assert_eq!(r.messages.len(), 1);
    }

    #[test]
    fn tool_messages_become_user_tool_results() {
        let r = decode_json(json!({"messages": [
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        ]}))
        .unwrap();
        assert_eq!(
            r.messages[0].content,
            vec![ContentPart::ToolCall {
                id: "call_1".into(),
                name: "f".into(),
                arguments: "{\"a\":1}".into()
            }]
        );
        assert_eq!(r.messages[1].role, Role::User);
        assert!(matches!(
            &r.messages[1].content[0],
            ContentPart::ToolResult { call_id, .. } if call_id == "call_1"
        ));
    }

    #[test]
    fn cache_markers_on_parts_are_kept() {
        let r = decode_json(json!({"messages": [
            {"role": "system", "content": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": [{"type": "text", "text": "u", "cache_control": {"type": "ephemeral"}}]},
        ]}))
        .unwrap();
        assert_eq!(
            r.system[0].cache_control,
            Some(json!({"type": "ephemeral"}))
        );
        assert!(matches!(
            &r.messages[0].content[0],
            ContentPart::Text {
                cache_control: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn tool_choice_needs_tools() {
        let request = Request {
            tool_choice: Some(ToolChoice::Auto),
            ..Request::default()
        };
        assert!(encode(&request, "m").get("tool_choice").is_none());
    }

    #[test]
    fn max_completion_tokens_wins_over_max_tokens() {
        let r = decode_json(json!({"messages": [], "max_tokens": 5, "max_completion_tokens": 7}))
            .unwrap();
        assert_eq!(r.max_output_tokens, Some(7));
    }

    #[test]
    fn errors_name_fields() {
        let err = decode_json(
            json!({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}),
        )
        .unwrap_err();
        assert_eq!(
            err,
            FieldError::unsupported(
                "messages[0].content[0].type",
                "cannot be translated for this provider"
            )
        );
        assert_eq!(
            decode_json(json!({})).unwrap_err(),
            FieldError::Missing {
                path: "messages".into()
            }
        );
        assert!(matches!(
            decode_json(json!({"messages": [], "functions": []})),
            Err(FieldError::Unsupported { .. })
        ));
        assert!(matches!(
            decode_json(json!({"messages": [], "reasoning_effort": "extreme"})),
            Err(FieldError::Unsupported { .. })
        ));
    }

    #[test]
    fn encode_splits_tool_results_before_user_text() {
        let request = Request {
            messages: vec![Message {
                role: Role::User,
                content: vec![
                    ContentPart::ToolResult {
                        call_id: "c".into(),
                        content: vec![ToolResultPart::Text("r".into())],
                        is_error: false,
                        cache_control: None,
                    },
                    ContentPart::text("next"),
                ],
            }],
            ..Request::default()
        };
        let body = encode(&request, "m");
        assert_eq!(
            body["messages"],
            json!([
                {"role": "tool", "tool_call_id": "c", "content": "r"},
                {"role": "user", "content": "next"},
            ])
        );
    }

    #[test]
    fn encode_clamps_temperature_and_caps_stop() {
        let request = Request {
            temperature: Some(3.5),
            stop_sequences: (0..6).map(|i| i.to_string()).collect(),
            stream: true,
            ..Request::default()
        };
        let body = encode(&request, "m");
        assert_eq!(body["temperature"], 2.0);
        assert_eq!(body["stop"], json!(["0", "1", "2", "3"]));
        assert_eq!(body["stream_options"]["include_usage"], true);
    }

    #[test]
    fn reasoning_budget_becomes_effort() {
        let request = Request {
            reasoning: Some(Reasoning::Budget(1024)),
            ..Request::default()
        };
        assert_eq!(encode(&request, "m")["reasoning_effort"], "low");
        let none = Request {
            reasoning: Some(Reasoning::Disabled),
            ..Request::default()
        };
        assert!(encode(&none, "m").get("reasoning_effort").is_none());
    }
}
