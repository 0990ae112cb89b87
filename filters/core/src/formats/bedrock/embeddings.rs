//! Bedrock embeddings through InvokeModel: `POST /model/{model id}/invoke` with the model's
//! own body, so the model family, read from the id, decides the shape.
//!
//! - Amazon Titan Text Embeddings V2 (`amazon.titan-embed-text-v2:0`): `{"inputText",
//!   "dimensions", "normalize"}` → `{"embedding", "inputTextTokenCount"}`. One text per
//!   call, so a request with more inputs is refused rather than cut short. `dimensions`
//!   takes 256, 512 or 1024; `normalize` is sent as `true` because OpenAI's vectors are
//!   unit length and clients compare them with dot products.
//! - Amazon Titan Embeddings G1 (`amazon.titan-embed-text-v1`): `inputText` only.
//! - Cohere Embed (`cohere.embed-…`): Cohere's own body without the model
//!   ([`cohere_embed`]). Its answer has no token counts; Bedrock reports them in the
//!   [`INPUT_TOKENS_HEADER`] response header instead.
//!
//! ARNs and application inference profiles do not name their model, so they cannot be
//! used for embeddings.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::formats::cohere_embed::{self, WireEmbeddings};
use crate::formats::fields::{lenient_count, FieldError};
use crate::formats::path::encode_component;
use crate::model::{ApiError, EmbeddingsRequest, EmbeddingsResponse, Usage};

/// InvokeModel response header with the input token count.
pub const INPUT_TOKENS_HEADER: &str = "x-amzn-bedrock-input-token-count";

/// The sizes Titan Text Embeddings V2 produces.
const TITAN_V2_DIMENSIONS: [u32; 3] = [256, 512, 1024];

/// The embedding model families, whose bodies differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    TitanV2,
    TitanV1,
    Cohere,
}

impl Family {
    /// The family of a model id or inference-profile id (`us.cohere.embed-v4:0`).
    pub fn of(model: &str) -> Option<Family> {
        if model.contains("amazon.titan-embed-text-v2") {
            Some(Family::TitanV2)
        } else if model.contains("amazon.titan-embed-text-v1") {
            Some(Family::TitanV1)
        } else if model.contains("cohere.embed") {
            Some(Family::Cohere)
        } else {
            None
        }
    }
}

/// Path of the InvokeModel endpoint for `model`, encoded as in
/// [`super::endpoint_path`].
pub fn path(model: &str) -> String {
    format!("/model/{}/invoke", encode_component(model))
}

/// Writes a request for `model`.
pub fn encode_request(request: &EmbeddingsRequest, model: &str) -> Result<Value, FieldError> {
    match Family::of(model) {
        Some(Family::Cohere) => cohere_embed::encode_body(request),
        Some(titan) => encode_titan(request, titan),
        None => Err(FieldError::unsupported(
            "model",
            "is served by a Bedrock model without a known embeddings body \
             (Amazon Titan Text Embeddings and Cohere Embed are supported)",
        )),
    }
}

fn encode_titan(request: &EmbeddingsRequest, family: Family) -> Result<Value, FieldError> {
    let [text] = request.inputs.as_slice() else {
        return Err(FieldError::unsupported(
            "input",
            "must be a single text for Amazon Titan embeddings, which embed one text per call",
        ));
    };
    let mut body = json!({ "inputText": text });
    if family == Family::TitanV2 {
        body["normalize"] = json!(true);
    }
    match (request.dimensions, family) {
        (None, _) => {}
        (Some(d), Family::TitanV2) if TITAN_V2_DIMENSIONS.contains(&d) => {
            body["dimensions"] = json!(d);
        }
        (Some(_), Family::TitanV2) => {
            return Err(FieldError::unsupported(
                "dimensions",
                "must be 256, 512 or 1024 for Amazon Titan Text Embeddings V2",
            ))
        }
        (Some(_), _) => {
            return Err(FieldError::unsupported(
                "dimensions",
                "is not supported by Amazon Titan Embeddings G1",
            ))
        }
    }
    Ok(body)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanResponse {
    embedding: Vec<f32>,
    #[serde(default, deserialize_with = "lenient_count")]
    input_text_token_count: Option<u64>,
}

#[derive(Deserialize)]
struct CohereResponse {
    embeddings: WireEmbeddings,
}

/// Reads the answer of `model`. The model is left empty: neither family names it.
pub fn decode_response(body: &[u8], model: &str) -> Result<EmbeddingsResponse, ApiError> {
    let (vectors, input_tokens) = match Family::of(model) {
        Some(Family::Cohere) => {
            let wire: CohereResponse =
                serde_json::from_slice(body).map_err(|_| cohere_embed::unreadable())?;
            (wire.embeddings.into_vectors(), None)
        }
        _ => {
            let wire: TitanResponse =
                serde_json::from_slice(body).map_err(|_| cohere_embed::unreadable())?;
            (vec![wire.embedding], wire.input_text_token_count)
        }
    };
    Ok(EmbeddingsResponse {
        model: String::new(),
        vectors,
        usage: Usage {
            input_tokens,
            ..Usage::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VectorEncoding;

    const TITAN_V2: &str = "amazon.titan-embed-text-v2:0";

    fn request(inputs: &[&str], dimensions: Option<u32>) -> EmbeddingsRequest {
        EmbeddingsRequest {
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            dimensions,
            encoding: VectorEncoding::Float,
            user: None,
        }
    }

    fn unsupported_path(error: FieldError) -> String {
        match error {
            FieldError::Unsupported { path, .. } => path,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn families_from_model_ids() {
        assert_eq!(Family::of(TITAN_V2), Some(Family::TitanV2));
        assert_eq!(
            Family::of("amazon.titan-embed-text-v1"),
            Some(Family::TitanV1)
        );
        assert_eq!(Family::of("us.cohere.embed-v4:0"), Some(Family::Cohere));
        assert_eq!(
            Family::of("cohere.embed-multilingual-v3"),
            Some(Family::Cohere)
        );
        assert_eq!(Family::of("anthropic.claude-3-haiku-20240307-v1:0"), None);
        assert_eq!(
            path(TITAN_V2),
            "/model/amazon.titan-embed-text-v2%3A0/invoke"
        );
    }

    #[test]
    fn titan_v2_takes_one_normalised_text() {
        assert_eq!(
            encode_request(&request(&["hi"], Some(256)), TITAN_V2).unwrap(),
            json!({"inputText": "hi", "normalize": true, "dimensions": 256})
        );
        assert_eq!(
            encode_request(&request(&["hi"], None), "amazon.titan-embed-text-v1").unwrap(),
            json!({"inputText": "hi"})
        );
    }

    #[test]
    fn titan_refuses_what_it_cannot_embed() {
        let two = encode_request(&request(&["a", "b"], None), TITAN_V2).unwrap_err();
        assert_eq!(unsupported_path(two), "input");
        let odd = encode_request(&request(&["a"], Some(300)), TITAN_V2).unwrap_err();
        assert_eq!(unsupported_path(odd), "dimensions");
        let v1 =
            encode_request(&request(&["a"], Some(256)), "amazon.titan-embed-text-v1").unwrap_err();
        assert_eq!(unsupported_path(v1), "dimensions");
        let chat = encode_request(&request(&["a"], None), "amazon.nova-pro-v1:0").unwrap_err();
        assert_eq!(unsupported_path(chat), "model");
    }

    #[test]
    fn cohere_bodies_name_no_model() {
        let body = encode_request(&request(&["a", "b"], None), "cohere.embed-english-v3").unwrap();
        assert_eq!(body["texts"], json!(["a", "b"]));
        assert_eq!(body["input_type"], "search_document");
        assert!(body.get("model").is_none());
    }

    #[test]
    fn reads_titan_and_cohere_answers() {
        let titan = br#"{"embedding": [0.5, -0.5], "inputTextTokenCount": 3,
            "embeddingsByType": {"float": [0.5, -0.5]}}"#;
        let response = decode_response(titan, TITAN_V2).unwrap();
        assert_eq!(response.vectors, vec![vec![0.5, -0.5]]);
        assert_eq!(response.usage.input_tokens, Some(3));

        let cohere = br#"{"id": "x", "response_type": "embeddings_by_type", "texts": ["a", "b"],
            "embeddings": {"float": [[1], [2]]}}"#;
        let response = decode_response(cohere, "cohere.embed-english-v3").unwrap();
        assert_eq!(response.vectors, vec![vec![1.0], vec![2.0]]);
        assert_eq!(response.usage.input_tokens, None);

        let error = decode_response(br#"{"embeddings": [[1]]}"#, TITAN_V2).unwrap_err();
        assert_eq!(error.code.as_deref(), Some("bad_upstream_response"));
    }
}
