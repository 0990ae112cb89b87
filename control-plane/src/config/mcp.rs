//! Validating the `mcp_servers:` section and the keys' `mcp:` scopes into the MCP
//! servers the renderer gives a route, a cluster and an MCP filter each.

use std::collections::BTreeMap;

use tollgate_core::mcp::patterns::{NameRules, Pattern};
use tollgate_core::mcp::{ToolCallLimit, ToolChangePolicy, ToolPrice};
use tollgate_core::ratelimit::MAX_PER_MINUTE;

use super::diagnostics::Problem;
use super::model::{BaseUrl, Credential};
use super::raw_mcp as raw;
use super::spans::{field, item};
use super::validate::{list, Seen, Validator};

/// One MCP server, served at `/mcp/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpServer {
    pub name: String,
    /// One or more replicas: same scheme and path.
    pub urls: Vec<BaseUrl>,
    pub credential: Option<Credential>,
    /// The header the secret goes in alone; `None`: `authorization: Bearer <secret>`.
    pub credential_header: Option<String>,
    pub transport: McpTransport,
    pub pins: BTreeMap<String, String>,
    pub on_tool_change: ToolChangePolicy,
    /// Key id → what it may use here.
    pub access: BTreeMap<String, NameRules>,
    /// Key id → calls per minute of the tools it names.
    pub call_limits: BTreeMap<String, Vec<ToolCallLimit>>,
    /// Prices of `tools/call`, first match wins: the `tool_prices` entries in order, then
    /// `price_per_call_usd` for every other tool.
    pub tool_prices: Vec<ToolPrice>,
}

/// Highest price of one tool call accepted, in USD: far above any real price, far from
/// overflowing a budget's nano-dollars.
const MAX_CALL_USD: f64 = 1e6;
/// Nano-dollars per dollar.
const NANOS: f64 = 1e9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McpTransport {
    /// Streamable HTTP, every revision (sessionful and stateless).
    StreamableHttp,
    /// The legacy HTTP+SSE transport (2024-11-05).
    Sse,
}

/// Envoy cluster of an MCP server.
pub fn mcp_cluster(name: &str) -> String {
    format!("mcp.{name}")
}

/// The gateway path of an MCP server.
pub fn mcp_path(name: &str) -> String {
    format!("/mcp/{name}")
}

impl McpServer {
    /// The path of the server's endpoint (`/` when the URL has none).
    pub fn endpoint_path(&self) -> String {
        match self.urls[0].path.as_str() {
            "" => "/".to_string(),
            path => path.to_string(),
        }
    }
}

impl Validator<'_> {
    pub(super) fn mcp_servers(&mut self, raws: Vec<raw::McpServer>) -> Vec<McpServer> {
        let mut names = Seen::new();
        let mut servers = Vec::with_capacity(raws.len());
        for (i, raw) in raws.into_iter().enumerate() {
            let path = item("mcp_servers", i);
            let name_path = field(&path, "name");
            self.identifier(&name_path, "MCP server name", &raw.name);
            let first = self.unique(&mut names, "MCP server", &raw.name, &name_path);
            let urls = self.mcp_urls(&field(&path, "url"), raw.url);
            let credential = raw
                .credential
                .and_then(|c| self.credential(&field(&path, "credential"), c));
            let credential_header = match raw.credential_header {
                None => None,
                Some(header) if header.eq_ignore_ascii_case("authorization") => None,
                Some(header) if is_header_name(&header) => Some(header.to_ascii_lowercase()),
                Some(header) => {
                    let problem = Problem::Mcp(format!("{header:?} is not an HTTP header name"));
                    self.report(&field(&path, "credential_header"), problem);
                    None
                }
            };
            let transport = match raw.transport.as_deref() {
                None | Some("streamable_http") => McpTransport::StreamableHttp,
                Some("sse") => McpTransport::Sse,
                Some(other) => {
                    self.unknown(
                        &field(&path, "transport"),
                        "transport",
                        other,
                        "streamable_http, sse",
                    );
                    McpTransport::StreamableHttp
                }
            };
            let on_tool_change = match raw.on_tool_change.as_deref() {
                None | Some("flag") => ToolChangePolicy::Flag,
                Some("hide") => ToolChangePolicy::Hide,
                Some(other) => {
                    self.unknown(
                        &field(&path, "on_tool_change"),
                        "on_tool_change",
                        other,
                        "flag, hide",
                    );
                    ToolChangePolicy::Flag
                }
            };
            let pins = raw.pins.unwrap_or_default();
            for (tool, hash) in &pins {
                if hash.len() != 64
                    || !hash
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    let problem = Problem::Mcp(format!(
                        "the pin of tool {tool:?} must be 64 lower-case hex digits (the hash the gateway logs)"
                    ));
                    self.report(&field(&field(&path, "pins"), tool), problem);
                }
            }
            let tool_prices = self.tool_prices(&path, raw.tool_prices, raw.price_per_call_usd);
            if let (true, Some(urls)) = (first, urls) {
                servers.push(McpServer {
                    name: raw.name,
                    urls,
                    credential,
                    credential_header,
                    transport,
                    pins,
                    on_tool_change,
                    access: BTreeMap::new(),
                    call_limits: BTreeMap::new(),
                    tool_prices,
                });
            }
        }
        servers
    }

    /// A server's prices in the order they are matched: its `tool_prices`, then its
    /// `price_per_call_usd` for any tool.
    fn tool_prices(
        &mut self,
        path: &str,
        listed: Option<Vec<raw::ToolPrice>>,
        any_tool: Option<f64>,
    ) -> Vec<ToolPrice> {
        let mut prices = Vec::new();
        for (i, entry) in listed.unwrap_or_default().into_iter().enumerate() {
            let at = item(&field(path, "tool_prices"), i);
            if entry.tool.is_empty() {
                self.report(&field(&at, "tool"), Problem::Empty);
            }
            let usd_path = field(&at, "price_per_call_usd");
            if let Some(nano) = self.price_per_call(&usd_path, entry.price_per_call_usd) {
                prices.push(ToolPrice {
                    tool: Pattern(entry.tool),
                    nano_usd_per_call: nano,
                });
            }
        }
        let usd_path = field(path, "price_per_call_usd");
        if let Some(nano) = any_tool.and_then(|usd| self.price_per_call(&usd_path, usd)) {
            prices.push(ToolPrice {
                tool: Pattern("*".into()),
                nano_usd_per_call: nano,
            });
        }
        prices
    }

    /// USD per call → nano-dollars, when it is a price: 0 (free), or at least a
    /// nano-dollar and at most [`MAX_CALL_USD`].
    fn price_per_call(&mut self, path: &str, usd: f64) -> Option<u64> {
        let nano = (usd * NANOS).round();
        let in_range = usd.is_finite() && (0.0..=MAX_CALL_USD).contains(&usd);
        if in_range && (usd == 0.0 || nano >= 1.0) {
            return Some(nano as u64);
        }
        let problem = Problem::Mcp(format!(
            "a price per call is in USD: 0, or 0.000000001 to {MAX_CALL_USD}; found {usd}"
        ));
        self.report(path, problem);
        None
    }

    fn mcp_urls(&mut self, path: &str, raw: raw::Urls) -> Option<Vec<BaseUrl>> {
        let (texts, listed) = match raw {
            raw::Urls::One(url) => (vec![url], false),
            raw::Urls::Many(urls) => (urls, true),
        };
        if texts.is_empty() {
            self.report(path, Problem::Empty);
            return None;
        }
        let mut urls = Vec::with_capacity(texts.len());
        for (i, text) in texts.into_iter().enumerate() {
            match BaseUrl::parse(&text) {
                Ok(url) => urls.push(url),
                Err(reason) => {
                    let at = if listed {
                        item(path, i)
                    } else {
                        path.to_string()
                    };
                    self.report(
                        &at,
                        Problem::BaseUrl {
                            value: text,
                            reason,
                        },
                    );
                    return None;
                }
            }
        }
        let first = &urls[0];
        if urls
            .iter()
            .any(|u| u.tls != first.tls || u.path != first.path)
        {
            let problem = Problem::Mcp("replicas must share their scheme and path".into());
            self.report(path, problem);
            return None;
        }
        Some(urls)
    }

    /// A key's `mcp:` scope, recorded on each server it names.
    pub(super) fn key_mcp_scope(
        &mut self,
        path: &str,
        key_id: &str,
        scope: BTreeMap<String, raw::McpScope>,
        servers: &mut [McpServer],
    ) {
        for (server, rules) in scope {
            let at = field(path, &server);
            let Some(found) = servers.iter_mut().find(|s| s.name == server) else {
                let known = list(servers.iter().map(|s| s.name.as_str()));
                self.report(
                    &at,
                    Problem::Mcp(format!(
                        "unknown MCP server {server:?}; configured: {known}"
                    )),
                );
                continue;
            };
            if rules.allow.is_empty() {
                self.report(
                    &field(&at, "allow"),
                    Problem::Mcp("list at least one name or pattern (`*` for all)".into()),
                );
            }
            let mut limits = Vec::new();
            for (tool, calls_per_minute) in rules.calls_per_minute.unwrap_or_default() {
                if calls_per_minute == 0 || calls_per_minute > MAX_PER_MINUTE {
                    let problem = Problem::Mcp(format!(
                        "calls per minute of {tool:?} must be between 1 and {MAX_PER_MINUTE}"
                    ));
                    self.report(&field(&field(&at, "calls_per_minute"), &tool), problem);
                }
                limits.push(ToolCallLimit {
                    tool: Pattern(tool),
                    calls_per_minute,
                });
            }
            if !limits.is_empty() {
                found.call_limits.insert(key_id.to_string(), limits);
            }
            let patterns = |names: Vec<String>| names.into_iter().map(Pattern).collect();
            found.access.insert(
                key_id.to_string(),
                NameRules {
                    allow: patterns(rules.allow),
                    deny: patterns(rules.deny),
                },
            );
        }
    }
}

/// An HTTP header name (RFC 9110 token).
fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
#[path = "mcp_tests.rs"]
mod tests;
