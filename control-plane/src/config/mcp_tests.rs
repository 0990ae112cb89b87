use tollgate_core::mcp::ToolChangePolicy;

use crate::config::test_support::errors;
use crate::config::{load, Config, McpTransport};

const HEAD: &str = "version: 1
providers: [{name: p, kind: openai, credential: {env: K}}]
models: [{alias: a, provider: p, model: m}]
";

fn load_ok(text: &str) -> Config {
    load(text, None).unwrap_or_else(|e| panic!("{e:#?}")).config
}

/// `path: message` of every error.
fn load_err(text: &str) -> Vec<String> {
    errors(text)
        .into_iter()
        .map(|(path, _, message)| format!("{path}: {message}"))
        .collect()
}

fn key(id: &str, mcp: &str) -> String {
    format!("  - {{id: {id}, sha256: {}, mcp: {mcp}}}\n", "a".repeat(64))
}

#[test]
fn servers_and_scopes_load() {
    let text = format!(
        "{HEAD}mcp_servers:
  - name: tools
    url: [http://127.0.0.1:9001/mcp, http://127.0.0.1:9002/mcp]
    credential: {{env: TOOLS_TOKEN}}
    pins: {{echo: {pin}}}
    on_tool_change: hide
  - name: old
    url: http://127.0.0.1:9003/sse
    transport: sse
    credential_header: X-Api-Token
    credential: {{env: OLD_TOKEN}}
keys:
{}",
        key(
            "agent",
            "{tools: {allow: ['read_*', echo], deny: [read_secrets], calls_per_minute: {'read_*': 5}}}"
        ),
        pin = "0".repeat(64),
    );
    let config = load_ok(&text);
    let [tools, old] = config.mcp_servers.as_slice() else {
        panic!("two servers: {:?}", config.mcp_servers)
    };
    assert_eq!(tools.urls.len(), 2);
    assert_eq!(tools.endpoint_path(), "/mcp");
    assert_eq!(tools.on_tool_change, ToolChangePolicy::Hide);
    let access = &tools.access["agent"];
    assert!(access.allows("read_file") && access.allows("echo"));
    assert!(!access.allows("read_secrets") && !access.allows("delete"));
    let limit = &tools.call_limits["agent"][0];
    assert!(limit.tool.matches("read_file") && limit.calls_per_minute == 5);
    assert_eq!(old.transport, McpTransport::Sse);
    assert_eq!(old.credential_header.as_deref(), Some("x-api-token"));
    assert!(old.access.is_empty(), "no key may use it");
    assert!(
        config.keys[0].models.is_empty(),
        "an MCP-only key needs no models"
    );
}

#[test]
fn bad_servers_and_scopes_are_located() {
    let text = format!(
        "{HEAD}mcp_servers:
  - name: tools
    url: [http://127.0.0.1:9001/mcp, https://127.0.0.1:9002/other]
    transport: websocket
    pins: {{echo: nothex}}
  - name: tools
    url: ftp://x
  - {{name: good, url: http://127.0.0.1:9004/mcp}}
keys:
{}",
        key(
            "agent",
            "{nope: {allow: ['*']}, good: {allow: [], calls_per_minute: {x: 0}}}"
        )
    );
    let errors = load_err(&text);
    for expected in [
        "mcp_servers[0].url: replicas must share their scheme and path",
        "mcp_servers[0].transport: unknown transport \"websocket\"",
        "mcp_servers[0].pins.echo: the pin of tool \"echo\" must be 64",
        "mcp_servers[1].name: MCP server \"tools\" is already defined",
        "mcp_servers[1].url:",
        "keys[0].mcp.nope: unknown MCP server \"nope\"",
        "keys[0].mcp.good.allow: list at least one",
        "keys[0].mcp.good.calls_per_minute.x: calls per minute of \"x\" must be between 1",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "{expected}\n{errors:#?}"
        );
    }
}

#[test]
fn tool_prices_keep_their_order_and_the_server_wide_price_comes_last() {
    let text = format!(
        "{HEAD}mcp_servers:
  - name: tools
    url: http://127.0.0.1:9001/mcp
    price_per_call_usd: 0.001
    tool_prices:
      - {{tool: 'search_*', price_per_call_usd: 0.25}}
      - {{tool: echo, price_per_call_usd: 0}}
  - {{name: free, url: http://127.0.0.1:9002/mcp}}
"
    );
    let config = load_ok(&text);
    let prices: Vec<(&str, u64)> = config.mcp_servers[0]
        .tool_prices
        .iter()
        .map(|p| (p.tool.0.as_str(), p.nano_usd_per_call))
        .collect();
    assert_eq!(
        prices,
        [("search_*", 250_000_000), ("echo", 0), ("*", 1_000_000)]
    );
    assert!(config.mcp_servers[1].tool_prices.is_empty());
}

#[test]
fn bad_tool_prices_are_located() {
    let text = format!(
        "{HEAD}mcp_servers:
  - name: tools
    url: http://127.0.0.1:9001/mcp
    price_per_call_usd: -0.5
    tool_prices:
      - {{tool: '', price_per_call_usd: 0.1}}
      - {{tool: echo, price_per_call_usd: 1e-12}}
      - {{tool: big, price_per_call_usd: 1e9}}
      - {{tool: ok, price_per_call_usd: .nan}}
"
    );
    let errors = load_err(&text);
    for expected in [
        "mcp_servers[0].price_per_call_usd: a price per call is in USD",
        "mcp_servers[0].tool_prices[0].tool:",
        "mcp_servers[0].tool_prices[1].price_per_call_usd: a price per call is in USD",
        "mcp_servers[0].tool_prices[2].price_per_call_usd: a price per call is in USD",
        "mcp_servers[0].tool_prices[3].price_per_call_usd: a price per call is in USD",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "{expected}\n{errors:#?}"
        );
    }
    assert_eq!(errors.len(), 5, "{errors:#?}");
}
