//! The legacy HTTP+SSE transport (2024-11-05): the client opens a GET event stream, whose
//! first event, `endpoint`, names the URL to POST messages to. The gateway points that
//! URL back at itself, so the messages pass through the same checks.

/// The `endpoint` event's URL as the client must use it: the server's path and query
/// under the gateway's path of this server (`/mcp/{server}`).
pub fn gateway_endpoint(prefix: &str, data: &str) -> String {
    let data = data.trim();
    // An absolute URL names the server's own host, which the client must not reach directly.
    let path = match data.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => data,
    };
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    format!("{}{path}", prefix.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::gateway_endpoint;

    #[test]
    fn points_the_endpoint_at_the_gateway() {
        assert_eq!(
            gateway_endpoint("/mcp/legacy", "/messages/?session_id=ab12"),
            "/mcp/legacy/messages/?session_id=ab12"
        );
        assert_eq!(
            gateway_endpoint("/mcp/legacy", "http://10.0.0.7:8000/messages?session_id=x"),
            "/mcp/legacy/messages?session_id=x"
        );
        assert_eq!(gateway_endpoint("/mcp/l/", "messages"), "/mcp/l/messages");
        assert_eq!(gateway_endpoint("/mcp/l", "http://h"), "/mcp/l/");
    }
}
