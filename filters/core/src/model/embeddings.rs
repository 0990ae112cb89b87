//! Canonical embeddings: texts in, one vector per text out.
//!
//! Clients speak OpenAI's `/v1/embeddings`; providers differ in shape (batch fields, task
//! types, per-text calls), so each provider format converts to and from these types.

use super::usage::Usage;

/// What a client asked to embed.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsRequest {
    /// The texts, in order; the response keeps this order.
    pub inputs: Vec<String>,
    /// Requested vector size, where the provider can shorten vectors.
    pub dimensions: Option<u32>,
    /// How the client wants vectors written back.
    pub encoding: VectorEncoding,
    /// End-user id for the provider's abuse monitoring.
    pub user: Option<String>,
}

/// How vectors travel to the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum VectorEncoding {
    /// JSON arrays of numbers.
    #[default]
    Float,
    /// Base64 of little-endian `f32`s (what the OpenAI SDKs ask for by default).
    Base64,
}

/// One vector per input, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsResponse {
    /// The model the provider reports (or the one asked for, when it reports none).
    pub model: String,
    pub vectors: Vec<Vec<f32>>,
    /// Input tokens; embeddings have no output.
    pub usage: Usage,
}
