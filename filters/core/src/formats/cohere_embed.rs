//! Rules of Cohere's Embed models that hold whichever API reaches them (Cohere v2 `/embed`,
//! Bedrock InvokeModel): the request's `texts`/`input_type`/`embedding_types` and the
//! answer's `embeddings`.
//!
//! - `input_type` is required by every Embed v3+ model and OpenAI clients cannot say it.
//!   Tollgate sends `search_document`: the bulk of what `/v1/embeddings` sees is text being
//!   indexed for retrieval, and vectors stored with the wrong type degrade every later search,
//!   while a query embedded as a document still lands close to its documents. It is also
//!   what other OpenAI-compatible gateways send, so vectors stay comparable when a client
//!   moves between them.
//! - Only float vectors are asked for (`embedding_types: ["float"]`); the client's base64
//!   encoding is produced from them, the same bytes OpenAI would send.
//! - `dimensions` becomes `output_dimension`, which Embed v4 accepts in four sizes; earlier
//!   models refuse it themselves.

use serde::Deserialize;
use serde_json::{json, Value};

use super::fields::FieldError;
use crate::model::{ApiError, EmbeddingsRequest};

/// `input_type` sent for every request (see the module docs).
pub const INPUT_TYPE: &str = "search_document";

/// The vector sizes `output_dimension` takes.
const OUTPUT_DIMENSIONS: [u32; 4] = [256, 512, 1024, 1536];

/// The request body without the model (Bedrock names it in the path).
pub fn encode_body(request: &EmbeddingsRequest) -> Result<Value, FieldError> {
    let mut body = json!({
        "texts": request.inputs,
        "input_type": INPUT_TYPE,
        "embedding_types": ["float"],
    });
    if let Some(dimensions) = request.dimensions {
        if !OUTPUT_DIMENSIONS.contains(&dimensions) {
            return Err(FieldError::unsupported(
                "dimensions",
                "must be 256, 512, 1024 or 1536 for Cohere Embed models",
            ));
        }
        body["output_dimension"] = json!(dimensions);
    }
    Ok(body)
}

/// The `embeddings` of an answer: by type when `embedding_types` was sent, a plain list of
/// float vectors otherwise (older answers, `response_type: embeddings_floats`).
#[derive(Deserialize)]
#[serde(untagged)]
pub enum WireEmbeddings {
    ByType { float: Vec<Vec<f32>> },
    Floats(Vec<Vec<f32>>),
}

impl WireEmbeddings {
    pub fn into_vectors(self) -> Vec<Vec<f32>> {
        match self {
            WireEmbeddings::ByType { float } | WireEmbeddings::Floats(float) => float,
        }
    }
}

/// The error for an answer whose vectors cannot be read.
pub fn unreadable() -> ApiError {
    ApiError::bad_upstream("the provider's embeddings response is not readable")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VectorEncoding;

    fn request(dimensions: Option<u32>) -> EmbeddingsRequest {
        EmbeddingsRequest {
            inputs: vec!["a".into(), "b".into()],
            dimensions,
            encoding: VectorEncoding::Base64,
            user: Some("u".into()),
        }
    }

    #[test]
    fn asks_for_float_documents() {
        assert_eq!(
            encode_body(&request(None)).unwrap(),
            json!({"texts": ["a", "b"], "input_type": "search_document", "embedding_types": ["float"]})
        );
        assert_eq!(
            encode_body(&request(Some(512))).unwrap()["output_dimension"],
            512
        );
    }

    #[test]
    fn other_dimensions_are_refused() {
        let error = encode_body(&request(Some(300))).unwrap_err();
        assert!(matches!(error, FieldError::Unsupported { ref path, .. } if path == "dimensions"));
    }

    #[test]
    fn reads_both_answer_shapes() {
        for body in [r#"{"float": [[1.0], [2.0]]}"#, "[[1.0], [2.0]]"] {
            let wire: WireEmbeddings = serde_json::from_str(body).unwrap();
            assert_eq!(wire.into_vectors(), vec![vec![1.0], vec![2.0]]);
        }
        assert!(serde_json::from_str::<WireEmbeddings>(r#"{"int8": [[1]]}"#).is_err());
    }
}
