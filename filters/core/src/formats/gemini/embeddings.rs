//! Embeddings on Google's two APIs, which serve them through different methods.
//!
//! AI Studio: `POST {base}/models/{model}:batchEmbedContents` with one `EmbedContentRequest`
//! per input, each naming the model again as a resource name (Google refuses a batch whose
//! requests name another model). The answer is `{"embeddings": [{"values": […]}, …]}` in
//! input order, with no token counts; a `usageMetadata` is read when present.
//!
//! Vertex AI: `POST {base}/models/{model}:predict`, the method Vertex serves for both
//! `text-embedding-*` and `gemini-embedding-*` publisher models, with
//! `{"instances": [{"content"}…], "parameters": {"outputDimensionality"}}`. The answer is
//! `{"predictions": [{"embeddings": {"values", "statistics": {"token_count"}}}]}`; the input
//! usage is the sum of the per-text token counts. Vertex limits how many instances a model
//! takes per call (one for `gemini-embedding-001`) and says so itself.
//!
//! On both, `dimensions` becomes `outputDimensionality`; OpenAI's `user` has no Gemini field
//! and is dropped; the answer names no model.

use serde::Deserialize;
use serde_json::{json, Value};

use super::usage::WireUsage;
use crate::formats::fields::lenient_count;
use crate::model::{ApiError, EmbeddingsRequest, EmbeddingsResponse, Usage};

/// Which Google API a provider's base path addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    AiStudio,
    Vertex,
}

impl Api {
    pub fn of(base_path: &str) -> Api {
        if super::is_vertex_publisher_path(base_path) {
            Api::Vertex
        } else {
            Api::AiStudio
        }
    }

    fn method(self) -> &'static str {
        match self {
            Api::AiStudio => "batchEmbedContents",
            Api::Vertex => "predict",
        }
    }
}

/// Path of the embeddings method below the base path.
pub fn path(api: Api, model: &str) -> String {
    super::model_method_path(model, api.method())
}

/// Writes a request for `model`.
pub fn encode_request(api: Api, request: &EmbeddingsRequest, model: &str) -> Value {
    match api {
        Api::AiStudio => encode_batch(request, model),
        Api::Vertex => encode_predict(request),
    }
}

fn encode_predict(request: &EmbeddingsRequest) -> Value {
    let instances: Vec<Value> = request
        .inputs
        .iter()
        .map(|text| json!({ "content": text }))
        .collect();
    let mut body = json!({ "instances": instances });
    if let Some(dimensions) = request.dimensions {
        body["parameters"] = json!({ "outputDimensionality": dimensions });
    }
    body
}

fn encode_batch(request: &EmbeddingsRequest, model: &str) -> Value {
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

#[derive(Deserialize)]
struct PredictResponse {
    predictions: Vec<Prediction>,
}

#[derive(Deserialize)]
struct Prediction {
    embeddings: PredictedEmbedding,
}

#[derive(Deserialize)]
struct PredictedEmbedding {
    values: Vec<f32>,
    #[serde(default)]
    statistics: Option<Statistics>,
}

#[derive(Deserialize)]
struct Statistics {
    #[serde(default, deserialize_with = "lenient_count")]
    token_count: Option<u64>,
}

/// Reads a provider response. The model is left empty: Gemini does not name it.
pub fn decode_response(api: Api, body: &[u8]) -> Result<EmbeddingsResponse, ApiError> {
    let unreadable =
        || ApiError::bad_upstream("the provider's embeddings response is not readable");
    match api {
        Api::AiStudio => decode_batch(serde_json::from_slice(body).map_err(|_| unreadable())?),
        Api::Vertex => decode_predict(serde_json::from_slice(body).map_err(|_| unreadable())?),
    }
}

fn decode_predict(wire: PredictResponse) -> Result<EmbeddingsResponse, ApiError> {
    let counts: Option<Vec<u64>> = (wire.predictions.iter())
        .map(|p| p.embeddings.statistics.as_ref()?.token_count)
        .collect();
    Ok(EmbeddingsResponse {
        model: String::new(),
        usage: Usage {
            input_tokens: counts.map(|c| c.iter().sum()),
            ..Usage::default()
        },
        vectors: (wire.predictions.into_iter())
            .map(|p| p.embeddings.values)
            .collect(),
    })
}

fn decode_batch(wire: WireResponse) -> Result<EmbeddingsResponse, ApiError> {
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
        let body = encode_request(
            Api::AiStudio,
            &request(&["a", "b"], Some(256)),
            "gemini-embedding-001",
        );
        assert_eq!(
            body,
            json!({"requests": [
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]},
                 "outputDimensionality": 256},
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]},
                 "outputDimensionality": 256},
            ]})
        );
        let plain = encode_request(Api::AiStudio, &request(&["a"], None), "tunedModels/mine");
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
        let response = decode_response(Api::AiStudio, body).unwrap();
        assert_eq!(response.vectors, vec![vec![0.5, -1.0], vec![2.0]]);
        assert_eq!(response.model, "");
        assert_eq!(response.usage.input_tokens, None);

        let counted =
            br#"{"embeddings": [{"values": [1]}], "usageMetadata": {"promptTokenCount": 9}}"#;
        let usage = decode_response(Api::AiStudio, counted).unwrap().usage;
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
            let error = decode_response(Api::AiStudio, body).unwrap_err();
            let body = String::from_utf8_lossy(body);
            assert_eq!(
                error.code.as_deref(),
                Some("bad_upstream_response"),
                "{body}"
            );
        }
    }

    const VERTEX_BASE: &str = "/v1/projects/p/locations/us-central1/publishers/google";

    #[test]
    fn the_base_path_tells_the_api() {
        assert_eq!(Api::of(VERTEX_BASE), Api::Vertex);
        assert_eq!(Api::of("/v1beta"), Api::AiStudio);
        assert_eq!(
            path(Api::Vertex, "text-embedding-005"),
            "/models/text-embedding-005:predict"
        );
        assert_eq!(
            path(Api::AiStudio, "gemini-embedding-001"),
            "/models/gemini-embedding-001:batchEmbedContents"
        );
    }

    #[test]
    fn vertex_predicts_one_instance_per_input() {
        let body = encode_request(Api::Vertex, &request(&["a", "b"], Some(256)), "m");
        assert_eq!(
            body,
            json!({"instances": [{"content": "a"}, {"content": "b"}],
                   "parameters": {"outputDimensionality": 256}})
        );
        let plain = encode_request(Api::Vertex, &request(&["a"], None), "m");
        assert_eq!(plain, json!({"instances": [{"content": "a"}]}));
    }

    #[test]
    fn vertex_usage_sums_the_token_counts() {
        let body = br#"{"predictions": [
            {"embeddings": {"statistics": {"truncated": false, "token_count": 6}, "values": [0.5]}},
            {"embeddings": {"statistics": {"truncated": false, "token_count": 2.0}, "values": [1]}}],
            "metadata": {"billableCharacterCount": 30}}"#;
        let response = decode_response(Api::Vertex, body).unwrap();
        assert_eq!(response.vectors, vec![vec![0.5], vec![1.0]]);
        assert_eq!(response.usage.input_tokens, Some(8));

        let uncounted = br#"{"predictions": [{"embeddings": {"values": [1]}}]}"#;
        let response = decode_response(Api::Vertex, uncounted).unwrap();
        assert_eq!(response.usage.input_tokens, None);
        let batch = br#"{"embeddings": [{"values": [1]}]}"#;
        assert!(decode_response(Api::Vertex, batch).is_err());
    }
}
