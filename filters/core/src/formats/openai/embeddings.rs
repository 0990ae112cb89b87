//! OpenAI `/v1/embeddings`: the client-facing shape and the OpenAI-family provider shape.
//!
//! Request: `{"model", "input": string | [string], "dimensions"?, "encoding_format"?, "user"?}`.
//! Token-array inputs (`[int]`, `[[int]]`) only make sense to OpenAI's own tokenizer, so they
//! are accepted for same-format passthrough only. Response:
//! `{"object":"list","data":[{"object":"embedding","index","embedding":[…]}],"model","usage":{"prompt_tokens","total_tokens"}}`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::usage::WireUsage;
use crate::formats::fields::{string_or_strings, FieldError, Fields};
use base64::Engine;

use crate::model::{ApiError, EmbeddingsRequest, EmbeddingsResponse, Usage, VectorEncoding};

/// Path below the provider's base path.
pub const EMBEDDINGS_PATH: &str = "/embeddings";

/// Reads a client request.
pub fn decode_request(body: &Value) -> Result<EmbeddingsRequest, FieldError> {
    let fields = Fields::new(body, "")?;
    if !fields.has("input") {
        return Err(fields.missing("input"));
    }
    let inputs = string_or_strings(&fields, "input").map_err(|_| {
        FieldError::unsupported(
            fields.path("input"),
            "must be text (a string or an array of strings) for this provider",
        )
    })?;
    if inputs.is_empty() {
        return Err(FieldError::unsupported(
            fields.path("input"),
            "must not be empty",
        ));
    }
    let encoding = match fields.str("encoding_format")? {
        None | Some("float") => VectorEncoding::Float,
        Some("base64") => VectorEncoding::Base64,
        Some(_) => {
            return Err(FieldError::unsupported(
                fields.path("encoding_format"),
                "must be 'float' or 'base64'",
            ))
        }
    };
    let dimensions = fields
        .u64("dimensions")?
        .map(|d| d.min(u64::from(u32::MAX)) as u32);
    Ok(EmbeddingsRequest {
        inputs,
        dimensions,
        encoding,
        user: fields.str("user")?.map(str::to_owned),
    })
}

/// Writes a request for an OpenAI-format provider.
pub fn encode_request(request: &EmbeddingsRequest, model: &str) -> Value {
    let mut body = json!({"model": model, "input": request.inputs, "encoding_format": "float"});
    if let Some(d) = request.dimensions {
        body["dimensions"] = json!(d);
    }
    if let Some(user) = &request.user {
        body["user"] = json!(user);
    }
    body
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    model: String,
    data: Vec<WireEmbedding>,
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Deserialize)]
struct WireEmbedding {
    index: usize,
    embedding: Vec<f32>,
}

/// Reads a provider response; vectors are put back in input order by their `index`.
pub fn decode_response(body: &[u8]) -> Result<EmbeddingsResponse, ApiError> {
    let wire: WireResponse = serde_json::from_slice(body).map_err(|_| {
        ApiError::bad_upstream("the provider's embeddings response is not readable")
    })?;
    let mut vectors = vec![Vec::new(); wire.data.len()];
    for item in wire.data {
        let slot = vectors.get_mut(item.index).ok_or_else(|| {
            ApiError::bad_upstream("the provider's embedding indices are out of range")
        })?;
        *slot = item.embedding;
    }
    Ok(EmbeddingsResponse {
        model: wire.model,
        vectors,
        usage: wire.usage.to_usage(),
    })
}

/// Only the usage of a response, whatever its vector encoding.
pub fn decode_usage(body: &[u8]) -> Option<Usage> {
    #[derive(Deserialize)]
    struct UsageOnly {
        usage: Option<WireUsage>,
    }
    let wire: UsageOnly = serde_json::from_slice(body).ok()?;
    wire.usage.map(|u| u.to_usage())
}

/// Writes the client response, vectors in the encoding the client asked for.
pub fn encode_response(response: &EmbeddingsResponse, encoding: VectorEncoding) -> Value {
    let data: Vec<Value> = response
        .vectors
        .iter()
        .enumerate()
        .map(|(index, v)| {
            let embedding = match encoding {
                VectorEncoding::Float => json!(v),
                VectorEncoding::Base64 => json!(base64_floats(v)),
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let prompt = response.usage.prompt_tokens();
    json!({
        "object": "list",
        "data": data,
        "model": response.model,
        "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
    })
}

/// OpenAI's base64 vector encoding: the little-endian bytes of each `f32`.
fn base64_floats(vector: &[f32]) -> String {
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Same-format passthrough: only the model changes, so token inputs and base64 survive.
pub fn prepare_passthrough(body: &mut Value, model: &str) {
    body["model"] = json!(model);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_string_and_list_inputs() {
        let one = decode_request(&json!({"model": "m", "input": "hello"})).unwrap();
        assert_eq!(one.inputs, ["hello"]);
        let many =
            decode_request(&json!({"model": "m", "input": ["a", "b"], "dimensions": 256})).unwrap();
        assert_eq!(many.inputs, ["a", "b"]);
        assert_eq!(many.dimensions, Some(256));
    }

    #[test]
    fn refuses_what_other_providers_cannot_take() {
        assert!(matches!(
            decode_request(&json!({"model": "m"})),
            Err(FieldError::Missing { .. })
        ));
        assert!(decode_request(&json!({"model": "m", "input": []})).is_err());
        assert!(decode_request(&json!({"model": "m", "input": [1, 2, 3]})).is_err());
        let unknown = json!({"model": "m", "input": "x", "encoding_format": "int8"});
        assert!(decode_request(&unknown).is_err());
    }

    #[test]
    fn response_round_trip_keeps_order_and_usage() {
        let body = br#"{"object":"list","model":"text-embedding-3-small",
            "data":[{"object":"embedding","index":1,"embedding":[0.5,0.25]},
                    {"object":"embedding","index":0,"embedding":[1.0,-1.0]}],
            "usage":{"prompt_tokens":7,"total_tokens":7}}"#;
        let response = decode_response(body).unwrap();
        assert_eq!(response.vectors, vec![vec![1.0, -1.0], vec![0.5, 0.25]]);
        assert_eq!(response.usage.input_tokens, Some(7));
        let out = encode_response(&response, VectorEncoding::Float);
        assert_eq!(out["data"][1]["embedding"], json!([0.5, 0.25]));
        assert_eq!(out["usage"]["prompt_tokens"], 7);
    }

    #[test]
    fn base64_is_little_endian_f32() {
        let request = json!({"model": "m", "input": "x", "encoding_format": "base64"});
        assert_eq!(
            decode_request(&request).unwrap().encoding,
            VectorEncoding::Base64
        );
        let response = EmbeddingsResponse {
            model: "m".into(),
            vectors: vec![vec![1.0, -2.0]],
            usage: Default::default(),
        };
        let out = encode_response(&response, VectorEncoding::Base64);
        // 1.0f32 = 00 00 80 3f, -2.0f32 = 00 00 00 c0 (little endian).
        assert_eq!(out["data"][0]["embedding"], "AACAPwAAAMA=");
    }

    #[test]
    fn bad_indices_are_an_upstream_error() {
        let body = br#"{"data":[{"index":3,"embedding":[1.0]}]}"#;
        assert!(decode_response(body).is_err());
    }
}
