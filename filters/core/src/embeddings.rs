//! Embeddings translation: clients speak OpenAI's `/v1/embeddings`; the provider's format
//! decides the upstream request and how its answer is read back.
//!
//! Embeddings answers are small and never streamed, so the response is translated whole.

use crate::error::GatewayError;
use crate::formats::codec;
use crate::formats::fields::parse_object;
use crate::formats::openai::embeddings as client_shape;
use crate::formats::path::PathContext;
use crate::formats::tool_names::ToolNameMap;
use crate::formats::WireFormat;
use crate::model::{ApiError, Usage, VectorEncoding};
use crate::translate::{ProviderTarget, UpstreamRequest};

/// A request ready for the provider, and what the client's answer must look like.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsUpstream {
    pub request: UpstreamRequest,
    /// Vector encoding the client asked for; only translated answers need it.
    pub encoding: VectorEncoding,
}

/// Translates a client embeddings request for `target`.
pub fn translate_request(
    target: &ProviderTarget,
    body: &[u8],
) -> Result<EmbeddingsUpstream, GatewayError> {
    let mut value = parse_object(body)?;
    let (upstream, encoding) = if target.format == WireFormat::OpenAi {
        client_shape::prepare_passthrough(&mut value, target.upstream_model);
        (value, VectorEncoding::Float)
    } else {
        let request = client_shape::decode_request(&value)?;
        let encoded =
            codec::encode_embeddings_request(target.format, &request, target.upstream_model)?;
        (encoded, request.encoding)
    };
    let context = PathContext {
        model: target.upstream_model,
        stream: false,
        api_version: target.api_version,
    };
    let path = codec::embeddings_path(target.format, &context).ok_or_else(|| {
        GatewayError::invalid_request("This model's provider does not offer embeddings")
            .with_param("model")
    })?;
    let request = UpstreamRequest {
        path: format!("{}{}", target.base_path, path),
        body: upstream.to_string().into_bytes(),
        headers: codec::upstream_headers(target.format),
        stream: false,
        client_wants_stream_usage: false,
        tool_names: ToolNameMap::default(),
    };
    Ok(EmbeddingsUpstream { request, encoding })
}

/// A translated embeddings answer.
#[derive(Debug, Clone, PartialEq)]
pub struct TranslatedResponse {
    pub status: u16,
    pub body: Vec<u8>,
    pub usage: Option<Usage>,
}

impl TranslatedResponse {
    fn error(error: &ApiError, status: u16) -> TranslatedResponse {
        let body = codec::encode_error(WireFormat::OpenAi, error)
            .to_string()
            .into_bytes();
        TranslatedResponse {
            status,
            body,
            usage: None,
        }
    }
}

/// Translates a provider's whole embeddings answer for an OpenAI client. `model` (the
/// upstream model) is named in the answer when the provider names none (Gemini).
pub fn translate_response(
    provider: WireFormat,
    encoding: VectorEncoding,
    model: &str,
    status: u16,
    body: &[u8],
) -> TranslatedResponse {
    if !(200..300).contains(&status) {
        // No embeddings format so far names its error type in a header
        // (`codec::error_type_header`), so the body says it all.
        let error = codec::decode_error(provider, body, status, None);
        return TranslatedResponse::error(&error, status);
    }
    if provider == WireFormat::OpenAi {
        // Same format: the bytes are what the client expects (in whatever encoding it
        // asked for); only the usage is read.
        let usage = client_shape::decode_usage(body);
        return TranslatedResponse {
            status,
            body: body.to_vec(),
            usage,
        };
    }
    match codec::decode_embeddings_response(provider, body) {
        Ok(mut response) => {
            if response.model.is_empty() {
                response.model = model.to_owned();
            }
            TranslatedResponse {
                status,
                body: client_shape::encode_response(&response, encoding)
                    .to_string()
                    .into_bytes(),
                usage: Some(response.usage),
            }
        }
        Err(error) => TranslatedResponse::error(&error, error.class.status()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(format: WireFormat) -> ProviderTarget<'static> {
        ProviderTarget {
            format,
            base_path: "/v1",
            upstream_model: "embed-upstream",
            api_version: None,
        }
    }

    #[test]
    fn openai_passthrough_rewrites_only_the_model() {
        let body = br#"{"model":"embed","input":[[1,2,3]],"encoding_format":"base64"}"#;
        let up = translate_request(&target(WireFormat::OpenAi), body)
            .unwrap()
            .request;
        assert_eq!(up.path, "/v1/embeddings");
        let v: serde_json::Value = serde_json::from_slice(&up.body).unwrap();
        assert_eq!(v["model"], "embed-upstream");
        assert_eq!(v["input"], serde_json::json!([[1, 2, 3]]));
    }

    #[test]
    fn azure_deployments_address_embeddings_too() {
        let azure = ProviderTarget {
            api_version: Some("2024-10-21"),
            ..target(WireFormat::OpenAi)
        };
        let up = translate_request(&azure, br#"{"model":"e","input":"x"}"#).unwrap();
        assert_eq!(
            up.request.path,
            "/v1/deployments/embed-upstream/embeddings?api-version=2024-10-21"
        );
    }

    #[test]
    fn gemini_embeds_in_one_batch_call() {
        let body = br#"{"model":"e","input":["a","b"],"dimensions":3,"encoding_format":"base64"}"#;
        let up = translate_request(&target(WireFormat::Gemini), body).unwrap();
        assert_eq!(up.encoding, VectorEncoding::Base64);
        assert_eq!(
            up.request.path,
            "/v1/models/embed-upstream:batchEmbedContents"
        );
        let v: serde_json::Value = serde_json::from_slice(&up.request.body).unwrap();
        assert_eq!(v["requests"].as_array().map(Vec::len), Some(2));
        assert_eq!(v["requests"][1]["content"]["parts"][0]["text"], "b");
        assert_eq!(v["requests"][1]["outputDimensionality"], 3);
    }

    #[test]
    fn gemini_answers_name_the_upstream_model_and_keep_the_order() {
        let body = br#"{"embeddings":[{"values":[1.0,-2.0]},{"values":[0.5]}]}"#;
        let out = translate_response(
            WireFormat::Gemini,
            VectorEncoding::Float,
            "gemini-embedding-001",
            200,
            body,
        );
        assert_eq!(out.status, 200);
        let v: serde_json::Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(v["model"], "gemini-embedding-001");
        assert_eq!(v["data"][0]["embedding"], serde_json::json!([1.0, -2.0]));
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(out.usage.unwrap().input_tokens, None);

        let error = br#"{"error":{"code":400,"message":"bad model","status":"INVALID_ARGUMENT"}}"#;
        let out = translate_response(WireFormat::Gemini, VectorEncoding::Float, "m", 400, error);
        let v: serde_json::Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(
            (out.status, &v["error"]["message"]),
            (400, &serde_json::json!("bad model"))
        );
    }

    #[test]
    fn providers_without_embeddings_are_a_clear_400() {
        let err = translate_request(
            &target(WireFormat::Anthropic),
            br#"{"model":"m","input":"x"}"#,
        )
        .unwrap_err();
        assert_eq!(err.status(), 400);
        assert_eq!(err.param.as_deref(), Some("model"));
    }

    #[test]
    fn missing_input_is_a_400_naming_it() {
        let err =
            translate_request(&target(WireFormat::Anthropic), br#"{"model":"m"}"#).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("input"));
    }

    #[test]
    fn response_passthrough_keeps_bytes_and_reads_usage() {
        let body = br#"{"object":"list","model":"m","data":[{"object":"embedding","index":0,"embedding":[0.1]}],"usage":{"prompt_tokens":3,"total_tokens":3}}"#;
        let out = translate_response(WireFormat::OpenAi, VectorEncoding::Float, "m", 200, body);
        assert_eq!(out.body, body.to_vec());
        assert_eq!(out.usage.unwrap().input_tokens, Some(3));
    }

    #[test]
    fn provider_errors_become_openai_errors() {
        let out = translate_response(
            WireFormat::OpenAi,
            VectorEncoding::Float,
            "m",
            429,
            br#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#,
        );
        assert_eq!(out.status, 429);
        let v: serde_json::Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(v["error"]["message"], "slow down");
    }
}
