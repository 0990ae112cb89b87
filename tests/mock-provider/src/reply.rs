//! Reply planning: decides what the mock answers, once, for every wire format.
//!
//! A [`Reply`] is either text, streamed one word per delta, or a call to one of the
//! offered tools, streamed as short argument fragments. Formats only encode it, so both
//! formats agree on content, delta boundaries and token counts for the same request.

use serde_json::{json, Map, Value};

use crate::control::Controls;
use crate::error::ApiError;
use crate::ids;
use crate::prompt::{Prompt, ToolSpec};

/// The phrase in the last user message that asks for a tool call.
const TOOL_TRIGGER: &str = "use a tool";
/// How much of the user's text the reply echoes.
const ECHO_LIMIT_CHARS: usize = 80;
/// Size of one streamed argument fragment; small so clients see JSON split mid-token.
const FRAGMENT_CHARS: usize = 6;

pub struct Reply {
    /// Source of this reply's ids (response, tool call).
    pub serial: u64,
    pub content: ReplyContent,
    pub usage: Usage,
}

pub enum ReplyContent {
    Text(String),
    ToolCall(ToolCall),
}

pub struct ToolCall {
    pub name: String,
    /// The arguments object, for formats that send it parsed (Anthropic `input`)…
    pub input: Value,
    /// …and serialised once, for formats that send a JSON string or fragments of it.
    pub arguments: String,
}

/// Token counts with one meaning for every format; encoders apply each provider's
/// convention (OpenAI's prompt_tokens include cached tokens, Anthropic's input_tokens
/// do not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens not read from cache.
    pub uncached_input: u64,
    pub cache_read: u64,
    /// All generated tokens, reasoning included.
    pub output: u64,
    pub reasoning: u64,
}

impl Usage {
    /// Input tokens including cache reads (OpenAI's `prompt_tokens`).
    pub fn total_input(&self) -> u64 {
        self.uncached_input + self.cache_read
    }
}

/// Plans the reply to `prompt`. `format` names the wire format in the reply text and
/// `request_bytes` stands in for a tokenizer (≈ 4 bytes a token).
pub fn plan(
    format: &str,
    prompt: &Prompt<'_>,
    controls: &Controls,
    request_bytes: usize,
) -> Result<Reply, ApiError> {
    let content = match chosen_tool(prompt, controls)? {
        Some(tool) => ReplyContent::ToolCall(ToolCall::calling(tool)),
        None => ReplyContent::Text(greeting(format, &prompt.last_user_text)),
    };
    let deltas = content.deltas().count() as u64;
    Ok(Reply {
        serial: ids::next_serial(),
        usage: Usage {
            uncached_input: (request_bytes as u64 / 4).max(1),
            cache_read: controls.cached_tokens,
            output: deltas + controls.reasoning_tokens,
            reasoning: controls.reasoning_tokens,
        },
        content,
    })
}

fn chosen_tool<'p, 'a>(
    prompt: &'p Prompt<'a>,
    controls: &Controls,
) -> Result<Option<&'p ToolSpec<'a>>, ApiError> {
    if let Some(name) = &controls.tool {
        return prompt
            .tools
            .iter()
            .find(|tool| tool.name == name)
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid_request(format!(
                    "x-mock-tool: no tool named {name:?} in the request"
                ))
            });
    }
    let asked = prompt
        .last_user_text
        .to_ascii_lowercase()
        .contains(TOOL_TRIGGER);
    Ok(prompt.tools.first().filter(|_| asked))
}

fn greeting(format: &str, user_text: &str) -> String {
    let mut echo = user_text.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((cut, _)) = echo.char_indices().nth(ECHO_LIMIT_CHARS) {
        echo.truncate(cut);
        echo.push_str("...");
    }
    format!("Hello from the Tollgate mock ({format}). You said: {echo}")
}

impl ReplyContent {
    /// The pieces a stream sends: words (with their leading space) for text, short
    /// fragments of the argument JSON for a tool call. Concatenated, they give back the
    /// whole text or arguments.
    pub fn deltas(&self) -> impl Iterator<Item = &str> {
        let (text, split): (&str, fn(&str) -> usize) = match self {
            ReplyContent::Text(text) => (text, next_word_end),
            ReplyContent::ToolCall(call) => (&call.arguments, next_fragment_end),
        };
        let mut rest = text;
        std::iter::from_fn(move || {
            (!rest.is_empty()).then(|| {
                let (piece, tail) = rest.split_at(split(rest));
                rest = tail;
                piece
            })
        })
    }
}

/// End of the first word of `text`: just before the next space after its first char.
fn next_word_end(text: &str) -> usize {
    text.char_indices()
        .skip(1)
        .find(|&(_, c)| c == ' ')
        .map_or(text.len(), |(at, _)| at)
}

fn next_fragment_end(text: &str) -> usize {
    text.char_indices()
        .nth(FRAGMENT_CHARS)
        .map_or(text.len(), |(at, _)| at)
}

impl ToolCall {
    /// A call to `tool` with arguments that satisfy its schema's top-level shape.
    fn calling(tool: &ToolSpec<'_>) -> Self {
        let input = sample_object(tool.schema);
        ToolCall {
            name: tool.name.to_owned(),
            arguments: input.to_string(),
            input,
        }
    }
}

/// One deterministic value per declared property: the first enum value, else a fixed
/// value of the declared type.
fn sample_object(schema: Option<&Value>) -> Value {
    let properties = schema
        .and_then(|schema| schema.get("properties"))
        .and_then(Value::as_object);
    let object: Map<String, Value> = properties
        .into_iter()
        .flatten()
        .map(|(name, property)| (name.clone(), sample_value(property)))
        .collect();
    Value::Object(object)
}

fn sample_value(schema: &Value) -> Value {
    if let Some(first) = schema.get("enum").and_then(|values| values.get(0)) {
        return first.clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("integer" | "number") => json!(1),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        Some("object") => sample_object(Some(schema)),
        Some("null") => Value::Null,
        _ => json!("mock"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt<'a>(text: &str, tools: Vec<ToolSpec<'a>>) -> Prompt<'a> {
        Prompt {
            last_user_text: text.to_owned(),
            tools,
            stream: true,
        }
    }

    fn weather_schema() -> Value {
        json!({"type":"object","properties":{
            "location":{"type":"string"},
            "units":{"type":"string","enum":["c","f"]},
            "days":{"type":"integer"},
            "detail":{"type":"object","properties":{"hourly":{"type":"boolean"}}}
        }})
    }

    #[test]
    fn text_reply_echoes_the_user_and_streams_word_by_word() {
        let reply = plan(
            "openai",
            &prompt("  hi\n there ", vec![]),
            &Controls::default(),
            40,
        )
        .unwrap();
        let ReplyContent::Text(text) = &reply.content else {
            panic!("expected text")
        };
        assert_eq!(
            text,
            "Hello from the Tollgate mock (openai). You said: hi there"
        );
        let deltas: Vec<_> = reply.content.deltas().collect();
        assert_eq!(deltas[..3], ["Hello", " from", " the"]);
        assert_eq!(deltas.concat(), *text);
        assert_eq!(reply.usage.output, deltas.len() as u64);
        assert_eq!(reply.usage.uncached_input, 10);
    }

    #[test]
    fn long_echo_is_truncated_on_a_char_boundary() {
        let long = "é".repeat(200);
        let reply = plan("anthropic", &prompt(&long, vec![]), &Controls::default(), 1).unwrap();
        let ReplyContent::Text(text) = &reply.content else {
            panic!("expected text")
        };
        assert!(text.ends_with(&format!("{}...", "é".repeat(ECHO_LIMIT_CHARS))));
    }

    #[test]
    fn trigger_phrase_calls_the_first_tool_with_schema_shaped_arguments() {
        let schema = weather_schema();
        let tools = vec![
            ToolSpec {
                name: "get_weather",
                schema: Some(&schema),
            },
            ToolSpec {
                name: "other",
                schema: None,
            },
        ];
        let reply = plan(
            "openai",
            &prompt("Please USE A TOOL", tools),
            &Controls::default(),
            1,
        )
        .unwrap();
        let ReplyContent::ToolCall(call) = &reply.content else {
            panic!("expected a tool call")
        };
        assert_eq!(call.name, "get_weather");
        assert_eq!(
            call.input,
            json!({"days":1,"detail":{"hourly":true},"location":"mock","units":"c"})
        );
        let fragments: Vec<_> = reply.content.deltas().collect();
        assert!(fragments.len() > 3);
        assert_eq!(fragments.concat(), call.arguments);
    }

    #[test]
    fn header_names_the_tool_and_unknown_names_are_rejected() {
        let tools = || {
            vec![
                ToolSpec {
                    name: "a",
                    schema: None,
                },
                ToolSpec {
                    name: "b",
                    schema: None,
                },
            ]
        };
        let controls = Controls {
            tool: Some("b".into()),
            ..Controls::default()
        };
        let reply = plan("openai", &prompt("no trigger", tools()), &controls, 1).unwrap();
        assert!(matches!(&reply.content, ReplyContent::ToolCall(call) if call.name == "b"));

        let controls = Controls {
            tool: Some("c".into()),
            ..Controls::default()
        };
        assert!(plan("openai", &prompt("", tools()), &controls, 1).is_err());
    }

    #[test]
    fn tools_without_trigger_get_text() {
        let tools = vec![ToolSpec {
            name: "a",
            schema: None,
        }];
        let reply = plan("openai", &prompt("hello", tools), &Controls::default(), 1).unwrap();
        assert!(matches!(reply.content, ReplyContent::Text(_)));
    }

    #[test]
    fn cache_and_reasoning_controls_shape_usage() {
        let controls = Controls {
            cached_tokens: 100,
            reasoning_tokens: 5,
            ..Controls::default()
        };
        let reply = plan("openai", &prompt("x", vec![]), &controls, 400).unwrap();
        let deltas = reply.content.deltas().count() as u64;
        assert_eq!(
            reply.usage,
            Usage {
                uncached_input: 100,
                cache_read: 100,
                output: deltas + 5,
                reasoning: 5
            }
        );
        assert_eq!(reply.usage.total_input(), 200);
    }
}
