//! Rendered JSON → protobuf `Any`, through the proto3 JSON mapping.
//!
//! Why JSON and not typed messages: the renderer (`crate::render`) already produces every
//! Envoy resource as JSON for the static bootstrap, pinned by golden tests. Converting that
//! JSON keeps it the single source of what Envoy runs, in both modes. The descriptors come
//! from Envoy's own .proto files (compiled by `build.rs`), and unknown fields are refused,
//! so a renderer typo fails here, before any Envoy sees it.

use std::sync::LazyLock;

use envoy_types::pb::google::protobuf::Any;
use prost::Message;
use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage};
use serde_json::Value;

const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    let bytes = include_bytes!(concat!(env!("OUT_DIR"), "/envoy_descriptors.bin"));
    DescriptorPool::decode(bytes.as_slice()).expect("build.rs writes a valid descriptor set")
});

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("no descriptor for {0}")]
    UnknownType(String),
    #[error("{type_url} {name:?} does not match Envoy's API: {source}")]
    Mismatch {
        type_url: String,
        name: String,
        source: serde_json::Error,
    },
}

/// Encodes `json` (proto3 JSON of the message `type_url` names) as an `Any`.
pub fn to_any(type_url: &str, name: &str, json: &Value) -> Result<Any, EncodeError> {
    let full_name = type_url.strip_prefix(TYPE_URL_PREFIX).unwrap_or(type_url);
    let descriptor = POOL
        .get_message_by_name(full_name)
        .ok_or_else(|| EncodeError::UnknownType(type_url.to_string()))?;
    let message = DynamicMessage::deserialize_with_options(
        descriptor,
        json,
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .map_err(|source| EncodeError::Mismatch {
        type_url: type_url.to_string(),
        name: name.to_string(),
        source,
    })?;
    Ok(Any {
        type_url: type_url.to_string(),
        value: message.encode_to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

    #[test]
    fn nested_any_is_resolved_from_its_type_url() {
        let cluster = json!({
            "name": "c",
            "connect_timeout": "1.500s",
            "typed_extension_protocol_options": {
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    "explicit_http_config": {"http2_protocol_options": {}},
                },
            },
        });
        let any = to_any(CLUSTER, "c", &cluster).unwrap();
        assert_eq!(any.type_url, CLUSTER);
        let descriptor = POOL
            .get_message_by_name("envoy.config.cluster.v3.Cluster")
            .unwrap();
        let decoded = DynamicMessage::decode(descriptor, any.value.as_slice()).unwrap();
        let back = serde_json::to_value(&decoded).unwrap();
        assert_eq!(back["connectTimeout"], "1.500s");
        assert!(back["typedExtensionProtocolOptions"]
            ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["explicitHttpConfig"]
            .is_object());
    }

    #[test]
    fn unknown_fields_and_types_are_refused() {
        let typo = json!({"name": "c", "conect_timeout": "1s"});
        assert!(matches!(
            to_any(CLUSTER, "c", &typo),
            Err(EncodeError::Mismatch { .. })
        ));
        assert!(matches!(
            to_any("type.googleapis.com/no.such.Type", "x", &json!({})),
            Err(EncodeError::UnknownType(_))
        ));
    }
}
