//! Provider wire formats. Each submodule converts one format to and from the canonical
//! model in [`crate::model`]; no module knows about any other format (what several share
//! lives in [`fields`], [`openai_shapes`], [`claude`], [`json_events`] and [`path`]). [`codec`] is the one place that
//! dispatches on [`WireFormat`], so a new format is a new submodule plus one arm per
//! function there.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod anthropic;
pub mod bedrock;
pub mod claude;
pub mod codec;
pub mod cohere;
pub mod cohere_embed;
pub mod fields;
pub mod gemini;
pub mod identifier;
pub mod json_events;
pub mod openai;
pub mod openai_shapes;
pub mod path;
pub mod tool_names;

/// A wire format spoken by a client or a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireFormat {
    /// OpenAI Chat Completions and the OpenAI-compatible family.
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Cohere Chat API v2.
    Cohere,
    /// Google Gemini `generateContent` (AI Studio and Vertex AI); provider side only.
    Gemini,
    /// AWS Bedrock Converse / ConverseStream.
    Bedrock,
}

impl WireFormat {
    pub const ALL: [WireFormat; 5] = [
        WireFormat::OpenAi,
        WireFormat::Anthropic,
        WireFormat::Cohere,
        WireFormat::Gemini,
        WireFormat::Bedrock,
    ];

    /// The name used in configuration and internal headers.
    pub fn as_str(self) -> &'static str {
        match self {
            WireFormat::OpenAi => "openai",
            WireFormat::Anthropic => "anthropic",
            WireFormat::Cohere => "cohere",
            WireFormat::Gemini => "gemini",
            WireFormat::Bedrock => "bedrock",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "openai" => Some(WireFormat::OpenAi),
            "anthropic" => Some(WireFormat::Anthropic),
            "cohere" => Some(WireFormat::Cohere),
            "gemini" => Some(WireFormat::Gemini),
            "bedrock" => Some(WireFormat::Bedrock),
            _ => None,
        }
    }
}

/// Sets a same-format body's `model` to the upstream one: the rewrite every passthrough with
/// the model in the body makes. A body that is not an object is left alone.
pub(crate) fn replace_model(body: &mut Value, model: &str) {
    if let Some(map) = body.as_object_mut() {
        map.insert("model".into(), Value::String(model.to_owned()));
    }
}
