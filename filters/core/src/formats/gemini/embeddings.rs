//! Gemini `batchEmbedContents` on AI Studio: `POST {base}/models/{model}:batchEmbedContents`
//! with one `EmbedContentRequest` per input, each naming the model again as a resource name
//! (Google refuses a batch whose requests name another model). The answer is
//! `{"embeddings": [{"values": […]}, …]}` in input order.
//!
//! - `dimensions` becomes each request's `outputDimensionality`; OpenAI's `user` has no
//!   Gemini field and is dropped.
//! - The answer names no model, and AI Studio reports no token counts for embeddings; a
//!   `usageMetadata` is read when present, otherwise the usage stays unknown.
//! - Vertex AI serves Gemini embedding models through `:predict` (`instances`/`predictions`),
//!   a different API that is not implemented: a Vertex provider answers with its own error.

use serde::Deserialize;
use serde_json::{json, Value};

use super::usage::WireUsage;
use crate::model::{ApiError, EmbeddingsRequest, EmbeddingsResponse};

/// The method below the model's path.
pub const METHOD: &str = "batchEmbedContents";

/// Writes a request for `model`.
pub fn encode_request(request: &EmbeddingsRequest, model: &str) -> Value {
    let resource = super::model_resource(model);
    let requests: Vec<Value> = request
        .inputs
        .iter()
        .map(|text| {
            let mut item = json!({"model": resource, "content": {"parts": [{"text": text}]}});
            if let Some(dimensions) = request.dimensions {
                item["outputDimensionality"] = json!(dimensions);
            }
            item
        })
        .collect();
    json!({ "requests": requests })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireResponse {
    embeddings: Vec<WireEmbedding>,
    usage_metadata: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireEmbedding {
    values: Vec<f32>,
}

/// Reads a provider response. The model is left empty: Gemini does not name it.
pub fn decode_response(body: &[u8]) -> Result<EmbeddingsResponse, ApiError> {
    let wire: WireResponse = serde_json::from_slice(body).map_err(|_| {
        ApiError::bad_upstream("the provider's embeddings response is not readable")
    })?;
    Ok(EmbeddingsResponse {
        model: String::new(),
        vectors: wire.embeddings.into_iter().map(|e| e.values).collect(),
        usage: wire
            .usage_metadata
            .and_then(|u| u.to_usage())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VectorEncoding;

    fn request(inputs: &[&str], dimensions: Option<u32>) -> EmbeddingsRequest {
        EmbeddingsRequest {
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            dimensions,
            encoding: VectorEncoding::Float,
            user: Some("end-user-1".into()),
        }
    }

    #[test]
    fn one_request_per_input_naming_the_model() {
        let body = encode_request(&request(&["a", "b"], Some(256)), "gemini-embedding-001");
        assert_eq!(
            body,
            json!({"requests": [
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]},
                 "outputDimensionality": 256},
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]},
                 "outputDimensionality": 256},
            ]})
        );
        let plain = encode_request(&request(&["a"], None), "tunedModels/mine");
        assert_eq!(
            plain,
            json!({"requests": [
                {"model": "tunedModels/mine", "content": {"parts": [{"text": "a"}]}},
            ]})
        );
    }

    #[test]
    fn vectors_in_order_and_usage_unknown_unless_reported() {
        let body = br#"{"embeddings": [{"values": [0.5, -1]}, {"values": [2]}]}"#;
        let response = decode_response(body).unwrap();
        assert_eq!(response.vectors, vec![vec![0.5, -1.0], vec![2.0]]);
        assert_eq!(response.model, "");
        assert_eq!(response.usage.input_tokens, None);

        let counted =
            br#"{"embeddings": [{"values": [1]}], "usageMetadata": {"promptTokenCount": 9}}"#;
        let usage = decode_response(counted).unwrap().usage;
        assert_eq!(usage.input_tokens, Some(9));
        assert_eq!(usage.output_tokens, Some(0));
    }

    #[test]
    fn unreadable_answers_are_upstream_errors() {
        for body in [
            &br#"{"predictions": []}"#[..],
            b"not json",
            br#"{"embeddings": [{"values": "x"}]}"#,
        ] {
            let error = decode_response(body).unwrap_err();
            let body = String::from_utf8_lossy(body);
            assert_eq!(
                error.code.as_deref(),
                Some("bad_upstream_response"),
                "{body}"
            );
        }
    }
}
