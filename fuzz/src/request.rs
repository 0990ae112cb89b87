//! [`translate_request`] for every client × provider pair.

use tollgate_core::error::ErrorKind;
use tollgate_core::formats::{codec, WireFormat};
use tollgate_core::translate::{translate_request, ProviderTarget};

use crate::{format_at, format_byte, Header};

/// The target has an API version (Azure's classic deployment paths use it).
const API_VERSION: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub client: WireFormat,
    pub provider: WireFormat,
    pub flags: u8,
}

impl Case {
    /// Input: `[client, provider, flags]` then the client's request body.
    pub fn read(data: &[u8]) -> (Case, &[u8]) {
        let mut header = Header::new(data);
        let case = Case {
            client: format_at(header.byte()),
            provider: format_at(header.byte()),
            flags: header.byte(),
        };
        (case, header.body())
    }

    pub fn header(&self) -> Vec<u8> {
        vec![
            format_byte(self.client),
            format_byte(self.provider),
            self.flags,
        ]
    }
}

pub fn fuzz(data: &[u8]) {
    let (case, body) = Case::read(data);
    let target = ProviderTarget {
        format: case.provider,
        base_path: "/v1",
        upstream_model: "upstream-model",
        api_version: (case.flags & API_VERSION != 0).then_some("2024-10-21"),
    };
    let request = match translate_request(case.client, &target, body) {
        Ok(request) => request,
        Err(err) => {
            assert_eq!(err.kind, ErrorKind::InvalidRequest, "{case:?}: {err:?}");
            return;
        }
    };
    assert!(
        request.path.starts_with("/v1/"),
        "{case:?}: {}",
        request.path
    );
    let upstream: serde_json::Value = match serde_json::from_slice(&request.body) {
        Ok(value) => value,
        Err(err) => panic!("{case:?}: upstream body is not JSON: {err}"),
    };
    assert!(
        upstream.is_object(),
        "{case:?}: upstream body is not an object"
    );
    // What the gateway sends a provider, the gateway itself reads as that provider's format.
    if case.client != case.provider {
        if let Err(err) = codec::decode_request(case.provider, &upstream) {
            panic!("{case:?}: translated request does not decode: {err:?}\n{upstream}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_reads_back() {
        let case = Case {
            client: WireFormat::Anthropic,
            provider: WireFormat::Cohere,
            flags: API_VERSION,
        };
        let mut input = case.header();
        input.push(b'{');
        assert_eq!(Case::read(&input), (case, &b"{"[..]));
    }
}
