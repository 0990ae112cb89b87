//! Provider kinds: the vendor APIs a provider entry can name. A kind decides the wire format
//! the provider filter speaks, the header Envoy puts the credential in, and what its
//! `base_url` must look like.

use serde::Deserialize;
use tollgate_core::formats::WireFormat;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI Chat Completions, and every server compatible with it.
    #[serde(rename = "openai")]
    OpenAi,
    Anthropic,
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
}

/// The request header that carries a provider's credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialHeader {
    pub name: &'static str,
    /// Written before the secret, e.g. `Bearer `.
    pub prefix: Option<&'static str>,
}

const BEARER: CredentialHeader = CredentialHeader {
    name: "authorization",
    prefix: Some("Bearer "),
};

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Vertex => "vertex",
        }
    }

    /// The wire format the provider filter speaks to this kind of provider.
    pub fn format(self) -> WireFormat {
        match self {
            ProviderKind::OpenAi => WireFormat::OpenAi,
            ProviderKind::Anthropic => WireFormat::Anthropic,
            ProviderKind::Gemini | ProviderKind::Vertex => WireFormat::Gemini,
        }
    }

    pub fn credential_header(self) -> CredentialHeader {
        match self {
            ProviderKind::OpenAi | ProviderKind::Vertex => BEARER,
            ProviderKind::Anthropic => CredentialHeader {
                name: "x-api-key",
                prefix: None,
            },
            ProviderKind::Gemini => CredentialHeader {
                name: "x-goog-api-key",
                prefix: None,
            },
        }
    }
}

/// Whether `path` is a Vertex publisher path, `/{version}/projects/{project}/locations/{region}/publishers/google`,
/// below which the Gemini endpoints (`/models/{model}:generateContent`) live.
pub fn is_vertex_publisher_path(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    matches!(
        segments.as_slice(),
        [version, "projects", project, "locations", region, "publishers", "google"]
            if version.starts_with('v') && !project.is_empty() && !region.is_empty()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_formats_and_headers() {
        assert_eq!(ProviderKind::Vertex.format(), WireFormat::Gemini);
        assert_eq!(ProviderKind::Gemini.format(), WireFormat::Gemini);
        assert_eq!(
            ProviderKind::Gemini.credential_header(),
            CredentialHeader {
                name: "x-goog-api-key",
                prefix: None
            }
        );
        assert_eq!(ProviderKind::Vertex.credential_header(), BEARER);
        assert_eq!(ProviderKind::OpenAi.credential_header(), BEARER);
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
