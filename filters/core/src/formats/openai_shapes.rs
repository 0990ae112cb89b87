//! Message pieces in OpenAI's shapes, shared by the formats that adopted them: OpenAI Chat
//! Completions itself and Cohere v2, whose user content parts (`text`, `image_url`), `tool`
//! messages, function tool definitions and assistant `tool_calls` are OpenAI's, field for
//! field. Each format keeps its own rules around these pieces (roles, what it drops).

use serde_json::{json, Map, Value};

use super::fields::{wrong_type, FieldError, Fields};
use crate::model::{ContentPart, ImageSource, Message, Request, ToolDefinition, ToolResultPart};

// === conversation ===

/// Reads the `messages` (required) and `tools` arrays into `request`, each message by the
/// format's own `decode_message`, which knows its roles.
pub fn decode_conversation(
    root: &Fields,
    request: &mut Request,
    decode_message: impl Fn(&Fields, &mut Request) -> Result<(), FieldError>,
) -> Result<(), FieldError> {
    root.required_objects("messages", |message| decode_message(message, request))?;
    request.tools = root.objects("tools", decode_function_tool)?;
    Ok(())
}

// === images ===

/// `data:<media type>;base64,<data>` becomes inline bytes; http(s) URLs stay URLs.
pub fn parse_image_url(url: &str) -> Option<ImageSource> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',')?;
        return ImageSource::inline(meta.strip_suffix(";base64")?, data);
    }
    ImageSource::web_url(url)
}

/// The source of an `image_url` content part (`image_url` a string or `{url}`).
pub fn decode_image_part(part: &Fields) -> Result<ImageSource, FieldError> {
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

pub fn image_part(source: &ImageSource) -> Value {
    let url = match source {
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::Url(url) => url.clone(),
    };
    json!({"type": "image_url", "image_url": {"url": url}})
}

// === user turns ===

/// A canonical user turn as messages: its tool results as `tool` messages (which must come
/// right after the assistant's calls), then one user message with the rest. Images inside
/// tool results cannot go into a `tool` message, so they join that user message; a lone
/// text part is sent as a plain string.
pub fn encode_user_turn(message: &Message, out: &mut Vec<Value>) {
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

// === tools ===

/// `{"type":"function","function":{name, description, parameters}}`; the caller adds
/// what its format supports beyond that (OpenAI `strict`).
pub fn function_tool(tool: &ToolDefinition) -> Map<String, Value> {
    let mut function = Map::new();
    function.insert("name".into(), json!(tool.name));
    if let Some(description) = &tool.description {
        function.insert("description".into(), json!(description));
    }
    function.insert("parameters".into(), tool.parameters.clone());
    function
}

/// Wraps a `function` object as a tool definition.
pub fn tool_definition(function: Map<String, Value>) -> Value {
    json!({"type": "function", "function": function})
}

/// A function tool definition; `type`, if given, must be `function`.
pub fn decode_function_tool(tool: &Fields) -> Result<ToolDefinition, FieldError> {
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

// === tool calls ===

/// One entry of an assistant message's `tool_calls`.
pub fn tool_call(id: &str, name: &str, arguments: &str) -> Value {
    json!({
        "id": id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    })
}

/// The `tool_calls` of an assistant message, as canonical parts.
pub fn decode_tool_calls(message: &Fields) -> Result<Vec<ContentPart>, FieldError> {
    let mut parts = Vec::new();
    for (path, call) in message.items("tool_calls")? {
        let call = Fields::new(call, path)?;
        let function = call
            .object("function")?
            .ok_or_else(|| call.missing("function"))?;
        let arguments = match function.get("arguments") {
            None => String::new(),
            Some(Value::String(text)) => text.clone(),
            // Some clients send the object itself; its JSON text is what they meant.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

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
        // A media type with parameters would not fit the other formats' `media_type` fields.
        assert_eq!(parse_image_url("data:image/png;x=1;base64,AAAA"), None);
        assert_eq!(parse_image_url("file:///etc/passwd"), None);
    }

    #[test]
    fn tool_results_come_before_the_user_message() {
        let message = Message {
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
        };
        let mut out = Vec::new();
        encode_user_turn(&message, &mut out);
        assert_eq!(
            out,
            vec![
                json!({"role": "tool", "tool_call_id": "c", "content": "r"}),
                json!({"role": "user", "content": "next"}),
            ]
        );
    }

    #[test]
    fn tool_call_arguments_may_arrive_as_objects() {
        let message = json!({"tool_calls": [
            {"id": "a", "function": {"name": "f", "arguments": {"x": 1}}},
            {"function": {"name": "g"}},
        ]});
        let parts = decode_tool_calls(&Fields::new(&message, "m").unwrap()).unwrap();
        assert_eq!(
            parts,
            vec![
                ContentPart::ToolCall {
                    id: "a".into(),
                    name: "f".into(),
                    arguments: r#"{"x":1}"#.into()
                },
                ContentPart::ToolCall {
                    id: String::new(),
                    name: "g".into(),
                    arguments: String::new()
                },
            ]
        );
    }
}
