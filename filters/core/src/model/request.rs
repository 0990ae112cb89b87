//! Canonical chat request.
//!
//! Shape choices, and why:
//! - System prompts are hoisted into [`Request::system`]. Most providers take them out of
//!   band (Anthropic `system`, Gemini `systemInstruction`, Bedrock `system[]`); formats that keep
//!   them in the message list (OpenAI, Cohere) put them back first.
//! - Messages are faithful to the client's turns: no merging here. Role alternation is a
//!   provider rule, so the encoders that need it merge consecutive turns themselves.
//! - Tool results are content parts of a [`Role::User`] turn, as in Anthropic, Gemini and
//!   Bedrock; OpenAI's encoder splits them back into `tool` messages.
//! - Tool-call arguments are kept as JSON *text*: OpenAI sends a string, the others objects,
//!   and malformed model output must survive untouched rather than become `{}`.
//! - Thinking keeps its signature verbatim; providers reject modified reasoning.

use serde_json::Value;

/// A chat request in canonical form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// Model named by the client. Translation replaces it with the provider's model.
    pub model: String,
    pub system: Vec<SystemPart>,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolDefinition>,
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)` forbids parallel tool calls (OpenAI `parallel_tool_calls`, Anthropic
    /// `disable_parallel_tool_use`).
    pub parallel_tool_calls: Option<bool>,
    /// Maximum generated tokens, reasoning included.
    pub max_output_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
    pub stop_sequences: Vec<String>,
    /// Sampling seed, for providers that offer best-effort determinism.
    pub seed: Option<i64>,
    /// OpenAI-style repetition penalties (-2–2 at OpenAI; providers with narrower ranges
    /// clamp).
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
    /// Number of alternative completions (OpenAI `n`); most providers only support 1.
    pub candidate_count: Option<u64>,
    pub reasoning: Option<Reasoning>,
    pub response_format: Option<ResponseFormat>,
    /// End-user identifier for provider abuse monitoring.
    pub user: Option<String>,
    pub stream: bool,
}

/// One piece of the system prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemPart {
    pub text: String,
    /// Provider prompt-cache marker (Anthropic `cache_control`), kept as given.
    pub cache_control: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// One conversation turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Vec<ContentPart>,
}

/// A piece of message content.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentPart {
    Text {
        text: String,
        cache_control: Option<Value>,
    },
    Image {
        source: ImageSource,
        cache_control: Option<Value>,
    },
    /// A tool call made by the assistant.
    ToolCall {
        id: String,
        name: String,
        /// The arguments as JSON text, exactly as the model produced them.
        arguments: String,
    },
    /// The result of a tool call, sent back by the user side.
    ToolResult {
        call_id: String,
        content: Vec<ToolResultPart>,
        is_error: bool,
        cache_control: Option<Value>,
    },
    /// Model reasoning. `signature` must be returned unmodified to providers that sign it.
    Thinking {
        text: String,
        signature: Option<String>,
    },
    /// Encrypted reasoning the provider does not show (Anthropic `redacted_thinking`).
    RedactedThinking { data: String },
}

impl ContentPart {
    pub fn text(text: impl Into<String>) -> ContentPart {
        ContentPart::Text {
            text: text.into(),
            cache_control: None,
        }
    }
}

/// Content of a tool result.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolResultPart {
    Text(String),
    Image(ImageSource),
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// Inline bytes, base64-encoded (never decoded by the gateway); build it with
    /// [`ImageSource::inline`].
    Base64 { media_type: String, data: String },
    /// An http(s) URL the provider fetches itself; build it with [`ImageSource::web_url`].
    Url(String),
}

impl ImageSource {
    /// Inline bytes, or `None` when `media_type` is not a plain `type/subtype` (RFC 6838
    /// names): it is written into `data:` URLs, where a `,` or `;` would change the meaning.
    pub fn inline(media_type: &str, data: &str) -> Option<ImageSource> {
        fn is_name(part: &str) -> bool {
            part.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
        }
        let (kind, subtype) = media_type.split_once('/')?;
        (is_name(kind) && is_name(subtype)).then(|| ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        })
    }

    /// An http(s) URL, or `None`: every provider fetches only those, so anything else must be
    /// refused on the way in, whatever format it arrived in.
    pub fn web_url(url: &str) -> Option<ImageSource> {
        (url.starts_with("https://") || url.starts_with("http://"))
            .then(|| ImageSource::Url(url.to_owned()))
    }
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDefinition {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    pub parameters: Value,
    pub strict: Option<bool>,
    pub cache_control: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    None,
    /// The model must call some tool (OpenAI `required`, Anthropic `any`).
    Required,
    /// The model must call this tool.
    Tool(String),
}

/// How much the model should reason before answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reasoning {
    Disabled,
    /// A qualitative level (OpenAI `reasoning_effort`).
    Effort(ReasoningEffort),
    /// A token budget (Anthropic `thinking.budget_tokens`, Gemini `thinkingBudget`).
    Budget(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasoningEffort {
    Minimal,
    Low,
    Medium,
    High,
    XHigh,
}

impl ReasoningEffort {
    pub fn parse(value: &str) -> Option<ReasoningEffort> {
        Some(match value {
            "minimal" => ReasoningEffort::Minimal,
            "low" => ReasoningEffort::Low,
            "medium" => ReasoningEffort::Medium,
            "high" => ReasoningEffort::High,
            "xhigh" => ReasoningEffort::XHigh,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReasoningEffort::Minimal => "minimal",
            ReasoningEffort::Low => "low",
            ReasoningEffort::Medium => "medium",
            ReasoningEffort::High => "high",
            ReasoningEffort::XHigh => "xhigh",
        }
    }

    /// Token budget standing for this level on budget-based providers.
    pub fn budget_tokens(self) -> u64 {
        match self {
            ReasoningEffort::Minimal => 1024,
            ReasoningEffort::Low => 2048,
            ReasoningEffort::Medium => 8192,
            ReasoningEffort::High => 16384,
            ReasoningEffort::XHigh => 32768,
        }
    }

    /// Level standing for a token budget. Only `low`, `medium` and `high` are produced:
    /// they are the levels every OpenAI reasoning model accepts.
    pub fn from_budget(budget: u64) -> ReasoningEffort {
        match budget {
            0..=2048 => ReasoningEffort::Low,
            2049..=8192 => ReasoningEffort::Medium,
            _ => ReasoningEffort::High,
        }
    }
}

impl Reasoning {
    /// The budget on budget-based providers; `None` when reasoning is disabled.
    pub fn budget_tokens(self) -> Option<u64> {
        match self {
            Reasoning::Disabled => None,
            Reasoning::Effort(effort) => Some(effort.budget_tokens()),
            Reasoning::Budget(budget) => Some(budget),
        }
    }

    /// The level on effort-based providers; `None` when reasoning is disabled.
    pub fn effort(self) -> Option<ReasoningEffort> {
        match self {
            Reasoning::Disabled => None,
            Reasoning::Effort(effort) => Some(effort),
            Reasoning::Budget(budget) => Some(ReasoningEffort::from_budget(budget)),
        }
    }
}

/// Constraint on the shape of the answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema {
        name: String,
        schema: Value,
        strict: Option<bool>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effort_and_budget_convert_both_ways() {
        for effort in [
            ReasoningEffort::Low,
            ReasoningEffort::Medium,
            ReasoningEffort::High,
        ] {
            assert_eq!(ReasoningEffort::from_budget(effort.budget_tokens()), effort);
        }
        assert_eq!(ReasoningEffort::from_budget(1024), ReasoningEffort::Low);
        assert_eq!(
            Reasoning::Budget(3000).effort(),
            Some(ReasoningEffort::Medium)
        );
        assert_eq!(Reasoning::Disabled.budget_tokens(), None);
    }

    #[test]
    fn effort_names_round_trip() {
        for name in ["minimal", "low", "medium", "high", "xhigh"] {
            assert_eq!(ReasoningEffort::parse(name).map(|e| e.as_str()), Some(name));
        }
        assert_eq!(ReasoningEffort::parse("extreme"), None);
    }
}
