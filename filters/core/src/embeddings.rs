//! Embeddings translation: clients speak OpenAI's `/v1/embeddings`; the provider's format
//! decides the upstream request and how its answer is read back.
//!
//! Embeddings answers are small and never streamed, so the response is translated whole.

use crate::error::GatewayError;
use crate::formats::codec;
use crate::formats::fields::parse_object;
use crate::formats::openai::embeddings as client_shape;
use crate::formats::tool_names::ToolNameMap;
use crate::formats::WireFormat;
use crate::model::{ApiError, Usage, VectorEncoding};
use crate::translate::{ProviderTarget, UpstreamRequest};
use crate::usage_estimate;

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
    let input_chars = usage_estimate::request_chars(&value);
    let (upstream, encoding) = if target.format == WireFormat::OpenAi {
        client_shape::prepare_passthrough(&mut value, target.upstream_model);
        (value, VectorEncoding::Float)
    } else {
        let request = client_shape::decode_request(&value)?;
        let encoded = codec::encode_embeddings_request(target, &request)?;
        (encoded, request.encoding)
    };
    let path = codec::embeddings_path(target).ok_or_else(|| {
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
        input_chars,
        tool_results: Vec::new(),
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

/// A provider's whole embeddings answer, with the headers its format may need.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProviderAnswer<'a> {
    pub status: u16,
    pub body: &'a [u8],
    /// The value of the format's [`codec::error_type_header`].
    pub error_type: Option<&'a str>,
    /// The value of the format's [`codec::embeddings_tokens_header`].
    pub input_tokens: Option<&'a str>,
}

/// Translates a provider's whole embeddings answer for an OpenAI client. The target's
/// upstream model is named in the answer when the provider names none.
pub fn translate_response(
    target: &ProviderTarget,
    encoding: VectorEncoding,
    answer: &ProviderAnswer,
) -> TranslatedResponse {
    let ProviderAnswer { status, body, .. } = *answer;
    let provider = target.format;
    if !(200..300).contains(&status) {
        let error = codec::decode_error(provider, body, status, answer.error_type);
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
    match codec::decode_embeddings_response(target, body) {
        Ok(mut response) => {
            if response.model.is_empty() {
                response.model = target.upstream_model.to_owned();
            }
            if response.usage.input_tokens.is_none() {
                response.usage.input_tokens = answer.input_tokens.and_then(|n| n.parse().ok());
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

    fn answer(status: u16, body: &[u8]) -> ProviderAnswer<'_> {
        ProviderAnswer {
            status,
            body,
            ..ProviderAnswer::default()
        }
    }

    fn json(body: &[u8]) -> serde_json::Value {
        serde_json::from_slice(body).unwrap()
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
        let gemini = target(WireFormat::Gemini);
        let out = translate_response(&gemini, VectorEncoding::Float, &answer(200, body));
        assert_eq!(out.status, 200);
        let v: serde_json::Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(v["model"], "embed-upstream");
        assert_eq!(v["data"][0]["embedding"], serde_json::json!([1.0, -2.0]));
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(out.usage.unwrap().input_tokens, None);

        let error = br#"{"error":{"code":400,"message":"bad model","status":"INVALID_ARGUMENT"}}"#;
        let out = translate_response(&gemini, VectorEncoding::Float, &answer(400, error));
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
        let openai = target(WireFormat::OpenAi);
        let out = translate_response(&openai, VectorEncoding::Float, &answer(200, body));
        assert_eq!(out.body, body.to_vec());
        assert_eq!(out.usage.unwrap().input_tokens, Some(3));
    }

    #[test]
    fn provider_errors_become_openai_errors() {
        let body = br#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#;
        let out = translate_response(
            &target(WireFormat::OpenAi),
            VectorEncoding::Float,
            &answer(429, body),
        );
        assert_eq!(out.status, 429);
        let v: serde_json::Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(v["error"]["message"], "slow down");
    }

    #[test]
    fn cohere_embeds_documents_and_reports_billed_input() {
        let body = br#"{"model":"e","input":["a","b"],"encoding_format":"base64"}"#;
        let up = translate_request(&target(WireFormat::Cohere), body).unwrap();
        assert_eq!(up.request.path, "/v1/embed");
        let sent = json(&up.request.body);
        assert_eq!(
            (&sent["model"], &sent["texts"], &sent["input_type"]),
            (
                &serde_json::json!("embed-upstream"),
                &serde_json::json!(["a", "b"]),
                &serde_json::json!("search_document")
            )
        );
        let answer_body = br#"{"embeddings":{"float":[[1.0,-2.0],[0.5]]},"meta":{"billed_units":{"input_tokens":2}}}"#;
        let out = translate_response(
            &target(WireFormat::Cohere),
            up.encoding,
            &answer(200, answer_body),
        );
        let v = json(&out.body);
        assert_eq!(v["data"][0]["embedding"], "AACAPwAAAMA=");
        assert_eq!(v["usage"]["prompt_tokens"], 2);
        assert_eq!(out.usage.unwrap().input_tokens, Some(2));

        let error = br#"{"id":"x","message":"invalid request: model 'nope' not found"}"#;
        let out = translate_response(
            &target(WireFormat::Cohere),
            up.encoding,
            &answer(404, error),
        );
        assert_eq!(out.status, 404);
        assert_eq!(
            json(&out.body)["error"]["message"],
            "invalid request: model 'nope' not found"
        );
    }

    fn bedrock(model: &'static str) -> ProviderTarget<'static> {
        ProviderTarget {
            base_path: "",
            upstream_model: model,
            ..target(WireFormat::Bedrock)
        }
    }

    #[test]
    fn bedrock_titan_invokes_one_text() {
        let titan = bedrock("amazon.titan-embed-text-v2:0");
        let up =
            translate_request(&titan, br#"{"model":"e","input":"hi","dimensions":256}"#).unwrap();
        assert_eq!(
            up.request.path,
            "/model/amazon.titan-embed-text-v2%3A0/invoke"
        );
        assert_eq!(
            json(&up.request.body),
            serde_json::json!({"inputText": "hi", "normalize": true, "dimensions": 256})
        );
        let out = translate_response(
            &titan,
            VectorEncoding::Float,
            &answer(200, br#"{"embedding":[0.5],"inputTextTokenCount":1}"#),
        );
        let v = json(&out.body);
        assert_eq!(v["model"], "amazon.titan-embed-text-v2:0");
        assert_eq!(v["data"][0]["embedding"], serde_json::json!([0.5]));
        assert_eq!(out.usage.unwrap().input_tokens, Some(1));

        let err = translate_request(&titan, br#"{"model":"e","input":["a","b"]}"#).unwrap_err();
        assert_eq!((err.status(), err.param.as_deref()), (400, Some("input")));
        let err = translate_request(&titan, br#"{"model":"e","input":"a","dimensions":100}"#)
            .unwrap_err();
        assert_eq!(
            (err.status(), err.param.as_deref()),
            (400, Some("dimensions"))
        );
    }

    #[test]
    fn bedrock_cohere_usage_comes_from_the_header_and_errors_from_their_type() {
        let cohere = bedrock("cohere.embed-english-v3");
        let body = br#"{"embeddings":{"float":[[1.0]]},"id":"x","response_type":"embeddings_by_type","texts":["a"]}"#;
        let out = translate_response(
            &cohere,
            VectorEncoding::Float,
            &ProviderAnswer {
                input_tokens: Some("3"),
                ..answer(200, body)
            },
        );
        assert_eq!(out.usage.unwrap().input_tokens, Some(3));

        let throttled = ProviderAnswer {
            error_type: Some(
                "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
            ),
            ..answer(
                429,
                br#"{"message":"Too many requests, please wait before trying again."}"#,
            )
        };
        let out = translate_response(&cohere, VectorEncoding::Float, &throttled);
        let v = json(&out.body);
        assert_eq!(out.status, 429);
        assert_eq!(v["error"]["type"], "rate_limit_error");
    }

    #[test]
    fn vertex_predicts_below_the_publisher_path() {
        let vertex = ProviderTarget {
            base_path: "/v1/projects/p/locations/us-central1/publishers/google",
            upstream_model: "text-embedding-005",
            ..target(WireFormat::Gemini)
        };
        let up = translate_request(&vertex, br#"{"model":"e","input":["a","b"]}"#).unwrap();
        assert_eq!(
            up.request.path,
            "/v1/projects/p/locations/us-central1/publishers/google/models/text-embedding-005:predict"
        );
        assert_eq!(
            json(&up.request.body),
            serde_json::json!({"instances": [{"content": "a"}, {"content": "b"}]})
        );
        let body = br#"{"predictions":[{"embeddings":{"values":[1.0],"statistics":{"token_count":1,"truncated":false}}},
            {"embeddings":{"values":[2.0],"statistics":{"token_count":4,"truncated":false}}}]}"#;
        let out = translate_response(&vertex, VectorEncoding::Float, &answer(200, body));
        assert_eq!(json(&out.body)["usage"]["prompt_tokens"], 5);
    }
}
