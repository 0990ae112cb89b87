//! Converse requests.
//!
//! Bedrock's rules applied by [`encode`]:
//! - the model is in the path, so the body has no `model` (nor `stream`);
//! - system prompts are hoisted into `system[]`; turns alternate, so consecutive same-role
//!   turns merge, with tool results first in user turns; empty text blocks are left out
//!   (Bedrock rejects them);
//! - tool names and tool-use ids must match `[a-zA-Z0-9_-]{1,64}`: both are rewritten
//!   deterministically (the translator maps tool names back in the answer);
//! - there is no `toolChoice: none`: tools are left out, but a conversation that already
//!   contains `toolUse`/`toolResult` blocks still needs a `toolConfig` (ValidationException
//!   otherwise), so it gets a placeholder tool the model is told never to call;
//! - images must be inline bytes or in S3: `data:` URLs become `{bytes}`, `s3://` URLs
//!   `{s3Location}`, and web URLs are refused (Bedrock does not fetch them);
//! - prompt-cache markers become `cachePoint` blocks after the marked block;
//! - model-specific fields go in `additionalModelRequestFields`, by model family: Claude's
//!   `thinking` budget (with Claude's rules: budget ≥ 1024 and below `maxTokens`, no
//!   sampling parameters while thinking, temperature wins over `topP`) and `top_k`; Nova's
//!   `reasoningConfig`; gpt-oss's `reasoning_effort`. Other models get no reasoning setting.
//!
//! - JSON-schema output goes in `outputConfig.textFormat`, the schema as a JSON *string*
//!   (Converse's structured outputs).
//!
//! Dropped, with no Converse equivalent: `parallel_tool_calls`, `strict`, `user`, JSON-object
//! mode. Refused: `n` > 1.

use serde_json::{json, Map, Value};

use super::{tool_name, tool_use_id, Family};
use crate::formats::claude::{self, output_budget};
use crate::formats::fields::{arguments_to_input, wrong_type, FieldError, Fields};
use crate::model::{
    ContentPart, ImageSource, Message, Reasoning, ReasoningEffort, Request, ResponseFormat, Role,
    SystemPart, ToolChoice, ToolDefinition, ToolResultPart,
};

/// Temperature range of the Converse API.
const MAX_TEMPERATURE: f64 = 1.0;
/// Name of the placeholder tool sent when tools are off but the history has tool blocks.
pub const PLACEHOLDER_TOOL: &str = "tollgate_no_tools";

// === encode ===

/// Encodes a canonical request as a Converse body for `model`.
pub fn encode(request: &Request, model: &str) -> Result<Value, FieldError> {
    if request.candidate_count.is_some_and(|n| n > 1) {
        return Err(FieldError::unsupported(
            "n",
            "greater than 1 is not supported by this provider",
        ));
    }
    let family = Family::of(model);
    let mut body = Map::new();
    body.insert(
        "messages".into(),
        Value::Array(encode_messages(&request.messages, family)?),
    );
    let system = encode_system(&request.system);
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    let (inference, additional) = encode_settings(request, family);
    if !inference.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(inference));
    }
    if let Some(tool_config) = encode_tool_config(request) {
        body.insert("toolConfig".into(), tool_config);
    }
    if !additional.is_empty() {
        body.insert(
            "additionalModelRequestFields".into(),
            Value::Object(additional),
        );
    }
    if let Some(ResponseFormat::JsonSchema { name, schema, .. }) = &request.response_format {
        body.insert("outputConfig".into(), encode_output_config(name, schema));
    }
    Ok(Value::Object(body))
}

fn encode_output_config(name: &str, schema: &Value) -> Value {
    json!({"textFormat": {
        "type": "json_schema",
        "structure": {"jsonSchema": {"name": name, "schema": schema.to_string()}},
    }})
}

fn cache_point() -> Value {
    json!({"cachePoint": {"type": "default"}})
}

/// A block and, when it carries a cache marker, the `cachePoint` that follows it.
fn with_cache_point(block: Value, cache_control: Option<&Value>) -> Vec<Value> {
    let mut unit = vec![block];
    if cache_control.is_some() {
        unit.push(cache_point());
    }
    unit
}

fn encode_system(parts: &[SystemPart]) -> Vec<Value> {
    parts
        .iter()
        .filter(|p| !p.text.is_empty())
        .flat_map(|p| with_cache_point(json!({"text": p.text}), p.cache_control.as_ref()))
        .collect()
}

fn encode_messages(messages: &[Message], family: Family) -> Result<Vec<Value>, FieldError> {
    // Each unit is a block with its cache point, so reordering keeps them together.
    let mut turns: Vec<(Role, Vec<Vec<Value>>)> = Vec::new();
    for message in messages {
        let mut units = Vec::new();
        for part in &message.content {
            if let Some(unit) = encode_block(part, family)? {
                units.push(unit);
            }
        }
        if units.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((role, existing)) if *role == message.role => existing.extend(units),
            _ => turns.push((message.role, units)),
        }
    }
    Ok(turns
        .into_iter()
        .map(|(role, mut units)| {
            let role = match role {
                Role::User => {
                    // Tool results must open the user turn that answers the tool calls.
                    units.sort_by_key(|unit| unit[0].get("toolResult").is_none());
                    "user"
                }
                Role::Assistant => "assistant",
            };
            json!({"role": role, "content": units.concat()})
        })
        .collect())
}

fn encode_block(part: &ContentPart, family: Family) -> Result<Option<Vec<Value>>, FieldError> {
    Ok(match part {
        ContentPart::Text {
            text,
            cache_control,
        } => (!text.is_empty())
            .then(|| with_cache_point(json!({"text": text}), cache_control.as_ref())),
        ContentPart::Image {
            source,
            cache_control,
        } => Some(with_cache_point(image_block(source)?, cache_control.as_ref())),
        ContentPart::ToolCall {
            id,
            name,
            arguments,
        } => Some(vec![json!({"toolUse": {
            "toolUseId": tool_use_id(id),
            "name": tool_name(name),
            "input": arguments_to_input(arguments),
        }})]),
        ContentPart::ToolResult {
            call_id,
            content,
            is_error,
            cache_control,
        } => {
            let mut result = Map::new();
            result.insert("toolUseId".into(), json!(tool_use_id(call_id)));
            result.insert(
                "content".into(),
                Value::Array(tool_result_content(content)?),
            );
            // `status` is only accepted by Claude and Nova models.
            if *is_error && matches!(family, Family::Claude | Family::Nova) {
                result.insert("status".into(), json!("error"));
            }
            let block = json!({"toolResult": result});
            Some(with_cache_point(block, cache_control.as_ref()))
        }
        // Reasoning goes back only with its signature: Claude rejects unsigned reasoning.
        ContentPart::Thinking { text, signature } => signature.as_ref().map(|signature| {
            vec![json!({"reasoningContent": {"reasoningText": {"text": text, "signature": signature}}})]
        }),
        ContentPart::RedactedThinking { data } => {
            Some(vec![json!({"reasoningContent": {"redactedContent": data}})])
        }
    })
}

/// A tool result's content. Bedrock requires at least one block and rejects empty text, so
/// an empty result is sent as an empty JSON object.
fn tool_result_content(content: &[ToolResultPart]) -> Result<Vec<Value>, FieldError> {
    let mut blocks = Vec::new();
    for part in content {
        match part {
            ToolResultPart::Text(text) if text.is_empty() => {}
            ToolResultPart::Text(text) => blocks.push(json!({"text": text})),
            ToolResultPart::Image(source) => blocks.push(image_block(source)?),
        }
    }
    if blocks.is_empty() {
        blocks.push(json!({"json": {}}));
    }
    Ok(blocks)
}

fn image_block(source: &ImageSource) -> Result<Value, FieldError> {
    let (format, source) = match source {
        ImageSource::Base64 { media_type, data } => {
            (image_format(media_type)?, json!({"bytes": data}))
        }
        ImageSource::Url(url) if url.starts_with("s3://") => {
            let format = url
                .rsplit('.')
                .next()
                .and_then(|ext| image_format(&format!("image/{ext}")).ok())
                .unwrap_or("png");
            (format, json!({"s3Location": {"uri": url}}))
        }
        ImageSource::Url(_) => {
            return Err(FieldError::unsupported(
                "image_url",
                "must be a base64 data: URL or an s3:// URL for this provider",
            ))
        }
    };
    Ok(json!({"image": {"format": format, "source": source}}))
}

fn image_format(media_type: &str) -> Result<&'static str, FieldError> {
    match media_type.to_ascii_lowercase().as_str() {
        "image/png" => Ok("png"),
        "image/jpeg" | "image/jpg" => Ok("jpeg"),
        "image/gif" => Ok("gif"),
        "image/webp" => Ok("webp"),
        _ => Err(FieldError::unsupported(
            "image_url",
            "must be a PNG, JPEG, GIF or WebP image for this provider",
        )),
    }
}

/// `inferenceConfig` and `additionalModelRequestFields`.
fn encode_settings(request: &Request, family: Family) -> (Map<String, Value>, Map<String, Value>) {
    let mut inference = Map::new();
    let mut additional = Map::new();
    let temperature = request.temperature.map(|t| t.clamp(0.0, MAX_TEMPERATURE));
    match family {
        Family::Claude => {
            let budget = output_budget(request);
            inference.insert("maxTokens".into(), json!(budget.max_tokens));
            if let Some(tokens) = budget.thinking {
                additional.insert(
                    "thinking".into(),
                    json!({"type": "enabled", "budget_tokens": tokens}),
                );
            }
            let sampling = claude::sampling(request, budget.thinking.is_some());
            if let Some(t) = sampling.temperature {
                inference.insert("temperature".into(), json!(t));
            }
            if let Some(p) = sampling.top_p {
                inference.insert("topP".into(), json!(p));
            }
            if let Some(k) = sampling.top_k {
                additional.insert("top_k".into(), json!(k));
            }
        }
        Family::Nova | Family::OpenAi | Family::Other => {
            if let Some(max) = request.max_output_tokens {
                inference.insert("maxTokens".into(), json!(max));
            }
            if let Some(t) = temperature {
                inference.insert("temperature".into(), json!(t));
            }
            if let Some(p) = request.top_p {
                inference.insert("topP".into(), json!(p));
            }
            let effort = request
                .reasoning
                .and_then(Reasoning::effort)
                .map(effort_level);
            match family {
                Family::Nova => {
                    if let Some(level) = effort {
                        additional.insert(
                            "reasoningConfig".into(),
                            json!({"type": "enabled", "maxReasoningEffort": level}),
                        );
                    }
                    if let Some(k) = request.top_k {
                        additional.insert("inferenceConfig".into(), json!({"topK": k}));
                    }
                }
                Family::OpenAi => {
                    if let Some(level) = effort {
                        additional.insert("reasoning_effort".into(), json!(level));
                    }
                }
                Family::Claude | Family::Other => {}
            }
        }
    }
    if !request.stop_sequences.is_empty() {
        inference.insert("stopSequences".into(), json!(request.stop_sequences));
    }
    (inference, additional)
}

/// The three effort levels every Bedrock reasoning model accepts.
fn effort_level(effort: ReasoningEffort) -> &'static str {
    match effort {
        ReasoningEffort::Minimal | ReasoningEffort::Low => "low",
        ReasoningEffort::Medium => "medium",
        ReasoningEffort::High | ReasoningEffort::XHigh => "high",
    }
}

fn encode_tool_config(request: &Request) -> Option<Value> {
    let tools_on = !request.tools.is_empty() && request.tool_choice != Some(ToolChoice::None);
    if !tools_on {
        let history_has_tools = request.messages.iter().flat_map(|m| &m.content).any(|p| {
            matches!(
                p,
                ContentPart::ToolCall { .. } | ContentPart::ToolResult { .. }
            )
        });
        return history_has_tools.then(|| json!({"tools": [placeholder_tool()]}));
    }
    let tools: Vec<Value> = request
        .tools
        .iter()
        .flat_map(|tool| with_cache_point(encode_tool(tool), tool.cache_control.as_ref()))
        .collect();
    let mut config = Map::new();
    config.insert("tools".into(), Value::Array(tools));
    // `auto` is the default; some models refuse an explicit `toolChoice`, so it is only sent
    // when it changes something.
    let choice = match &request.tool_choice {
        Some(ToolChoice::Required) => Some(json!({"any": {}})),
        Some(ToolChoice::Tool(name)) => Some(json!({"tool": {"name": tool_name(name)}})),
        Some(ToolChoice::Auto | ToolChoice::None) | None => None,
    };
    if let Some(choice) = choice {
        config.insert("toolChoice".into(), choice);
    }
    Some(Value::Object(config))
}

fn encode_tool(tool: &ToolDefinition) -> Value {
    let mut spec = Map::new();
    spec.insert("name".into(), json!(tool_name(&tool.name)));
    if let Some(description) = tool.description.as_ref().filter(|d| !d.is_empty()) {
        spec.insert("description".into(), json!(description));
    }
    spec.insert("inputSchema".into(), json!({"json": tool.parameters}));
    json!({"toolSpec": spec})
}

fn placeholder_tool() -> Value {
    json!({"toolSpec": {
        "name": PLACEHOLDER_TOOL,
        "description": "Placeholder required by the API while tools are off. Never call it.",
        "inputSchema": {"json": {"type": "object", "properties": {}}},
    }})
}

// === decode ===

/// The canonical form of a `cachePoint` (Anthropic's marker, which every format maps).
fn ephemeral() -> Value {
    json!({"type": "ephemeral"})
}

/// Decodes a Converse body. The model and the streaming choice are in the path, so the
/// request has neither.
pub fn decode(body: &Value) -> Result<Request, FieldError> {
    let root = Fields::new(body, "")?;
    let mut request = Request {
        messages: root.required_objects("messages", decode_message)?,
        ..Request::default()
    };
    for (path, block) in root.items("system")? {
        let block = Fields::new(block, path)?;
        if block.has("cachePoint") {
            if let Some(last) = request.system.last_mut() {
                last.cache_control = Some(ephemeral());
            }
        } else {
            request.system.push(SystemPart {
                text: block.required_str("text")?.to_owned(),
                cache_control: None,
            });
        }
    }
    if let Some(config) = root.object("inferenceConfig")? {
        request.max_output_tokens = config.u64("maxTokens")?;
        request.temperature = config.f64("temperature")?;
        request.top_p = config.f64("topP")?;
        request.stop_sequences = config.strings("stopSequences")?;
    }
    if let Some(config) = root.object("toolConfig")? {
        decode_tool_config(&config, &mut request)?;
    }
    if let Some(fields) = root.object("additionalModelRequestFields")? {
        decode_additional(&fields, &mut request)?;
    }
    if let Some(config) = root.object("outputConfig")? {
        request.response_format = decode_output_config(&config)?;
    }
    Ok(request)
}

fn decode_output_config(config: &Fields) -> Result<Option<ResponseFormat>, FieldError> {
    let Some(format) = config.object("textFormat")? else {
        return Ok(None);
    };
    let Some(structure) = format.object("structure")? else {
        return Err(format.missing("structure"));
    };
    let Some(json_schema) = structure.object("jsonSchema")? else {
        return Err(structure.missing("jsonSchema"));
    };
    let schema_path = json_schema.path("schema");
    let schema = serde_json::from_str(json_schema.required_str("schema")?)
        .map_err(|_| wrong_type(&schema_path, "a JSON Schema as a JSON string"))?;
    Ok(Some(ResponseFormat::JsonSchema {
        name: json_schema.str("name")?.unwrap_or("output").to_owned(),
        schema,
        strict: None,
    }))
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
    let mut content: Vec<ContentPart> = Vec::new();
    for (path, block) in message.items("content")? {
        let block = Fields::new(block, path)?;
        if block.has("cachePoint") {
            mark_cached(content.last_mut());
        } else {
            content.push(decode_block(&block)?);
        }
    }
    Ok(Message { role, content })
}

fn mark_cached(part: Option<&mut ContentPart>) {
    if let Some(
        ContentPart::Text { cache_control, .. }
        | ContentPart::Image { cache_control, .. }
        | ContentPart::ToolResult { cache_control, .. },
    ) = part
    {
        *cache_control = Some(ephemeral());
    }
}

fn decode_block(block: &Fields) -> Result<ContentPart, FieldError> {
    if let Some(text) = block.str("text")? {
        return Ok(ContentPart::text(text));
    }
    if let Some(image) = block.object("image")? {
        return Ok(ContentPart::Image {
            source: decode_image(&image)?,
            cache_control: None,
        });
    }
    if let Some(tool_use) = block.object("toolUse")? {
        return Ok(ContentPart::ToolCall {
            id: tool_use.required_str("toolUseId")?.to_owned(),
            name: tool_use.required_str("name")?.to_owned(),
            arguments: tool_use
                .get("input")
                .map_or_else(|| "{}".to_owned(), Value::to_string),
        });
    }
    if let Some(result) = block.object("toolResult")? {
        let mut content = Vec::new();
        for (path, item) in result.items("content")? {
            let item = Fields::new(item, path)?;
            if let Some(text) = item.str("text")? {
                content.push(ToolResultPart::Text(text.to_owned()));
            } else if let Some(json) = item.get("json") {
                content.push(ToolResultPart::Text(json.to_string()));
            } else if let Some(image) = item.object("image")? {
                content.push(ToolResultPart::Image(decode_image(&image)?));
            } else {
                return Err(FieldError::unsupported(
                    item.path("content"),
                    "must be text, json or an image",
                ));
            }
        }
        return Ok(ContentPart::ToolResult {
            call_id: result.required_str("toolUseId")?.to_owned(),
            content,
            is_error: result.str("status")? == Some("error"),
            cache_control: None,
        });
    }
    if let Some(reasoning) = block.object("reasoningContent")? {
        if let Some(text) = reasoning.object("reasoningText")? {
            return Ok(ContentPart::Thinking {
                text: text.str("text")?.unwrap_or_default().to_owned(),
                signature: text.str("signature")?.map(str::to_owned),
            });
        }
        return Ok(ContentPart::RedactedThinking {
            data: reasoning.required_str("redactedContent")?.to_owned(),
        });
    }
    Err(FieldError::unsupported(
        block.path("content"),
        "cannot be translated for this provider",
    ))
}

fn decode_image(image: &Fields) -> Result<ImageSource, FieldError> {
    let format = image.required_str("format")?;
    let source = image
        .object("source")?
        .ok_or_else(|| image.missing("source"))?;
    if let Some(bytes) = source.str("bytes")? {
        return Ok(ImageSource::Base64 {
            media_type: format!("image/{format}"),
            data: bytes.to_owned(),
        });
    }
    match source.object("s3Location")? {
        Some(location) => Ok(ImageSource::Url(location.required_str("uri")?.to_owned())),
        None => Err(source.missing("bytes")),
    }
}

fn decode_tool_config(config: &Fields, request: &mut Request) -> Result<(), FieldError> {
    for (path, tool) in config.items("tools")? {
        let tool = Fields::new(tool, path)?;
        if tool.has("cachePoint") {
            if let Some(last) = request.tools.last_mut() {
                last.cache_control = Some(ephemeral());
            }
            continue;
        }
        let spec = tool
            .object("toolSpec")?
            .ok_or_else(|| tool.missing("toolSpec"))?;
        let schema = spec
            .object("inputSchema")?
            .ok_or_else(|| spec.missing("inputSchema"))?;
        request.tools.push(ToolDefinition {
            name: spec.required_str("name")?.to_owned(),
            description: spec.str("description")?.map(str::to_owned),
            parameters: schema
                .get("json")
                .cloned()
                .ok_or_else(|| schema.missing("json"))?,
            strict: None,
            cache_control: None,
        });
    }
    if let Some(choice) = config.object("toolChoice")? {
        request.tool_choice = Some(if choice.has("any") {
            ToolChoice::Required
        } else if let Some(tool) = choice.object("tool")? {
            ToolChoice::Tool(tool.required_str("name")?.to_owned())
        } else {
            ToolChoice::Auto
        });
    }
    Ok(())
}

fn decode_additional(fields: &Fields, request: &mut Request) -> Result<(), FieldError> {
    if let Some(thinking) = fields.object("thinking")? {
        request.reasoning = match thinking.str("type")? {
            Some("disabled") => Some(Reasoning::Disabled),
            _ => thinking.u64("budget_tokens")?.map(Reasoning::Budget),
        };
    }
    let effort = match fields.object("reasoningConfig")? {
        Some(config) => config.str("maxReasoningEffort")?,
        None => fields.str("reasoning_effort")?,
    };
    if let Some(effort) = effort.and_then(ReasoningEffort::parse) {
        request.reasoning = Some(Reasoning::Effort(effort));
    }
    request.top_k = match fields.object("inferenceConfig")? {
        Some(config) => config.u64("topK")?,
        None => fields.u64("top_k")?,
    };
    Ok(())
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
