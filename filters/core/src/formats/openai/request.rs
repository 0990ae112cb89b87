//! OpenAI Chat Completions requests.
//!
//! Reasoning round-trips use LiteLLM's convention, the de facto one for OpenAI-shaped clients
//! of Anthropic models: assistant messages may carry `thinking_blocks` (Anthropic-shaped
//! blocks with signatures) and `reasoning_content`.

use serde_json::{json, Map, Value};

use crate::formats::fields::{string_or_strings, wrong_type, FieldError, Fields};
use crate::model::{
    ContentPart, ImageSource, Message, Reasoning, ReasoningEffort, Request, ResponseFormat, Role,
    SystemPart, ToolChoice, ToolDefinition, ToolResultPart,
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
        candidate_count: root.u64("n")?,
        parallel_tool_calls: root.bool("parallel_tool_calls")?,
        user: root.str("user")?.map(str::to_owned),
        stream: root.bool("stream")?.unwrap_or(false),
        reasoning: decode_reasoning(&root)?,
        response_format: decode_response_format(&root)?,
        tool_choice: decode_tool_choice(&root)?,
        ..Request::default()
    };
    if root.get("messages").is_none() {
        return Err(root.missing("messages"));
    }
    for (path, message) in root.items("messages")? {
        decode_message(&Fields::new(message, path)?, &mut request)?;
    }
    for (path, tool) in root.items("tools")? {
        request.tools.push(decode_tool(&Fields::new(tool, path)?)?);
    }
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
                        source: image_source(&part)?,
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

fn image_source(part: &Fields) -> Result<ImageSource, FieldError> {
    let url = match part.get("image_url") {
        Some(Value::String(url)) => url.as_str(),
        Some(Value::Object(_)) => part
            .object("image_url")?
            .ok_or_else(|| part.missing("image_url"))?
            .required_str("url")?,
        Some(_) => return Err(wrong_type(&part.path("image_url"), "an object")),
        None => return Err(part.missing("image_url")),
    };
    parse_image_url(url).ok_or_else(|| {
        FieldError::unsupported(
            part.path("image_url.url"),
            "must be an http(s) URL or a base64 data URL",
        )
    })
}

/// `data:<media type>;base64,<data>` becomes inline bytes; http(s) URLs stay URLs.
pub fn parse_image_url(url: &str) -> Option<ImageSource> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',')?;
        let media_type = meta.strip_suffix(";base64")?;
        return Some(ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        });
    }
    (url.starts_with("https://") || url.starts_with("http://"))
        .then(|| ImageSource::Url(url.to_owned()))
}

fn image_url(source: &ImageSource) -> String {
    match source {
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::Url(url) => url.clone(),
    }
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
    for (path, call) in message.items("tool_calls")? {
        let call = Fields::new(call, path)?;
        let function = call
            .object("function")?
            .ok_or_else(|| call.missing("function"))?;
        let arguments = match function.get("arguments") {
            None => String::new(),
            Some(Value::String(text)) => text.clone(),
            // Some clients send the object itself; its JSON text is what OpenAI meant.
            Some(other) => other.to_string(),
        };
        parts.push(ContentPart::ToolCall {
            id: call.str("id")?.unwrap_or_default().to_owned(),
            name: function.required_str("name")?.to_owned(),
            arguments,
        });
    }
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

fn decode_tool(tool: &Fields) -> Result<ToolDefinition, FieldError> {
    if let Some(kind) = tool.str("type")? {
        if kind != "function" {
            return Err(FieldError::unsupported(
                tool.path("type"),
                "must be 'function'",
            ));
        }
    }
    let function = tool
        .object("function")?
        .ok_or_else(|| tool.missing("function"))?;
    Ok(ToolDefinition {
        name: function.required_str("name")?.to_owned(),
        description: function.str("description")?.map(str::to_owned),
        parameters: function
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        strict: function.bool("strict")?,
        cache_control: None,
    })
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
            Role::User => encode_user(message, &mut messages),
            Role::Assistant => {
                if let Some(assistant) = encode_assistant(message) {
                    messages.push(assistant);
                }
            }
        }
    }
    messages
}

/// A user turn becomes its tool results as `tool` messages (OpenAI wants them right after
/// the assistant's calls), then one user message with the rest. Images inside tool results
/// cannot go into a `tool` message, so they join that user message.
fn encode_user(message: &Message, out: &mut Vec<Value>) {
    let mut parts = Vec::new();
    for part in &message.content {
        match part {
            ContentPart::ToolResult {
                call_id, content, ..
            } => {
                let mut text = String::new();
                for item in content {
                    match item {
                        ToolResultPart::Text(t) => text.push_str(t),
                        ToolResultPart::Image(source) => parts.push(image_part(source)),
                    }
                }
                out.push(json!({"role": "tool", "tool_call_id": call_id, "content": text}));
            }
            ContentPart::Text { text, .. } => parts.push(json!({"type": "text", "text": text})),
            ContentPart::Image { source, .. } => parts.push(image_part(source)),
            ContentPart::ToolCall { .. }
            | ContentPart::Thinking { .. }
            | ContentPart::RedactedThinking { .. } => {}
        }
    }
    let content = match parts.as_slice() {
        [] => return,
        [only] if only["type"] == "text" => only["text"].clone(),
        _ => Value::Array(parts),
    };
    out.push(json!({"role": "user", "content": content}));
}

fn image_part(source: &ImageSource) -> Value {
    json!({"type": "image_url", "image_url": {"url": image_url(source)}})
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
            } => calls.push(json!({
                "id": id,
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            })),
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
    let mut function = Map::new();
    function.insert("name".into(), json!(tool.name));
    if let Some(description) = &tool.description {
        function.insert("description".into(), json!(description));
    }
    function.insert("parameters".into(), tool.parameters.clone());
    if let Some(strict) = tool.strict {
        function.insert("strict".into(), json!(strict));
    }
    json!({"type": "function", "function": function})
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
    fn data_urls_become_base64_images() {
        assert_eq!(
            parse_image_url("data:image/png;base64,AAAA"),
            Some(ImageSource::Base64 {
                media_type: "image/png".into(),
                data: "AAAA".into()
            })
        );
        assert_eq!(
            parse_image_url("https://x/y.png"),
            Some(ImageSource::Url("https://x/y.png".into()))
        );
        assert_eq!(parse_image_url("data:text/plain,hello"), None);
        assert_eq!(parse_image_url("file:///etc/passwd"), None);
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
