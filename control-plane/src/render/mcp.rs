//! MCP servers: one route per server at `/mcp/{name}` (two for a legacy HTTP+SSE server,
//! whose message endpoint hangs off the server's root), one cluster per server running
//! the MCP filter and the credential injector, and the filter's configuration.
//!
//! Sessions stay on the replica that created them. Hashing the session header is not
//! enough: `initialize` carries no session id, so the replica that creates a session is
//! not the one its id hashes to. Envoy's stateful-session filter with the envelope state
//! fixes that: it adds the serving replica's address to the `mcp-session-id` the server
//! returns, and on later requests routes to that replica and strips the address again, so
//! servers and the MCP filter see their own session ids. Requests without a session
//! (`initialize`, the stateless revision) are balanced. MCP routes have no timeout: a GET
//! stream or a long tool call may stay open for as long as the server keeps it.

use serde_json::{json, Value};
use tollgate_core::config::CONFIG_VERSION;
use tollgate_core::mcp::McpServerConfig;

use super::bootstrap::{discovery, injector_into, socket_address, upstream_tls, UPSTREAM_CODEC};
use crate::config::{mcp_cluster, mcp_path, Config, Host, McpServer, McpTransport};

/// The session header of the sessionful revisions (lower-case, as Envoy matches it).
const SESSION_HEADER: &str = "mcp-session-id";
const STATEFUL_SESSION: &str =
    "type.googleapis.com/envoy.extensions.filters.http.stateful_session.v3.StatefulSession";
const ENVELOPE_STATE: &str =
    "type.googleapis.com/envoy.extensions.http.stateful_session.envelope.v3.EnvelopeSessionState";

/// The listener's session-affinity filter, when MCP servers are configured. Other
/// requests carry no session header, so it leaves them alone.
pub fn session_filter(config: &Config) -> Option<Value> {
    if config.mcp_servers.is_empty() {
        return None;
    }
    Some(json!({
        "name": "envoy.filters.http.stateful_session",
        "typed_config": {
            "@type": STATEFUL_SESSION,
            "session_state": {
                "name": "envoy.http.stateful_session.envelope",
                "typed_config": {"@type": ENVELOPE_STATE, "header": {"name": SESSION_HEADER}},
            },
        },
    }))
}

pub fn filter_config(config: &Config, server: &McpServer) -> McpServerConfig {
    McpServerConfig {
        version: CONFIG_VERSION,
        name: server.name.clone(),
        access: server.access.clone(),
        guardrails: config.guardrails.as_ref().map(|g| g.policy.clone()),
        pins: server.pins.clone(),
        on_tool_change: server.on_tool_change,
        legacy_sse_prefix: (server.transport == McpTransport::Sse).then(|| mcp_path(&server.name)),
        call_limits: server.call_limits.clone(),
        tool_prices: server.tool_prices.clone(),
        // Only a server with prices spends from budgets.
        budgets: match (&config.budgets, server.tool_prices.is_empty()) {
            (Some(budgets), false) => budgets.enforced(),
            _ => Vec::new(),
        },
    }
}

/// The server's routes, before the catch-all.
pub fn routes(config: &Config) -> Vec<Value> {
    config.mcp_servers.iter().flat_map(server_routes).collect()
}

fn server_routes(server: &McpServer) -> Vec<Value> {
    let path = mcp_path(&server.name);
    let action = |rewrite: &str| {
        json!({
            "cluster": mcp_cluster(&server.name),
            "prefix_rewrite": rewrite,
            "timeout": "0s",
            // Remote servers check the host they are addressed as.
            "host_rewrite_literal": server.urls[0].authority(),
        })
    };
    let mut routes = vec![json!({
        "name": format!("mcp.{}", server.name),
        "match": {"path": path},
        "route": action(&server.endpoint_path()),
    })];
    if server.transport == McpTransport::Sse {
        // The legacy transport's message URL comes from the server's `endpoint` event,
        // which the filter rewrites to sit under the server's gateway path.
        routes.push(json!({
            "name": format!("mcp.{}.messages", server.name),
            "match": {"prefix": format!("{path}/")},
            "route": action("/"),
        }));
    }
    routes
}

pub fn cluster(server: &McpServer, filter: Value, max_request_bytes: u32) -> Value {
    let name = mcp_cluster(&server.name);
    let first = &server.urls[0];
    let any_name = server.urls.iter().any(|u| matches!(u.host, Host::Name(_)));
    let endpoints: Vec<Value> = server
        .urls
        .iter()
        .map(|url| {
            let (_, address) = discovery(&url.host);
            json!({"endpoint": {"address": socket_address(address, url.port())}})
        })
        .collect();
    let mut http_filters = vec![filter];
    if server.credential.is_some() {
        http_filters.push(injector_into(
            &secret_name(&server.name),
            server.credential_header.as_deref(),
        ));
    }
    http_filters.push(json!({
        "name": "envoy.filters.http.upstream_codec",
        "typed_config": {"@type": UPSTREAM_CODEC},
    }));
    let mut cluster = json!({
        "name": name,
        "type": if any_name { "STRICT_DNS" } else { "STATIC" },
        "connect_timeout": "10s",
        "per_connection_buffer_limit_bytes": max_request_bytes,
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": endpoints}]},
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http_protocol_options": {}},
                "http_filters": http_filters,
            },
        },
    });
    if any_name {
        cluster["dns_lookup_family"] = json!("V4_PREFERRED");
    }
    if first.tls {
        cluster["transport_socket"] = upstream_tls(&first.host);
    }
    cluster
}

pub fn secret_name(server: &str) -> String {
    format!("credential.mcp.{server}")
}
