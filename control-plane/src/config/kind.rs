//! Provider kinds: what `kind: …` in the config file means. A kind fixes the wire format
//! the provider speaks, the header its credential goes in, where its API lives when
//! `base_url` is left out, and how its API path is laid out below `base_url`.
//!
//! Most kinds are presets of the OpenAI format: the OpenAI-compatible family differs only
//! in address. Azure OpenAI is the OpenAI format too, with its own header and paths.
//! Gemini (Google AI Studio) and Vertex AI share the Gemini format and differ in credential
//! and address.

use std::fmt;

use serde::Deserialize;
use tollgate_core::formats::WireFormat;

/// A provider `kind` from the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    #[serde(rename = "openai")]
    OpenAi,
    Anthropic,
    Cohere,
    /// Azure OpenAI: `base_url` is the resource endpoint, the model name the deployment.
    Azure,
    /// Gemini on Google AI Studio: `base_url` `https://generativelanguage.googleapis.com/v1beta`,
    /// the API key in `x-goog-api-key`.
    Gemini,
    /// Gemini on Vertex AI: `base_url`
    /// `https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}/publishers/google`,
    /// an OAuth access token as `Authorization: Bearer`. The credential is that token as
    /// Envoy reads it from the variable or file; such tokens live about an hour, and minting
    /// and rotating them from a service account is not done yet, so refresh the secret and
    /// restart Envoy before it expires.
    Vertex,
    /// AWS Bedrock Converse: `region` is required (the default host and the SigV4 scope).
    /// Without a credential Envoy signs requests with SigV4 from its AWS credential chain;
    /// with one, it is a Bedrock API key sent as `Authorization: Bearer`.
    Bedrock,
    Mistral,
    Groq,
    #[serde(rename = "deepseek")]
    DeepSeek,
    Together,
    Fireworks,
    #[serde(rename = "openrouter")]
    OpenRouter,
    Ollama,
    Vllm,
}

/// Where Envoy puts a provider's credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialHeader {
    /// `authorization: Bearer <secret>`.
    Bearer,
    /// The secret alone in this header.
    Plain(&'static str),
}

impl ProviderKind {
    /// The name written in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Cohere => "cohere",
            ProviderKind::Azure => "azure",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Vertex => "vertex",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::Mistral => "mistral",
            ProviderKind::Groq => "groq",
            ProviderKind::DeepSeek => "deepseek",
            ProviderKind::Together => "together",
            ProviderKind::Fireworks => "fireworks",
            ProviderKind::OpenRouter => "openrouter",
            ProviderKind::Ollama => "ollama",
            ProviderKind::Vllm => "vllm",
        }
    }

    pub fn format(self) -> WireFormat {
        match self {
            ProviderKind::Anthropic => WireFormat::Anthropic,
            ProviderKind::Cohere => WireFormat::Cohere,
            ProviderKind::Gemini | ProviderKind::Vertex => WireFormat::Gemini,
            ProviderKind::Bedrock => WireFormat::Bedrock,
            ProviderKind::OpenAi
            | ProviderKind::Azure
            | ProviderKind::Mistral
            | ProviderKind::Groq
            | ProviderKind::DeepSeek
            | ProviderKind::Together
            | ProviderKind::Fireworks
            | ProviderKind::OpenRouter
            | ProviderKind::Ollama
            | ProviderKind::Vllm => WireFormat::OpenAi,
        }
    }

    pub fn credential_header(self) -> CredentialHeader {
        match self {
            ProviderKind::Anthropic => CredentialHeader::Plain("x-api-key"),
            ProviderKind::Azure => CredentialHeader::Plain("api-key"),
            ProviderKind::Gemini => CredentialHeader::Plain("x-goog-api-key"),
            // Vertex: an OAuth access token; Bedrock: an API key.
            _ => CredentialHeader::Bearer,
        }
    }

    /// The API's address when `base_url` is left out. Azure and Vertex have none: every
    /// Azure resource has its own host, every Vertex project and region its own path.
    /// Bedrock's follows from its region ([`bedrock_runtime_url`]).
    pub fn default_base_url(self) -> Option<&'static str> {
        Some(match self {
            ProviderKind::OpenAi => "https://api.openai.com/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com/v1",
            ProviderKind::Cohere => "https://api.cohere.com/v2",
            ProviderKind::Gemini => "https://generativelanguage.googleapis.com/v1beta",
            ProviderKind::Mistral => "https://api.mistral.ai/v1",
            ProviderKind::Groq => "https://api.groq.com/openai/v1",
            ProviderKind::DeepSeek => "https://api.deepseek.com",
            ProviderKind::Together => "https://api.together.xyz/v1",
            ProviderKind::Fireworks => "https://api.fireworks.ai/inference/v1",
            ProviderKind::OpenRouter => "https://openrouter.ai/api/v1",
            ProviderKind::Ollama => "http://127.0.0.1:11434/v1",
            ProviderKind::Vllm => "http://127.0.0.1:8000/v1",
            ProviderKind::Azure | ProviderKind::Vertex | ProviderKind::Bedrock => return None,
        })
    }

    /// Whether the hosted API refuses requests without a credential. Local servers
    /// (Ollama, vLLM) and plain `openai` (often a self-hosted compatible server) run
    /// without one; Bedrock without one is signed with SigV4 by Envoy.
    pub fn needs_credential(self) -> bool {
        !matches!(
            self,
            ProviderKind::OpenAi
                | ProviderKind::Ollama
                | ProviderKind::Vllm
                | ProviderKind::Bedrock
        )
    }

    /// Whether `region` applies (Bedrock's host and signing scope).
    pub fn takes_region(self) -> bool {
        self == ProviderKind::Bedrock
    }

    /// Whether `api_version` applies (Azure's classic deployment API).
    pub fn takes_api_version(self) -> bool {
        self == ProviderKind::Azure
    }

    /// The path prefix the wire format's endpoints hang off, from the path of `base_url`.
    /// Azure's `base_url` is the resource endpoint: its API is below `/openai` (classic
    /// deployment paths, with `api_version`) or `/openai/v1` (the v1 API, without).
    pub fn api_base_path(self, url_path: &str, api_version: Option<&str>) -> String {
        match (self, api_version) {
            (ProviderKind::Azure, Some(_)) => format!("{url_path}{AZURE_API_PATH}"),
            (ProviderKind::Azure, None) => format!("{url_path}{AZURE_API_PATH}{AZURE_V1_PATH}"),
            _ => url_path.to_owned(),
        }
    }
}

/// Bedrock's regional runtime endpoint, its address when `base_url` is left out.
pub fn bedrock_runtime_url(region: &str) -> String {
    format!("https://bedrock-runtime.{region}.amazonaws.com")
}

/// Azure OpenAI's API prefix below a resource endpoint.
pub const AZURE_API_PATH: &str = "/openai";
/// The v1 API below [`AZURE_API_PATH`].
pub const AZURE_V1_PATH: &str = "/v1";

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `path` is a Vertex publisher path, below which the Gemini endpoints
/// (`/models/{model}:generateContent`) live. The filters tell Vertex from AI Studio by the
/// same rule, so it is defined once, in the core.
pub use tollgate_core::formats::gemini::is_vertex_publisher_path;

/// An Azure `api-version`: `YYYY-MM-DD`, optionally `-preview`.
pub fn is_api_version(value: &str) -> bool {
    let date = value.strip_suffix("-preview").unwrap_or(value);
    let bytes = date.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_base_url_parses() {
        use crate::config::BaseUrl;
        for kind in [
            ProviderKind::OpenAi,
            ProviderKind::Anthropic,
            ProviderKind::Cohere,
            ProviderKind::Gemini,
            ProviderKind::Mistral,
            ProviderKind::Groq,
            ProviderKind::DeepSeek,
            ProviderKind::Together,
            ProviderKind::Fireworks,
            ProviderKind::OpenRouter,
            ProviderKind::Ollama,
            ProviderKind::Vllm,
        ] {
            let url = kind.default_base_url().unwrap();
            assert!(BaseUrl::parse(url).is_ok(), "{kind}: {url}");
            let parsed: ProviderKind =
                serde_yaml_ng::from_str(kind.as_str()).expect("name round-trips");
            assert_eq!(parsed, kind);
        }
        assert_eq!(ProviderKind::Azure.default_base_url(), None);
        assert_eq!(ProviderKind::Vertex.default_base_url(), None);
        assert_eq!(ProviderKind::Bedrock.default_base_url(), None);
        let bedrock = bedrock_runtime_url("eu-west-3");
        assert!(BaseUrl::parse(&bedrock).is_ok(), "{bedrock}");
    }

    #[test]
    fn bedrock_kind() {
        let bedrock = ProviderKind::Bedrock;
        assert_eq!(bedrock.format(), WireFormat::Bedrock);
        assert_eq!(bedrock.credential_header(), CredentialHeader::Bearer);
        assert!(!bedrock.needs_credential(), "SigV4 without one");
        assert!(bedrock.takes_region());
        assert!(!ProviderKind::OpenAi.takes_region());
        let parsed: ProviderKind = serde_yaml_ng::from_str("bedrock").unwrap();
        assert_eq!(parsed, bedrock);
    }

    #[test]
    fn azure_paths() {
        let azure = ProviderKind::Azure;
        assert_eq!(azure.api_base_path("", Some("2024-10-21")), "/openai");
        assert_eq!(azure.api_base_path("", None), "/openai/v1");
        assert_eq!(azure.api_base_path("/proxy", None), "/proxy/openai/v1");
        assert_eq!(
            ProviderKind::Groq.api_base_path("/openai/v1", None),
            "/openai/v1"
        );
    }

    #[test]
    fn api_versions() {
        for good in ["2024-10-21", "2025-04-01-preview"] {
            assert!(is_api_version(good), "{good}");
        }
        for bad in [
            "2024-1-21",
            "v1",
            "2024-10-21-beta",
            "2024/10/21",
            "latest",
            "",
        ] {
            assert!(!is_api_version(bad), "{bad}");
        }
    }

    #[test]
    fn headers_and_formats() {
        assert_eq!(
            ProviderKind::Azure.credential_header(),
            CredentialHeader::Plain("api-key")
        );
        assert_eq!(
            ProviderKind::Cohere.credential_header(),
            CredentialHeader::Bearer
        );
        assert_eq!(ProviderKind::Cohere.format(), WireFormat::Cohere);
        assert_eq!(ProviderKind::OpenRouter.format(), WireFormat::OpenAi);
    }

    #[test]
    fn google_kinds_map_to_formats_and_headers() {
        assert_eq!(ProviderKind::Vertex.format(), WireFormat::Gemini);
        assert_eq!(ProviderKind::Gemini.format(), WireFormat::Gemini);
        assert_eq!(
            ProviderKind::Gemini.credential_header(),
            CredentialHeader::Plain("x-goog-api-key")
        );
        assert_eq!(
            ProviderKind::Vertex.credential_header(),
            CredentialHeader::Bearer
        );
        assert!(ProviderKind::Gemini.needs_credential());
        assert!(ProviderKind::Vertex.needs_credential());
    }

    #[test]
    fn vertex_paths() {
        assert!(is_vertex_publisher_path(
            "/v1/projects/my-proj/locations/us-central1/publishers/google"
        ));
        assert!(is_vertex_publisher_path(
            "/v1beta1/projects/p/locations/global/publishers/google"
        ));
        assert!(!is_vertex_publisher_path("/v1beta"));
        assert!(!is_vertex_publisher_path(
            "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash"
        ));
        assert!(!is_vertex_publisher_path(
            "/v1/projects//locations/x/publishers/google"
        ));
        assert!(!is_vertex_publisher_path(
            "/v1/projects/p/locations/x/publishers/anthropic"
        ));
    }
}
