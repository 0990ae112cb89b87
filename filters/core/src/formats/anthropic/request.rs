//! Anthropic Messages requests.

use serde_json::{json, Map, Value};

use super::ids::sanitize;
use crate::formats::claude::{self, output_budget, OutputBudget};
pub use crate::formats::claude::{DEFAULT_MAX_TOKENS, MIN_THINKING_BUDGET};
pub use crate::formats::fields::arguments_to_input;
use crate::formats::fields::{wrong_type, FieldError, Fields};
use crate::model::{
    ContentPart, ImageSource, Message, Reasoning, ReasoningEffort, Request, ResponseFormat, Role,
    SystemPart, ToolChoice, ToolDefinition, ToolResultPart,
};

// === passthrough ===

/// Prepares an Anthropic body for an Anthropic provider: only the model changes.
pub fn prepare_passthrough(body: &mut Value, model: &str) {
    crate::formats::replace_model(body, model);
}

// === decode ===

/// Decodes a client's Messages body.
pub fn decode(body: &Value) -> Result<Request, FieldError> {
    let root = Fields::new(body, "")?;
    let mut request = Request {
        model: root.str("model")?.unwrap_or_default().to_owned(),
        max_output_tokens: root.u64("max_tokens")?,
        temperature: root.f64("temperature")?,
        top_p: root.f64("top_p")?,
        top_k: root.u64("top_k")?,
        stream: root.bool("stream")?.unwrap_or(false),
        system: decode_system(&root)?,
        reasoning: decode_thinking(&root)?,
        response_format: decode_output_format(&root)?,
        user: match root.object("metadata")? {
            Some(metadata) => metadata.str("user_id")?.map(str::to_owned),
            None => None,
        },
        ..Request::default()
    };
    request.stop_sequences = root.strings("stop_sequences")?;
    request.messages = root.required_objects("messages", decode_message)?;
    request.tools = root.objects("tools", decode_tool)?;
    if let Some(choice) = root.object("tool_choice")? {
        request.tool_choice = Some(match choice.required_str("type")? {
            "auto" => ToolChoice::Auto,
            "any" => ToolChoice::Required,
            "none" => ToolChoice::None,
            "tool" => ToolChoice::Tool(choice.required_str("name")?.to_owned()),
            _ => {
                return Err(FieldError::unsupported(
                    choice.path("type"),
                    "must be 'auto', 'any', 'tool' or 'none'",
                ))
            }
        });
        if choice.bool("disable_parallel_tool_use")? == Some(true) {
            request.parallel_tool_calls = Some(false);
        }
    }
    Ok(request)
}

fn decode_system(root: &Fields) -> Result<Vec<SystemPart>, FieldError> {
    match root.get("system") {
        None => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![SystemPart {
            text: text.clone(),
            cache_control: None,
        }]),
        Some(Value::Array(_)) => {
            let mut parts = Vec::new();
            for (path, block) in root.items("system")? {
                let block = Fields::new(block, path)?;
                if block.required_str("type")? != "text" {
                    return Err(FieldError::unsupported(
                        block.path("type"),
                        "must be 'text'",
                    ));
                }
                parts.push(SystemPart {
                    text: block.required_str("text")?.to_owned(),
                    cache_control: block.get("cache_control").cloned(),
                });
            }
            Ok(parts)
        }
        Some(_) => Err(wrong_type(
            &root.path("system"),
            "a string or an array of text blocks",
        )),
    }
}

fn decode_message(message: &Fields) -> Result<Message, FieldError> {
    let role = match message.required_str("role")? {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        _ => {
            return Err(FieldError::unsupported(
                message.path("role"),
                "must be 'user' or 'assistant'",
            ))
        }
    };
    let content = match message.get("content") {
        None => return Err(message.missing("content")),
        Some(Value::String(text)) => vec![ContentPart::text(text.clone())],
        Some(Value::Array(_)) => {
            let mut parts = Vec::new();
            for (path, block) in message.items("content")? {
                let part = decode_block(&Fields::new(block, path.clone())?)?;
                check_block_role(&part, role, path)?;
                parts.push(part);
            }
            parts
        }
        Some(_) => {
            return Err(wrong_type(
                &message.path("content"),
                "a string or an array of content blocks",
            ))
        }
    };
    Ok(Message { role, content })
}

/// Anthropic's own rule, which other formats rely on: calls come from the assistant, their
/// results from the user. A result in an assistant turn would reach e.g. Gemini as an answer
/// to no earlier call (found by fuzzing).
fn check_block_role(part: &ContentPart, role: Role, path: String) -> Result<(), FieldError> {
    match (part, role) {
        (ContentPart::ToolResult { .. }, Role::Assistant) => Err(FieldError::unsupported(
            path,
            "tool_result blocks belong in user messages",
        )),
        (ContentPart::ToolCall { .. }, Role::User) => Err(FieldError::unsupported(
            path,
            "tool_use blocks belong in assistant messages",
        )),
        _ => Ok(()),
    }
}

fn decode_block(block: &Fields) -> Result<ContentPart, FieldError> {
    let cache_control = block.get("cache_control").cloned();
    Ok(match block.required_str("type")? {
        "text" => ContentPart::Text {
            text: block.required_str("text")?.to_owned(),
            cache_control,
        },
        "image" => ContentPart::Image {
            source: decode_image_source(block)?,
            cache_control,
        },
        "tool_use" => ContentPart::ToolCall {
            id: block.required_str("id")?.to_owned(),
            name: block.required_str("name")?.to_owned(),
            arguments: block
                .get("input")
                .map_or_else(|| "{}".to_owned(), Value::to_string),
        },
        "tool_result" => ContentPart::ToolResult {
            call_id: block.required_str("tool_use_id")?.to_owned(),
            content: decode_tool_result_content(block)?,
            is_error: block.bool("is_error")?.unwrap_or(false),
            cache_control,
        },
        "thinking" => ContentPart::Thinking {
            text: block.str("thinking")?.unwrap_or_default().to_owned(),
            signature: block.str("signature")?.map(str::to_owned),
        },
        "redacted_thinking" => ContentPart::RedactedThinking {
            data: block.required_str("data")?.to_owned(),
        },
        _ => {
            return Err(FieldError::unsupported(
                block.path("type"),
                "cannot be translated for this provider",
            ))
        }
    })
}

fn decode_image_source(block: &Fields) -> Result<ImageSource, FieldError> {
    let source = block
        .object("source")?
        .ok_or_else(|| block.missing("source"))?;
    match source.required_str("type")? {
        "base64" => {
            let media_type = source.required_str("media_type")?;
            ImageSource::inline(media_type, source.required_str("data")?).ok_or_else(|| {
                FieldError::unsupported(source.path("media_type"), "must be a media type")
            })
        }
        "url" => ImageSource::web_url(source.required_str("url")?)
            .ok_or_else(|| FieldError::unsupported(source.path("url"), "must be an http(s) URL")),
        _ => Err(FieldError::unsupported(
            source.path("type"),
            "must be 'base64' or 'url'",
        )),
    }
}

fn decode_tool_result_content(block: &Fields) -> Result<Vec<ToolResultPart>, FieldError> {
    match block.get("content") {
        None => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![ToolResultPart::Text(text.clone())]),
        Some(Value::Array(_)) => {
            let mut parts = Vec::new();
            for (path, item) in block.items("content")? {
                let item = Fields::new(item, path)?;
                parts.push(match item.required_str("type")? {
                    "text" => ToolResultPart::Text(item.required_str("text")?.to_owned()),
                    "image" => ToolResultPart::Image(decode_image_source(&item)?),
                    _ => {
                        return Err(FieldError::unsupported(
                            item.path("type"),
                            "must be 'text' or 'image'",
                        ))
                    }
                });
            }
            Ok(parts)
        }
        Some(_) => Err(wrong_type(
            &block.path("content"),
            "a string or an array of blocks",
        )),
    }
}

fn decode_tool(tool: &Fields) -> Result<ToolDefinition, FieldError> {
    if let Some(kind) = tool.str("type")? {
        if kind != "custom" {
            return Err(FieldError::unsupported(
                tool.path("type"),
                "names a server tool, which cannot be translated for this provider",
            ));
        }
    }
    Ok(ToolDefinition {
        name: tool.required_str("name")?.to_owned(),
        description: tool.str("description")?.map(str::to_owned),
        parameters: tool
            .get("input_schema")
            .cloned()
            .ok_or_else(|| tool.missing("input_schema"))?,
        strict: tool.bool("strict")?,
        cache_control: tool.get("cache_control").cloned(),
    })
}

fn decode_thinking(root: &Fields) -> Result<Option<Reasoning>, FieldError> {
    let Some(thinking) = root.object("thinking")? else {
        return Ok(None);
    };
    Ok(Some(match thinking.required_str("type")? {
        "enabled" => Reasoning::Budget(
            thinking
                .u64("budget_tokens")?
                .ok_or_else(|| thinking.missing("budget_tokens"))?,
        ),
        "disabled" => Reasoning::Disabled,
        // Adaptive thinking lets the model decide; its effort, if any, is in output_config.
        "adaptive" => {
            let effort = match root.object("output_config")? {
                Some(config) => config.str("effort")?.and_then(ReasoningEffort::parse),
                None => None,
            };
            Reasoning::Effort(effort.unwrap_or(ReasoningEffort::Medium))
        }
        _ => {
            return Err(FieldError::unsupported(
                thinking.path("type"),
                "must be 'enabled', 'disabled' or 'adaptive'",
            ))
        }
    }))
}

/// Structured output: `output_config.format` (current) or `output_format` (the beta name).
fn decode_output_format(root: &Fields) -> Result<Option<ResponseFormat>, FieldError> {
    let format = match root.object("output_config")? {
        Some(config) => config.object("format")?,
        None => None,
    };
    let Some(format) = format.or(root.object("output_format")?) else {
        return Ok(None);
    };
    if format.required_str("type")? != "json_schema" {
        return Err(FieldError::unsupported(
            format.path("type"),
            "must be 'json_schema'",
        ));
    }
    Ok(Some(ResponseFormat::JsonSchema {
        name: "response".to_owned(),
        schema: format
            .get("schema")
            .cloned()
            .ok_or_else(|| format.missing("schema"))?,
        strict: Some(true),
    }))
}

// === encode ===

/// Encodes a canonical request as a Messages body for `model`.
///
/// Anthropic's rules applied here: system prompt top-level; turns alternate, so consecutive
/// same-role turns merge, with tool results first in user turns; no empty text blocks;
/// tool ids sanitised; `max_tokens` always present; thinking budget ≥ 1024 and below
/// `max_tokens`, and none when a tool is forced (Anthropic refuses the combination);
/// temperature clamped to 0–1, `top_p` only without temperature, and sampling parameters
/// left out while thinking. Unsigned
/// thinking (from providers that do not sign) is left out: Anthropic rejects it. JSON-object
/// mode has no Anthropic equivalent and is dropped (OpenAI already requires the prompt itself
/// to ask for JSON); JSON-schema mode becomes `output_config.format`. Anthropic has no seed
/// and no repetition penalties; they are dropped.
pub fn encode(request: &Request, model: &str) -> Result<Value, FieldError> {
    if request.candidate_count.is_some_and(|n| n > 1) {
        return Err(FieldError::unsupported(
            "n",
            "greater than 1 is not supported by this provider",
        ));
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));

    let OutputBudget {
        max_tokens,
        thinking: budget,
    } = output_budget(request);
    body.insert("max_tokens".into(), json!(max_tokens));
    if let Some(budget) = budget {
        body.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }

    if let Some(system) = encode_system(&request.system) {
        body.insert("system".into(), system);
    }
    body.insert(
        "messages".into(),
        Value::Array(encode_messages(&request.messages)),
    );

    if !request.tools.is_empty() {
        let tools = request.tools.iter().map(encode_tool).collect();
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = encode_tool_choice(request) {
            body.insert("tool_choice".into(), choice);
        }
    }
    if !request.stop_sequences.is_empty() {
        body.insert("stop_sequences".into(), json!(request.stop_sequences));
    }
    let sampling = claude::sampling(request, budget.is_some());
    if let Some(temperature) = sampling.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = sampling.top_p {
        body.insert("top_p".into(), json!(top_p));
    }
    if let Some(top_k) = sampling.top_k {
        body.insert("top_k".into(), json!(top_k));
    }
    if let Some(ResponseFormat::JsonSchema { schema, .. }) = &request.response_format {
        body.insert(
            "output_config".into(),
            json!({"format": {"type": "json_schema", "schema": schema}}),
        );
    }
    if let Some(user) = &request.user {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    if request.stream {
        body.insert("stream".into(), json!(true));
    }
    Ok(Value::Object(body))
}

fn encode_system(parts: &[SystemPart]) -> Option<Value> {
    let parts: Vec<&SystemPart> = parts.iter().filter(|p| !p.text.is_empty()).collect();
    match parts.as_slice() {
        [] => None,
        [only] if only.cache_control.is_none() => Some(json!(only.text)),
        _ => Some(Value::Array(
            parts
                .iter()
                .map(|p| text_block(&p.text, p.cache_control.as_ref()))
                .collect(),
        )),
    }
}

fn text_block(text: &str, cache_control: Option<&Value>) -> Value {
    let mut block = json!({"type": "text", "text": text});
    with_cache_control(&mut block, cache_control);
    block
}

fn with_cache_control(block: &mut Value, cache_control: Option<&Value>) {
    if let (Some(map), Some(cache)) = (block.as_object_mut(), cache_control) {
        map.insert("cache_control".into(), cache.clone());
    }
}

fn encode_messages(messages: &[Message]) -> Vec<Value> {
    let mut turns: Vec<(Role, Vec<Value>)> = Vec::new();
    for message in messages {
        let blocks: Vec<Value> = message.content.iter().filter_map(encode_block).collect();
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((role, existing)) if *role == message.role => existing.extend(blocks),
            _ => turns.push((message.role, blocks)),
        }
    }
    turns
        .into_iter()
        .map(|(role, mut blocks)| {
            let role = match role {
                Role::User => {
                    // Tool results must open the user turn that answers the tool calls.
                    blocks.sort_by_key(|b| b["type"] != "tool_result");
                    "user"
                }
                Role::Assistant => "assistant",
            };
            json!({"role": role, "content": blocks})
        })
        .collect()
}

fn encode_block(part: &ContentPart) -> Option<Value> {
    match part {
        ContentPart::Text {
            text,
            cache_control,
        } => (!text.is_empty()).then(|| text_block(text, cache_control.as_ref())),
        ContentPart::Image {
            source,
            cache_control,
        } => {
            let mut block = image_block(source);
            with_cache_control(&mut block, cache_control.as_ref());
            Some(block)
        }
        ContentPart::ToolCall {
            id,
            name,
            arguments,
        } => Some(json!({
            "type": "tool_use",
            "id": sanitize(id),
            "name": name,
            "input": arguments_to_input(arguments),
        })),
        ContentPart::ToolResult {
            call_id,
            content,
            is_error,
            cache_control,
        } => {
            let mut block = json!({"type": "tool_result", "tool_use_id": sanitize(call_id)});
            if let (Some(map), Some(content)) =
                (block.as_object_mut(), tool_result_content(content))
            {
                map.insert("content".into(), content);
            }
            if let Some(map) = block.as_object_mut().filter(|_| *is_error) {
                map.insert("is_error".into(), json!(true));
            }
            with_cache_control(&mut block, cache_control.as_ref());
            Some(block)
        }
        ContentPart::Thinking { text, signature } => signature
            .as_ref()
            .map(|signature| json!({"type": "thinking", "thinking": text, "signature": signature})),
        ContentPart::RedactedThinking { data } => {
            Some(json!({"type": "redacted_thinking", "data": data}))
        }
    }
}

fn image_block(source: &ImageSource) -> Value {
    let source = match source {
        ImageSource::Base64 { media_type, data } => {
            json!({"type": "base64", "media_type": media_type, "data": data})
        }
        ImageSource::Url(url) => json!({"type": "url", "url": url}),
    };
    json!({"type": "image", "source": source})
}

/// A tool result's `content`; `None` when it is empty (Anthropic rejects empty text).
fn tool_result_content(content: &[ToolResultPart]) -> Option<Value> {
    let blocks: Vec<Value> = content
        .iter()
        .filter_map(|part| match part {
            ToolResultPart::Text(text) if text.is_empty() => None,
            ToolResultPart::Text(text) => Some(text_block(text, None)),
            ToolResultPart::Image(source) => Some(image_block(source)),
        })
        .collect();
    match (content, blocks.len()) {
        (_, 0) => None,
        ([ToolResultPart::Text(text)], _) => Some(json!(text)),
        _ => Some(Value::Array(blocks)),
    }
}

fn encode_tool(tool: &ToolDefinition) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(tool.name));
    if let Some(description) = &tool.description {
        out.insert("description".into(), json!(description));
    }
    out.insert("input_schema".into(), tool.parameters.clone());
    if let Some(strict) = tool.strict {
        out.insert("strict".into(), json!(strict));
    }
    if let Some(cache) = &tool.cache_control {
        out.insert("cache_control".into(), cache.clone());
    }
    Value::Object(out)
}

fn encode_tool_choice(request: &Request) -> Option<Value> {
    let mut choice = match &request.tool_choice {
        None if request.parallel_tool_calls == Some(false) => json!({"type": "auto"}),
        None => return None,
        Some(ToolChoice::Auto) => json!({"type": "auto"}),
        Some(ToolChoice::None) => return Some(json!({"type": "none"})),
        Some(ToolChoice::Required) => json!({"type": "any"}),
        Some(ToolChoice::Tool(name)) => json!({"type": "tool", "name": name}),
    };
    if let Some(map) = choice
        .as_object_mut()
        .filter(|_| request.parallel_tool_calls == Some(false))
    {
        map.insert("disable_parallel_tool_use".into(), json!(true));
    }
    Some(choice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(role: Role, t: &str) -> Message {
        Message {
            role,
            content: vec![ContentPart::text(t)],
        }
    }

    fn encode_ok(request: &Request) -> Value {
        encode(request, "claude").unwrap()
    }

    /// Found by fuzzing: a non-web image URL was taken as is, and other formats' decoders
    /// (rightly) refused the request the gateway had translated for them.
    #[test]
    fn image_url_source_must_be_a_web_url() {
        let body = |url: &str| {
            json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "url", "url": url}}]}]})
        };
        let err = decode(&body("htpps://example.com/a.png")).unwrap_err();
        assert_eq!(
            err,
            FieldError::unsupported(
                "messages[0].content[0].source.url",
                "must be an http(s) URL"
            )
        );
        let request = decode(&body("https://example.com/a.png")).unwrap();
        let ContentPart::Image { source, .. } = &request.messages[0].content[0] else {
            panic!("{request:?}");
        };
        assert_eq!(
            *source,
            ImageSource::Url("https://example.com/a.png".into())
        );
    }

    /// Found by fuzzing: a media type with a comma made the `data:` URL sent to OpenAI-shaped
    /// providers split in the wrong place.
    #[test]
    fn image_media_type_must_be_a_plain_media_type() {
        let body = |media_type: &str| {
            json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": media_type,
                 "data": "AAAA"}}]}]})
        };
        for bad in ["image/jp,eg", "image/png;x=1", "image", "/png", "image/"] {
            let err = decode(&body(bad)).unwrap_err();
            assert_eq!(
                err,
                FieldError::unsupported(
                    "messages[0].content[0].source.media_type",
                    "must be a media type"
                ),
                "{bad}"
            );
        }
        assert!(decode(&body("image/svg+xml")).is_ok());
    }

    #[test]
    fn max_tokens_defaults_to_4096() {
        let body = encode_ok(&Request::default());
        assert_eq!(body["max_tokens"], 4096);
        assert!(body.get("thinking").is_none());
    }

    #[test]
    fn consecutive_turns_merge_with_tool_results_first() {
        let request = Request {
            messages: vec![
                text(Role::User, "a"),
                text(Role::User, "b"),
                Message {
                    role: Role::Assistant,
                    content: vec![ContentPart::ToolCall {
                        id: "call.1".into(),
                        name: "f".into(),
                        arguments: String::new(),
                    }],
                },
                text(Role::User, "after"),
                Message {
                    role: Role::User,
                    content: vec![ContentPart::ToolResult {
                        call_id: "call.1".into(),
                        content: vec![ToolResultPart::Text("42".into())],
                        is_error: true,
                        cache_control: None,
                    }],
                },
                text(Role::Assistant, ""),
            ],
            ..Request::default()
        };
        let body = encode_ok(&request);
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert_eq!(messages[0]["content"].as_array().unwrap().len(), 2);
        let tool_use = &messages[1]["content"][0];
        assert_eq!(tool_use["input"], json!({}));
        let user = &messages[2]["content"];
        assert_eq!(user[0]["type"], "tool_result");
        assert_eq!(user[0]["tool_use_id"], tool_use["id"]);
        assert_eq!(user[0]["is_error"], true);
        assert_eq!(user[1]["text"], "after");
    }

    #[test]
    fn thinking_budget_fits_below_max_tokens() {
        let request = Request {
            reasoning: Some(Reasoning::Effort(ReasoningEffort::High)),
            max_output_tokens: Some(5000),
            temperature: Some(0.2),
            ..Request::default()
        };
        let body = encode_ok(&request);
        assert_eq!(body["thinking"]["budget_tokens"], 4999);
        assert!(body.get("temperature").is_none());

        let tiny = Request {
            reasoning: Some(Reasoning::Budget(2000)),
            max_output_tokens: Some(500),
            ..Request::default()
        };
        assert!(encode_ok(&tiny).get("thinking").is_none());

        let unbounded = Request {
            reasoning: Some(Reasoning::Effort(ReasoningEffort::High)),
            ..Request::default()
        };
        let body = encode_ok(&unbounded);
        assert_eq!(body["thinking"]["budget_tokens"], 16384);
        assert_eq!(body["max_tokens"], 16384 + 4096);
    }

    #[test]
    fn forced_tool_disables_thinking() {
        let request = Request {
            reasoning: Some(Reasoning::Budget(2048)),
            tools: vec![ToolDefinition {
                name: "f".into(),
                description: None,
                parameters: json!({"type": "object"}),
                strict: None,
                cache_control: None,
            }],
            tool_choice: Some(ToolChoice::Required),
            parallel_tool_calls: Some(false),
            ..Request::default()
        };
        let body = encode_ok(&request);
        assert!(body.get("thinking").is_none());
        assert_eq!(
            body["tool_choice"],
            json!({"type": "any", "disable_parallel_tool_use": true})
        );
    }

    #[test]
    fn temperature_is_clamped_and_wins_over_top_p() {
        let request = Request {
            temperature: Some(1.7),
            top_p: Some(0.9),
            ..Request::default()
        };
        let body = encode_ok(&request);
        assert_eq!(body["temperature"], 1.0);
        assert!(body.get("top_p").is_none());
        let top_p_only = Request {
            top_p: Some(0.9),
            ..Request::default()
        };
        assert_eq!(encode_ok(&top_p_only)["top_p"], 0.9);
    }

    #[test]
    fn unsigned_thinking_is_dropped_and_signed_kept_verbatim() {
        let request = Request {
            messages: vec![Message {
                role: Role::Assistant,
                content: vec![
                    ContentPart::Thinking {
                        text: "t".into(),
                        signature: Some("sig==".into()),
                    },
                    ContentPart::Thinking {
                        text: "u".into(),
                        signature: None,
                    },
                    ContentPart::text("x"),
                ],
            }],
            ..Request::default()
        };
        let content = &encode_ok(&request)["messages"][0]["content"];
        assert_eq!(content.as_array().unwrap().len(), 2);
        assert_eq!(
            content[0],
            json!({"type": "thinking", "thinking": "t", "signature": "sig=="})
        );
    }

    #[test]
    fn tool_blocks_must_sit_in_their_own_role() {
        let result_from_assistant = json!({"model": "m", "max_tokens": 5, "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]}]});
        assert!(matches!(decode(&result_from_assistant),
            Err(FieldError::Unsupported { path, .. }) if path == "messages[1].content[0]"));
        let call_from_user = json!({"model": "m", "max_tokens": 5, "messages": [
            {"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}]});
        assert!(matches!(
            decode(&call_from_user),
            Err(FieldError::Unsupported { .. })
        ));
    }

    #[test]
    fn empty_tool_results_have_no_content() {
        let request = Request {
            messages: vec![Message {
                role: Role::User,
                content: vec![ContentPart::ToolResult {
                    call_id: "c".into(),
                    content: vec![ToolResultPart::Text(String::new())],
                    is_error: false,
                    cache_control: None,
                }],
            }],
            ..Request::default()
        };
        let block = &encode_ok(&request)["messages"][0]["content"][0];
        assert_eq!(block, &json!({"type": "tool_result", "tool_use_id": "c"}));
    }

    #[test]
    fn n_above_one_is_refused() {
        let request = Request {
            candidate_count: Some(2),
            ..Request::default()
        };
        assert!(encode(&request, "m").is_err());
    }

    #[test]
    fn arguments_to_input_keeps_malformed_text() {
        assert_eq!(arguments_to_input(""), json!({}));
        assert_eq!(arguments_to_input("{\"a\":1}"), json!({"a": 1}));
        assert_eq!(arguments_to_input("{\"a\":"), json!("{\"a\":"));
    }

    #[test]
    fn decode_refuses_server_tools_and_documents() {
        let body = json!({"messages": [], "tools": [{"type": "web_search_20250305", "name": "web_search"}]});
        assert!(
            matches!(decode(&body), Err(FieldError::Unsupported { path, .. }) if path == "tools[0].type")
        );
        let body = json!({"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]});
        assert!(
            matches!(decode(&body), Err(FieldError::Unsupported { path, .. }) if path == "messages[0].content[0].type")
        );
    }

    #[test]
    fn decode_thinking_and_choice() {
        let body = json!({
            "messages": [{"role": "user", "content": "hi"}],
            "thinking": {"type": "enabled", "budget_tokens": 3000},
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
            "metadata": {"user_id": "u1"},
        });
        let r = decode(&body).unwrap();
        assert_eq!(r.reasoning, Some(Reasoning::Budget(3000)));
        assert_eq!(r.tool_choice, Some(ToolChoice::Required));
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert_eq!(
            r.system[0].cache_control,
            Some(json!({"type": "ephemeral"}))
        );
        assert_eq!(r.user.as_deref(), Some("u1"));
    }
}
