//! [`translate_response`] for embeddings: every provider format's answer, any status, read
//! back for an OpenAI client in either vector encoding.

use serde_json::Value;
use tollgate_core::embeddings::{translate_response, ProviderAnswer};
use tollgate_core::formats::WireFormat;
use tollgate_core::model::VectorEncoding;
use tollgate_core::translate::ProviderTarget;

use crate::{format_at, format_byte, Header};

/// Statuses a header byte picks from: success first, then errors.
const STATUSES: &[u16] = &[200, 201, 204, 400, 401, 404, 429, 500, 503, 0, 999];

const ENCODINGS: [VectorEncoding; 2] = [VectorEncoding::Float, VectorEncoding::Base64];

/// Answers as providers send them: the seeds, as no fixture tree holds embeddings.
pub const SAMPLES: &[(WireFormat, u16, &str)] = &[
    (
        WireFormat::OpenAi,
        200,
        r#"{"object":"list","model":"m","data":[{"object":"embedding","index":0,"embedding":[0.1,-2.5e-3]}],"usage":{"prompt_tokens":3,"total_tokens":3}}"#,
    ),
    (
        WireFormat::OpenAi,
        429,
        r#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#,
    ),
    (
        WireFormat::Gemini,
        200,
        r#"{"embeddings":[{"values":[1.0,-2.0]},{"values":[0.5]}]}"#,
    ),
    (
        WireFormat::Cohere,
        200,
        r#"{"id":"e","embeddings":{"float":[[0.25,-1.0]]},"texts":["a"],"meta":{"billed_units":{"input_tokens":2}}}"#,
    ),
    (
        WireFormat::Bedrock,
        200,
        r#"{"embedding":[0.5,0.25],"inputTextTokenCount":4}"#,
    ),
    (
        WireFormat::Gemini,
        400,
        r#"{"error":{"code":400,"message":"bad model","status":"INVALID_ARGUMENT"}}"#,
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub provider: WireFormat,
    pub encoding: VectorEncoding,
    pub status: u16,
}

impl Case {
    /// Input: `[provider, encoding, status]` then the provider's body.
    pub fn read(data: &[u8]) -> (Case, &[u8]) {
        let mut header = Header::new(data);
        let case = Case {
            provider: format_at(header.byte()),
            encoding: ENCODINGS[usize::from(header.byte()) % ENCODINGS.len()],
            status: STATUSES[usize::from(header.byte()) % STATUSES.len()],
        };
        (case, header.body())
    }

    pub fn header(&self) -> Vec<u8> {
        let index = |found: Option<usize>| found.and_then(|i| u8::try_from(i).ok()).unwrap_or(0);
        vec![
            format_byte(self.provider),
            index(ENCODINGS.iter().position(|&e| e == self.encoding)),
            index(STATUSES.iter().position(|&s| s == self.status)),
        ]
    }
}

/// Every sample in each encoding.
pub fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for &(provider, status, body) in SAMPLES {
        for encoding in ENCODINGS {
            let mut seed = Case {
                provider,
                encoding,
                status,
            }
            .header();
            seed.extend_from_slice(body.as_bytes());
            seeds.push(seed);
        }
    }
    seeds
}

/// A model each format embeds with (Bedrock picks the answer's shape from the model id).
fn upstream_model(format: WireFormat) -> &'static str {
    match format {
        WireFormat::Bedrock => "amazon.titan-embed-text-v2:0",
        _ => "upstream-model",
    }
}

pub fn fuzz(data: &[u8]) {
    let (case, body) = Case::read(data);
    let target = ProviderTarget {
        format: case.provider,
        base_path: "/v1",
        upstream_model: upstream_model(case.provider),
        api_version: None,
    };
    let answer = ProviderAnswer {
        status: case.status,
        body,
        error_type: None,
        input_tokens: None,
    };
    let out = translate_response(&target, case.encoding, &answer);
    let success = (200..300).contains(&case.status);
    if success && case.provider == WireFormat::OpenAi {
        // Same format: forwarded byte for byte.
        assert_eq!(out.body, body, "{case:?}: passthrough changed the body");
        return;
    }
    let answer: Value = match serde_json::from_slice(&out.body) {
        Ok(answer) => answer,
        Err(err) => panic!("{case:?}: answer is not JSON: {err}"),
    };
    if !success {
        assert_eq!(
            out.status, case.status,
            "{case:?}: provider status not kept"
        );
    }
    if (200..300).contains(&out.status) {
        assert!(success, "{case:?}: a provider error became a success");
        assert!(answer["data"].is_array(), "{case:?}: no data: {answer}");
        assert!(
            out.usage.is_some(),
            "{case:?}: a translated answer has usage"
        );
    } else {
        assert!(answer["error"].is_object(), "{case:?}: no error: {answer}");
        assert!(out.usage.is_none(), "{case:?}: an error has no usage");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_reads_back() {
        let case = Case {
            provider: WireFormat::Gemini,
            encoding: VectorEncoding::Base64,
            status: 429,
        };
        let mut input = case.header();
        input.push(b'{');
        assert_eq!(Case::read(&input), (case, &b"{"[..]));
    }

    #[test]
    fn samples_translate() {
        for seed in seeds() {
            fuzz(&seed);
        }
    }
}
