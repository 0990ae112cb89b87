//! The minimal bootstrap of an Envoy run by the xDS control plane: who it is (node), its
//! admin endpoint, and one static cluster to the control plane's ADS service. Everything
//! else (listeners, routes, clusters, secrets, filter configs) comes over ADS.

use std::net::SocketAddr;

use serde_json::{json, Value};

use super::stream::LISTEN_METADATA;
use crate::envoy::reachable;
use crate::render::socket_address;

/// The static cluster Envoy reaches the control plane's ADS service through.
pub const XDS_CLUSTER: &str = "tollgate.xds";
/// `node.cluster` of every Tollgate Envoy (ECDS needs one).
const NODE_CLUSTER: &str = "tollgate";
const HTTP_OPTIONS: &str =
    "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// One Envoy's identity and addresses.
#[derive(Debug, Clone)]
pub struct Node {
    /// Unique per Envoy: the status report and the logs name Envoys by it.
    pub id: String,
    pub admin: SocketAddr,
    /// The control plane's ADS address.
    pub xds: SocketAddr,
    /// The gateway listener's address on this host, when not the config's `listen`.
    pub listen: Option<SocketAddr>,
}

pub fn bootstrap(node: &Node) -> Value {
    let over_ads = json!({"ads": {}, "resource_api_version": "V3"});
    let mut identity = json!({"id": node.id, "cluster": NODE_CLUSTER});
    if let Some(listen) = node.listen {
        identity["metadata"] = json!({ LISTEN_METADATA: listen.to_string() });
    }
    let xds = reachable(node.xds);
    json!({
        "node": identity,
        "admin": {"address": socket_address(node.admin.ip(), node.admin.port())},
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "grpc_services": [{"envoy_grpc": {"cluster_name": XDS_CLUSTER}}],
                "set_node_on_first_message_only": true,
            },
            "lds_config": over_ads,
            "cds_config": over_ads,
        },
        "static_resources": {"clusters": [{
            "name": XDS_CLUSTER,
            "type": "STATIC",
            "connect_timeout": "1s",
            // gRPC: HTTP/2 without TLS, on loopback unless the operator says otherwise.
            "typed_extension_protocol_options": {
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                    "@type": HTTP_OPTIONS,
                    "explicit_http_config": {"http2_protocol_options": {}},
                },
            },
            "load_assignment": {
                "cluster_name": XDS_CLUSTER,
                "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket_address(xds.ip(), xds.port())}}]}],
            },
        }]},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::encode::to_any;

    const BOOTSTRAP: &str = "type.googleapis.com/envoy.config.bootstrap.v3.Bootstrap";

    fn node(listen: Option<&str>) -> Node {
        Node {
            id: "edge-1".into(),
            admin: "127.0.0.1:9901".parse().unwrap(),
            xds: "0.0.0.0:9902".parse().unwrap(),
            listen: listen.map(|l| l.parse().unwrap()),
        }
    }

    #[test]
    fn the_bootstrap_matches_envoys_api_and_points_at_the_control_plane() {
        let json = bootstrap(&node(Some("127.0.0.1:8081")));
        to_any(BOOTSTRAP, "bootstrap", &json).unwrap();
        assert_eq!(json["node"]["id"], "edge-1");
        assert_eq!(json["node"]["metadata"][LISTEN_METADATA], "127.0.0.1:8081");
        let endpoint = &json["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]
            ["lb_endpoints"][0]["endpoint"]["address"]["socket_address"];
        // A control plane listening on every address is reached over loopback.
        assert_eq!(endpoint["address"], "127.0.0.1");
        assert_eq!(endpoint["port_value"], 9902);
        assert!(json["static_resources"].get("listeners").is_none());
    }

    #[test]
    fn without_a_listen_override_the_node_has_no_metadata() {
        assert!(bootstrap(&node(None))["node"].get("metadata").is_none());
    }
}
