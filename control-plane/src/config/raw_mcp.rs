//! The `mcp_servers:` section and a key's `mcp:` scope exactly as written (see
//! [`super::raw`] for the conventions).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::raw::Credential;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServer {
    pub name: String,
    /// The server's MCP endpoint; a list for replicas (same scheme and path), between which
    /// sessions stay sticky.
    pub url: Urls,
    pub credential: Option<Credential>,
    /// `authorization` (default, as `Bearer <secret>`) or the header the secret goes in
    /// alone.
    pub credential_header: Option<String>,
    /// `streamable_http` (default) or `sse` (the legacy HTTP+SSE transport).
    pub transport: Option<String>,
    /// Tool name → approved definition hash.
    pub pins: Option<BTreeMap<String, String>>,
    /// `flag` (default) or `hide`.
    pub on_tool_change: Option<String>,
    /// USD per `tools/call` of any tool no `tool_prices` entry matches.
    pub price_per_call_usd: Option<f64>,
    /// Prices of the tools a name or glob matches; the first matching entry applies.
    pub tool_prices: Option<Vec<ToolPrice>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolPrice {
    pub tool: String,
    pub price_per_call_usd: f64,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Urls {
    One(String),
    Many(Vec<String>),
}

/// What a key may use on one server.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpScope {
    /// Tool and prompt names, resource URIs; exact or globs (`*`, `?`).
    pub allow: Vec<String>,
    #[serde(default)]
    pub deny: Vec<String>,
    /// Tool name or glob → calls per minute of each tool it matches (first match applies).
    pub calls_per_minute: Option<BTreeMap<String, u64>>,
}
