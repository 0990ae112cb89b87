//! What each wire format's translator can carry to its provider, for route validation: a
//! fallback, pool or branch should not send a request to a provider that cannot take it.
//!
//! The table is the translators' behaviour written down, and `capabilities_tests` keeps it
//! honest by translating a request that uses each feature for each format. A feature a
//! format lacks is refused with a 400 naming the field (image URLs on Bedrock, embeddings on
//! Anthropic), except JSON-object mode, which Anthropic and Bedrock drop (the OpenAI API
//! already makes the prompt ask for JSON; see `formats/anthropic/request.rs`).

use std::fmt;

use crate::formats::WireFormat;

/// A request feature some providers cannot accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Feature {
    /// Tool definitions, calls and results.
    Tools,
    /// Images given inline (base64).
    Images,
    /// Images given by `http(s)` URL, fetched by the provider.
    ImageUrls,
    /// Structured output against a JSON schema.
    JsonSchema,
    /// JSON-object mode (any JSON, no schema).
    JsonObject,
    /// `/v1/embeddings`.
    Embeddings,
}

impl Feature {
    pub const ALL: [Feature; 6] = [
        Feature::Tools,
        Feature::Images,
        Feature::ImageUrls,
        Feature::JsonSchema,
        Feature::JsonObject,
        Feature::Embeddings,
    ];

    /// The name in configuration files (`serves: [tools, …]`).
    pub fn name(self) -> &'static str {
        match self {
            Feature::Tools => "tools",
            Feature::Images => "images",
            Feature::ImageUrls => "image-urls",
            Feature::JsonSchema => "json-schema",
            Feature::JsonObject => "json-object",
            Feature::Embeddings => "embeddings",
        }
    }

    pub fn parse(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a provider speaking `format` can be sent a request using `feature`.
pub fn supports(format: WireFormat, feature: Feature) -> bool {
    use {Feature::*, WireFormat::*};
    match (format, feature) {
        (_, Tools | Images | JsonSchema) => true,
        (Bedrock, ImageUrls) => false,
        (Anthropic | Bedrock, JsonObject) => false,
        (Anthropic, Embeddings) => false,
        (OpenAi | Anthropic | Cohere | Gemini, ImageUrls) => true,
        (OpenAi | Cohere | Gemini, JsonObject) => true,
        (OpenAi | Cohere | Gemini | Bedrock, Embeddings) => true,
    }
}

/// The features of `features` a provider speaking `format` lacks.
pub fn lacking(format: WireFormat, features: &[Feature]) -> Vec<Feature> {
    features
        .iter()
        .copied()
        .filter(|f| !supports(format, *f))
        .collect()
}

/// Every feature a provider speaking `format` supports.
pub fn of(format: WireFormat) -> Vec<Feature> {
    Feature::ALL
        .into_iter()
        .filter(|f| supports(format, *f))
        .collect()
}

#[cfg(test)]
#[path = "capabilities_tests.rs"]
mod tests;
