//! Cohere Embed API v2: `POST {base}/embed` with `{"model", "texts", "input_type",
//! "embedding_types"}` (see [`cohere_embed`] for the choices), answered with
//! `{"embeddings": {"float": [[…]]}, "meta": {"billed_units": {"input_tokens"}}}`.
//!
//! The answer names no model. `meta` has the shape of a chat `usage` (`billed_units`,
//! sometimes `tokens`), so the chat usage reader normalises it.

use serde::Deserialize;
use serde_json::{json, Value};

use super::usage::WireUsage;
use crate::formats::cohere_embed::{self, WireEmbeddings};
use crate::formats::fields::FieldError;
use crate::model::{ApiError, EmbeddingsRequest, EmbeddingsResponse};

/// Path below the provider's base path.
pub const EMBED_PATH: &str = "/embed";

/// Writes a request for `model`.
pub fn encode_request(request: &EmbeddingsRequest, model: &str) -> Result<Value, FieldError> {
    let mut body = cohere_embed::encode_body(request)?;
    body["model"] = json!(model);
    Ok(body)
}

#[derive(Deserialize)]
struct WireResponse {
    embeddings: WireEmbeddings,
    #[serde(default)]
    meta: Option<WireUsage>,
}

/// Reads a provider response. The model is left empty: Cohere does not name it.
pub fn decode_response(body: &[u8]) -> Result<EmbeddingsResponse, ApiError> {
    let wire: WireResponse =
        serde_json::from_slice(body).map_err(|_| cohere_embed::unreadable())?;
    Ok(EmbeddingsResponse {
        model: String::new(),
        vectors: wire.embeddings.into_vectors(),
        usage: wire.meta.map(|m| m.to_usage()).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VectorEncoding;

    #[test]
    fn request_names_the_model() {
        let request = EmbeddingsRequest {
            inputs: vec!["hello".into()],
            dimensions: None,
            encoding: VectorEncoding::Float,
            user: None,
        };
        assert_eq!(
            encode_request(&request, "embed-v4.0").unwrap(),
            json!({"model": "embed-v4.0", "texts": ["hello"], "input_type": "search_document",
                   "embedding_types": ["float"]})
        );
    }

    #[test]
    fn answer_vectors_and_billed_input() {
        let body = br#"{"id": "x", "texts": ["a", "b"], "response_type": "embeddings_by_type",
            "embeddings": {"float": [[0.5, -1], [2]]},
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": 4}}}"#;
        let response = decode_response(body).unwrap();
        assert_eq!(response.vectors, vec![vec![0.5, -1.0], vec![2.0]]);
        assert_eq!(response.usage.input_tokens, Some(4));
        assert_eq!(response.model, "");
    }

    #[test]
    fn answers_without_meta_have_unknown_usage() {
        let response = decode_response(br#"{"embeddings": [[1]]}"#).unwrap();
        assert_eq!(response.usage.input_tokens, None);
        let error = decode_response(br#"{"embeddings": {"int8": [[1]]}}"#).unwrap_err();
        assert_eq!(error.code.as_deref(), Some("bad_upstream_response"));
    }
}
